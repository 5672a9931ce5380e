"""The Inception family's branching blocks: GoogLeNet's module, Inception v3's modules, side heads.

Sources:
* Szegedy et al., "Going Deeper with Convolutions", CVPR 2015 (arXiv:1409.4842): `InceptionModule`
  (Figure 2b, Table 1) and GoogLeNet's auxiliary classifier (section 5).
* Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", CVPR 2016
  (arXiv:1512.00567): `InceptionA` (Figure 5), `InceptionB` (Figure 6), `InceptionC` (Figure 7), the
  grid reductions `InceptionReductionA` / `InceptionReductionB`, and Inception v3's auxiliary head.
  Widths follow keras.applications' `inception_v3.py` and torchvision's `inception.py` (identical).

Every block is a `CompositeLayer` whose sublayers are created in forward order, branch by branch,
in the order keras.applications creates them, so weights can be copied between a kcnn model and
`keras.applications.InceptionV3` by order (its layers are auto-named). Inside the Inception v3
blocks the sublayer names are torchvision's attribute names (`branch5x5_1`, `branch7x7dbl_3`, ...):
the convolution carries the bare name and its BatchNormalization `<name>_bn`; ReLU is applied in
`call` and is not a sublayer. torchvision's torch class names map as: InceptionA = `InceptionA`,
InceptionB = `InceptionReductionA`, InceptionC = `InceptionB`, InceptionD = `InceptionReductionB`,
InceptionE = `InceptionC` (kcnn follows the paper's figures).
"""

import math

import keras
from keras import ops

from kcnn.layers._base import (
    CompositeLayer,
    Path,
    check_bool,
    check_choice,
    check_data_format,
    check_positive_int,
    check_range,
    check_rank,
    takes_training,
)
from kcnn.layers.batch_norm import BatchNormalization

FIVE_BY_FIVE = ("5x5", "3x3", "double_3x3")
AUX_VARIANTS = ("googlenet", "inception_v3")


def _check_bn(owner, epsilon, momentum):
    return (
        check_range(owner, "bn_epsilon", epsilon, 0, math.inf, low_open=True),
        check_range(owner, "bn_momentum", momentum, 0, 1),
    )


class _Branches(CompositeLayer):
    """Shared machinery: `self.branches` is a list of branches, each a list of layers in order.

    A BatchNormalization in a branch is followed by a ReLU (applied in `call`). An element that is
    itself a list of lists is a *split*: each inner list runs on the current tensor and their
    outputs are concatenated (Inception v3's expanded 1x3 / 3x1 pairs). With `merge = "concat"` the
    branches' outputs are concatenated in order; with `merge = None` there is a single branch.
    """

    merge = "concat"
    branches = ()

    # === Graph description (drives build() and kcnn.analysis) ===
    def _walk(self, layers, shape, path, paths):
        for layer in layers:
            if isinstance(layer, list):  # a split: the first part continues this path
                start = (paths.index(path), len(path))
                ends = [self._walk(layer[0], shape, path, paths)]
                for part in layer[1:]:
                    paths.append(Path(start=start))
                    ends.append(self._walk(part, shape, paths[-1], paths))
                shape = (*ends[0][:-1], sum(e[-1] for e in ends))
            else:
                path.append((layer, tuple(shape)))
                shape = tuple(layer.compute_output_shape(shape))
        return shape

    def _shapes(self, input_shape):
        check_rank(type(self).__name__, input_shape)
        paths, ends = [], []
        for branch in self.branches:
            path = Path()
            paths.append(path)
            ends.append(self._walk(branch, tuple(input_shape), path, paths))
        return paths, ends

    def paths(self, input_shape):
        """Parallel paths of `(sublayer, input_shape)`, one per branch in concatenation order.

        The second half of a split (Inception v3's 3x1 next to a 1x3) is listed as a `Path` of
        its own whose `start` is the split point, with the shape it really sees, so every
        sublayer appears exactly once and its parameters and multiply-adds are counted once.
        """
        return self._shapes(input_shape)[0]

    def activation_after(self, sublayer):
        """Every BatchNormalization of a branch is followed by a ReLU applied in `call`."""
        return "relu" if isinstance(sublayer, keras.layers.BatchNormalization) else None

    # === Shapes ===
    def compute_output_shape(self, input_shape):
        ends = self._shapes(input_shape)[1]
        if self.merge is None:
            return ends[0]
        return (*ends[0][:-1], sum(e[-1] for e in ends))

    # === Forward pass ===
    def _run(self, layers, x, training):
        for layer in layers:
            if isinstance(layer, list):
                x = ops.concatenate([self._run(part, x, training) for part in layer], axis=-1)
                continue
            x = layer(x, training=training) if takes_training(layer) else layer(x)
            activation = self.activation_after(layer)
            if activation:
                x = keras.activations.get(activation)(x)
        return x

    def call(self, inputs, training=None):
        outputs = [self._run(branch, inputs, training) for branch in self.branches]
        if self.merge is None:
            return outputs[0]
        return ops.concatenate(outputs, axis=-1)


@keras.saving.register_keras_serializable(package="kcnn")
class InceptionModule(_Branches):
    """GoogLeNet's Inception module (Szegedy et al. 2014, Figure 2b; widths as in Table 1).

    Four branches on the same input, concatenated along the channels in this order:
    1x1 conv | 1x1 conv -> 3x3 conv | 1x1 conv -> "5x5" conv | max-pool 3x3/1 "same" -> 1x1 conv.
    Every convolution is "same" (stride 1) and followed by ReLU; with `batch_norm=True` every
    convolution is conv -> BatchNormalization -> ReLU (torchvision's `BasicConv2d`).

    Sublayers, in forward order (BVLC's labels without the "/"): `1x1`, `3x3_reduce`, `3x3`,
    `5x5_reduce`, `5x5` (or `5x5_1`, `5x5_2` for `five_by_five="double_3x3"`), `pool`,
    `pool_proj`, and with batch norm `<conv>_bn` after each convolution.

    Args:
        filters_1x1: width of the 1x1 branch (Table 1 "#1x1").
        filters_3x3_reduce: width of the 1x1 before the 3x3 ("#3x3 reduce").
        filters_3x3: width of the 3x3 ("#3x3").
        filters_5x5_reduce: width of the 1x1 before the "5x5" ("#5x5 reduce").
        filters_5x5: width of the "5x5" convolution(s) ("#5x5").
        filters_pool_proj: width of the 1x1 after the max-pool ("pool proj").
        batch_norm: conv -> BN -> ReLU instead of conv -> ReLU (torchvision, the CIFAR variant).
        conv_bias: whether the convolutions have a bias; None means "not with batch norm" (the
            paper: bias; torchvision: no bias before BN). kcnn's CIFAR GoogLeNet
            has both (`batch_norm=True, conv_bias=True`).
        five_by_five: the "5x5" branch: "5x5" (the paper), "3x3" (torchvision's single 3x3, a
            known port bug kept for its weights, pytorch/vision#906), or "double_3x3" (two 3x3
            convolutions of `filters_5x5` each, the CIFAR variant; a 5x5 receptive field).
        bn_epsilon: BatchNormalization epsilon (torchvision 1e-3).
        bn_momentum: BatchNormalization momentum, Keras convention (torch's 0.1 is 0.9 here).
        **kwargs: standard Layer arguments (`name`, `dtype`, `trainable`).

    Input shape: (batch, H, W, C). Output shape: (batch, H, W, filters_1x1 + filters_3x3 +
    filters_5x5 + filters_pool_proj). Module 3a on 28x28x192 gives 28x28x256 with 163,696
    parameters (paper widths, biases, no BN).
    """

    # === Constructor: validate, store, create sublayers in forward order ===
    def __init__(
        self,
        filters_1x1,
        filters_3x3_reduce,
        filters_3x3,
        filters_5x5_reduce,
        filters_5x5,
        filters_pool_proj,
        batch_norm=False,
        conv_bias=None,
        five_by_five="5x5",
        bn_epsilon=1e-3,
        bn_momentum=0.99,
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = "InceptionModule"
        check_data_format(owner, None)
        widths = {}
        for arg, value in (
            ("filters_1x1", filters_1x1),
            ("filters_3x3_reduce", filters_3x3_reduce),
            ("filters_3x3", filters_3x3),
            ("filters_5x5_reduce", filters_5x5_reduce),
            ("filters_5x5", filters_5x5),
            ("filters_pool_proj", filters_pool_proj),
        ):
            widths[arg] = check_positive_int(owner, arg, value)
            setattr(self, arg, widths[arg])
        self.batch_norm = check_bool(owner, "batch_norm", batch_norm)
        if conv_bias is not None:
            check_bool(owner, "conv_bias", conv_bias)
        self.conv_bias = conv_bias
        self.five_by_five = check_choice(owner, "five_by_five", five_by_five, FIVE_BY_FIVE)
        self.bn_epsilon, self.bn_momentum = _check_bn(owner, bn_epsilon, bn_momentum)

        use_bias = (not self.batch_norm) if conv_bias is None else conv_bias
        dtype = self.dtype_policy

        def unit(name, filters, kernel):
            conv = keras.layers.Conv2D(
                filters,
                kernel,
                padding="same",
                use_bias=use_bias,
                activation=None if self.batch_norm else "relu",
                name=name,
                dtype=dtype,
            )
            if not self.batch_norm:
                return [conv]
            bn = BatchNormalization(
                epsilon=self.bn_epsilon, momentum=self.bn_momentum, name=f"{name}_bn", dtype=dtype
            )
            return [conv, bn]

        if self.five_by_five == "double_3x3":
            five = unit("5x5_1", self.filters_5x5, 3) + unit("5x5_2", self.filters_5x5, 3)
        else:
            five = unit("5x5", self.filters_5x5, 5 if self.five_by_five == "5x5" else 3)
        self.branches = [
            unit("1x1", self.filters_1x1, 1),
            unit("3x3_reduce", self.filters_3x3_reduce, 1) + unit("3x3", self.filters_3x3, 3),
            unit("5x5_reduce", self.filters_5x5_reduce, 1) + five,
            [keras.layers.MaxPooling2D(3, strides=1, padding="same", name="pool", dtype=dtype)]
            + unit("pool_proj", self.filters_pool_proj, 1),
        ]

    # === Config: exactly the constructor arguments ===
    def get_config(self):
        return {
            **super().get_config(),
            "filters_1x1": self.filters_1x1,
            "filters_3x3_reduce": self.filters_3x3_reduce,
            "filters_3x3": self.filters_3x3,
            "filters_5x5_reduce": self.filters_5x5_reduce,
            "filters_5x5": self.filters_5x5,
            "filters_pool_proj": self.filters_pool_proj,
            "batch_norm": self.batch_norm,
            "conv_bias": self.conv_bias,
            "five_by_five": self.five_by_five,
            "bn_epsilon": self.bn_epsilon,
            "bn_momentum": self.bn_momentum,
        }


class _InceptionV3Block(_Branches):
    """Base of the Inception v3 blocks: conv (no bias) -> BN -> ReLU units, BN options shared.

    Args (common to every Inception v3 block):
        bn_scale: whether BN has a learned gamma. keras.applications: False; torchvision: True.
        bn_epsilon: BatchNormalization epsilon (both references: 1e-3).
        bn_momentum: BatchNormalization momentum, Keras convention (keras.applications 0.99;
            torchvision's torch momentum 0.1 is 0.9 here).
    """

    def __init__(self, bn_scale=True, bn_epsilon=1e-3, bn_momentum=0.99, **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        check_data_format(owner, None)
        self.bn_scale = check_bool(owner, "bn_scale", bn_scale)
        self.bn_epsilon, self.bn_momentum = _check_bn(owner, bn_epsilon, bn_momentum)

    def _unit(self, name, filters, kernel, strides=1, padding="same"):
        """conv (no bias) -> BN as a two-layer list; the ReLU after the BN is applied in `call`."""
        dtype = self.dtype_policy
        return [
            keras.layers.Conv2D(
                filters, kernel, strides=strides, padding=padding, use_bias=False, name=name, dtype=dtype
            ),
            BatchNormalization(
                scale=self.bn_scale,
                epsilon=self.bn_epsilon,
                momentum=self.bn_momentum,
                name=f"{name}_bn",
                dtype=dtype,
            ),
        ]

    def _avg_pool(self, count_include_pad):
        """3x3/1 average pool keeping the size: Keras "same" ignores the padding in the mean
        (keras.applications); torch's `avg_pool2d(3, 1, padding=1)` counts it (torchvision)."""
        dtype = self.dtype_policy
        if count_include_pad:
            return [
                keras.layers.ZeroPadding2D(1, name="pool_pad", dtype=dtype),
                keras.layers.AveragePooling2D(3, strides=1, padding="valid", name="pool", dtype=dtype),
            ]
        return [keras.layers.AveragePooling2D(3, strides=1, padding="same", name="pool", dtype=dtype)]

    def get_config(self):
        return {
            **super().get_config(),
            "bn_scale": self.bn_scale,
            "bn_epsilon": self.bn_epsilon,
            "bn_momentum": self.bn_momentum,
        }


_V3_DOC_ARGS = """
        bn_scale: whether BN has a learned gamma (keras.applications False, torchvision True).
        bn_epsilon: BatchNormalization epsilon (both references 1e-3).
        bn_momentum: BatchNormalization momentum, Keras convention (torchvision's is 0.9 here).
        **kwargs: standard Layer arguments (`name`, `dtype`, `trainable`)."""

_V3_POOL_ARG = """
        count_include_pad: the 3x3/1 average pool of the pool branch divides by 9 at the border,
            counting the zero padding (torchvision), instead of by the number of real pixels
            (keras.applications, the default). Adds a `pool_pad` ZeroPadding2D sublayer."""


@keras.saving.register_keras_serializable(package="kcnn")
class InceptionA(_InceptionV3Block):
    """Inception v3's 35x35 module (paper Figure 5; keras `mixed0`-`mixed2`, torchvision `Mixed_5b`-`5d`).

    Branches, concatenated in this order: `branch1x1` (1x1, 64) | `branch5x5_1` (1x1, 48) ->
    `branch5x5_2` (5x5, 64) | `branch3x3dbl_1` (1x1, 64) -> `branch3x3dbl_2` (3x3, 96) ->
    `branch3x3dbl_3` (3x3, 96) | `pool` (avg 3x3/1) -> `branch_pool` (1x1, `pool_features`).
    Every conv is "same", has no bias and is followed by BN (`<name>_bn`) and ReLU. (The "5x5"
    branch is a real 5x5 in both references, although the paper factorises it into two 3x3.)

    Args:
        pool_features: width of the pool branch's 1x1 (32 in mixed0, 64 in mixed1 and mixed2).
    """ + _V3_POOL_ARG + _V3_DOC_ARGS + """

    Input shape: (batch, H, W, C). Output shape: (batch, H, W, 224 + pool_features).
    """

    def __init__(self, pool_features, count_include_pad=False, **kwargs):
        super().__init__(**kwargs)
        self.pool_features = check_positive_int("InceptionA", "pool_features", pool_features)
        self.count_include_pad = check_bool("InceptionA", "count_include_pad", count_include_pad)
        u = self._unit
        self.branches = [
            u("branch1x1", 64, 1),
            u("branch5x5_1", 48, 1) + u("branch5x5_2", 64, 5),
            u("branch3x3dbl_1", 64, 1) + u("branch3x3dbl_2", 96, 3) + u("branch3x3dbl_3", 96, 3),
            self._avg_pool(self.count_include_pad) + u("branch_pool", self.pool_features, 1),
        ]

    def get_config(self):
        return {
            **super().get_config(),
            "pool_features": self.pool_features,
            "count_include_pad": self.count_include_pad,
        }


@keras.saving.register_keras_serializable(package="kcnn")
class InceptionReductionA(_InceptionV3Block):
    """Inception v3's 35x35 -> 17x17 grid reduction (paper Figure 10; keras `mixed3`, torchvision `Mixed_6a`).

    Branches, concatenated in this order: `branch3x3` (3x3/2 valid, 384) | `branch3x3dbl_1`
    (1x1, 64) -> `branch3x3dbl_2` (3x3, 96) -> `branch3x3dbl_3` (3x3/2 valid, 96) | `pool`
    (max 3x3/2 valid). Convs have no bias and are followed by BN and ReLU.

    Args:""" + _V3_DOC_ARGS + """

    Input shape: (batch, H, W, C). Output shape: (batch, floor((H-3)/2)+1, floor((W-3)/2)+1, 480 + C).
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        u = self._unit
        self.branches = [
            u("branch3x3", 384, 3, strides=2, padding="valid"),
            u("branch3x3dbl_1", 64, 1)
            + u("branch3x3dbl_2", 96, 3)
            + u("branch3x3dbl_3", 96, 3, strides=2, padding="valid"),
            [keras.layers.MaxPooling2D(3, strides=2, name="pool", dtype=self.dtype_policy)],
        ]


@keras.saving.register_keras_serializable(package="kcnn")
class InceptionB(_InceptionV3Block):
    """Inception v3's 17x17 module with factorised 7x7 (paper Figure 6; keras `mixed4`-`mixed7`, torchvision `Mixed_6b`-`6e`).

    Branches, concatenated in this order (c7 = `channels_7x7`): `branch1x1` (1x1, 192) |
    `branch7x7_1` (1x1, c7) -> `branch7x7_2` (1x7, c7) -> `branch7x7_3` (7x1, 192) |
    `branch7x7dbl_1` (1x1, c7) -> `branch7x7dbl_2` (7x1, c7) -> `_3` (1x7, c7) -> `_4` (7x1, c7)
    -> `_5` (1x7, 192) | `pool` (avg 3x3/1) -> `branch_pool` (1x1, 192). Kernels are (rows, cols).

    Args:
        channels_7x7: width inside the factorised branches (128 in mixed4, 160 in mixed5-6, 192 in mixed7).
    """ + _V3_POOL_ARG + _V3_DOC_ARGS + """

    Input shape: (batch, H, W, C). Output shape: (batch, H, W, 768).
    """

    def __init__(self, channels_7x7, count_include_pad=False, **kwargs):
        super().__init__(**kwargs)
        c7 = self.channels_7x7 = check_positive_int("InceptionB", "channels_7x7", channels_7x7)
        self.count_include_pad = check_bool("InceptionB", "count_include_pad", count_include_pad)
        u = self._unit
        self.branches = [
            u("branch1x1", 192, 1),
            u("branch7x7_1", c7, 1) + u("branch7x7_2", c7, (1, 7)) + u("branch7x7_3", 192, (7, 1)),
            u("branch7x7dbl_1", c7, 1)
            + u("branch7x7dbl_2", c7, (7, 1))
            + u("branch7x7dbl_3", c7, (1, 7))
            + u("branch7x7dbl_4", c7, (7, 1))
            + u("branch7x7dbl_5", 192, (1, 7)),
            self._avg_pool(self.count_include_pad) + u("branch_pool", 192, 1),
        ]

    def get_config(self):
        return {
            **super().get_config(),
            "channels_7x7": self.channels_7x7,
            "count_include_pad": self.count_include_pad,
        }


@keras.saving.register_keras_serializable(package="kcnn")
class InceptionReductionB(_InceptionV3Block):
    """Inception v3's 17x17 -> 8x8 grid reduction (keras `mixed8`, torchvision `Mixed_7a`).

    Branches, concatenated in this order: `branch3x3_1` (1x1, 192) -> `branch3x3_2` (3x3/2 valid,
    320) | `branch7x7x3_1` (1x1, 192) -> `_2` (1x7, 192) -> `_3` (7x1, 192) -> `_4` (3x3/2 valid,
    192) | `pool` (max 3x3/2 valid).

    Args:""" + _V3_DOC_ARGS + """

    Input shape: (batch, H, W, C). Output shape: (batch, floor((H-3)/2)+1, floor((W-3)/2)+1, 512 + C).
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        u = self._unit
        self.branches = [
            u("branch3x3_1", 192, 1) + u("branch3x3_2", 320, 3, strides=2, padding="valid"),
            u("branch7x7x3_1", 192, 1)
            + u("branch7x7x3_2", 192, (1, 7))
            + u("branch7x7x3_3", 192, (7, 1))
            + u("branch7x7x3_4", 192, 3, strides=2, padding="valid"),
            [keras.layers.MaxPooling2D(3, strides=2, name="pool", dtype=self.dtype_policy)],
        ]


@keras.saving.register_keras_serializable(package="kcnn")
class InceptionC(_InceptionV3Block):
    """Inception v3's 8x8 module with expanded filter banks (paper Figure 7; keras `mixed9`-`mixed10`, torchvision `Mixed_7b`-`7c`).

    Branches, concatenated in this order: `branch1x1` (1x1, 320) | `branch3x3_1` (1x1, 384) ->
    [`branch3x3_2a` (1x3, 384) ; `branch3x3_2b` (3x1, 384)] | `branch3x3dbl_1` (1x1, 448) ->
    `branch3x3dbl_2` (3x3, 384) -> [`branch3x3dbl_3a` (1x3, 384) ; `branch3x3dbl_3b` (3x1, 384)]
    | `pool` (avg 3x3/1) -> `branch_pool` (1x1, 192). A bracket is a split whose two outputs are
    concatenated.

    Args:""" + _V3_POOL_ARG + _V3_DOC_ARGS + """

    Input shape: (batch, H, W, C). Output shape: (batch, H, W, 2048).
    """

    def __init__(self, count_include_pad=False, **kwargs):
        super().__init__(**kwargs)
        self.count_include_pad = check_bool("InceptionC", "count_include_pad", count_include_pad)
        u = self._unit
        self.branches = [
            u("branch1x1", 320, 1),
            u("branch3x3_1", 384, 1)
            + [[u("branch3x3_2a", 384, (1, 3)), u("branch3x3_2b", 384, (3, 1))]],
            u("branch3x3dbl_1", 448, 1)
            + u("branch3x3dbl_2", 384, 3)
            + [[u("branch3x3dbl_3a", 384, (1, 3)), u("branch3x3dbl_3b", 384, (3, 1))]],
            self._avg_pool(self.count_include_pad) + u("branch_pool", 192, 1),
        ]

    def get_config(self):
        return {**super().get_config(), "count_include_pad": self.count_include_pad}


@keras.saving.register_keras_serializable(package="kcnn")
class AuxiliaryClassifier(_Branches):
    """A side classifier: GoogLeNet's two auxiliary heads or Inception v3's `AuxLogits`.

    variant="googlenet" (Szegedy et al. 2014, section 5; BVLC `loss1`/`loss2`): `pool` avg 5x5/3
    "valid" (or, with `adaptive_pool=True`, torchvision's adaptive average pool to 4x4) -> `conv`
    1x1, 128 (+ `conv_bn` with `batch_norm`) -> ReLU -> `flatten` -> `fc` 1024 + ReLU -> `dropout`
    (0.7) -> `predictions`. On GoogLeNet's 14x14 grid both pools give 4x4 (but average different
    windows: 5x5 ones at stride 3 against torch's 4-wide adaptive bins); the Flatten then needs
    exactly 4x4, i.e. a 14x14 to 16x16 grid with the fixed pool.

    variant="inception_v3" (torchvision `InceptionAux`): `pool` avg 5x5/3 "valid" -> `conv0` 1x1,
    128 -> `conv0_bn` -> ReLU -> `conv1` 5x5 "valid", 768 -> `conv1_bn` -> ReLU -> `avg_pool`
    (global) -> `predictions`. Needs a 17x17 grid or larger (input >= 299 in Inception v3).

    `predictions` is a float32 Dense (float32 logits/probabilities under mixed precision) with
    `classifier_activation`, the same as the main head's, so one loss fits both.

    Args:
        num_classes: number of classes.
        variant: "googlenet" or "inception_v3".
        batch_norm: (googlenet) conv -> BN -> ReLU in the 1x1 unit (torchvision). Inception v3's
            head always has BN.
        conv_bias: whether the convolutions have a bias; None means "not when followed by BN".
        adaptive_pool: (googlenet) torchvision's adaptive average pool to 4x4 instead of avg 5x5/3.
        dropout: dropout rate before the last Dense; None means the variant's (googlenet 0.7,
            inception_v3 none). 0 adds no layer.
        classifier_activation: activation of `predictions` (e.g. "softmax" or None for logits).
        bn_scale: whether BN has a learned gamma.
        bn_epsilon: BatchNormalization epsilon (torchvision 1e-3).
        bn_momentum: BatchNormalization momentum, Keras convention.
        **kwargs: standard Layer arguments (`name`, `dtype`, `trainable`).

    Input shape: (batch, H, W, C). Output shape: (batch, num_classes), float32.
    """

    merge = None

    # === Constructor: validate, store, create sublayers in forward order ===
    def __init__(
        self,
        num_classes,
        variant="googlenet",
        batch_norm=False,
        conv_bias=None,
        adaptive_pool=False,
        dropout=None,
        classifier_activation="softmax",
        bn_scale=True,
        bn_epsilon=1e-3,
        bn_momentum=0.99,
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = "AuxiliaryClassifier"
        check_data_format(owner, None)
        self.num_classes = check_positive_int(owner, "num_classes", num_classes)
        self.variant = check_choice(owner, "variant", variant, AUX_VARIANTS)
        self.batch_norm = check_bool(owner, "batch_norm", batch_norm)
        if conv_bias is not None:
            check_bool(owner, "conv_bias", conv_bias)
        self.conv_bias = conv_bias
        self.adaptive_pool = check_bool(owner, "adaptive_pool", adaptive_pool)
        if dropout is not None:
            check_range(owner, "dropout", dropout, 0, 1, high_open=True)
        self.dropout = dropout
        self.classifier_activation = classifier_activation
        self.bn_scale = check_bool(owner, "bn_scale", bn_scale)
        self.bn_epsilon, self.bn_momentum = _check_bn(owner, bn_epsilon, bn_momentum)
        if self.variant == "inception_v3" and self.adaptive_pool:
            raise ValueError(f"`{owner}`: `adaptive_pool` applies to variant='googlenet' only")

        dtype = self.dtype_policy
        with_bn = self.batch_norm or self.variant == "inception_v3"
        use_bias = (not with_bn) if conv_bias is None else conv_bias
        rate = self.dropout if self.dropout is not None else (0.7 if variant == "googlenet" else 0.0)

        def unit(name, filters, kernel):
            conv = keras.layers.Conv2D(
                filters, kernel, use_bias=use_bias, activation=None if with_bn else "relu", name=name, dtype=dtype
            )
            if not with_bn:
                return [conv]
            bn = BatchNormalization(
                scale=self.bn_scale, epsilon=self.bn_epsilon, momentum=self.bn_momentum, name=f"{name}_bn", dtype=dtype
            )
            return [conv, bn]

        if self.adaptive_pool:
            layers = [keras.layers.AdaptiveAveragePooling2D(4, name="pool", dtype=dtype)]
        else:
            layers = [keras.layers.AveragePooling2D(5, strides=3, name="pool", dtype=dtype)]
        if self.variant == "googlenet":
            layers += unit("conv", 128, 1) + [
                keras.layers.Flatten(name="flatten", dtype=dtype),
                keras.layers.Dense(1024, activation="relu", name="fc", dtype=dtype),
            ]
        else:
            layers += unit("conv0", 128, 1) + unit("conv1", 768, 5)
            layers.append(keras.layers.GlobalAveragePooling2D(name="avg_pool", dtype=dtype))
        if rate > 0:
            layers.append(keras.layers.Dropout(rate, name="dropout", dtype=dtype))
        layers.append(
            keras.layers.Dense(
                self.num_classes, activation=classifier_activation, name="predictions", dtype="float32"
            )
        )
        self.branches = [layers]

    # === Config: exactly the constructor arguments ===
    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "variant": self.variant,
            "batch_norm": self.batch_norm,
            "conv_bias": self.conv_bias,
            "adaptive_pool": self.adaptive_pool,
            "dropout": self.dropout,
            "classifier_activation": self.classifier_activation,
            "bn_scale": self.bn_scale,
            "bn_epsilon": self.bn_epsilon,
            "bn_momentum": self.bn_momentum,
        }
