"""Shared pieces of the kcnn layers: argument checks with one error format, and `CompositeLayer`.

Every check raises `ValueError` in the same form, naming the layer, the argument, what is allowed
and what was received, for example::

    `InceptionModule`: `filters_1x1` must be a positive integer; received 0
"""

import numbers

import keras


def _fail(owner, arg, allowed, value):
    raise ValueError(f"`{owner}`: `{arg}` must be {allowed}; received {value!r}")


def check_positive_int(owner, arg, value):
    """Return `value` if it is an integer >= 1, else raise a ValueError naming `owner` and `arg`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        _fail(owner, arg, "a positive integer", value)
    return int(value)


def check_non_negative_int(owner, arg, value):
    """Return `value` if it is an integer >= 0, else raise a ValueError naming `owner` and `arg`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        _fail(owner, arg, "a non-negative integer", value)
    return int(value)


def check_choice(owner, arg, value, allowed):
    """Return `value` if it is one of `allowed`, else raise a ValueError listing the choices."""
    if value not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        _fail(owner, arg, f"one of {choices}", value)
    return value


def check_bool(owner, arg, value):
    """Return `value` if it is True or False, else raise a ValueError naming `owner` and `arg`."""
    if not isinstance(value, bool):
        _fail(owner, arg, "True or False", value)
    return value


def check_range(owner, arg, value, low, high, low_open=False, high_open=False):
    """Return float `value` if it lies in the interval from `low` to `high`, else raise.

    `low_open` / `high_open` exclude the end points, so `check_range(o, "compression", c, 0, 1,
    low_open=True)` accepts the interval (0, 1].
    """
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        ok = (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not ok:
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        _fail(owner, arg, f"a number in {interval}", value)
    return float(value)


def check_rank(owner, input_shape, rank=4):
    """Raise a ValueError unless `input_shape` has `rank` dimensions (batch included)."""
    if len(input_shape) != rank:
        raise ValueError(
            f"`{owner}` expects inputs of rank {rank} (batch, height, width, channels); "
            f"received shape {tuple(input_shape)}"
        )


def check_data_format(owner, data_format):
    """Resolve `data_format` (None means Keras' global setting); kcnn layers are channels-last."""
    data_format = data_format or keras.config.image_data_format()
    return check_choice(owner, "data_format", data_format, ("channels_last",))


def takes_training(layer):
    """Whether `layer` behaves differently in training (BatchNormalization, Dropout)."""
    return isinstance(layer, (keras.layers.BatchNormalization, keras.layers.Dropout))


def apply_sequence(layers, x, training=None):
    """Apply `layers` in order, passing `training` to the layers that take it."""
    for layer in layers:
        x = layer(x, training=training) if takes_training(layer) else layer(x)
    return x


def sequence_paths(layers, input_shape):
    """Pair each of `layers` with the shape it sees; return the pairs and the final shape."""
    pairs, shape = [], tuple(input_shape)
    for layer in layers:
        pairs.append((layer, shape))
        shape = tuple(layer.compute_output_shape(shape))
    return pairs, shape


class Path(list):
    """One path of a `CompositeLayer`: `(sublayer, input_shape)` pairs in forward order.

    A plain list works wherever a path is expected; a `Path` adds where it starts. `start=None`
    means the block's input; `start=(index, steps)` means the output of the first `steps` pairs
    of path `index` (an earlier path): the second half of a split, such as Inception v3's 3x1
    next to a 1x3, whose outputs the block concatenates with the others.
    """

    def __init__(self, pairs=(), start=None):
        super().__init__(pairs)
        self.start = start


class CompositeLayer(keras.layers.Layer):
    """Base class of the kcnn layers that are made of other layers (blocks, modules, heads).

    Subclasses create their sublayers in `__init__` (in forward order, with fixed names) and build
    them in `build()` with the shapes they will see: Keras 3 does not build sublayers by tracing
    `call`, and a `.keras` file only restores the weights of layers that were built.

    The public description that generic code (`build()`, `kcnn.analysis`) reads, and nothing else:

    * `paths(input_shape)`: a list of parallel paths from the block's input to its output, each a
      list of `(sublayer, input_shape_of_that_sublayer)` in forward order. Every sublayer appears
      in exactly one path; an empty path is an identity shortcut. A path that branches off another
      one part-way is a `Path` with a `start` (see `Path`).
    * `merge`: how the path ends are combined: "add", "concat" or None (a single path).
    * `merge_activation`: the activation `call` applies after the merge without a sublayer (e.g.
      "relu" after a post-activation residual add), or None.
    * `activation_after(sublayer)`: the activation `call` applies right after `sublayer` without a
      sublayer of its own (e.g. the ReLU after each BatchNormalization of an Inception branch).

    A block that applies anything else in `call` beyond its sublayers must not be counted by
    `kcnn.analysis` from this description: give it a rule of its own with `register_rule`.
    """

    merge = None
    merge_activation = None

    def paths(self, input_shape):
        """Return the block's parallel paths as lists of `(sublayer, input_shape)` pairs."""
        raise NotImplementedError(f"{type(self).__name__} must implement paths()")

    def activation_after(self, sublayer):
        """The activation applied in `call` right after `sublayer` (outside it), or None (the
        default: a block whose `call` only chains its sublayers)."""

    def build(self, input_shape):
        for path in self.paths(input_shape):
            for layer, shape in path:
                if not layer.built:
                    layer.build(shape)
        self.built = True
