"""Per-layer-type counting rules: multiply-accumulates (MACs) and the layer's effect on the receptive field.

A rule is a function `rule(layer, input_shapes, output_shape) -> Cost`. Shapes include the batch
axis; a rule reports MACs **per image**. `Cost.macs` maps a kind to a count:

* "conv" and "dense" are the weight multiply-accumulates that published figures count
  (torchvision's `_ops`, timm's GMACs, the papers' "multiply-adds"); biases are not counted.
* the cheap kinds are reported apart: "pooling" (one per window element), "normalization" (one
  per element: BN folds into a scale and a shift at inference), "activation" (one per element,
  fused activations included), "addition" (one per element per extra input of an elementwise
  merge: add, subtract, multiply, average, maximum) and "concatenation" (always 0: it moves data
  and multiplies nothing; the kind exists so that the totals name it).

`Cost.field` is the layer's effect on the receptive field: `KEEP` (pointwise or elementwise, e.g.
BN, ReLU, 1x1-free ops, padding), `GLOBAL` (the output sees the whole input: global pooling,
Flatten; the receptive field is undefined from there on) or a `Window(kernel, stride, dilation)`,
one entry per spatial axis.

Rules are looked up by the exact layer class (Keras built-ins) or by the Keras registered name
(`"kcnn>LocalResponseNormalization"`), so a custom layer that merely shares a class name is never
counted by the wrong rule. A subclass of a known layer inherits its rule only when it does not
override `call`. Anything else raises `UncountableLayerError`; `register_rule` adds a rule for
your own layer.
"""

import collections
import math

import keras

HEAVY_KINDS = ("conv", "dense")
CHEAP_KINDS = ("pooling", "normalization", "activation", "addition", "concatenation")
KINDS = HEAVY_KINDS + CHEAP_KINDS

KEEP = "keep"
GLOBAL = "global"
Window = collections.namedtuple("Window", ["kernel", "stride", "dilation"])
Cost = collections.namedtuple("Cost", ["macs", "field"])


class UncountableLayerError(ValueError):
    """Raised for a layer type `kcnn.analysis` has no rule for (never a silent zero)."""


def size(shape):
    """Elements per image: the product of every axis but the batch axis."""
    dims = shape[1:]
    if any(d is None for d in dims):
        raise ValueError(
            f"cannot count a tensor of shape {tuple(shape)} with unknown dimensions; "
            "pass input_shape=(height, width, channels) to kcnn.analysis.profile"
        )
    return math.prod(dims)


def _tuple(value, rank):
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * rank


def _activation(layer, output_shape):
    """The fused activation of a Conv or Dense layer: one MAC per output element unless linear."""
    activation = getattr(layer, "activation", None)
    if activation is None or getattr(activation, "__name__", "") == "linear":
        return {}
    return {"activation": size(output_shape)}


def _window(layer, kernel_attr, rank):
    return Window(
        _tuple(getattr(layer, kernel_attr), rank),
        _tuple(layer.strides, rank),
        _tuple(getattr(layer, "dilation_rate", 1), rank),
    )


def _spatial_rank(shape):
    return len(shape) - 2


# --- weighted layers --------------------------------------------------------------------------


def conv(layer, inputs, output):
    """Conv1D/2D/3D, grouped included: every output element costs kernel_size * in_channels / groups."""
    (shape,) = inputs
    per_output = math.prod(layer.kernel.shape[:-1])  # (k..., in_channels / groups, filters)
    macs = {"conv": size(output) * per_output, **_activation(layer, output)}
    return Cost(macs, _window(layer, "kernel_size", _spatial_rank(shape)))


def depthwise_conv(layer, inputs, output):
    """DepthwiseConv1D/2D: every output element costs one kernel window of one channel."""
    (shape,) = inputs
    per_output = math.prod(layer.kernel.shape[:-2])  # (k..., in_channels, depth_multiplier)
    macs = {"conv": size(output) * per_output, **_activation(layer, output)}
    return Cost(macs, _window(layer, "kernel_size", _spatial_rank(shape)))


def separable_conv(layer, inputs, output):
    """SeparableConv1D/2D: a depthwise window per intermediate channel, then a 1x1 convolution."""
    (shape,) = inputs
    depthwise = tuple(layer.depthwise_kernel.shape)  # (k..., in_channels, depth_multiplier)
    intermediate = depthwise[-2] * depthwise[-1]
    positions = size(output) // output[-1 if layer.data_format == "channels_last" else 1]
    macs = positions * math.prod(depthwise) + size(output) * intermediate
    return Cost(
        {"conv": macs, **_activation(layer, output)},
        _window(layer, "kernel_size", _spatial_rank(shape)),
    )


def conv_transpose(layer, inputs, output):
    """Conv1D/2D/3DTranspose: every input element scatters into kernel_size * filters outputs.

    The receptive field of an upsampling layer is not a window of its input, so it becomes
    undefined from here on.
    """
    (shape,) = inputs
    per_input = math.prod(layer.kernel.shape[:-1])  # (k..., filters, in_channels)
    return Cost({"conv": size(shape) * per_input, **_activation(layer, output)}, GLOBAL)


def dense(layer, inputs, output):
    """Dense: every output element costs in_features; on images it is a 1x1 convolution."""
    macs = {"dense": size(output) * layer.kernel.shape[0], **_activation(layer, output)}
    return Cost(macs, KEEP)


# --- cheap layers -----------------------------------------------------------------------------


def pooling(layer, inputs, output):
    """Max and average pooling: one operation per window element per output element."""
    (shape,) = inputs
    rank = _spatial_rank(shape)
    pool = _tuple(layer.pool_size, rank)
    window = Window(pool, _tuple(layer.strides, rank), (1,) * rank)
    return Cost({"pooling": size(output) * math.prod(pool)}, window)


def global_pooling(layer, inputs, output):
    """Global max and average pooling: one operation per input element."""
    (shape,) = inputs
    return Cost({"pooling": size(shape)}, GLOBAL)


def adaptive_pooling(layer, inputs, output):
    """Adaptive max and average pooling: one operation per element of every (possibly overlapping) window.

    Window i of n inputs into o outputs spans [floor(i * n / o), ceil((i + 1) * n / o)), as in
    Keras and PyTorch. The windows are not a fixed kernel and stride, so the receptive field ends.
    """
    (shape,) = inputs
    channels_last = getattr(layer, "data_format", "channels_last") == "channels_last"
    spatial_in = shape[1:-1] if channels_last else shape[2:]
    spatial_out = output[1:-1] if channels_last else output[2:]
    channels = shape[-1] if channels_last else shape[1]
    per_channel = 1
    for n, o in zip(spatial_in, spatial_out):
        per_channel *= sum(-(-(i + 1) * n // o) - (i * n) // o for i in range(o))
    return Cost({"pooling": per_channel * channels}, GLOBAL)


def normalization(layer, inputs, output):
    """Batch, layer, group normalization and the Normalization/Rescaling preprocessing layers."""
    return Cost({"normalization": size(output)}, KEEP)


def activation(layer, inputs, output):
    """Activation layers: one operation per element (a linear Activation costs nothing)."""
    if isinstance(layer, keras.layers.Activation):
        return Cost(_activation(layer, output), KEEP)
    return Cost({"activation": size(output)}, KEEP)


def elementwise_merge(layer, inputs, output):
    """Add, Subtract, Multiply, Average, Maximum, Minimum: one operation per element per extra input."""
    return Cost({"addition": (len(inputs) - 1) * size(output)}, KEEP)


def concatenate(layer, inputs, output):
    """Concatenate: no arithmetic."""
    return Cost({"concatenation": 0}, KEEP)


def free(layer, inputs, output):
    """Layers with no arithmetic at inference that keep positions: dropout, noise, padding, cropping."""
    return Cost({}, KEEP)


def flatten(layer, inputs, output):
    """Flatten, Reshape, Permute: no arithmetic, but positions are lost, so the receptive field ends."""
    return Cost({}, GLOBAL)


# --- kcnn's own layers ------------------------------------------------------------------------


def local_response_normalization(layer, inputs, output):
    """kcnn LocalResponseNormalization: a sum of squares over `2 * depth_radius + 1` channels per element."""
    return Cost({"normalization": size(output) * (2 * layer.depth_radius + 1)}, KEEP)


def subsampling(layer, inputs, output):
    """kcnn Subsampling (LeNet-5 S2/S4): a sum over the pool window times a trainable coefficient."""
    (shape,) = inputs
    rank = _spatial_rank(shape)
    pool = (layer.pool_size,) * rank
    macs = {"pooling": size(output) * math.prod(pool), **_activation(layer, output)}
    return Cost(macs, Window(pool, pool, (1,) * rank))


def partial_conv(layer, inputs, output):
    """kcnn PartialConv2D (LeNet-5 C3): only the connected weights multiply.

    Its kernel holds only the connected weights, shape (k, k, total connections), so every output
    position costs k * k * total connections (C3: 25 * 60 = 1,500 per position).
    """
    (shape,) = inputs
    rank = _spatial_rank(shape)
    positions = size(output) // output[-1]
    macs = {"conv": positions * math.prod(layer.kernel.shape), **_activation(layer, output)}
    return Cost(macs, Window((layer.kernel_size,) * rank, (1,) * rank, (1,) * rank))


def euclidean_rbf(layer, inputs, output):
    """kcnn EuclideanRBF (LeNet-5 output): y_i = sum_j (x_j - w_ij)^2, one MAC per centre weight."""
    (shape,) = inputs
    return Cost({"dense": size(output) * shape[-1]}, KEEP)


def zero_pad_shortcut(layer, inputs, output):
    """kcnn ZeroPadShortcut (option A): x[:, ::s, ::s] and zero channels; no arithmetic."""
    (shape,) = inputs
    rank = _spatial_rank(shape)
    return Cost({}, Window((1,) * rank, (layer.strides,) * rank, (1,) * rank))


L = keras.layers
RULES = {}


def register_rule(layer_type, rule):
    """Count layers of `layer_type` with `rule(layer, input_shapes, output_shape) -> Cost`.

    Args:
        layer_type: a layer class, or a Keras registered name such as "mypackage>MyLayer".
        rule: the counting function (see the module docstring).
    """
    RULES[layer_type] = rule


for _classes, _rule in [
    ((L.Conv1D, L.Conv2D, L.Conv3D), conv),
    ((L.DepthwiseConv1D, L.DepthwiseConv2D), depthwise_conv),
    ((L.SeparableConv1D, L.SeparableConv2D), separable_conv),
    ((L.Conv1DTranspose, L.Conv2DTranspose, L.Conv3DTranspose), conv_transpose),
    ((L.Dense,), dense),
    (
        (L.MaxPooling1D, L.MaxPooling2D, L.MaxPooling3D)
        + (L.AveragePooling1D, L.AveragePooling2D, L.AveragePooling3D),
        pooling,
    ),
    (
        (L.GlobalMaxPooling1D, L.GlobalMaxPooling2D, L.GlobalMaxPooling3D)
        + (L.GlobalAveragePooling1D, L.GlobalAveragePooling2D, L.GlobalAveragePooling3D),
        global_pooling,
    ),
    (
        (L.AdaptiveMaxPooling1D, L.AdaptiveMaxPooling2D, L.AdaptiveMaxPooling3D)
        + (L.AdaptiveAveragePooling1D, L.AdaptiveAveragePooling2D, L.AdaptiveAveragePooling3D),
        adaptive_pooling,
    ),
    (
        (L.BatchNormalization, L.LayerNormalization, L.GroupNormalization, L.UnitNormalization)
        + (L.Normalization, L.Rescaling),
        normalization,
    ),
    ((L.Activation, L.ReLU, L.LeakyReLU, L.PReLU, L.ELU, L.Softmax), activation),
    ((L.Add, L.Subtract, L.Multiply, L.Average, L.Maximum, L.Minimum), elementwise_merge),
    ((L.Concatenate,), concatenate),
    (
        (L.InputLayer, L.Identity, L.Dropout, L.SpatialDropout1D, L.SpatialDropout2D)
        + (L.SpatialDropout3D, L.GaussianDropout, L.GaussianNoise, L.AlphaDropout)
        + (
            L.ZeroPadding1D,
            L.ZeroPadding2D,
            L.ZeroPadding3D,
            L.Cropping1D,
            L.Cropping2D,
            L.Cropping3D,
        )
        + (L.RandomFlip, L.RandomRotation, L.RandomTranslation, L.RandomZoom, L.RandomContrast),
        free,
    ),
    ((L.Flatten, L.Reshape, L.Permute), flatten),
]:
    for _class in _classes:
        register_rule(_class, _rule)

# kcnn's leaf layers, by registered name (kcnn.layers need not be imported for the table).
for _name, _rule in [
    ("BatchNormalization", normalization),
    ("LocalResponseNormalization", local_response_normalization),
    ("Subsampling", subsampling),
    ("PartialConv2D", partial_conv),
    ("EuclideanRBF", euclidean_rbf),
    ("ZeroPadShortcut", zero_pad_shortcut),
]:
    register_rule(f"kcnn>{_name}", _rule)


def _type_name(layer_type):
    return layer_type if isinstance(layer_type, str) else layer_type.__name__


def known_types():
    """Sorted names of the layer types that have a rule."""
    return sorted({_type_name(t) for t in RULES})


def rule_for(layer):
    """The rule that counts `layer`, or raise `UncountableLayerError` naming the known types."""
    cls = type(layer)
    if cls in RULES:
        return RULES[cls]
    registered = keras.saving.get_registered_name(cls)
    if registered in RULES:
        return RULES[registered]
    for base in cls.__mro__[1:]:
        if base in RULES:
            if cls.call is base.call:
                return RULES[base]
            break
    raise UncountableLayerError(
        f"cannot count {registered} (layer {layer.name!r}): kcnn.analysis has no rule for it and "
        "will not guess. Add one with kcnn.analysis.register_rule(cls, rule). "
        f"Known: {', '.join(known_types())}"
    )
