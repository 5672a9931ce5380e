"""DenseNet's two blocks: `DenseBlock` (densely connected BN-ReLU-conv layers) and `TransitionBlock`.

Source: Huang, Liu, van der Maaten, Weinberger, "Densely Connected Convolutional Networks", CVPR 2017
(arXiv:1608.06993), the DenseNet-BC form (bottleneck and compression). The sublayer names are
keras.applications' suffixes, so a block named `conv2` holds weights at `conv2/block1_1_conv/kernel`,
which is keras.applications' `conv2_block1_1_conv/kernel` with the first `/` written as `_`.
"""

import math

import keras

from kcnn.layers._base import (
    CompositeLayer,
    apply_sequence,
    check_choice,
    check_data_format,
    check_positive_int,
    check_range,
    check_rank,
)
from kcnn.layers.batch_norm import BatchNormalization

CONCAT_ORDERS = ("append", "prepend")


def _bn(name, epsilon, momentum, dtype):
    return BatchNormalization(
        epsilon=epsilon, momentum=momentum, name=name, dtype=dtype
    )


def _relu(name, dtype):
    return keras.layers.Activation("relu", name=name, dtype=dtype)


def _with_channels(shape, channels):
    return (*tuple(shape)[:-1], channels)


@keras.saving.register_keras_serializable(package="kcnn")
class DenseBlock(CompositeLayer):
    """A DenseNet-BC dense block: `num_layers` layers, each adding `growth_rate` feature maps.

    Layer `i` (1-based) computes BN-ReLU-conv1x1 (`bn_size * growth_rate` filters) then
    BN-ReLU-conv3x3 (`growth_rate` filters, "same" padding), optionally followed by dropout, and
    concatenates its output to its input along the channels. No convolution has a bias. An input
    with C channels leaves with `C + num_layers * growth_rate` channels; the spatial size is kept.

    Sublayers of layer `i`, in forward order (keras.applications' `conv_block` suffixes):
    `block{i}_0_bn`, `block{i}_0_relu`, `block{i}_1_conv`, `block{i}_1_bn`, `block{i}_1_relu`,
    `block{i}_2_conv`, and `block{i}_2_dropout` when `dropout_rate > 0`.

    Args:
        num_layers: number of dense layers (the paper's block size, e.g. 6 in DenseNet-121's first).
        growth_rate: k, the feature maps each layer adds.
        bn_size: bottleneck width factor; the 1x1 convolution has `bn_size * k` filters (paper: 4).
        dropout_rate: dropout on each layer's new features, after the 3x3 convolution (torchvision's
            `drop_rate` position; the paper's Torch code also drops after the 1x1). 0 adds no layer.
        bn_epsilon: BatchNormalization epsilon (keras.applications 1.001e-5; torchvision 1e-5).
        bn_momentum: BatchNormalization momentum in Keras' convention (0.99; torchvision's 0.1 is 0.9).
        concat_order: "append" puts the new features after the input (`[x, new]`: the paper's Torch
            code, torchvision and keras.applications); "prepend" puts them before (`[new, x]`: the
            CIFAR DenseNet form). Same count, different channel
            order.
        **kwargs: standard Layer arguments (`name`, `dtype`, `trainable`).

    Input shape: (batch, height, width, C). Output shape: (batch, height, width, C + num_layers * k).

    `paths()` for `kcnn.analysis`: `merge = "concat"` over two paths, in channel order: the identity
    (an empty path, the C input channels) and one path through every sublayer in forward order, each
    paired with the exact shape it sees (its C + j*k channels). Every parameter and multiply-add is
    therefore counted once, and the long path is the deepest one, which sets the receptive field.
    The block's dense connectivity is folded into that path, so the output width is
    `compute_output_shape`, not the sum of the path ends.
    """

    merge = "concat"

    # === Constructor: validate, store, create sublayers in forward order ===
    def __init__(
        self,
        num_layers,
        growth_rate,
        bn_size=4,
        dropout_rate=0.0,
        bn_epsilon=1.001e-5,
        bn_momentum=0.99,
        concat_order="append",
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = "DenseBlock"
        check_data_format(owner, None)
        self.num_layers = check_positive_int(owner, "num_layers", num_layers)
        self.growth_rate = check_positive_int(owner, "growth_rate", growth_rate)
        self.bn_size = check_positive_int(owner, "bn_size", bn_size)
        self.dropout_rate = check_range(owner, "dropout_rate", dropout_rate, 0, 1, high_open=True)
        self.bn_epsilon = check_range(owner, "bn_epsilon", bn_epsilon, 0, math.inf, low_open=True)
        self.bn_momentum = check_range(owner, "bn_momentum", bn_momentum, 0, 1)
        self.concat_order = check_choice(owner, "concat_order", concat_order, CONCAT_ORDERS)

        dtype = self.dtype_policy
        self.dense_layers = []
        for i in range(1, self.num_layers + 1):
            unit = [
                _bn(f"block{i}_0_bn", self.bn_epsilon, self.bn_momentum, dtype),
                _relu(f"block{i}_0_relu", dtype),
                keras.layers.Conv2D(
                    self.bn_size * self.growth_rate,
                    1,
                    use_bias=False,
                    name=f"block{i}_1_conv",
                    dtype=dtype,
                ),
                _bn(f"block{i}_1_bn", self.bn_epsilon, self.bn_momentum, dtype),
                _relu(f"block{i}_1_relu", dtype),
                keras.layers.Conv2D(
                    self.growth_rate,
                    3,
                    padding="same",
                    use_bias=False,
                    name=f"block{i}_2_conv",
                    dtype=dtype,
                ),
            ]
            if self.dropout_rate > 0:
                unit.append(
                    keras.layers.Dropout(self.dropout_rate, name=f"block{i}_2_dropout", dtype=dtype)
                )
            self.dense_layers.append(unit)

    # === Graph description (drives build() and kcnn.analysis) ===
    def paths(self, input_shape):
        check_rank("DenseBlock", input_shape)
        channels = input_shape[-1]
        path = []
        for j, unit in enumerate(self.dense_layers):
            shape = _with_channels(input_shape, channels + j * self.growth_rate)
            for layer in unit:
                path.append((layer, shape))
                shape = layer.compute_output_shape(shape)
        return [[], path] if self.concat_order == "append" else [path, []]

    # === Shapes ===
    def compute_output_shape(self, input_shape):
        check_rank("DenseBlock", input_shape)
        return _with_channels(input_shape, input_shape[-1] + self.num_layers * self.growth_rate)

    # === Forward pass ===
    def call(self, inputs, training=None):
        x = inputs
        for unit in self.dense_layers:
            new = apply_sequence(unit, x, training)
            pair = [x, new] if self.concat_order == "append" else [new, x]
            x = keras.ops.concatenate(pair, axis=-1)
        return x

    # === Config: exactly the constructor arguments ===
    def get_config(self):
        return {
            **super().get_config(),
            "num_layers": self.num_layers,
            "growth_rate": self.growth_rate,
            "bn_size": self.bn_size,
            "dropout_rate": self.dropout_rate,
            "bn_epsilon": self.bn_epsilon,
            "bn_momentum": self.bn_momentum,
            "concat_order": self.concat_order,
        }


@keras.saving.register_keras_serializable(package="kcnn")
class TransitionBlock(CompositeLayer):
    """A DenseNet transition layer: BN-ReLU-conv1x1 to floor(C * compression) channels, avg-pool 2x2/2.

    The convolution has no bias. Its width depends on the input, so it is created in `build()`
    (floor(C * compression), which is keras.applications' `int(C * 0.5)` and torchvision's `C // 2`
    at the default). The pooling floors odd sizes ("valid" padding), as both references do.

    Sublayers, in forward order: `bn`, `relu`, `conv`, `pool` (keras.applications names them
    `pool2_bn`, `pool2_relu`, `pool2_conv`, `pool2_pool` for the transition named `pool2`).

    Args:
        compression: theta, the fraction of channels kept, in (0, 1] (DenseNet-BC: 0.5; 1 is the
            plain DenseNet's transition).
        bn_epsilon: BatchNormalization epsilon (keras.applications 1.001e-5; torchvision 1e-5).
        bn_momentum: BatchNormalization momentum in Keras' convention (0.99).
        **kwargs: standard Layer arguments (`name`, `dtype`, `trainable`).

    Input shape: (batch, H, W, C). Output shape: (batch, floor(H/2), floor(W/2), floor(C * compression)).

    `paths()`: a single path (`merge = None`) through `bn`, `relu`, `conv`, `pool`.
    """

    # === Constructor: validate, store, create sublayers in forward order ===
    def __init__(self, compression=0.5, bn_epsilon=1.001e-5, bn_momentum=0.99, **kwargs):
        super().__init__(**kwargs)
        owner = "TransitionBlock"
        check_data_format(owner, None)
        self.compression = check_range(owner, "compression", compression, 0, 1, low_open=True)
        self.bn_epsilon = check_range(owner, "bn_epsilon", bn_epsilon, 0, math.inf, low_open=True)
        self.bn_momentum = check_range(owner, "bn_momentum", bn_momentum, 0, 1)
        dtype = self.dtype_policy
        self.bn = _bn("bn", self.bn_epsilon, self.bn_momentum, dtype)
        self.relu = _relu("relu", dtype)
        self.conv = None  # its width needs the input channels: made by _make_conv() in build()
        self.pool = keras.layers.AveragePooling2D(2, strides=2, name="pool", dtype=dtype)

    def _filters(self, channels):
        filters = math.floor(channels * self.compression)
        if filters < 1:
            raise ValueError(
                f"`TransitionBlock`: compression {self.compression} of {channels} input channels "
                f"leaves {filters} channels; it needs at least 1"
            )
        return filters

    def _make_conv(self, input_shape):
        if self.conv is None:
            filters = self._filters(input_shape[-1])
            self.conv = keras.layers.Conv2D(
                filters, 1, use_bias=False, name="conv", dtype=self.dtype_policy
            )
        return self.conv

    # === Graph description (drives build() and kcnn.analysis) ===
    def paths(self, input_shape):
        check_rank("TransitionBlock", input_shape)
        conv = self._make_conv(input_shape)
        conv_out = conv.compute_output_shape(input_shape)
        return [
            [
                (self.bn, input_shape),
                (self.relu, input_shape),
                (conv, input_shape),
                (self.pool, conv_out),
            ]
        ]

    # === Shapes ===
    def compute_output_shape(self, input_shape):
        check_rank("TransitionBlock", input_shape)
        shape = _with_channels(input_shape, self._filters(input_shape[-1]))
        return self.pool.compute_output_shape(shape)

    # === Forward pass ===
    def call(self, inputs, training=None):
        x = self.relu(self.bn(inputs, training=training))
        return self.pool(self.conv(x))

    # === Config: exactly the constructor arguments ===
    def get_config(self):
        return {
            **super().get_config(),
            "compression": self.compression,
            "bn_epsilon": self.bn_epsilon,
            "bn_momentum": self.bn_momentum,
        }
