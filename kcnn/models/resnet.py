"""ResNet (He, Zhang, Ren, Sun 2015, arXiv:1512.03385), the CIFAR ResNets of its section 4.2, the
pre-activation ResNet-164 (He et al. 2016, arXiv:1603.05027) and Wide ResNet (Zagoruyko &
Komodakis 2016, arXiv:1605.07146).

Each network is a stem, stages of residual blocks `conv2_block1`, `conv2_block2`, ...
(`kcnn.layers.ResidualBlock` or `BottleneckBlock`), then (pre-activation only) `post_bn`,
`post_relu`, global average pooling `avg_pool` and `predictions`: one summary row per block, as
the paper's Table 1. The names are keras.applications', so `variant="keras"` ResNet-50/101/152
take keras.applications' weights by name (a block's `conv2_block1/1_conv/kernel` is its
`conv2_block1_1_conv/kernel`).
"""

import dataclasses

import keras

from kcnn.layers import BatchNormalization, BottleneckBlock, ResidualBlock
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
class ResNetStages:
    """An ImageNet ResNet's depth (a row of `RESNET_STAGES`)."""

    block: str  # "basic" (two 3x3 convs) or "bottleneck" (1x1, 3x3, 1x1 with 4x expansion)
    repeats: tuple  # blocks per stage, conv2_x ... conv5_x


# The paper's Table 1: block type and blocks per stage (conv2_x ... conv5_x), as torchvision's
# `_resnet(BasicBlock, [2, 2, 2, 2])`.
RESNET_STAGES = {
    "resnet18": ResNetStages(block="basic", repeats=(2, 2, 2, 2)),
    "resnet34": ResNetStages(block="basic", repeats=(3, 4, 6, 3)),
    "resnet50": ResNetStages(block="bottleneck", repeats=(3, 4, 6, 3)),
    "resnet101": ResNetStages(block="bottleneck", repeats=(3, 4, 23, 3)),
    "resnet152": ResNetStages(block="bottleneck", repeats=(3, 8, 36, 3)),
}

# Declarations: the variants each depth has and their weights (kcnn.models.spec("resnet50")
# .variant("keras")). Every size from 1x1 up works (all downsampling rounds up). keras.applications
# has no ResNet-18/34, so those have no "keras" variant. torchvision's V1 weights (He et al.'s
# recipe) are `weights="imagenet"`; its V2 (a 2021 recipe, +4.7 points) is "torchvision_v2".
_CIFAR_VARIANT = VariantSpec(
    default_input=(32, 32, 3), min_input=1, source="the project's source notes (spec 16)"
)


def _torchvision_resnet(v1, v2=None):
    """torchvision's V1 file (acc@1, acc@5) and, for ResNet-50/101/152, its V2 file."""
    weights = [torchvision_weights(*v1)]
    if v2:
        weights.append(
            torchvision_weights(*v2, resize=232, name="torchvision_v2", note="V2 recipe")
        )
    source = "torchvision resnet (v1.5: stride on the 3x3)"
    return VariantSpec(
        default_input=(224, 224, 3),
        min_input=1,
        source=source,
        weights=tuple(weights),
        initializer="torchvision-resnet",
    )


def _keras_resnet(depth, hashes, top1, top5):
    """keras.applications' ResNet{depth}: its file stem, (top, no-top) MD5s, published accuracy."""
    stem = f"resnet{depth}_weights_tf_dim_ordering_tf_kernels"
    weights = keras_weights("resnet", stem, hashes, top1, top5, mode="caffe", terms="resnet")
    return VariantSpec(
        default_input=(224, 224, 3),
        min_input=1,
        source=f"keras.applications ResNet{depth} (Caffe v1)",
        weights=(weights,),
    )


RESNET_DECLARATIONS = {
    "resnet18": {
        "torchvision": _torchvision_resnet(("resnet18-f37072fd.pth", 69.758, 89.078)),
        "cifar": _CIFAR_VARIANT,
    },
    "resnet34": {
        "torchvision": _torchvision_resnet(("resnet34-b627a593.pth", 73.314, 91.420)),
        "cifar": _CIFAR_VARIANT,
    },
    "resnet50": {
        "torchvision": _torchvision_resnet(
            ("resnet50-0676ba61.pth", 76.130, 92.862), ("resnet50-11ad3fa6.pth", 80.858, 95.434)
        ),
        "keras": _keras_resnet(
            50,
            ("2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"),
            74.9,
            92.1,
        ),
        "cifar": _CIFAR_VARIANT,
    },
    "resnet101": {
        "torchvision": _torchvision_resnet(
            ("resnet101-63fe2227.pth", 77.374, 93.546), ("resnet101-cd907fc2.pth", 81.886, 95.780)
        ),
        "keras": _keras_resnet(
            101,
            ("f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21"),
            76.4,
            92.8,
        ),
        "cifar": _CIFAR_VARIANT,
    },
    "resnet152": {
        "torchvision": _torchvision_resnet(
            ("resnet152-394f9c45.pth", 78.312, 94.046), ("resnet152-f82ba261.pth", 82.284, 96.002)
        ),
        "keras": _keras_resnet(
            152,
            ("100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c"),
            76.6,
            93.1,
        ),
        "cifar": _CIFAR_VARIANT,
    },
}
CIFAR_RESNET_VARIANT = VariantSpec(
    default_input=(32, 32, 3),
    min_input=1,
    source="He et al. 2015, section 4.2",
    initializer="kaiming",
)
PREACT_VARIANT = VariantSpec(
    default_input=(32, 32, 3), min_input=1, source="He et al. 2016, KaimingHe/resnet-1k-layers"
)
WIDE_RESNET_VARIANT = VariantSpec(
    default_input=(32, 32, 3), min_input=1, source="Zagoruyko & Komodakis 2016"
)


IMAGENET_WIDTHS = (64, 128, 256, 512)  # block filters per stage (a bottleneck outputs 4x)

# CIFAR ResNets (section 4.2): depth 6n + 2 with n basic blocks per stage on 16, 32, 64 filters.
CIFAR_RESNET_DEPTHS = {"resnet20": 3, "resnet32": 5, "resnet44": 7, "resnet56": 9, "resnet110": 18}
CIFAR_WIDTHS = (16, 32, 64)


def _stage_outputs(repeats, channels, stride):
    """Feature stages (layer, stride, channels): each stage's last block, the stride doubling."""
    pairs = enumerate(zip(repeats, channels))
    return [(f"conv{s + 2}_block{r}", stride * 2**s, c) for s, (r, c) in pairs]


def _imagenet_stages(network, variant):
    stages = RESNET_STAGES[network]
    widths = [w * (4 if stages.block == "bottleneck" else 1) for w in IMAGENET_WIDTHS]
    if variant == "cifar":  # no stem downsampling
        return _stage_outputs(stages.repeats, widths, 1)
    return [("conv1_relu", 2, 64), *_stage_outputs(stages.repeats, widths, 4)]


RESNET_DECLARATIONS = {
    net: {key: with_stages(v, _imagenet_stages(net, key)) for key, v in table.items()}
    for net, table in RESNET_DECLARATIONS.items()
}


@dataclasses.dataclass(frozen=True, kw_only=True)
class ResNetLayout:
    """Everything that tells one ResNet from another; a builder is a loop over one of these."""

    block: str  # "basic" (ResidualBlock) or "bottleneck" (BottleneckBlock)
    repeats: tuple  # blocks per stage
    widths: tuple  # block filters per stage
    stem: str = "imagenet"  # "imagenet": 7x7/2 conv + 3x3/2 max-pool; "cifar": 3x3/1 conv
    stem_filters: int = 64
    preactivation: bool = False  # pre-activation blocks, a bare stem conv, post_bn/post_relu
    shortcut: str = "auto"  # a ResidualBlock/BottleneckBlock `shortcut` option
    conv_bias: bool = False
    stride_on: str = "3x3"  # bottleneck only: where the stride sits
    groups: int = 1  # bottleneck only: groups of the 3x3 convolution (ResNeXt's cardinality)
    width_per_group: int = 64  # bottleneck only: torchvision's base_width (Wide ResNet-50: 128)
    bn_epsilon: float = 1e-5
    bn_momentum: float = 0.9
    kernel_initializer: str = "he_normal"
    zero_init_residual: bool = False  # True: each block starts as its shortcut (see `_resnet`)
    dropout_rate: float = 0.0
    num_classes: int = 1000


# Variants of the ImageNet ResNets, as changes to the torchvision layout (spec sections 7.1, 16).
RESNET_VARIANTS = {
    # torchvision: no conv bias, stride on the 3x3 ("ResNet v1.5"), BN eps 1e-5, momentum 0.1
    # (Keras 0.9), He initialisation.
    "torchvision": {},
    # keras.applications' ResNet v1 (the original Caffe model): a bias on every convolution, the
    # stride on the first 1x1, BN eps 1.001e-5, momentum 0.99, Glorot initialisation, every BN
    # gamma starting at 1.
    "keras": {
        "conv_bias": True,
        "stride_on": "1x1",
        "bn_epsilon": 1.001e-5,
        "bn_momentum": 0.99,
        "kernel_initializer": "glorot_uniform",
    },
    # The project's source notes (spec 16): a 3x3/1 stem conv, no max-pool, 32x32 input, 10 classes.
    "cifar": {"stem": "cifar", "num_classes": 10},
}

CIFAR_SHORTCUTS = {"zero_pad": "zero_pad", "projection": "auto"}  # option A / option B


def resnet_stem(layout):
    """The stem's layers: keras.applications' ImageNet stem, or a single 3x3 conv for CIFAR."""
    conv_options = {"use_bias": layout.conv_bias, "kernel_initializer": layout.kernel_initializer}
    bn_relu = [
        BatchNormalization(epsilon=layout.bn_epsilon, momentum=layout.bn_momentum, name="conv1_bn"),
        keras.layers.Activation("relu", name="conv1_relu"),
    ]
    if layout.stem == "cifar":
        conv = keras.layers.Conv2D(
            layout.stem_filters, 3, padding="same", name="conv1_conv", **conv_options
        )
        # Pre-activation: the first block's preact_bn/preact_relu follow the bare conv (spec 7.3).
        return [conv] if layout.preactivation else [conv, *bn_relu]
    return [
        keras.layers.ZeroPadding2D(3, name="conv1_pad"),
        keras.layers.Conv2D(layout.stem_filters, 7, strides=2, name="conv1_conv", **conv_options),
        *bn_relu,
        keras.layers.ZeroPadding2D(1, name="pool1_pad"),
        keras.layers.MaxPooling2D(3, strides=2, name="pool1_pool"),
    ]


def resnet_stages(layout):
    """Blocks `conv{s}_block{b}`, s from 2: stride 2 on the first block of every stage but the first."""
    block_cls = ResidualBlock if layout.block == "basic" else BottleneckBlock
    options = {
        "shortcut": layout.shortcut,
        "preactivation": layout.preactivation,
        "conv_bias": layout.conv_bias,
        "bn_epsilon": layout.bn_epsilon,
        "bn_momentum": layout.bn_momentum,
        "dropout_rate": layout.dropout_rate,
        "kernel_initializer": layout.kernel_initializer,
        "zero_init_residual": layout.zero_init_residual,
    }
    if layout.block == "bottleneck":
        options["stride_on"] = layout.stride_on
        options["groups"] = layout.groups
        options["width_per_group"] = layout.width_per_group
    layers = []
    for stage, (repeats, filters) in enumerate(zip(layout.repeats, layout.widths)):
        for b in range(repeats):
            strides = 2 if stage and not b else 1
            layers.append(
                block_cls(filters, strides=strides, name=f"conv{stage + 2}_block{b + 1}", **options)
            )
    return layers


def _resnet(
    network,
    layout,
    declared,
    *,
    num_classes=None,
    input_shape=None,
    include_top=True,
    pooling=None,
    classifier_activation="softmax",
    input_tensor=None,
    weights=None,
    name=None,
    zero_init_residual=None,
):
    """Build a ResNet from a `ResNetLayout`.

    `declared` is the variant's `VariantSpec` (default and minimum input). The arguments after
    it are those of every public ResNet builder:

    Args:
        num_classes: classes of the classifier (default: 1000 for the ImageNet layouts, 10 for the
            CIFAR ones).
        input_shape: (height, width, channels), or with None sizes; default 224x224x3 (ImageNet
            layouts) or 32x32x3 (CIFAR). Every size from 1x1 up works (all downsampling rounds up).
        include_top: build the classifier (global average pool `avg_pool` and `predictions`).
        pooling: without the top, None (4-D features of the last block, or of `post_relu`),
            "avg" or "max".
        classifier_activation: activation of `predictions` (None for logits); it is computed in
            float32 under mixed precision.
        input_tensor: optional Keras tensor to build the model on.
        weights: None, or a path to a `.weights.h5` file to load.
        name: the model's name (default: the network's, e.g. "resnet50").
        zero_init_residual: start every block's residual branch at zero (its last BN gamma, or
            in pre-activation blocks its last convolution kernel), so that a fresh network is a
            chain of shortcuts (Goyal et al. 2017; torchvision's option, off by default there and
            here, as in the papers). It changes only the initial values. Worth turning on for
            float16 inference with an untrained deep ResNet: with He initialisation and BN's
            initial statistics, activations grow with depth (about 1e9 after ResNet-110's 54
            blocks) and overflow float16; training (batch statistics) is not affected.
    """
    if zero_init_residual is not None:
        if not isinstance(zero_init_residual, bool):
            raise ValueError(
                f"`{network}`: `zero_init_residual` must be True or False; received {zero_init_residual!r}"
            )
        layout = dataclasses.replace(layout, zero_init_residual=zero_init_residual)
    if num_classes is None:
        num_classes = layout.num_classes
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
    x = chain(x, resnet_stem(layout))
    x = chain(x, resnet_stages(layout))
    if layout.preactivation:
        x = chain(
            x,
            [
                BatchNormalization(
                    epsilon=layout.bn_epsilon, momentum=layout.bn_momentum, name="post_bn"
                ),
                keras.layers.Activation("relu", name="post_relu"),
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


def _imagenet_resnet(network, variant, kwargs):
    stages, declared = RESNET_STAGES[network], RESNET_DECLARATIONS[network]
    if variant == "keras" and "keras" not in declared:
        raise ValueError(
            f"`{network}`: keras.applications has no {network}, so there is no variant 'keras'; "
            f"allowed: {', '.join(map(repr, declared))}"
        )
    check_variant(network, variant, tuple(declared))
    layout = ResNetLayout(
        block=stages.block,
        repeats=stages.repeats,
        widths=IMAGENET_WIDTHS,
        **RESNET_VARIANTS[variant],
    )
    return _resnet(network, layout, declared[variant], **kwargs)


def _cifar_resnet(network, shortcut, kwargs):
    check_variant(network, shortcut, tuple(CIFAR_SHORTCUTS))
    n = CIFAR_RESNET_DEPTHS[network]
    layout = ResNetLayout(
        block="basic",
        repeats=(n,) * 3,
        widths=CIFAR_WIDTHS,
        stem="cifar",
        stem_filters=16,
        shortcut=CIFAR_SHORTCUTS[shortcut],
        num_classes=10,
    )
    return _resnet(network, layout, CIFAR_RESNET_VARIANT, **kwargs)


# ResNeXt and Wide ResNet-50/101: torchvision's layout only; its V1 and V2 weight sets.
WIDER_DECLARATIONS = {
    "resnext50_32x4d": _torchvision_resnet(
        ("resnext50_32x4d-7cdf4587.pth", 77.618, 93.698),
        ("resnext50_32x4d-1a0047aa.pth", 81.198, 95.340),
    ),
    "resnext101_32x8d": _torchvision_resnet(
        ("resnext101_32x8d-8ba56ff5.pth", 79.312, 94.526),
        ("resnext101_32x8d-110c445d.pth", 82.834, 96.228),
    ),
    # torchvision has one set, trained with its 2021 recipe (resize 232)
    "resnext101_64x4d": VariantSpec(
        default_input=(224, 224, 3),
        min_input=1,
        source="torchvision resnet (v1.5: stride on the 3x3)",
        weights=(torchvision_weights("resnext101_64x4d-173b62eb.pth", 83.246, 96.454, resize=232),),
        initializer="torchvision-resnet",
    ),
    "wide_resnet50_2": _torchvision_resnet(
        ("wide_resnet50_2-95faca4d.pth", 78.468, 94.086),
        ("wide_resnet50_2-9ba9bcbe.pth", 81.602, 95.758),
    ),
    "wide_resnet101_2": _torchvision_resnet(
        ("wide_resnet101_2-32ee1156.pth", 78.848, 94.284),
        ("wide_resnet101_2-d733dc28.pth", 82.510, 96.020),
    ),
}


WIDER_DEPTHS = {"resnext50_32x4d": "resnet50", "wide_resnet50_2": "resnet50"}
WIDER_DEPTHS |= {"resnext101_32x8d": "resnet101", "resnext101_64x4d": "resnet101"}
WIDER_DEPTHS |= {"wide_resnet101_2": "resnet101"}
WIDER_DECLARATIONS = {
    net: with_stages(v, _imagenet_stages(WIDER_DEPTHS[net], "torchvision"))
    for net, v in WIDER_DECLARATIONS.items()
}
CIFAR_RESNET_DECLARATIONS = {
    net: with_stages(CIFAR_RESNET_VARIANT, _stage_outputs((n,) * 3, CIFAR_WIDTHS, 1))
    for net, n in CIFAR_RESNET_DEPTHS.items()
}
PREACT_VARIANT = with_stages(
    PREACT_VARIANT, [("conv2_block18", 1, 64), ("conv3_block18", 2, 128), ("post_relu", 4, 256)]
)
# WRN-28-10, the default; another depth or width names and sizes its stages differently.
WIDE_RESNET_VARIANT = with_stages(
    WIDE_RESNET_VARIANT, [("conv2_block4", 1, 160), ("conv3_block4", 2, 320), ("post_relu", 4, 640)]
)


def _wider_resnet(network, depth, kwargs, **block):
    """ResNeXt and Wide ResNet-50/101: ResNet-50/101's torchvision layout with other bottlenecks."""
    stages = RESNET_STAGES[depth]
    layout = ResNetLayout(
        block=stages.block, repeats=stages.repeats, widths=IMAGENET_WIDTHS, **block
    )
    return _resnet(network, layout, WIDER_DECLARATIONS[network], **kwargs)


_SOURCE = "He et al. 2015, arXiv:1512.03385; torchvision and keras.applications resnet"
_RESNEXT_SOURCE = "Xie et al. 2017, arXiv:1611.05431; torchvision resnext"
_WIDE_SOURCE = "Zagoruyko & Komodakis 2016, arXiv:1605.07146; torchvision wide_resnet"
_CIFAR_SOURCE = "He et al. 2015, arXiv:1512.03385, section 4.2; akamaster/pytorch_resnet_cifar10"


@register(family="resnet", source=_SOURCE, variants=RESNET_DECLARATIONS["resnet18"])
@forwards_to(_resnet)
def resnet18(*, variant="torchvision", **kwargs):
    """ResNet-18 (basic blocks 2, 2, 2, 2), He et al. 2015 Table 1.

    torchvision layout, 1000 classes: T 11,689,512, Keras total 11,699,112. `variant="cifar"`, 10
    classes: T 11,173,962, Keras total 11,183,562.

    Args:
        variant: "torchvision" or "cifar", a row of
            `RESNET_VARIANTS` (conv bias, stride position, BN, stem).
        **kwargs: num_classes, input_shape, include_top, pooling, ... as documented in `_resnet`.
    """
    return _imagenet_resnet("resnet18", variant, kwargs)


@register(family="resnet", source=_SOURCE, variants=RESNET_DECLARATIONS["resnet34"])
@forwards_to(_resnet)
def resnet34(*, variant="torchvision", **kwargs):
    """ResNet-34 (basic blocks 3, 4, 6, 3), He et al. 2015 Table 1.

    torchvision layout, 1000 classes: T 21,797,672, Keras total 21,814,696.

    Args:
        variant: "torchvision" or "cifar", a row of
            `RESNET_VARIANTS` (conv bias, stride position, BN, stem).
        **kwargs: num_classes, input_shape, include_top, pooling, ... as documented in `_resnet`.
    """
    return _imagenet_resnet("resnet34", variant, kwargs)


@register(family="resnet", source=_SOURCE, variants=RESNET_DECLARATIONS["resnet50"])
@forwards_to(_resnet)
def resnet50(*, variant="torchvision", **kwargs):
    """ResNet-50 (bottleneck blocks 3, 4, 6, 3), He et al. 2015 Table 1.

    torchvision layout, 1000 classes: T 25,557,032, Keras total 25,610,152. `variant="keras"`:
    T 25,583,592, Keras total 25,636,712 (keras.applications ResNet50).

    Args:
        variant: "torchvision", "keras" or "cifar", a row of
            `RESNET_VARIANTS` (conv bias, stride position, BN, stem).
        **kwargs: num_classes, input_shape, include_top, pooling, ... as documented in `_resnet`.
    """
    return _imagenet_resnet("resnet50", variant, kwargs)


@register(family="resnet", source=_SOURCE, variants=RESNET_DECLARATIONS["resnet101"])
@forwards_to(_resnet)
def resnet101(*, variant="torchvision", **kwargs):
    """ResNet-101 (bottleneck blocks 3, 4, 23, 3), He et al. 2015 Table 1.

    torchvision layout, 1000 classes: T 44,549,160, Keras total 44,654,504. `variant="keras"`:
    T 44,601,832, Keras total 44,707,176 (keras.applications ResNet101).

    Args:
        variant: "torchvision", "keras" or "cifar", a row of
            `RESNET_VARIANTS` (conv bias, stride position, BN, stem).
        **kwargs: num_classes, input_shape, include_top, pooling, ... as documented in `_resnet`.
    """
    return _imagenet_resnet("resnet101", variant, kwargs)


@register(family="resnet", source=_SOURCE, variants=RESNET_DECLARATIONS["resnet152"])
@forwards_to(_resnet)
def resnet152(*, variant="torchvision", **kwargs):
    """ResNet-152 (bottleneck blocks 3, 8, 36, 3), He et al. 2015 Table 1.

    torchvision layout, 1000 classes: T 60,192,808, Keras total 60,344,232. `variant="keras"`:
    T 60,268,520, Keras total 60,419,944 (keras.applications ResNet152).

    Args:
        variant: "torchvision", "keras" or "cifar", a row of
            `RESNET_VARIANTS` (conv bias, stride position, BN, stem).
        **kwargs: num_classes, input_shape, include_top, pooling, ... as documented in `_resnet`.
    """
    return _imagenet_resnet("resnet152", variant, kwargs)


@register(family="resnet", source=_RESNEXT_SOURCE, variants=WIDER_DECLARATIONS["resnext50_32x4d"])
@forwards_to(_resnet)
def resnext50_32x4d(**kwargs):
    """ResNeXt-50 32x4d: ResNet-50 whose 3x3 convolutions have 32 groups of 4 channels (x stage).

    torchvision layout, 1000 classes: T 25,028,904."""
    return _wider_resnet("resnext50_32x4d", "resnet50", kwargs, groups=32, width_per_group=4)


@register(family="resnet", source=_RESNEXT_SOURCE, variants=WIDER_DECLARATIONS["resnext101_32x8d"])
@forwards_to(_resnet)
def resnext101_32x8d(**kwargs):
    """ResNeXt-101 32x8d: ResNet-101 with 32 groups of 8 channels in its 3x3 convolutions.

    torchvision layout, 1000 classes: T 88,791,336."""
    return _wider_resnet("resnext101_32x8d", "resnet101", kwargs, groups=32, width_per_group=8)


@register(family="resnet", source=_RESNEXT_SOURCE, variants=WIDER_DECLARATIONS["resnext101_64x4d"])
@forwards_to(_resnet)
def resnext101_64x4d(**kwargs):
    """ResNeXt-101 64x4d: ResNet-101 with 64 groups of 4 channels in its 3x3 convolutions.

    torchvision layout, 1000 classes: T 83,455,272."""
    return _wider_resnet("resnext101_64x4d", "resnet101", kwargs, groups=64, width_per_group=4)


@register(family="resnet", source=_WIDE_SOURCE, variants=WIDER_DECLARATIONS["wide_resnet50_2"])
@forwards_to(_resnet)
def wide_resnet50_2(**kwargs):
    """Wide ResNet-50-2: ResNet-50 with twice as wide 1x1-3x3 bottleneck convolutions.

    torchvision layout, 1000 classes: T 68,883,240."""
    return _wider_resnet("wide_resnet50_2", "resnet50", kwargs, width_per_group=128)


@register(family="resnet", source=_WIDE_SOURCE, variants=WIDER_DECLARATIONS["wide_resnet101_2"])
@forwards_to(_resnet)
def wide_resnet101_2(**kwargs):
    """Wide ResNet-101-2: ResNet-101 with twice as wide 1x1-3x3 bottleneck convolutions.

    torchvision layout, 1000 classes: T 126,886,696."""
    return _wider_resnet("wide_resnet101_2", "resnet101", kwargs, width_per_group=128)


@register(family="resnet", source=_CIFAR_SOURCE, variants=CIFAR_RESNET_DECLARATIONS["resnet20"])
@forwards_to(_resnet)
def resnet20(*, shortcut="zero_pad", **kwargs):
    """CIFAR ResNet-20 (n=3), He et al. 2015 section 4.2: T 269,722, Keras total 271,098 (paper 0.27M).

    Args:
        shortcut: "zero_pad" (option A, the paper's) or "projection" (option B: +2,752 T, +192 NT).
        **kwargs: num_classes (10), input_shape (32x32x3), ... as documented in `_resnet`.
    """
    return _cifar_resnet("resnet20", shortcut, kwargs)


@register(family="resnet", source=_CIFAR_SOURCE, variants=CIFAR_RESNET_DECLARATIONS["resnet32"])
@forwards_to(_resnet)
def resnet32(*, shortcut="zero_pad", **kwargs):
    """CIFAR ResNet-32 (n=5), He et al. 2015 section 4.2: T 464,154, Keras total 466,426 (paper 0.46M).

    Args:
        shortcut: "zero_pad" (option A, the paper's) or "projection" (option B: +2,752 T, +192 NT).
        **kwargs: num_classes (10), input_shape (32x32x3), ... as documented in `_resnet`.
    """
    return _cifar_resnet("resnet32", shortcut, kwargs)


@register(family="resnet", source=_CIFAR_SOURCE, variants=CIFAR_RESNET_DECLARATIONS["resnet44"])
@forwards_to(_resnet)
def resnet44(*, shortcut="zero_pad", **kwargs):
    """CIFAR ResNet-44 (n=7), He et al. 2015 section 4.2: T 658,586, Keras total 661,754 (paper 0.66M).

    Args:
        shortcut: "zero_pad" (option A, the paper's) or "projection" (option B: +2,752 T, +192 NT).
        **kwargs: num_classes (10), input_shape (32x32x3), ... as documented in `_resnet`.
    """
    return _cifar_resnet("resnet44", shortcut, kwargs)


@register(family="resnet", source=_CIFAR_SOURCE, variants=CIFAR_RESNET_DECLARATIONS["resnet56"])
@forwards_to(_resnet)
def resnet56(*, shortcut="zero_pad", **kwargs):
    """CIFAR ResNet-56 (n=9), He et al. 2015 section 4.2: T 853,018, Keras total 857,082 (paper 0.85M).

    Args:
        shortcut: "zero_pad" (option A, the paper's) or "projection" (option B: +2,752 T, +192 NT).
        **kwargs: num_classes (10), input_shape (32x32x3), ... as documented in `_resnet`.
    """
    return _cifar_resnet("resnet56", shortcut, kwargs)


@register(family="resnet", source=_CIFAR_SOURCE, variants=CIFAR_RESNET_DECLARATIONS["resnet110"])
@forwards_to(_resnet)
def resnet110(*, shortcut="zero_pad", **kwargs):
    """CIFAR ResNet-110 (n=18), He et al. 2015 section 4.2: T 1,727,962, Keras total 1,736,058 (paper 1.7M).

    Args:
        shortcut: "zero_pad" (option A, the paper's) or "projection" (option B: +2,752 T, +192 NT).
        **kwargs: num_classes (10), input_shape (32x32x3), ... as documented in `_resnet`.
    """
    return _cifar_resnet("resnet110", shortcut, kwargs)


@register(
    family="resnet",
    source="He et al. 2016, arXiv:1603.05027; KaimingHe/resnet-1k-layers",
    variants=PREACT_VARIANT,
)
@forwards_to(_resnet)
def preact_resnet164(**kwargs):
    """Pre-activation ResNet-164 for CIFAR, He et al. 2016 ("Identity Mappings in Deep Residual Networks").

    A bare 3x3 stem conv of 16 filters, three stages of 18 pre-activation bottleneck blocks
    (16, 32, 64 filters, outputs 64, 128, 256; stride on the 3x3), bias-free 1x1 projections (no BN)
    reading the pre-activated tensor where the shape changes, then `post_bn`, `post_relu`, global
    average pooling and the classifier. 10 classes: T 1,703,258, Keras total 1,727,482 (paper 1.7M).

    Args:
        **kwargs: num_classes (default 10), input_shape (default 32x32x3), include_top, pooling,
            classifier_activation, input_tensor, weights, name; see `_resnet`.
    """
    layout = ResNetLayout(
        block="bottleneck",
        repeats=(18, 18, 18),
        widths=CIFAR_WIDTHS,
        stem="cifar",
        stem_filters=16,
        preactivation=True,
        num_classes=10,
    )
    return _resnet("preact_resnet164", layout, PREACT_VARIANT, **kwargs)


@register(
    family="wide_resnet",
    source="Zagoruyko & Komodakis 2016, arXiv:1605.07146; szagoruyko/wide-residual-networks",
    variants=WIDE_RESNET_VARIANT,
)
@forwards_to(_resnet)
def wide_resnet(*, depth=28, width=10, dropout_rate=0.0, **kwargs):
    """Wide ResNet WRN-depth-width for CIFAR, Zagoruyko & Komodakis 2016.

    A bare 3x3 stem conv of 16 filters, three groups of (depth - 4) / 6 pre-activation basic blocks
    (BN-ReLU-conv3x3-BN-ReLU-[dropout]-conv3x3) of 16k, 32k, 64k filters, bias-free 1x1 projections
    (no BN) where the shape changes (group 1 too when k > 1), then `post_bn`, `post_relu`, global
    average pooling and the classifier. WRN-28-10, 10 classes: T 36,479,194, Keras total 36,497,146
    (paper 36.5M); 100 classes: T 36,536,884. The model is named e.g. "wide_resnet_28_10".

    Args:
        depth: the paper's d; it must be 6N + 4 with N >= 1 (10, 16, 22, 28, 40, ...).
        width: the widening factor k (a positive integer; 1 is a thin pre-activation ResNet).
        dropout_rate: dropout between the two convolutions of every block (the paper's CIFAR
            "-dropout" results use 0.3); 0 adds no layer.
        **kwargs: num_classes (default 10), input_shape (default 32x32x3), include_top, pooling,
            classifier_activation, input_tensor, weights, name; see `_resnet`.
    """
    network = "wide_resnet"
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 10 or (depth - 4) % 6:
        raise ValueError(
            f"`{network}`: `depth` must be 6N + 4 with N >= 1 (e.g. 16, 22, 28, 40); received depth={depth!r}"
        )
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(
            f"`{network}`: `width` must be a positive integer; received width={width!r}"
        )
    n = (depth - 4) // 6
    layout = ResNetLayout(
        block="basic",
        repeats=(n,) * 3,
        widths=tuple(w * width for w in CIFAR_WIDTHS),
        stem="cifar",
        stem_filters=16,
        preactivation=True,
        dropout_rate=dropout_rate,
        num_classes=10,
    )
    kwargs.setdefault("name", f"wide_resnet_{depth}_{width}")
    return _resnet(network, layout, WIDE_RESNET_VARIANT, **kwargs)
