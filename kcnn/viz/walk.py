"""Finding layers by name (inside kcnn blocks too) and reading their outputs in a forward pass.

Names follow `kcnn.analysis.profile`: a model's own layers by their name, a layer inside a kcnn
block (a `CompositeLayer`) or a nested model as `block/layer` (`conv3_block2/2_conv`).

`capture(layers)` reads the real output of any of those layers, however deep: while it is open,
each chosen layer's `call` is wrapped so that its output is recorded (and, for gradients, a zero
tensor can be added to it so that the gradient with respect to that tensor is the gradient with
respect to the layer's output). Nothing is rebuilt, so the recorded tensor is exactly what the
model computes, ReLUs applied inside a block's `call` included or not as the block does it.
"""

import contextlib
import difflib

import keras

from kcnn.layers import CompositeLayer


def _sublayers(layer):
    """The layers inside a kcnn block or nested model, in forward order, or [] for a plain layer."""
    if isinstance(layer, keras.Model):
        return list(layer.layers)
    if isinstance(layer, CompositeLayer) and type(layer).paths is not CompositeLayer.paths:
        shape = _input_shape(layer)
        return [sub for path in layer.paths(shape) for sub, _ in path]
    return []


def _input_shape(layer):
    try:
        return tuple(layer.input.shape)
    except (AttributeError, ValueError):  # called more than once, or never: use a built sublayer
        built = getattr(layer, "_build_shapes_dict", None) or {}
        return tuple(built.get("input_shape", ())) or None


def named_layers(model):
    """Every layer of `model` by name, blocks opened: `{"block/sub": layer}` in forward order.

    Input layers are left out.
    """
    found = {}

    def visit(layers, prefix):
        for layer in layers:
            if isinstance(layer, keras.layers.InputLayer):
                continue
            name = prefix + layer.name
            found[name] = layer
            visit(_sublayers(layer), name + "/")

    visit(model.layers, "")
    return found


def find_layer(model, name):
    """The layer called `name` (`block/sub` inside a block); an unknown name lists close matches."""
    layers = named_layers(model)
    if name in layers:
        return layers[name]
    close = difflib.get_close_matches(name, list(layers), n=5, cutoff=0.5)
    hint = f"; close matches: {', '.join(close)}" if close else ""
    raise ValueError(
        f"no layer {name!r} in model {model.name!r}{hint} "
        f"(`kcnn summary` lists the {len(layers)} names)"
    )


def is_spatial(shape):
    """Whether an output shape is an image-like (batch, height, width, channels) tensor."""
    return shape is not None and len(shape) == 4


def require_spatial(name, shape, what):
    """Raise a ValueError unless `shape` is (batch, height, width, channels)."""
    if not is_spatial(shape):
        raise ValueError(
            f"layer {name!r} has output shape {tuple(shape) if shape else shape}, not "
            f"(batch, height, width, channels): {what} needs a layer with a spatial output"
        )


def main_output(model):
    """The model's main output tensor: the first output (an aux-head model's main head)."""
    outputs = model.outputs
    if not outputs:
        raise ValueError(f"model {model.name!r} has no symbolic outputs; build it on an Input")
    return outputs[0]


def last_spatial_layer(model):
    """The name of the model's last layer with a spatial output on the way to its main output.

    It walks back from the main output (so the side heads of an aux-head model are never chosen)
    and stops at the first layer of the model's own graph whose output is (batch, H, W, C) with
    more than one position (a 1x1 map has nothing to locate): for kcnn models the last block, or
    the activation or convolution before the pooling that ends the features.
    """
    seen, frontier = set(), [main_output(model)]
    while frontier:
        next_frontier = []
        for tensor in frontier:
            history = getattr(tensor, "_keras_history", None)
            if history is None:
                continue
            layer, node_index, _ = history
            if id(layer) in seen or isinstance(layer, keras.layers.InputLayer):
                continue
            seen.add(id(layer))
            shape = tuple(tensor.shape)
            if is_spatial(shape) and (shape[1] is None or shape[1] * shape[2] > 1):
                return layer.name
            node = layer._inbound_nodes[node_index]
            next_frontier.extend(node.input_tensors)
        frontier = next_frontier
    raise ValueError(f"model {model.name!r} has no layer with a spatial output before its output")


class Capture:
    """What `capture()` yields: `outputs[name]`, the last output of each watched layer."""

    def __init__(self):
        self.outputs = {}
        self.offsets = {}


@contextlib.contextmanager
def capture(model, names, offsets=None):
    """Record the outputs of the layers `names` (profile-style names) while the context is open.

    Args:
        model: the model whose layers are watched.
        names: layer names, e.g. ["conv1", "conv3_block2/2_conv"].
        offsets: optional {name: tensor} added to that layer's output (zeros of the output's
            shape, so that a gradient with respect to the offset is the gradient with respect to
            the layer's output; this works the same on every backend).

    Yields:
        A `Capture` whose `outputs` fill in as the model runs (eager calls only).
    """
    record = Capture()
    offsets = dict(offsets or {})
    layers = {name: find_layer(model, name) for name in names}
    try:
        for name, layer in layers.items():
            layer.call = _recording_call(layer, layer.call, name, record, offsets.get(name))
        yield record
    finally:
        for layer in layers.values():
            if "call" in vars(layer):
                del layer.call


def _recording_call(layer, call, name, record, offset):
    def recording_call(*args, **kwargs):
        output = call(*args, **kwargs)
        if offset is not None:
            output = output + keras.ops.cast(offset, output.dtype)
        record.outputs[name] = output
        return output

    return recording_call
