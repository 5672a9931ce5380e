"""Where each layer's receptive field lies on the input: the first pixel of output 0's field.

`kcnn.analysis` gives a field's size and jump; drawing it needs its position too, and that
depends on padding: output `p` of a layer sees input pixels `start + p * jump` to
`start + p * jump + size - 1`. This module follows the model's graph as `kcnn.analysis.profile`
does (inside kcnn's blocks and nested models, every path of a block, the union where paths
meet) with, per axis, `(start, size, jump)`:

* a window (convolution, pooling; kernel, stride and dilation from `kcnn.analysis.rules`) with
  `before` pixels of padding at the start: start -= before * jump, size += (k - 1) * d * jump,
  jump *= stride. "valid" pads nothing; "same" pads `total // 2` before, where
  total = max((out - 1) * stride + span - in, 0) (TensorFlow's rule, which Keras follows on
  every backend: the odd pixel goes to the end);
* ZeroPadding2D moves the start back by its leading padding, Cropping2D forward by its
  leading crop; layers that keep positions change nothing; global pooling and Flatten end it.
"""

import keras

from kcnn.analysis import rules
from kcnn.layers import CompositeLayer


def _merge(geometries):
    """The union of fields from several inputs (None if any is global)."""
    if not geometries or any(g is None for g in geometries):
        return None
    if len({len(g) for g in geometries}) != 1:
        return None
    merged = []
    for axes in zip(*geometries):
        start = min(a[0] for a in axes)
        end = max(a[0] + a[1] - 1 for a in axes)
        merged.append((start, end - start + 1, max(a[2] for a in axes)))
    return tuple(merged)


def _padding_before(layer, axis, n, out, span, stride):
    padding = getattr(layer, "padding", "valid")
    if padding == "valid" or padding == "causal":
        return 0
    if padding == "same":
        return max((out - 1) * stride + span - n, 0) // 2
    raise ValueError(f"cannot place layer {layer.name!r}: padding {padding!r}")


def _leaf(layer, geometry, in_shape, out_shape):
    if geometry is None:
        return None
    if isinstance(layer, keras.layers.ZeroPadding2D):
        return tuple((s - p[0] * j, r, j) for (s, r, j), p in zip(geometry, layer.padding))
    if isinstance(layer, keras.layers.Cropping2D):
        return tuple((s + c[0] * j, r, j) for (s, r, j), c in zip(geometry, layer.cropping))
    effect = rules.rule_for(layer)(layer, [in_shape], out_shape).field
    if effect == rules.KEEP:
        return geometry
    if effect == rules.GLOBAL or len(effect.kernel) != len(geometry):
        return None
    placed = []
    for axis, ((start, size, jump), k, s, d) in enumerate(
        zip(geometry, effect.kernel, effect.stride, effect.dilation)
    ):
        span = d * (k - 1) + 1
        before = _padding_before(layer, axis, in_shape[1 + axis], out_shape[1 + axis], span, s)
        placed.append((start - before * jump, size + (span - 1) * jump, jump * s))
    return tuple(placed)


class _Placer:
    def __init__(self):
        self.found = {}

    def functional(self, model, geometries, prefix):
        graph = model._functional if isinstance(model, keras.Sequential) else model
        state = {id(x): g for x, g in zip(graph.inputs, geometries)}
        for depth in sorted(graph._nodes_by_depth, reverse=True):
            for node in graph._nodes_by_depth[depth]:
                if not node.operation or node.is_input:
                    continue
                if any(id(x) not in state for x in node.input_tensors):
                    continue
                geometry = self.visit(
                    node.operation,
                    _merge([state[id(x)] for x in node.input_tensors]),
                    tuple(node.input_tensors[0].shape),
                    tuple(node.outputs[0].shape),
                    prefix,
                )
                for y in node.outputs:
                    state[id(y)] = geometry
        return [state[id(y)] for y in graph.outputs]

    def visit(self, layer, geometry, in_shape, out_shape, prefix):
        name = prefix + layer.name
        if isinstance(layer, keras.Model):
            geometry = _merge(self.functional(layer, [geometry], name + "/"))
        elif isinstance(layer, CompositeLayer) and type(layer).paths is not CompositeLayer.paths:
            steps = []  # per path: the geometry before each sublayer and after the last
            for path in layer.paths(in_shape):
                start = getattr(path, "start", None)  # a split starts inside an earlier path
                first = geometry if start is None else steps[start[0]][start[1]]
                steps.append(self.steps(path, first, name))
            geometry = _merge([path_steps[-1] for path_steps in steps])
        else:
            geometry = _leaf(layer, geometry, in_shape, out_shape)
        self.found[name] = geometry
        return geometry

    def steps(self, pairs, geometry, prefix):
        """The geometry before each `(sublayer, input shape)` pair of a path and after the last."""
        found = [geometry]
        for sublayer, shape in pairs:
            out = tuple(sublayer.compute_output_shape(shape))
            found.append(self.visit(sublayer, found[-1], shape, out, prefix + "/"))
        return found


def placements(model):
    """`{layer name: ((start, size, jump) per spatial axis) or None}` for every layer of `model`.

    Names are kcnn.analysis' (`block/sub` inside a block); None where the field is global.
    """
    graph = model._functional if isinstance(model, keras.Sequential) else model
    placer = _Placer()
    geometries = [tuple((0, 1, 1) for _ in x.shape[1:-1]) for x in graph.inputs]
    placer.functional(model, geometries, "")
    return placer.found
