"""`profile(model)`: parameters, multiply-accumulates, output shape and receptive field per layer.

The walk follows the model's graph in topological order. A kcnn `CompositeLayer` (an Inception
module, a residual or dense block) is opened through its `paths()`: each inner layer gets its own
row (`inception3a/1x1`), the block gets a group row with the sums, and the block's merge ("add",
"concat") gets a row of its own. A nested Keras model is opened the same way.

The receptive field follows r_out = r_in + (k - 1) * d * j_in and j_out = j_in * s along every
path; where paths meet (a merge layer, a block's merge, the inputs of any layer) it takes the
largest field over the inputs, so branching models (auxiliary heads, shortcuts) are followed
properly. Global pooling, Flatten and Reshape end it: from there on it is `None` ("global").
"""

import dataclasses
import math

import keras

from kcnn.analysis import rules
from kcnn.layers import CompositeLayer


@dataclasses.dataclass
class Row:
    """One row of a profile.

    Attributes:
        name: the layer's name; inner layers of a block or nested model are `block/layer`.
        type: the layer's class name; "add" / "concat" for a block's merge ("+ReLU" / "+relu" where
            the block applies a ReLU in `call` that is not a sublayer; it is counted).
        output_shape: the output shape with the batch axis, as in `model.summary()`.
        trainable: trainable parameters (counted once for a layer that is called twice).
        non_trainable: non-trainable parameters (e.g. BN moving statistics).
        macs: multiply-accumulates per image, every kind together.
        macs_by_kind: the same split by kind: "conv", "dense", and the cheap kinds.
        receptive_field: receptive field in input pixels after this layer: an int, a tuple (one
            entry per spatial axis) where the axes differ, or None where it is undefined (after
            global pooling or Flatten).
        jump: the distance in input pixels between neighbouring outputs (the effective stride),
            in the same form, or None.
        depth: 0 for the model's own layers, 1 inside a block, and so on.
        group: True for a block or nested model; its numbers are the sums of the rows under it
            and are not added again into the totals.
    """

    name: str
    type: str
    output_shape: object
    trainable: int
    non_trainable: int
    macs: int
    macs_by_kind: dict
    receptive_field: object
    jump: object
    depth: int = 0
    group: bool = False


@dataclasses.dataclass
class Totals:
    """The model's totals.

    Attributes:
        trainable, non_trainable: parameter counts (their sum equals `model.count_params()`).
        macs_by_kind: multiply-accumulates per image by kind ("conv", "dense", "pooling",
            "normalization", "activation", "addition", "concatenation").
    """

    trainable: int
    non_trainable: int
    macs_by_kind: dict

    @property
    def params(self):
        """All parameters, trainable and not."""
        return self.trainable + self.non_trainable

    @property
    def macs(self):
        """Convolution + dense multiply-accumulates: the figure papers and torchvision publish."""
        return sum(self.macs_by_kind[k] for k in rules.HEAVY_KINDS)

    @property
    def cheap_macs(self):
        """The cheap operations, by kind; not included in `macs`."""
        return {k: self.macs_by_kind[k] for k in rules.CHEAP_KINDS}


@dataclasses.dataclass
class Profile:
    """What `profile()` returns: `rows` (a list of `Row`), `totals` (a `Totals`) and the model name.

    `str(profile)` (or `profile.print()`) gives a table in the style of `model.summary()`.
    """

    name: str
    rows: list
    totals: Totals

    def __str__(self):
        return format_table(self)

    def print(self, print_fn=print):
        """Print the table (through `print_fn`, e.g. a logger's method)."""
        print_fn(str(self))


# --- receptive fields ---------------------------------------------------------------------------
# A field is None (undefined) or a pair (sizes, jumps) of tuples with one entry per spatial axis.


def _input_field(shape):
    rank = len(shape) - 2
    return ((1,) * rank, (1,) * rank) if rank >= 1 else None


def _merge_fields(fields):
    if not fields or any(f is None for f in fields) or len({len(f[0]) for f in fields}) != 1:
        return None
    sizes = tuple(max(axis) for axis in zip(*(f[0] for f in fields)))
    jumps = tuple(max(axis) for axis in zip(*(f[1] for f in fields)))
    return sizes, jumps


def _apply(field, effect):
    if effect == rules.KEEP:
        return field
    if effect == rules.GLOBAL or field is None or len(effect.kernel) != len(field[0]):
        return None
    sizes, jumps = field
    sizes = tuple(
        r + d * (k - 1) * j for r, k, d, j in zip(sizes, effect.kernel, effect.dilation, jumps)
    )
    jumps = tuple(j * s for j, s in zip(jumps, effect.stride))
    return sizes, jumps


def _squash(values):
    if values is None:
        return None
    return values[0] if len(set(values)) == 1 else values


# --- the walk -------------------------------------------------------------------------------------


def _count(weights):
    return sum(math.prod(w.shape) for w in weights)


def _graph(model, input_shapes=None):
    """The Functional graph behind `model` (a Functional model, or a Sequential one's)."""
    if isinstance(model, keras.Sequential):
        if getattr(model, "_functional", None) is None:
            if not input_shapes:
                raise ValueError(
                    f"the Sequential model {model.name!r} has no input shape; build it, give it "
                    "an Input, or pass input_shape=(height, width, channels)"
                )
            model.build(input_shapes[0])
        return model._functional
    if not hasattr(model, "_nodes_by_depth"):
        raise ValueError(
            f"cannot profile {type(model).__name__} {getattr(model, 'name', '')!r}: kcnn.analysis "
            "walks the graph of a Functional or Sequential keras.Model; a subclassed model has none"
        )
    return model


class _Walker:
    def __init__(self):
        self.rows = []
        self.counted = set()  # ids of layers whose weights are already in a row

    def functional(self, model, shapes, fields, prefix, depth):
        """Walk a Functional graph from input `shapes` and `fields`; return the output fields."""
        graph = _graph(model, shapes)
        override = any(tuple(s) != tuple(x.shape) for s, x in zip(shapes, graph.inputs))
        specs, state = {}, {}
        for x, shape, field in zip(graph.inputs, shapes, fields):
            specs[id(x)] = keras.KerasTensor(shape, dtype=x.dtype) if override else x
            state[id(x)] = field
        for key in sorted(graph._nodes_by_depth, reverse=True):
            for node in graph._nodes_by_depth[key]:
                if not node.operation or node.is_input:
                    continue
                if any(id(x) not in specs for x in node.input_tensors):
                    continue
                op = node.operation
                if override:
                    args, kwargs = node.arguments.fill_in(specs)
                    outputs = keras.tree.flatten(op.compute_output_spec(*args, **kwargs))
                else:
                    outputs = node.outputs
                in_shapes = [tuple(specs[id(x)].shape) for x in node.input_tensors]
                in_fields = [state[id(x)] for x in node.input_tensors]
                out_shapes = [tuple(y.shape) for y in outputs]
                field = self.visit(op, in_shapes, out_shapes, in_fields, prefix, depth)
                for x, y in zip(node.outputs, outputs):
                    specs[id(x)] = y
                    state[id(x)] = field
        return [state[id(x)] for x in graph.outputs]

    def visit(self, layer, in_shapes, out_shapes, in_fields, prefix, depth):
        """Add the rows of one layer call; return the receptive field of its output."""
        name = prefix + layer.name
        out_shape = out_shapes[0] if len(out_shapes) == 1 else out_shapes
        field = _merge_fields(in_fields)
        if isinstance(layer, keras.Model):
            start = self._group_row(layer, name, out_shape, depth)
            field = _merge_fields(
                self.functional(layer, in_shapes, in_fields, name + "/", depth + 1)
            )
            return self._close_group(start, field)
        if isinstance(layer, CompositeLayer) and type(layer).paths is not CompositeLayer.paths:
            start = self._group_row(layer, name, out_shape, depth)
            field = self.composite(layer, name, in_shapes, out_shape, field, depth)
            return self._close_group(start, field)
        cost = rules.rule_for(layer)(layer, in_shapes, out_shape)
        field = _apply(field, cost.field)
        self._leaf_row(layer, name, type(layer).__name__, out_shape, cost.macs, field, depth)
        return field

    def composite(self, layer, name, in_shapes, out_shape, field, depth):
        """Walk a CompositeLayer through its public description (`paths()`, `merge`,
        `merge_activation`, `activation_after()`); return the field after its merge."""
        (in_shape,) = in_shapes
        paths = layer.paths(in_shape)
        inner = {id(w) for path in paths for sub, _ in path for w in sub.weights}
        own = [w for w in layer.weights if id(w) not in inner]
        if own:
            raise rules.UncountableLayerError(
                f"cannot count {type(layer).__name__} (layer {name!r}): it holds weights outside "
                f"its paths() ({', '.join(w.path for w in own)})"
            )
        steps = []  # per path: the receptive field before each pair and after the last
        for path in paths:
            start = getattr(path, "start", None)
            first = field if start is None else steps[start[0]][start[1]]
            steps.append(self.path(layer, path, first, name, depth + 1))
        field = _merge_fields([fields[-1] for fields in steps])
        if layer.merge is None and len(paths) == 1:
            return field
        if layer.merge == "add":
            macs = {"addition": (len(paths) - 1) * rules.size(out_shape)}
        elif layer.merge == "concat":
            macs = {"concatenation": 0}
        else:
            raise rules.UncountableLayerError(
                f"cannot count {type(layer).__name__} (layer {name!r}): unknown merge {layer.merge!r} "
                f"of {len(paths)} paths; known: 'add', 'concat', None (one path)"
            )
        type_name = layer.merge
        if layer.merge_activation:
            macs["activation"] = rules.size(out_shape)
            type_name += f"+{layer.merge_activation}"
        self._leaf_row(None, f"{name}/{layer.merge}", type_name, out_shape, macs, field, depth + 1)
        return field

    def path(self, layer, pairs, field, prefix, depth):
        """Walk one path of `layer`; return the receptive field before each pair and after the last.

        An activation that `layer` applies after a sublayer is counted in that sublayer's row."""
        fields = [field]
        for sub, sub_in in pairs:
            sub_in = tuple(sub_in)
            sub_out = tuple(sub.compute_output_shape(sub_in))
            field = self.visit(sub, [sub_in], [sub_out], [field], prefix + "/", depth)
            activation = layer.activation_after(sub)
            if activation:
                row = self.rows[-1]
                count = rules.size(sub_out)
                row.macs_by_kind["activation"] = row.macs_by_kind.get("activation", 0) + count
                row.macs += count
                row.type += f"+{activation}"
            fields.append(field)
        return fields

    def _leaf_row(self, layer, name, type_name, out_shape, macs, field, depth):
        trainable = non_trainable = 0
        if layer is not None and id(layer) not in self.counted:
            self.counted.add(id(layer))
            trainable = _count(layer.trainable_weights)
            non_trainable = _count(layer.non_trainable_weights)
        macs = {k: int(v) for k, v in macs.items()}
        sizes, jumps = field if field is not None else (None, None)
        self.rows.append(
            Row(
                name,
                type_name,
                out_shape,
                trainable,
                non_trainable,
                sum(macs.values()),
                macs,
                _squash(sizes),
                _squash(jumps),
                depth,
            )
        )

    def _group_row(self, layer, name, out_shape, depth):
        self.rows.append(
            Row(name, type(layer).__name__, out_shape, 0, 0, 0, {}, None, None, depth, True)
        )
        return len(self.rows) - 1

    def _close_group(self, start, field):
        row = self.rows[start]
        leaves = [r for r in self.rows[start + 1 :] if not r.group]
        row.trainable = sum(r.trainable for r in leaves)
        row.non_trainable = sum(r.non_trainable for r in leaves)
        row.macs_by_kind = _sum_kinds(leaves)
        row.macs = sum(row.macs_by_kind.values())
        sizes, jumps = field if field is not None else (None, None)
        row.receptive_field, row.jump = _squash(sizes), _squash(jumps)
        return field


def _sum_kinds(rows):
    kinds = dict.fromkeys(rules.KINDS, 0)
    for row in rows:
        for kind, value in row.macs_by_kind.items():
            kinds[kind] = kinds.get(kind, 0) + value
    return kinds


def profile(model, input_shape=None):
    """Profile a Keras model layer by layer: parameters, MACs, output shape, receptive field.

    Args:
        model: a built Functional or Sequential `keras.Model` (kcnn's or any other).
        input_shape: optional (height, width, channels) without the batch axis (a list of them
            for a model with several inputs) to count at another input size than the model's
            own; needed when the model's input size is not fixed.

    Returns:
        A `Profile` with `rows`, `totals` and a `model.summary()`-style `str()`.

    Raises:
        UncountableLayerError (a ValueError): a layer type with no counting rule, naming the
            known types. No layer is ever counted as zero by default.
    """
    graph = _graph(model, None if input_shape is None else _batch_shapes(input_shape, 1))
    if input_shape is None:
        shapes = [tuple(x.shape) for x in graph.inputs]
    else:
        shapes = _batch_shapes(input_shape, len(graph.inputs))
    walker = _Walker()
    walker.functional(graph, shapes, [_input_field(s) for s in shapes], "", 0)
    leaves = [r for r in walker.rows if not r.group]
    totals = Totals(
        trainable=sum(r.trainable for r in leaves),
        non_trainable=sum(r.non_trainable for r in leaves),
        macs_by_kind=_sum_kinds(leaves),
    )
    expected = model.count_params()
    if totals.params != expected:
        raise ValueError(
            f"kcnn.analysis found {totals.params:,} parameters in {model.name!r} but "
            f"count_params() says {expected:,}: some weights are not reached by its graph"
        )
    return Profile(model.name, walker.rows, totals)


def _batch_shapes(input_shape, count):
    shapes = (
        input_shape if input_shape and isinstance(input_shape[0], (tuple, list)) else [input_shape]
    )
    if len(shapes) != count:
        raise ValueError(f"the model has {count} inputs; received {len(shapes)} input shapes")
    return [(None, *tuple(s)) for s in shapes]


# --- the table ----------------------------------------------------------------------------------


def human(n):
    """A count in short form: 15.47 G, 40.55 M, 120.4 k."""
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= factor:
            return f"{n / factor:.2f} {suffix}"
    return str(n)


def _cell(value, undefined="global"):
    if value is None:
        return undefined
    if isinstance(value, tuple):
        return "x".join(str(v) for v in value)
    return str(value)


def format_table(prof):
    """The profile as a text table in the style of `model.summary()`."""
    header = ("Layer (type)", "Output Shape", "Trainable", "Non-trainable", "MACs", "RF", "Jump")
    body = []
    for r in prof.rows:
        shape = r.output_shape
        body.append(
            (
                f"{'  ' * r.depth}{r.name} ({r.type})",
                str(shape),
                f"{r.trainable:,}",
                f"{r.non_trainable:,}",
                f"{r.macs:,}",
                _cell(r.receptive_field),
                _cell(r.jump),
            )
        )
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]

    def line(cells):
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:])]
        return "  ".join([first, cells[1].ljust(widths[1]), *rest[1:]]).rstrip()

    width = sum(widths) + 2 * (len(widths) - 1)
    t = prof.totals
    cheap = ", ".join(f"{kind} {value:,}" for kind, value in t.cheap_macs.items())
    return "\n".join(
        [
            f'Profile: "{prof.name}"',
            "━" * width,
            line(header),
            "━" * width,
            *(line(row) for row in body),
            "━" * width,
            f"Params: {t.params:,} ({t.trainable:,} trainable, {t.non_trainable:,} non-trainable)",
            (
                f"MACs per image (conv + dense): {t.macs:,} ({human(t.macs)}): "
                f"conv {t.macs_by_kind['conv']:,}, dense {t.macs_by_kind['dense']:,}"
            ),
            f"Cheap ops per image (not in MACs): {cheap}",
            (
                "RF: receptive field in input pixels; Jump: effective stride; "
                "global: the output sees the whole input"
            ),
        ]
    )
