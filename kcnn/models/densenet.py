"""DenseNet-BC (Huang, Liu, van der Maaten, Weinberger, "Densely Connected Convolutional Networks",
CVPR 2017, arXiv:1608.06993): DenseNet-121/161/169/201 for ImageNet and the CIFAR DenseNet-BC.

Each network is a stem, dense blocks `conv2`, `conv3`, ... (`kcnn.layers.DenseBlock`) with
transitions `pool2`, `pool3`, ... (`kcnn.layers.TransitionBlock`) between them, then BN, ReLU,
global average pooling and the classifier: one summary row per row of the paper's Table 1. The
names are keras.applications' (with its two auto-named stem paddings named `conv1_pad` and
`pool1_pad`), so `variant="imagenet"` DenseNet-121/169/201 take keras.applications' weights by name.
"""

import dataclasses

import keras

from kcnn.layers import BatchNormalization, DenseBlock, TransitionBlock
from kcnn.models._common import (
    chain,
    check_common_args,
    check_variant,
    classifier_head,
    finish_model,
    forwards_to,
    image_input,
)
from kcnn.models._registry import VariantSpec, register
from kcnn.models.features import with_stages
from kcnn.weights.sets import keras_weights, torchvision_weights


@dataclasses.dataclass(frozen=True, kw_only=True)
class DenseNetConfig:
    """A DenseNet's size (a row of `DENSENET_CONFIGS`)."""

    growth_rate: int  # k: the channels each dense layer adds
    block_sizes: tuple  # dense layers per dense block
    init_features: int  # channels out of the stem


# The paper's Table 1 (DenseNet-161's k=48 and 96 stem filters are torchvision's; the paper's table
# lists 121/169/201/264 with k=32).
DENSENET_CONFIGS = {
    "densenet121": DenseNetConfig(growth_rate=32, block_sizes=(6, 12, 24, 16), init_features=64),
    "densenet161": DenseNetConfig(growth_rate=48, block_sizes=(6, 12, 36, 24), init_features=96),
    "densenet169": DenseNetConfig(growth_rate=32, block_sizes=(6, 12, 32, 32), init_features=64),
    "densenet201": DenseNetConfig(growth_rate=32, block_sizes=(6, 12, 48, 32), init_features=64),
}

BN_EPSILON = 1.001e-5  # keras.applications' DenseNet; torchvision uses 1e-5 (spec section 14)


@dataclasses.dataclass(frozen=True, kw_only=True)
class DenseNetVariant:
    """What tells the DenseNet forms apart (a row of `DENSENET_VARIANTS`)."""

    stem: str  # "imagenet" (7x7/2 conv, BN, ReLU, 3x3/2 max-pool) or "cifar" (one 3x3 conv)
    concat_order: str  # "append" (new features after the input) or "prepend"
    bn_epsilon: float = BN_EPSILON  # keras.applications' unless a row says otherwise
    bn_momentum: float = 0.99  # Keras convention (PyTorch's momentum 0.1 is Keras' 0.9)


DENSENET_VARIANTS = {
    # 7x7/2 conv, BN, ReLU, 3x3/2 max-pool; new features after the input.
    "imagenet": DenseNetVariant(stem="imagenet", concat_order="append"),
    # torchvision's densenet121/161/169/201: the same network with PyTorch's BatchNorm settings,
    # eps 1e-5 and momentum 0.1 (Keras 0.9), so that its weights fine-tune as they do there.
    "torchvision": DenseNetVariant(
        stem="imagenet", concat_order="append", bn_epsilon=1e-5, bn_momentum=0.9
    ),
    # The project's source notes (spec 16): 3x3 conv of 2k channels, no BN after it, no max-pool;
    # new features before the input.
    "cifar": DenseNetVariant(stem="cifar", concat_order="prepend"),
}

# Declarations: ImageNet 224x224, at least 29 (spec 13; keras.applications enforces 32): 29 -> 15
# -> 8 -> 4 -> 2 -> 1; CIFAR 32x32, at least 8 (three 2x2/2 transitions). "imagenet" is the
# keras.applications layout and takes its weights; "torchvision" takes torchvision's.
_CIFAR_VARIANT = VariantSpec(
    default_input=(32, 32, 3), min_input=8, source="the project's source notes (spec 16)"
)


def _densenet_declarations(torchvision, keras=None):
    """{variant: VariantSpec} of an ImageNet DenseNet: torchvision's (file, acc@1, acc@5) and
    keras.applications' (file stem, (top, no-top) MD5s, acc@1, acc@5) where it has one."""
    imagenet = ()
    if keras:
        stem, hashes, top1, top5 = keras
        keras = keras_weights("densenet", stem, hashes, top1, top5, mode="torch", terms="densenet")
        imagenet = (keras,)
    return {
        "imagenet": VariantSpec(
            default_input=(224, 224, 3),
            min_input=29,
            source="keras.applications densenet layout",
            weights=imagenet,
        ),
        "torchvision": VariantSpec(
            default_input=(224, 224, 3),
            min_input=29,
            source="torchvision densenet",
            weights=(torchvision_weights(*torchvision),),
            initializer="torchvision-densenet",
        ),
        "cifar": _CIFAR_VARIANT,
    }


DENSENET_DECLARATIONS = {
    "densenet121": _densenet_declarations(
        ("densenet121-a639ec97.pth", 74.434, 91.972),
        (
            "densenet121_weights_tf_dim_ordering_tf_kernels",
            ("9d60b8095a5708f2dcce2bca79d332c7", "30ee3e1110167f948a6b9946edeeb738"),
            75.0,
            92.3,
        ),
    ),
    "densenet161": _densenet_declarations(("densenet161-8d451a50.pth", 77.138, 93.560)),
    "densenet169": _densenet_declarations(
        ("densenet169-b2777c0a.pth", 75.600, 92.806),
        (
            "densenet169_weights_tf_dim_ordering_tf_kernels",
            ("d699b8f76981ab1b30698df4c175e90b", "b8c4d4c20dd625c148057b9ff1c1176b"),
            76.2,
            93.2,
        ),
    ),
    "densenet201": _densenet_declarations(
        ("densenet201-c1103571.pth", 76.896, 93.370),
        (
            "densenet201_weights_tf_dim_ordering_tf_kernels",
            ("1ceb130c1ea1b78c3bf6114dbdfd8807", "c13680b51ded0fb44dff2d8f86ac8bb1"),
            77.3,
            93.6,
        ),
    ),
}
DENSENET_BC_VARIANT = VariantSpec(
    default_input=(32, 32, 3), min_input=4, source="Huang et al. 2017, section 4.2"
)


def densenet_stages(config, stride):
    """Feature stages (layer, stride, channels): dense blocks `conv2`.. (each transition halves
    the channels), the last one through `relu`; the first at `stride`, doubling."""
    channels, stages = config.init_features, []
    for b, layers in enumerate(config.block_sizes):
        channels += layers * config.growth_rate
        stages.append((f"conv{b + 2}", stride * 2**b, channels))
        channels //= 2
    stages[-1] = ("relu", *stages[-1][1:])
    return stages


def _with_densenet_stages(network, table):
    config = DENSENET_CONFIGS[network]
    # The CIFAR stem: 2k channels.
    cifar = dataclasses.replace(config, init_features=2 * config.growth_rate)
    stem = [("conv1_relu", 2, config.init_features)]
    return {
        key: with_stages(
            v, densenet_stages(cifar, 1) if key == "cifar" else stem + densenet_stages(config, 4)
        )
        for key, v in table.items()
    }


DENSENET_DECLARATIONS = {
    net: _with_densenet_stages(net, table) for net, table in DENSENET_DECLARATIONS.items()
}
# DenseNet-BC-100, k=12, the default; another depth or growth rate sizes its stages differently.
BC_100 = DenseNetConfig(growth_rate=12, block_sizes=(16, 16, 16), init_features=24)
DENSENET_BC_VARIANT = with_stages(DENSENET_BC_VARIANT, densenet_stages(BC_100, 1))


def densenet_stem(kind, filters, bn_epsilon=BN_EPSILON, bn_momentum=0.99):
    """The stem's layers: "imagenet" (keras.applications' stem) or "cifar" (a single 3x3 conv)."""
    if kind == "cifar":
        return [keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name="conv1_conv")]
    return [
        keras.layers.ZeroPadding2D(3, name="conv1_pad"),
        keras.layers.Conv2D(filters, 7, strides=2, use_bias=False, name="conv1_conv"),
        BatchNormalization(epsilon=bn_epsilon, momentum=bn_momentum, name="conv1_bn"),
        keras.layers.Activation("relu", name="conv1_relu"),
        keras.layers.ZeroPadding2D(1, name="pool1_pad"),
        keras.layers.MaxPooling2D(3, strides=2, name="pool1"),
    ]


def dense_stages(
    block_sizes,
    growth_rate,
    *,
    compression,
    bn_epsilon=BN_EPSILON,
    bn_momentum=0.99,
    **block_options,
):
    """Dense blocks `conv2`, `conv3`, ... with transitions `pool2`, `pool3`, ... between them."""
    bn = {"bn_epsilon": bn_epsilon, "bn_momentum": bn_momentum}
    layers = []
    for i, size in enumerate(block_sizes):
        if i:
            layers.append(TransitionBlock(compression, name=f"pool{i + 1}", **bn))
        layers.append(DenseBlock(size, growth_rate, name=f"conv{i + 2}", **bn, **block_options))
    return layers


def _densenet(
    network,
    config,
    variant,
    declared,
    *,
    num_classes=1000,
    input_shape=None,
    include_top=True,
    pooling=None,
    classifier_activation="softmax",
    input_tensor=None,
    weights=None,
    name=None,
    bn_size=4,
    compression=0.5,
    dropout_rate=0.0,
):
    """Build a DenseNet from a `DenseNetConfig` row and a `DenseNetVariant` row.

    `declared` is the variant's `VariantSpec` (default and minimum input). The arguments after it
    are those of every public DenseNet builder:

    Args:
        num_classes: classes of the classifier (default 1000).
        input_shape: (height, width, 3) or with None sizes; default: the variant's input
            (224x224x3 or 32x32x3). Height and width must be at least the variant's minimum.
        include_top: build the classifier (global average pool `avg_pool` and `predictions`).
        pooling: without the top, None (4-D features after `relu`), "avg" or "max".
        classifier_activation: activation of `predictions` (None for logits); it is computed in
            float32 under mixed precision.
        input_tensor: optional Keras tensor to build the model on.
        weights: None, or a path to a `.weights.h5` file to load.
        name: the model's name (default: the network's, e.g. "densenet121").
        bn_size: bottleneck width factor; the 1x1 convolutions have bn_size * k filters (4).
        compression: theta, the fraction of channels each transition keeps (0.5).
        dropout_rate: dropout after each dense layer's 3x3 convolution (0, as torchvision; the paper
            used 0.2 on CIFAR without augmentation).
    """
    check_common_args(
        network, num_classes=num_classes, include_top=include_top, pooling=pooling, weights=weights
    )
    image, x = image_input(
        network,
        input_shape=input_shape,
        input_tensor=input_tensor,
        default_shape=declared.default_input,
        min_size=declared.min_input,
    )
    x = chain(
        x,
        densenet_stem(
            variant.stem,
            config.init_features,
            bn_epsilon=variant.bn_epsilon,
            bn_momentum=variant.bn_momentum,
        ),
    )
    x = chain(
        x,
        dense_stages(
            config.block_sizes,
            config.growth_rate,
            compression=compression,
            bn_size=bn_size,
            dropout_rate=dropout_rate,
            concat_order=variant.concat_order,
            bn_epsilon=variant.bn_epsilon,
            bn_momentum=variant.bn_momentum,
        ),
    )
    x = chain(
        x,
        [
            BatchNormalization(epsilon=variant.bn_epsilon, momentum=variant.bn_momentum, name="bn"),
            keras.layers.Activation("relu", name="relu"),
        ],
    )
    outputs = classifier_head(
        x,
        include_top=include_top,
        pooling=pooling,
        num_classes=num_classes,
        classifier_activation=classifier_activation,
        top=[keras.layers.GlobalAveragePooling2D(name="avg_pool")],
    )
    return finish_model(image, outputs, name=name or network, weights=weights)


def _table_densenet(network, variant, kwargs):
    row = DENSENET_VARIANTS[check_variant(network, variant, tuple(DENSENET_VARIANTS))]
    declared = DENSENET_DECLARATIONS[network][variant]
    return _densenet(network, DENSENET_CONFIGS[network], row, declared, **kwargs)


_SOURCE = "Huang et al. 2017, arXiv:1608.06993; keras.applications and torchvision densenet"


@register(family="densenet", source=_SOURCE, variants=DENSENET_DECLARATIONS["densenet121"])
@forwards_to(_densenet)
def densenet121(*, variant="imagenet", **kwargs):
    """DenseNet-121 (k=32, blocks 6, 12, 24, 16), Huang et al. 2017.

    ImageNet, 1000 classes: T 7,978,856, Keras total 8,062,504 (keras.applications DenseNet121,
    whose weights it takes by name). `variant="cifar"` with 10 classes: T 6,956,298.

    Args:
        variant: "imagenet" (keras.applications' BN settings), "torchvision" (torchvision's: eps
            1e-5, momentum 0.1) or "cifar", a row of `DENSENET_VARIANTS` (stem, concat order,
            input, BN settings).
        **kwargs: num_classes, input_shape, include_top, pooling, ... as documented in `_densenet`.
    """
    return _table_densenet("densenet121", variant, kwargs)


@register(family="densenet", source=_SOURCE, variants=DENSENET_DECLARATIONS["densenet161"])
@forwards_to(_densenet)
def densenet161(*, variant="imagenet", **kwargs):
    """DenseNet-161 (k=48, 96 stem filters, blocks 6, 12, 36, 24), torchvision's densenet161.

    ImageNet, 1000 classes: T 28,681,000, Keras total 28,900,936. keras.applications has no
    DenseNet-161.

    Args:
        variant: "imagenet" (keras.applications' BN settings), "torchvision" (torchvision's: eps
            1e-5, momentum 0.1) or "cifar", a row of `DENSENET_VARIANTS` (stem, concat order,
            input, BN settings).
        **kwargs: num_classes, input_shape, include_top, pooling, ... as documented in `_densenet`.
    """
    return _table_densenet("densenet161", variant, kwargs)


@register(family="densenet", source=_SOURCE, variants=DENSENET_DECLARATIONS["densenet169"])
@forwards_to(_densenet)
def densenet169(*, variant="imagenet", **kwargs):
    """DenseNet-169 (k=32, blocks 6, 12, 32, 32), Huang et al. 2017.

    ImageNet, 1000 classes: T 14,149,480, Keras total 14,307,880 (keras.applications DenseNet169).

    Args:
        variant: "imagenet" (keras.applications' BN settings), "torchvision" (torchvision's: eps
            1e-5, momentum 0.1) or "cifar", a row of `DENSENET_VARIANTS` (stem, concat order,
            input, BN settings).
        **kwargs: num_classes, input_shape, include_top, pooling, ... as documented in `_densenet`.
    """
    return _table_densenet("densenet169", variant, kwargs)


@register(family="densenet", source=_SOURCE, variants=DENSENET_DECLARATIONS["densenet201"])
@forwards_to(_densenet)
def densenet201(*, variant="imagenet", **kwargs):
    """DenseNet-201 (k=32, blocks 6, 12, 48, 32), Huang et al. 2017.

    ImageNet, 1000 classes: T 20,013,928, Keras total 20,242,984 (keras.applications DenseNet201).

    Args:
        variant: "imagenet" (keras.applications' BN settings), "torchvision" (torchvision's: eps
            1e-5, momentum 0.1) or "cifar", a row of `DENSENET_VARIANTS` (stem, concat order,
            input, BN settings).
        **kwargs: num_classes, input_shape, include_top, pooling, ... as documented in `_densenet`.
    """
    return _table_densenet("densenet201", variant, kwargs)


@register(
    family="densenet",
    source="Huang et al. 2017, arXiv:1608.06993, section 4.2; liuzhuang13/DenseNet",
    variants=DENSENET_BC_VARIANT,
)
@forwards_to(_densenet)
def densenet_bc(*, depth=100, growth_rate=12, num_classes=10, **kwargs):
    """DenseNet-BC for CIFAR (Huang et al. 2017, section 4.2 and Table 2).

    Three dense blocks of (depth - 4) / 6 bottleneck layers on 32x32, 16x16 and 8x8 maps, a 3x3 stem
    conv of 2k channels (no BN after it), transitions with compression 0.5, new features appended
    (the paper's Torch code). L=100, k=12, 10 classes: T 769,162, Keras total 793,150 (paper: 0.8M);
    100 classes: T 800,032. Input 32x32x3 by default, at least 4x4.

    Args:
        depth: L, the paper's depth; (L - 4) must be a positive multiple of 6 (100, 250, 190, ...).
        growth_rate: k (12, 24 or 40 in the paper).
        num_classes: classes of the classifier (10 for CIFAR-10, 100 for CIFAR-100).
        **kwargs: input_shape, include_top, pooling, classifier_activation, input_tensor, weights,
            name, bn_size, compression, dropout_rate; see `_densenet`.
    """
    network = "densenet_bc"
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 10 or (depth - 4) % 6:
        raise ValueError(
            f"`{network}`: `depth` must be 6n + 4 with n >= 1 (e.g. 100, 190, 250); received depth={depth!r}"
        )
    if isinstance(growth_rate, bool) or not isinstance(growth_rate, int) or growth_rate < 1:
        raise ValueError(
            f"`{network}`: `growth_rate` must be a positive integer; received {growth_rate!r}"
        )
    config = DenseNetConfig(
        growth_rate=growth_rate,
        block_sizes=((depth - 4) // 6,) * 3,
        init_features=2 * growth_rate,
    )
    row = DenseNetVariant(stem="cifar", concat_order="append")
    return _densenet(network, config, row, DENSENET_BC_VARIANT, num_classes=num_classes, **kwargs)
