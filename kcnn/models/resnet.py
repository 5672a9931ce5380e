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
from kcnn.models import initializers
from kcnn.models._build import build_model
from kcnn.models._common import chain, check_variant
from kcnn.models._docs import document
from kcnn.models._registry import VariantSpec, register
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

IMAGENET_WIDTHS = (64, 128, 256, 512)  # block filters per stage (a bottleneck outputs 4x)

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


# Declarations: the variants each depth has and their weights (kcnn.models.spec("resnet50")
# .variant("keras")). Every size from 1x1 up works (all downsampling rounds up).
# torchvision's resnet state dict: module path -> (kcnn layer path, kind), see kcnn.weights.torchvision.
TORCHVISION_RULES = (
    (r"conv1", lambda m: "conv1_conv", "conv"),
    (r"bn1", lambda m: "conv1_bn", "bn"),
    # layerS.B.convK / bnK: block B of stage S is kcnn's conv{S+1}_block{B+1}, sublayer K.
    (
        r"layer(\d+)\.(\d+)\.conv(\d)",
        lambda m: f"conv{int(m[1]) + 1}_block{int(m[2]) + 1}/{m[3]}_conv",
        "conv",
    ),
    (
        r"layer(\d+)\.(\d+)\.bn(\d)",
        lambda m: f"conv{int(m[1]) + 1}_block{int(m[2]) + 1}/{m[3]}_bn",
        "bn",
    ),
    (
        r"layer(\d+)\.(\d+)\.downsample\.0",
        lambda m: f"conv{int(m[1]) + 1}_block{int(m[2]) + 1}/0_conv",
        "conv",
    ),
    (
        r"layer(\d+)\.(\d+)\.downsample\.1",
        lambda m: f"conv{int(m[1]) + 1}_block{int(m[2]) + 1}/0_bn",
        "bn",
    ),
    (r"fc", lambda m: "predictions", "dense"),
)


# torchvision's resnet.py: kaiming_normal_(fan_out, relu) convolutions, PyTorch's default Linear.
TORCHVISION_INIT = initializers.Scheme(
    name="torchvision-resnet", conv=initializers.he_fan_out, dense=initializers.torch_default
)


def _torchvision_resnet(depth, params, v1, v2=None, *, macs=None, v1_resize=256):
    """torchvision's layout of ResNet `depth` with its V1 file (acc@1, acc@5) and, for
    ResNet-50/101/152 and the wider ResNets, its V2 file."""
    weights = [torchvision_weights(*v1, resize=v1_resize)]
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
        stages=_imagenet_stages(depth, "torchvision"),
        initializer=TORCHVISION_INIT,
        torchvision_rules=TORCHVISION_RULES,
        params=params,
        macs=macs,
    )


KERAS_TERMS = "Kaiming He's weights, ported by keras.applications: MIT licence"


def _cifar_stem_resnet(depth, params):
    """ResNet `depth`'s blocks on a CIFAR stem: a 3x3/1 conv, no max-pool, 32x32 input."""
    return VariantSpec(
        default_input=(32, 32, 3),
        min_input=1,
        source="the ImageNet ResNet on a 3x3/1 stem for 32x32 images",
        stages=_imagenet_stages(depth, "cifar"),
        params=params,
    )


def _keras_resnet(network, params, hashes, top1, top5):
    """keras.applications' ResNet: (top, no-top) MD5s of its files, its published accuracy."""
    stem = f"{network}_weights_tf_dim_ordering_tf_kernels"
    weights = keras_weights("resnet", stem, hashes, top1, top5, mode="caffe", terms=KERAS_TERMS)
    return VariantSpec(
        default_input=(224, 224, 3),
        min_input=1,
        source=f"keras.applications ResNet{network[6:]} (Caffe v1)",
        weights=(weights,),
        stages=_imagenet_stages(network, "keras"),
        params=params,
    )


def _resnet_declarations(network, *, v1, params, macs, v2=None, keras=None):
    """{variant: VariantSpec} of ResNet-18 ... 152 from a row of `RESNET_FACTS`."""
    table = {"torchvision": _torchvision_resnet(network, params[0], v1, v2, macs=macs)}
    if keras:
        table["keras"] = _keras_resnet(network, params[1], *keras)
    table["cifar"] = _cifar_stem_resnet(network, params[2])
    return table


# What was published for ResNet-18 ... 152: torchvision's V1 files (file, acc@1, acc@5, He et al.'s
# recipe, `weights="imagenet"`) and V2 files (a 2021 recipe, "torchvision_v2"), keras.applications'
# files (MD5s of the top and no-top files, acc@1, acc@5; keras.applications has no ResNet-18/34),
# the trainable parameters of the default calls (torchvision, keras, cifar layouts) and the
# multiply-accumulates of the default call (`kcnn.analysis.profile`).
RESNET_FACTS = {
    "resnet18": dict(
        v1=("resnet18-f37072fd.pth", 69.758, 89.078), params=(11_689_512, None, 11_173_962),
        macs=1_814_073_344,
    ),
    "resnet34": dict(
        v1=("resnet34-b627a593.pth", 73.314, 91.420), params=(21_797_672, None, 21_282_122),
        macs=3_663_761_408,
    ),
    "resnet50": dict(
        v1=("resnet50-0676ba61.pth", 76.130, 92.862),
        v2=("resnet50-11ad3fa6.pth", 80.858, 95.434),
        keras=(("2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"), 74.9, 92.1),
        params=(25_557_032, 25_583_592, 23_520_842),
        macs=4_089_184_256,
    ),
    "resnet101": dict(
        v1=("resnet101-63fe2227.pth", 77.374, 93.546),
        v2=("resnet101-cd907fc2.pth", 81.886, 95.780),
        keras=(("f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21"), 76.4, 92.8),
        params=(44_549_160, 44_601_832, 42_512_970),
        macs=7_801_405_440,
    ),
    "resnet152": dict(
        v1=("resnet152-394f9c45.pth", 78.312, 94.046),
        v2=("resnet152-f82ba261.pth", 82.284, 96.002),
        keras=(("100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c"), 76.6, 93.1),
        params=(60_192_808, 60_268_520, 58_156_618),
        macs=11_513_626_624,
    ),
}
RESNET_DECLARATIONS = {net: _resnet_declarations(net, **row) for net, row in RESNET_FACTS.items()}


# CIFAR ResNets (section 4.2): depth 6n + 2 with n basic blocks per stage on 16, 32, 64 filters.
CIFAR_RESNET_DEPTHS = {"resnet20": 3, "resnet32": 5, "resnet44": 7, "resnet56": 9, "resnet110": 18}
CIFAR_WIDTHS = (16, 32, 64)
CIFAR_RESNET_PARAMS = {  # trainable parameters with 10 classes, multiply-accumulates
    "resnet20": (269_722, 40_551_040),
    "resnet32": (464_154, 68_862_592),
    "resnet44": (658_586, 97_174_144),
    "resnet56": (853_018, 125_485_696),
    "resnet110": (1_727_962, 252_887_680),
}
CIFAR_RESNET_DECLARATIONS = {
    net: VariantSpec(
        default_input=(32, 32, 3),
        min_input=1,
        source="He et al. 2015, section 4.2",
        stages=_stage_outputs((n,) * 3, CIFAR_WIDTHS, 1),
        initializer=initializers.KAIMING,
        params=CIFAR_RESNET_PARAMS[net][0],
        macs=CIFAR_RESNET_PARAMS[net][1],
    )
    for net, n in CIFAR_RESNET_DEPTHS.items()
}
PREACT_VARIANT = VariantSpec(
    default_input=(32, 32, 3),
    min_input=1,
    source="He et al. 2016, KaimingHe/resnet-1k-layers",
    stages=(("conv2_block18", 1, 64), ("conv3_block18", 2, 128), ("post_relu", 4, 256)),
    params=1_703_258,
    macs=247_646_720,
)
# WRN-28-10, the default; another depth or width names and sizes its stages differently.
WIDE_RESNET_VARIANT = VariantSpec(
    default_input=(32, 32, 3),
    min_input=1,
    source="Zagoruyko & Komodakis 2016",
    stages=(("conv2_block4", 1, 160), ("conv3_block4", 2, 320), ("post_relu", 4, 640)),
    params=36_479_194,
    macs=5_243_328_768,
)


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


# Variants of the ImageNet ResNets, as changes to the torchvision layout.
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
    # The CIFAR form: a 3x3/1 stem conv, no max-pool, 32x32 input, 10 classes.
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
        # Pre-activation: the first block's preact_bn/preact_relu follow the bare conv (He et al. 2016).
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


def _resnet(network, declared, common, layout, zero_init_residual=None):
    """Build a ResNet from a `ResNetLayout`: the stem, the stages of blocks, (pre-activation only)
    `post_bn` and `post_relu`, then the head: global average pooling `avg_pool` and
    `predictions`. `declared` is the variant's `VariantSpec`, `common` the `CommonOptions`."""
    if zero_init_residual is not None:
        if not isinstance(zero_init_residual, bool):
            raise ValueError(
                f"`{network}`: `zero_init_residual` must be True or False; received {zero_init_residual!r}"
            )
        layout = dataclasses.replace(layout, zero_init_residual=zero_init_residual)
    if common.num_classes is None:
        common = dataclasses.replace(common, num_classes=layout.num_classes)
    image, x = common.input(network, declared)
    x = chain(x, resnet_stem(layout))
    x = chain(x, resnet_stages(layout))
    if layout.preactivation:
        bn = BatchNormalization(epsilon=layout.bn_epsilon, momentum=layout.bn_momentum, name="post_bn")
        x = chain(x, [bn, keras.layers.Activation("relu", name="post_relu")])
    return common.output(image, x, network, top=[keras.layers.GlobalAveragePooling2D(name="avg_pool")])


def _imagenet_resnet(network, declared, common, *, variant, zero_init_residual):
    """ResNet-18 ... 152 in the layout of `variant` (a row of `RESNET_VARIANTS`)."""
    stages = RESNET_STAGES[network]
    layout = ResNetLayout(
        block=stages.block,
        repeats=stages.repeats,
        widths=IMAGENET_WIDTHS,
        **RESNET_VARIANTS[variant],
    )
    return _resnet(network, declared, common, layout, zero_init_residual)


def _cifar_resnet(network, declared, common, *, shortcut, zero_init_residual):
    """A CIFAR ResNet of section 4.2: n basic blocks per stage on 16, 32, 64 filters."""
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
    return _resnet(network, declared, common, layout, zero_init_residual)


# ResNeXt and Wide ResNet-50/101: torchvision's layout only; its V1 and V2 weight sets.
WIDER_DECLARATIONS = {
    "resnext50_32x4d": _torchvision_resnet(
        "resnet50",
        25_028_904,
        ("resnext50_32x4d-7cdf4587.pth", 77.618, 93.698),
        ("resnext50_32x4d-1a0047aa.pth", 81.198, 95.340),
        macs=4_230_479_872,
    ),
    "resnext101_32x8d": _torchvision_resnet(
        "resnet101",
        88_791_336,
        ("resnext101_32x8d-8ba56ff5.pth", 79.312, 94.526),
        ("resnext101_32x8d-110c445d.pth", 82.834, 96.228),
        macs=16_414_015_488,
    ),
    # torchvision has one set, trained with its 2021 recipe (resize 232)
    "resnext101_64x4d": _torchvision_resnet(
        "resnet101",
        83_455_272,
        ("resnext101_64x4d-173b62eb.pth", 83.246, 96.454),
        macs=15_460_270_080,
        v1_resize=232,
    ),
    "wide_resnet50_2": _torchvision_resnet(
        "resnet50",
        68_883_240,
        ("wide_resnet50_2-95faca4d.pth", 78.468, 94.086),
        ("wide_resnet50_2-9ba9bcbe.pth", 81.602, 95.758),
        macs=11_398_021_120,
    ),
    "wide_resnet101_2": _torchvision_resnet(
        "resnet101",
        126_886_696,
        ("wide_resnet101_2-32ee1156.pth", 78.848, 94.284),
        ("wide_resnet101_2-d733dc28.pth", 82.510, 96.020),
        macs=22_753_050_624,
    ),
}


# The bottleneck options of the wider ResNets, on ResNet-50/101's torchvision layout.
WIDER_BLOCKS = {
    "resnext50_32x4d": ("resnet50", {"groups": 32, "width_per_group": 4}),
    "resnext101_32x8d": ("resnet101", {"groups": 32, "width_per_group": 8}),
    "resnext101_64x4d": ("resnet101", {"groups": 64, "width_per_group": 4}),
    "wide_resnet50_2": ("resnet50", {"width_per_group": 128}),
    "wide_resnet101_2": ("resnet101", {"width_per_group": 128}),
}


def _wider_resnet(network, declared, common, *, zero_init_residual):
    """ResNeXt and Wide ResNet-50/101: ResNet-50/101's torchvision layout with other bottlenecks."""
    depth, block = WIDER_BLOCKS[network]
    stages = RESNET_STAGES[depth]
    layout = ResNetLayout(
        block=stages.block, repeats=stages.repeats, widths=IMAGENET_WIDTHS, **block
    )
    return _resnet(network, declared, common, layout, zero_init_residual)


_SOURCE = "He et al. 2015, arXiv:1512.03385; torchvision and keras.applications resnet"
_RESNEXT_SOURCE = "Xie et al. 2017, arXiv:1611.05431; torchvision resnext"
_WIDE_SOURCE = "Zagoruyko & Komodakis 2016, arXiv:1605.07146; torchvision wide_resnet"
_CIFAR_SOURCE = "He et al. 2015, arXiv:1512.03385, section 4.2; akamaster/pytorch_resnet_cifar10"

_ZERO_INIT = """\
        zero_init_residual: start every block's residual branch at zero (its last BN gamma, or
            in pre-activation blocks its last convolution kernel), so that a fresh network is a
            chain of shortcuts (Goyal et al. 2017; torchvision's option, off by default there and
            here, as in the papers). It changes only the initial values. Worth turning on for
            float16 inference with an untrained deep ResNet: with He initialisation and BN's
            initial statistics, activations grow with depth (about 1e9 after ResNet-110's 54
            blocks) and overflow float16; training (batch statistics) is not affected.
"""


def _document(builder, summary, own="", **fields):
    """`kcnn.models._docs.document` with the ResNets' head and options."""
    fields = {"features": "of the last block", **fields}
    head = "global average pooling `avg_pool` and `predictions`"
    return document(builder, summary, own, head=head, extra=_ZERO_INIT, **fields)


def _imagenet_builder(network, summary):
    """The builder of ResNet-18 ... 152 (`network`), registered with its declarations."""

    def builder(
        *, variant=None, num_classes=None, input_shape=None, include_top=True, pooling=None,
        classifier_activation="softmax", input_tensor=None, weights=None, name=None,
        zero_init_residual=None, initializer="keras", include_preprocessing=False, classes=None,
    ):
        return build_model(network, locals(), _imagenet_resnet)

    builder.__name__ = builder.__qualname__ = network
    register(family="resnet", source=_SOURCE, variants=RESNET_DECLARATIONS[network])(builder)
    allowed = ", ".join(map(repr, RESNET_DECLARATIONS[network]))
    own = (
        f"        variant: {allowed}, a row of `RESNET_VARIANTS` (conv bias, stride position,\n"
        "            BN, stem); None: torchvision's, or the variant that has `weights`.\n"
    )
    return _document(
        builder,
        summary,
        own,
        classes="1000; 10 with 'cifar'",
        shape="224x224x3 (32x32x3 with 'cifar'); any size from 1x1 works",
    )


def _wider_builder(network, source, summary):
    """The builder of a ResNeXt or Wide ResNet-50/101 (`network`), registered."""

    def builder(
        *, num_classes=None, input_shape=None, include_top=True, pooling=None,
        classifier_activation="softmax", input_tensor=None, weights=None, name=None,
        zero_init_residual=None, initializer="keras", include_preprocessing=False, classes=None,
    ):
        return build_model(network, locals(), _wider_resnet)

    builder.__name__ = builder.__qualname__ = network
    register(family="resnet", source=source, variants=WIDER_DECLARATIONS[network])(builder)
    return _document(builder, summary, shape="224x224x3; any size from 1x1 works")


def _cifar_builder(network, summary):
    """The builder of a CIFAR ResNet of section 4.2 (`network`), registered."""

    def builder(
        *, shortcut="zero_pad", num_classes=None, input_shape=None, include_top=True,
        pooling=None, classifier_activation="softmax", input_tensor=None, weights=None,
        name=None, zero_init_residual=None, initializer="keras", include_preprocessing=False,
        classes=None,
    ):
        return build_model(network, locals(), _cifar_resnet)

    builder.__name__ = builder.__qualname__ = network
    register(family="resnet", source=_CIFAR_SOURCE, variants=CIFAR_RESNET_DECLARATIONS[network])(
        builder
    )
    own = (
        '        shortcut: "zero_pad" (option A, the paper\'s) or "projection" (option B: +2,752 T,\n'
        "            +192 NT).\n"
    )
    return _document(builder, summary, own, classes=10, shape="32x32x3; any size from 1x1 works")


resnet18 = _imagenet_builder("resnet18", "ResNet-18 (basic blocks 2, 2, 2, 2), He et al. 2015 Table 1.")
resnet34 = _imagenet_builder("resnet34", "ResNet-34 (basic blocks 3, 4, 6, 3), He et al. 2015 Table 1.")
resnet50 = _imagenet_builder(
    "resnet50", "ResNet-50 (bottleneck blocks 3, 4, 6, 3), He et al. 2015 Table 1."
)
resnet101 = _imagenet_builder(
    "resnet101", "ResNet-101 (bottleneck blocks 3, 4, 23, 3), He et al. 2015 Table 1."
)
resnet152 = _imagenet_builder(
    "resnet152", "ResNet-152 (bottleneck blocks 3, 8, 36, 3), He et al. 2015 Table 1."
)
resnext50_32x4d = _wider_builder(
    "resnext50_32x4d",
    _RESNEXT_SOURCE,
    "ResNeXt-50 32x4d: ResNet-50 whose 3x3 convolutions have 32 groups of 4 channels (x stage).",
)
resnext101_32x8d = _wider_builder(
    "resnext101_32x8d",
    _RESNEXT_SOURCE,
    "ResNeXt-101 32x8d: ResNet-101 with 32 groups of 8 channels in its 3x3 convolutions.",
)
resnext101_64x4d = _wider_builder(
    "resnext101_64x4d",
    _RESNEXT_SOURCE,
    "ResNeXt-101 64x4d: ResNet-101 with 64 groups of 4 channels in its 3x3 convolutions.",
)
wide_resnet50_2 = _wider_builder(
    "wide_resnet50_2",
    _WIDE_SOURCE,
    "Wide ResNet-50-2: ResNet-50 with twice as wide 1x1-3x3 bottleneck convolutions.",
)
wide_resnet101_2 = _wider_builder(
    "wide_resnet101_2",
    _WIDE_SOURCE,
    "Wide ResNet-101-2: ResNet-101 with twice as wide 1x1-3x3 bottleneck convolutions.",
)
resnet20 = _cifar_builder("resnet20", "CIFAR ResNet-20 (n=3), He et al. 2015 section 4.2 (paper 0.27M).")
resnet32 = _cifar_builder("resnet32", "CIFAR ResNet-32 (n=5), He et al. 2015 section 4.2 (paper 0.46M).")
resnet44 = _cifar_builder("resnet44", "CIFAR ResNet-44 (n=7), He et al. 2015 section 4.2 (paper 0.66M).")
resnet56 = _cifar_builder("resnet56", "CIFAR ResNet-56 (n=9), He et al. 2015 section 4.2 (paper 0.85M).")
resnet110 = _cifar_builder(
    "resnet110", "CIFAR ResNet-110 (n=18), He et al. 2015 section 4.2 (paper 1.7M)."
)


def _preact_resnet164(network, declared, common, *, zero_init_residual):
    layout = ResNetLayout(
        block="bottleneck",
        repeats=(18, 18, 18),
        widths=CIFAR_WIDTHS,
        stem="cifar",
        stem_filters=16,
        preactivation=True,
        num_classes=10,
    )
    return _resnet(network, declared, common, layout, zero_init_residual)


def preact_resnet164(
    *, num_classes=None, input_shape=None, include_top=True, pooling=None,
    classifier_activation="softmax", input_tensor=None, weights=None, name=None,
    zero_init_residual=None, initializer="keras", include_preprocessing=False, classes=None,
):
    return build_model("preact_resnet164", locals(), _preact_resnet164)


register(
    family="resnet",
    source="He et al. 2016, arXiv:1603.05027; KaimingHe/resnet-1k-layers",
    variants=PREACT_VARIANT,
)(preact_resnet164)
_document(
    preact_resnet164,
    """Pre-activation ResNet-164 for CIFAR, He et al. 2016 ("Identity Mappings in Deep Residual Networks").

    A bare 3x3 stem conv of 16 filters, three stages of 18 pre-activation bottleneck blocks
    (16, 32, 64 filters, outputs 64, 128, 256; stride on the 3x3), bias-free 1x1 projections (no BN)
    reading the pre-activated tensor where the shape changes, then `post_bn`, `post_relu`, global
    average pooling and the classifier (paper 1.7M).""",
    classes=10,
    shape="32x32x3; any size from 1x1 works",
    features="of `post_relu`",
)


def _wide_resnet(network, declared, common, *, depth, width, dropout_rate, zero_init_residual):
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
    if common.name is None:
        common = dataclasses.replace(common, name=f"wide_resnet_{depth}_{width}")
    return _resnet(network, declared, common, layout, zero_init_residual)


def wide_resnet(
    *, depth=28, width=10, dropout_rate=0.0, num_classes=None, input_shape=None,
    include_top=True, pooling=None, classifier_activation="softmax", input_tensor=None,
    weights=None, name=None, zero_init_residual=None, initializer="keras",
    include_preprocessing=False, classes=None,
):
    return build_model("wide_resnet", locals(), _wide_resnet)


register(
    family="wide_resnet",
    source="Zagoruyko & Komodakis 2016, arXiv:1605.07146; szagoruyko/wide-residual-networks",
    variants=WIDE_RESNET_VARIANT,
)(wide_resnet)
_document(
    wide_resnet,
    """Wide ResNet WRN-depth-width for CIFAR, Zagoruyko & Komodakis 2016.

    A bare 3x3 stem conv of 16 filters, three groups of (depth - 4) / 6 pre-activation basic blocks
    (BN-ReLU-conv3x3-BN-ReLU-[dropout]-conv3x3) of 16k, 32k, 64k filters, bias-free 1x1 projections
    (no BN) where the shape changes (group 1 too when k > 1), then `post_bn`, `post_relu`, global
    average pooling and the classifier. WRN-28-10 (paper 36.5M). The model is named e.g.
    "wide_resnet_28_10".""",
    own="""        depth: the paper's d; it must be 6N + 4 with N >= 1 (10, 16, 22, 28, 40, ...).
        width: the widening factor k (a positive integer; 1 is a thin pre-activation ResNet).
        dropout_rate: dropout between the two convolutions of every block (the paper's CIFAR
            "-dropout" results use 0.3); 0 adds no layer.
""",
    classes=10,
    shape="32x32x3; any size from 1x1 works",
    features="of `post_relu`",
    name="wide_resnet_{depth}_{width}",
)
