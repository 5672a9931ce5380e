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


class CompositeLayer(keras.layers.Layer):
    """Base class of the kcnn layers that are made of other layers (blocks, modules, heads).

    Subclasses create their sublayers in `__init__` (in forward order, with fixed names) and build
    them in `build()` with the shapes they will see: Keras 3 does not build sublayers by tracing
    `call`, and a `.keras` file only restores the weights of layers that were built.

    `paths(input_shape)` describes the block's graph for `kcnn.analysis`: a list of parallel paths
    from the block's input to its output, each a list of `(sublayer, input_shape_of_that_sublayer)`
    in forward order. Every sublayer appears in exactly one path; an empty path is an identity
    shortcut. `merge` says how the paths are combined: "add", "concat" or None (a single path).
    """

    merge = None

    def paths(self, input_shape):
        """Return the block's parallel paths as lists of `(sublayer, input_shape)` pairs."""
        raise NotImplementedError(f"{type(self).__name__} must implement paths()")

    def build(self, input_shape):
        for path in self.paths(input_shape):
            for layer, shape in path:
                if not layer.built:
                    layer.build(shape)
        self.built = True
