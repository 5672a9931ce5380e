"""ResNet's blocks: `ResidualBlock` (two 3x3 convolutions), `BottleneckBlock` (1x1, 3x3, 1x1) and
`ZeroPadShortcut` (the parameter-free "option A" shortcut of the CIFAR ResNets).

Sources: He, Zhang, Ren, Sun, "Deep Residual Learning for Image Recognition", CVPR 2016
(arXiv:1512.03385) for the post-activation blocks and shortcut options A and B; He et al.,
"Identity Mappings in Deep Residual Networks", ECCV 2016 (arXiv:1603.05027) for the pre-activation
ordering; Zagoruyko & Komodakis, "Wide Residual Networks", BMVC 2016 (arXiv:1605.07146) for the
dropout between the convolutions.

The sublayer names are keras.applications' suffixes (`0_conv`, `0_bn` for the shortcut, `1_conv`,
`1_bn`, `1_relu`, `2_conv`, ...), so a block named `conv2_block1` holds weights at
`conv2_block1/1_conv/kernel`, which is keras.applications' `conv2_block1_1_conv/kernel` with the
first `/` written as `_`.

One deliberate difference from Keras' usual padding: a strided 3x3 convolution is preceded by an
explicit `ZeroPadding2D(1)` sublayer (`{k}_pad`) and uses "valid" padding. Keras' "same" would pad
an even-sized input only at the bottom and right at stride 2; PyTorch (torchvision, the CIFAR and
WRN reference code) pads one pixel on every side. Shapes and counts are the same either way; the
numbers then match the PyTorch references. keras.applications' ResNet v1 never strides a 3x3
convolution, so its layout is unaffected.
"""

import collections
import math

import keras

from kcnn.layers._base import (
    CompositeLayer,
    apply_sequence,
    check_bool,
    check_choice,
    check_data_format,
    check_positive_int,
    check_range,
    check_rank,
    sequence_paths,
)
from kcnn.layers.batch_norm import BatchNormalization

SHORTCUTS = ("auto", "identity", "projection", "zero_pad")
STRIDE_POSITIONS = ("3x3", "1x1")


_Conv = collections.namedtuple("_Conv", "suffix kernel filters strides groups", defaults=(1,))


def _strided_size(size, strides):
    return None if size is None else math.ceil(size / strides)


@keras.saving.register_keras_serializable(package="kcnn")
class ZeroPadShortcut(keras.layers.Layer):
    """The CIFAR ResNets' "option A" shortcut: subsample, then pad the channels with zeros.

    Computes `x[:, ::strides, ::strides, :]` and appends zero channels up to `filters`, half of
    them before the input channels and half after (the odd one after), as the common PyTorch
    implementation does (akamaster/pytorch_resnet_cifar10 pads `planes // 4` on each side when
    the width doubles). It has no weights.

    Args:
        filters: output channels; at least the input channels.
        strides: spatial subsampling step (1 keeps the size).
        **kwargs: standard Layer arguments (`name`, `dtype`).

    Input shape: (batch, H, W, C). Output shape: (batch, ceil(H/strides), ceil(W/strides), filters).
    """

    def __init__(self, filters, strides=1, **kwargs):
        super().__init__(**kwargs)
        owner = "ZeroPadShortcut"
        check_data_format(owner, None)
        self.filters = check_positive_int(owner, "filters", filters)
        self.strides = check_positive_int(owner, "strides", strides)

    def _padding(self, channels):
        extra = self.filters - channels
        if extra < 0:
            raise ValueError(
                f"`ZeroPadShortcut`: `filters` ({self.filters}) must be at least the input channels; "
                f"received an input with {channels} channels"
            )
        return extra // 2, extra - extra // 2

    def build(self, input_shape):
        check_rank("ZeroPadShortcut", input_shape)
        self._padding(input_shape[-1])
        self.built = True

    def compute_output_shape(self, input_shape):
        check_rank("ZeroPadShortcut", input_shape)
        self._padding(input_shape[-1])
        batch, height, width, _ = input_shape
        return (
            batch,
            _strided_size(height, self.strides),
            _strided_size(width, self.strides),
            self.filters,
        )

    def call(self, inputs):
        s = self.strides
        x = inputs[:, ::s, ::s, :] if s > 1 else inputs
        before, after = self._padding(inputs.shape[-1])
        if before or after:
            x = keras.ops.pad(x, [[0, 0], [0, 0], [0, 0], [before, after]])
        return x

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "strides": self.strides}


class _ResidualUnit(CompositeLayer):
    """What both blocks share: arguments, the shortcut, pre- or post-activation, the forward pass.

    The shared options are keyword-only and defined here once. A subclass validates its own
    options, then calls `_make_layers(out_channels)`; it lists its convolutions as `_convs()`:
    `_Conv` records in forward order.
    """

    merge = "add"

    @property
    def merge_activation(self):
        """The post-activation block applies a ReLU after the add; the pre-activation one none."""
        return None if self.preactivation else "relu"

    def __init__(
        self,
        filters,
        *,
        strides=1,
        shortcut="auto",
        preactivation=False,
        conv_bias=False,
        bn_epsilon=1e-5,
        bn_momentum=0.9,
        dropout_rate=0.0,
        kernel_initializer="he_normal",
        zero_init_residual=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = type(self).__name__
        check_data_format(owner, None)
        self.filters = check_positive_int(owner, "filters", filters)
        self.strides = check_positive_int(owner, "strides", strides)
        self.shortcut = check_choice(owner, "shortcut", shortcut, SHORTCUTS)
        self.preactivation = check_bool(owner, "preactivation", preactivation)
        self.conv_bias = check_bool(owner, "conv_bias", conv_bias)
        self.bn_epsilon = check_range(owner, "bn_epsilon", bn_epsilon, 0, math.inf, low_open=True)
        self.bn_momentum = check_range(owner, "bn_momentum", bn_momentum, 0, 1)
        self.dropout_rate = check_range(owner, "dropout_rate", dropout_rate, 0, 1, high_open=True)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.zero_init_residual = check_bool(owner, "zero_init_residual", zero_init_residual)

    def _make_layers(self, out_channels):
        self.out_channels = out_channels
        self.residual_layers = self._make_residual_path()
        self.shortcut_layers = None  # its kind needs the input channels: made by _make_shortcut()

    # --- sublayer factories -------------------------------------------------------------------
    def _bn(self, name, gamma_initializer="ones"):
        return BatchNormalization(
            epsilon=self.bn_epsilon,
            momentum=self.bn_momentum,
            gamma_initializer=gamma_initializer,
            name=name,
            dtype=self.dtype_policy,
        )

    def _relu(self, name):
        return keras.layers.Activation("relu", name=name, dtype=self.dtype_policy)

    def _conv(self, suffix, kernel, filters, strides, kernel_initializer=None, groups=1):
        """`{suffix}_conv`, preceded by `{suffix}_pad` when a kernel larger than 1 is strided."""
        explicit_pad = kernel > 1 and strides > 1
        conv = keras.layers.Conv2D(
            filters,
            kernel,
            strides=strides,
            groups=groups,
            padding="valid" if explicit_pad or kernel == 1 else "same",
            use_bias=self.conv_bias,
            kernel_initializer=kernel_initializer or self.kernel_initializer,
            name=f"{suffix}_conv",
            dtype=self.dtype_policy,
        )
        if explicit_pad:
            pad = keras.layers.ZeroPadding2D(
                kernel // 2, name=f"{suffix}_pad", dtype=self.dtype_policy
            )
            return [pad, conv]
        return [conv]

    def _make_residual_path(self):
        """The residual branch in forward order (pre-activation: starting with `preact_bn`, `preact_relu`).

        With `zero_init_residual`, the branch's last scale starts at zero: the last BN's gamma
        (post-activation) or the last convolution's kernel (pre-activation, which ends in a conv).
        """
        convs = self._convs()
        zero = "zeros" if self.zero_init_residual else None
        layers = [self._bn("preact_bn"), self._relu("preact_relu")] if self.preactivation else []
        for i, conv in enumerate(convs):
            last = i == len(convs) - 1
            if last and self.dropout_rate > 0:
                layers.append(
                    keras.layers.Dropout(
                        self.dropout_rate,
                        name=f"{convs[i - 1].suffix}_dropout",
                        dtype=self.dtype_policy,
                    )
                )
            last_conv_init = zero if last and self.preactivation else None
            layers += self._conv(*conv[:4], last_conv_init, groups=conv.groups)
            if not last:
                layers += [self._bn(f"{conv.suffix}_bn"), self._relu(f"{conv.suffix}_relu")]
            elif not self.preactivation:
                layers.append(self._bn(f"{conv.suffix}_bn", zero or "ones"))
        return layers

    def _shortcut_kind(self, channels):
        changes = channels != self.out_channels or self.strides != 1
        kind = self.shortcut
        if kind == "auto":
            kind = "projection" if changes else "identity"
        if kind == "identity" and changes:
            raise ValueError(
                f"`{type(self).__name__}`: `shortcut='identity'` needs the output shape to equal the input's, "
                f"but strides={self.strides} and {channels} -> {self.out_channels} channels; "
                "use 'projection', 'zero_pad' or 'auto'"
            )
        if kind == "zero_pad":
            if channels > self.out_channels:
                raise ValueError(
                    f"`{type(self).__name__}`: `shortcut='zero_pad'` cannot reduce {channels} input channels "
                    f"to {self.out_channels}; use 'projection'"
                )
            if not changes:
                kind = "identity"  # nothing to subsample or pad: option A is the identity here
        return kind

    def _make_shortcut(self, input_shape):
        """Create the shortcut sublayers once; their kind depends on the input channels."""
        if self.shortcut_layers is None:
            check_rank(type(self).__name__, input_shape)
            kind = self._shortcut_kind(input_shape[-1])
            layers = []
            if kind == "projection":
                layers = self._conv("0", 1, self.out_channels, self.strides)
                if not self.preactivation:
                    layers.append(self._bn("0_bn"))
            elif kind == "zero_pad":
                layers = [
                    ZeroPadShortcut(
                        self.out_channels, self.strides, name="0_pad", dtype=self.dtype_policy
                    )
                ]
            self.shortcut_kind = kind
            self.shortcut_layers = layers
        return self.shortcut_layers

    # === Graph description (drives build() and kcnn.analysis) ===
    def paths(self, input_shape):
        """Two paths, (residual, shortcut); an identity shortcut is the empty path.

        A pre-activation projection reads the pre-activated tensor, which has the block input's
        shape, so its entry is paired with the input shape (its count and multiply-adds are exact).
        """
        shortcut = self._make_shortcut(input_shape)
        residual, _ = sequence_paths(self.residual_layers, input_shape)
        return [residual, sequence_paths(shortcut, input_shape)[0]]

    # === Shapes ===
    def compute_output_shape(self, input_shape):
        check_rank(type(self).__name__, input_shape)
        self._shortcut_kind(input_shape[-1])
        batch, height, width, _ = input_shape
        s = self.strides
        return (batch, _strided_size(height, s), _strided_size(width, s), self.out_channels)

    # === Forward pass ===
    def call(self, inputs, training=None):
        x = inputs
        residual_layers = self.residual_layers
        if self.preactivation:
            x = apply_sequence(residual_layers[:2], x, training)
            residual_layers = residual_layers[2:]
        residual = apply_sequence(residual_layers, x, training)
        # Identity and zero-padding shortcuts keep the raw input (He et al. 2016b); a projection
        # reads the pre-activated tensor when there is one (WRN, keras.applications' ResNetV2).
        shortcut = apply_sequence(
            self.shortcut_layers, x if self.shortcut_kind == "projection" else inputs, training
        )
        out = keras.ops.add(residual, shortcut)
        if self.merge_activation:
            out = keras.activations.get(self.merge_activation)(out)
        return out

    # === Config: exactly the constructor arguments ===
    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "strides": self.strides,
            "shortcut": self.shortcut,
            "preactivation": self.preactivation,
            "conv_bias": self.conv_bias,
            "bn_epsilon": self.bn_epsilon,
            "bn_momentum": self.bn_momentum,
            "dropout_rate": self.dropout_rate,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "zero_init_residual": self.zero_init_residual,
        }


_COMMON_ARGS = """
        strides: stride of the block (1 or 2); the shortcut subsamples by the same step.
        shortcut: how the input reaches the addition:
            "auto" (default): identity when the shape is unchanged, else a projection (the
                paper's option B; torchvision, keras.applications, WRN);
            "identity": always the input; a ValueError if strides or channels change;
            "projection": always a 1x1 convolution `0_conv` (stride `strides`), followed by
                `0_bn` in the post-activation form; in the pre-activation form it reads the
                pre-activated tensor and has no BN (WRN, He et al. 2016b);
            "zero_pad": option A (CIFAR ResNets): `0_pad`, a `ZeroPadShortcut` that subsamples and
                zero-pads the channels, no parameters; the identity when the shape is unchanged.
        preactivation: False: post-activation (conv-BN-ReLU ..., output relu(F(x) + shortcut(x))).
            True: pre-activation (BN-ReLU-conv ..., output F(x) + shortcut(x), no ReLU after the
            addition; the block opens with `preact_bn`, `preact_relu`).
        conv_bias: whether every convolution (shortcut included) has a bias (keras.applications'
            ResNet v1: yes; torchvision and the CIFAR references: no).
        bn_epsilon: BatchNormalization epsilon (torchvision 1e-5; keras.applications 1.001e-5).
        bn_momentum: BatchNormalization momentum in Keras' convention (torchvision's 0.1 is 0.9;
            Keras' default and keras.applications' is 0.99).
        dropout_rate: dropout before the last convolution (after its predecessor's ReLU), WRN's
            position; 0 adds no layer.
        kernel_initializer: initializer of every convolution (default "he_normal", the papers';
            keras.applications uses Keras' default "glorot_uniform").
        zero_init_residual: start the residual branch's last scale at zero (the last BN's gamma,
            or in the pre-activation form the last convolution's kernel), so that the block begins
            as its shortcut (Goyal et al. 2017, arXiv:1706.02677; torchvision's option of the same
            name, timm's `zero_init_last`). Default False.
        **kwargs: standard Layer arguments (`name`, `dtype`, `trainable`).
"""


@keras.saving.register_keras_serializable(package="kcnn")
class ResidualBlock(_ResidualUnit):
    """The basic residual block of ResNet-18/34, the CIFAR ResNets and Wide ResNet: two 3x3 convolutions.

    Post-activation (He et al. 2015): `1_conv` (3x3, stride `strides`), `1_bn`, `1_relu`, `2_conv`
    (3x3), `2_bn`; output relu(F(x) + shortcut(x)). Pre-activation (He et al. 2016b, WRN):
    `preact_bn`, `preact_relu`, `1_conv`, `1_bn`, `1_relu`, [`1_dropout`], `2_conv`; output
    F(x) + shortcut(x). A strided `1_conv` is preceded by `1_pad` (see the module docstring).

    Args:
        filters: output channels of both convolutions (and of the block).
    """

    __doc__ += (
        _COMMON_ARGS
        + """
    Input shape: (batch, H, W, C). Output shape: (batch, ceil(H/strides), ceil(W/strides), filters).
    """
    )

    def __init__(self, filters, **options):
        super().__init__(filters, **options)
        self._make_layers(self.filters)

    def _convs(self):
        return [_Conv("1", 3, self.filters, self.strides), _Conv("2", 3, self.filters, 1)]


@keras.saving.register_keras_serializable(package="kcnn")
class BottleneckBlock(_ResidualUnit):
    """The bottleneck block of ResNet-50/101/152, ResNeXt, Wide ResNet-50/101 and the
    pre-activation ResNet-164: 1x1, 3x3, 1x1.

    Post-activation: `1_conv` (1x1, `width`), `1_bn`, `1_relu`, `2_conv` (3x3, `width`, in `groups`
    groups), `2_bn`,
    `2_relu`, `3_conv` (1x1, `filters * expansion`), `3_bn`; output relu(F(x) + shortcut(x)).
    Pre-activation: `preact_bn`, `preact_relu`, `1_conv`, `1_bn`, `1_relu`, `2_conv`, `2_bn`,
    `2_relu`, [`2_dropout`], `3_conv`; output F(x) + shortcut(x).

    Args:
        filters: width of the 1x1 and 3x3 convolutions; the block outputs `filters * expansion`.
        expansion: output width factor (4 in every ResNet).
        stride_on: which convolution carries the stride: "3x3" (torchvision's "ResNet v1.5" and the
            pre-activation references) or "1x1" (the first 1x1: the original Caffe model and
            keras.applications' ResNet v1). Counts are equal; activations differ.
        groups: groups of the 3x3 convolution (ResNeXt's cardinality, Xie et al. 2017,
            arXiv:1611.05431); 1 is the plain ResNet block.
        width_per_group: channels per group at `filters=64` (torchvision's `base_width`): the
            1x1 and 3x3 convolutions are `width = int(filters * width_per_group / 64) * groups`
            wide. 64 with one group is ResNet's `width = filters`; ResNeXt-50 32x4d is
            `groups=32, width_per_group=4`; Wide ResNet-50-2 is `width_per_group=128`.
    """

    __doc__ += (
        _COMMON_ARGS
        + """
    Input shape: (batch, H, W, C).
    Output shape: (batch, ceil(H/strides), ceil(W/strides), filters * expansion).
    """
    )

    def __init__(
        self, filters, *, expansion=4, stride_on="3x3", groups=1, width_per_group=64, **options
    ):
        super().__init__(filters, **options)
        self.expansion = check_positive_int("BottleneckBlock", "expansion", expansion)
        self.stride_on = check_choice("BottleneckBlock", "stride_on", stride_on, STRIDE_POSITIONS)
        self.groups = check_positive_int("BottleneckBlock", "groups", groups)
        self.width_per_group = check_positive_int(
            "BottleneckBlock", "width_per_group", width_per_group
        )
        self.width = int(self.filters * self.width_per_group / 64) * self.groups
        if self.width < 1:
            raise ValueError(
                f"`BottleneckBlock`: filters={self.filters} with width_per_group="
                f"{self.width_per_group} leaves no channel (width = int(filters * "
                "width_per_group / 64) * groups); use a larger width_per_group"
            )
        self._make_layers(self.filters * self.expansion)

    def _convs(self):
        s = self.strides
        on_1x1 = self.stride_on == "1x1"
        return [
            _Conv("1", 1, self.width, s if on_1x1 else 1),
            _Conv("2", 3, self.width, 1 if on_1x1 else s, self.groups),
            _Conv("3", 1, self.out_channels, 1),
        ]

    def get_config(self):
        return {
            **super().get_config(),
            "expansion": self.expansion,
            "stride_on": self.stride_on,
            "groups": self.groups,
            "width_per_group": self.width_per_group,
        }
