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
from kcnn.models import initializers
from kcnn.models._build import build_model
from kcnn.models._common import chain
from kcnn.models._docs import document
from kcnn.models._registry import VariantSpec, register
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

BN_EPSILON = 1.001e-5  # keras.applications' DenseNet; torchvision uses 1e-5


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
    # The CIFAR form: 3x3 conv of 2k channels, no BN after it, no max-pool;
    # new features before the input.
    "cifar": DenseNetVariant(stem="cifar", concat_order="prepend"),
}

# Declarations: ImageNet 224x224, at least 29 (keras.applications enforces 32): 29 -> 15
# -> 8 -> 4 -> 2 -> 1; CIFAR 32x32, at least 8 (three 2x2/2 transitions). "imagenet" is the
# keras.applications layout and takes its weights; "torchvision" takes torchvision's.
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


# torchvision's published DenseNet files keep the old names `norm.1`, `conv.1`, `norm.2`, `conv.2`
# (torchvision renames them on loading); today's modules are `norm1`, `conv1`, `norm2`, `conv2`.
DENSE_LAYER = r"features\.denseblock(\d+)\.denselayer(\d+)\."
TORCHVISION_RULES = (
    (r"features\.conv0", lambda m: "conv1_conv", "conv"),
    (r"features\.norm0", lambda m: "conv1_bn", "bn"),
    # denseblockD.denselayerL: kcnn's dense block conv{D+1}, layer L; norm1 conv1 norm2 conv2.
    (DENSE_LAYER + r"norm\.?1", lambda m: f"conv{int(m[1]) + 1}/block{m[2]}_0_bn", "bn"),
    (DENSE_LAYER + r"conv\.?1", lambda m: f"conv{int(m[1]) + 1}/block{m[2]}_1_conv", "conv"),
    (DENSE_LAYER + r"norm\.?2", lambda m: f"conv{int(m[1]) + 1}/block{m[2]}_1_bn", "bn"),
    (DENSE_LAYER + r"conv\.?2", lambda m: f"conv{int(m[1]) + 1}/block{m[2]}_2_conv", "conv"),
    # transitionT follows dense block T: kcnn's transition pool{T+1}.
    (r"features\.transition(\d+)\.norm", lambda m: f"pool{int(m[1]) + 1}/bn", "bn"),
    (r"features\.transition(\d+)\.conv", lambda m: f"pool{int(m[1]) + 1}/conv", "conv"),
    (r"features\.norm5", lambda m: "bn", "bn"),
    (r"classifier", lambda m: "predictions", "dense"),
)
KERAS_TERMS = "the authors' weights (liuzhuang13/DenseNet), keras.applications: BSD 3-Clause"


def _dense_zero_bias(rng, path, shape, fan_in, conv):
    if conv:
        return initializers.torch_uniform(rng, shape, fan_in)
    return initializers.zero_bias(rng, path, shape, fan_in, conv)


# torchvision's densenet.py: kaiming_normal_ (fan_in) convolutions, Linear weight PyTorch's
# default and bias 0.
TORCHVISION_INIT = initializers.Scheme(
    name="torchvision-densenet",
    conv=initializers.he_fan_in,
    dense=initializers.torch_default,
    bias=_dense_zero_bias,
)

# Trainable parameters of the default calls (1000 classes): ImageNet layouts, CIFAR stem; and the
# multiply-accumulates of the default call (`kcnn.analysis.profile`).
DENSENET_PARAMS = {
    "densenet121": (7_978_856, 7_971_048, 2_834_161_664),
    "densenet161": (28_681_000, 28_669_288, 7_727_907_072),
    "densenet169": (14_149_480, 14_141_672, 3_359_843_328),
    "densenet201": (20_013_928, 20_006_120, 4_291_365_888),
}


def _densenet_declarations(network, torchvision, keras=None):
    """{variant: VariantSpec} of an ImageNet DenseNet: torchvision's (file, acc@1, acc@5) and
    keras.applications' (file stem, (top, no-top) MD5s, acc@1, acc@5) where it has one."""
    config = DENSENET_CONFIGS[network]
    imagenet_stages = (("conv1_relu", 2, config.init_features), *densenet_stages(config, 4))
    params, cifar_params, macs = DENSENET_PARAMS[network]
    imagenet = ()
    if keras:
        stem, hashes, top1, top5 = keras
        keras = keras_weights("densenet", stem, hashes, top1, top5, mode="torch", terms=KERAS_TERMS)
        imagenet = (keras,)
    return {
        "imagenet": VariantSpec(
            default_input=(224, 224, 3),
            min_input=29,
            source="keras.applications densenet layout",
            weights=imagenet,
            stages=imagenet_stages,
            params=params,
            macs=macs,
        ),
        "torchvision": VariantSpec(
            default_input=(224, 224, 3),
            min_input=29,
            source="torchvision densenet",
            weights=(torchvision_weights(*torchvision),),
            stages=imagenet_stages,
            initializer=TORCHVISION_INIT,
            torchvision_rules=TORCHVISION_RULES,
            params=params,
        ),
        "cifar": VariantSpec(  # a 3x3 stem conv of 2k channels
            default_input=(32, 32, 3),
            min_input=8,
            source="CIFAR DenseNet: a 3x3 stem of 2k channels, no max-pool",
            stages=densenet_stages(
                dataclasses.replace(config, init_features=2 * config.growth_rate), 1
            ),
            params=cifar_params,
        ),
    }


DENSENET_DECLARATIONS = {
    "densenet121": _densenet_declarations(
        "densenet121",
        ("densenet121-a639ec97.pth", 74.434, 91.972),
        (
            "densenet121_weights_tf_dim_ordering_tf_kernels",
            ("9d60b8095a5708f2dcce2bca79d332c7", "30ee3e1110167f948a6b9946edeeb738"),
            75.0,
            92.3,
        ),
    ),
    "densenet161": _densenet_declarations("densenet161", ("densenet161-8d451a50.pth", 77.138, 93.560)),
    "densenet169": _densenet_declarations(
        "densenet169",
        ("densenet169-b2777c0a.pth", 75.600, 92.806),
        (
            "densenet169_weights_tf_dim_ordering_tf_kernels",
            ("d699b8f76981ab1b30698df4c175e90b", "b8c4d4c20dd625c148057b9ff1c1176b"),
            76.2,
            93.2,
        ),
    ),
    "densenet201": _densenet_declarations(
        "densenet201",
        ("densenet201-c1103571.pth", 76.896, 93.370),
        (
            "densenet201_weights_tf_dim_ordering_tf_kernels",
            ("1ceb130c1ea1b78c3bf6114dbdfd8807", "c13680b51ded0fb44dff2d8f86ac8bb1"),
            77.3,
            93.6,
        ),
    ),
}


# DenseNet-BC-100, k=12, the default; another depth or growth rate sizes its stages differently.
BC_100 = DenseNetConfig(growth_rate=12, block_sizes=(16, 16, 16), init_features=24)
DENSENET_BC_VARIANT = VariantSpec(
    default_input=(32, 32, 3),
    min_input=4,
    source="Huang et al. 2017, section 4.2",
    stages=densenet_stages(BC_100, 1),
    params=769_162,
    macs=287_929_692,
)


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


def _densenet(network, declared, common, config, variant, *, bn_size, compression, dropout_rate):
    """Build a DenseNet from a `DenseNetConfig` row and a `DenseNetVariant` row: the stem, dense
    blocks and transitions, BN and ReLU, then the head (`avg_pool` and `predictions`)."""
    image, x = common.input(network, declared)
    bn = {"bn_epsilon": variant.bn_epsilon, "bn_momentum": variant.bn_momentum}
    x = chain(x, densenet_stem(variant.stem, config.init_features, **bn))
    blocks = dense_stages(
        config.block_sizes,
        config.growth_rate,
        compression=compression,
        bn_size=bn_size,
        dropout_rate=dropout_rate,
        concat_order=variant.concat_order,
        **bn,
    )
    x = chain(x, blocks)
    norm = BatchNormalization(epsilon=variant.bn_epsilon, momentum=variant.bn_momentum, name="bn")
    x = chain(x, [norm, keras.layers.Activation("relu", name="relu")])
    return common.output(image, x, network, top=[keras.layers.GlobalAveragePooling2D(name="avg_pool")])


def _table_densenet(network, declared, common, *, variant, **options):
    """DenseNet-121/161/169/201 in the layout of `variant` (a row of `DENSENET_VARIANTS`)."""
    config, row = DENSENET_CONFIGS[network], DENSENET_VARIANTS[variant]
    return _densenet(network, declared, common, config, row, **options)


_SOURCE = "Huang et al. 2017, arXiv:1608.06993; keras.applications and torchvision densenet"
_OPTIONS = """\
        bn_size: bottleneck width factor; the 1x1 convolutions have bn_size * k filters (4).
        compression: theta, the fraction of channels each transition keeps (0.5).
        dropout_rate: dropout after each dense layer's 3x3 convolution (0, as torchvision; the paper
            used 0.2 on CIFAR without augmentation).
"""


def _document(builder, summary, own="", **fields):
    """`kcnn.models._docs.document` with the DenseNets' head and options."""
    head = "global average pooling `avg_pool` and `predictions`"
    return document(
        builder, summary, own, head=head, features="after `relu`", extra=_OPTIONS, **fields
    )


def _imagenet_builder(network, summary):
    """The builder of DenseNet-121/161/169/201 (`network`), registered with its declarations."""

    def builder(
        *, variant=None, num_classes=1000, input_shape=None, include_top=True, pooling=None,
        classifier_activation="softmax", input_tensor=None, weights=None, name=None, bn_size=4,
        compression=0.5, dropout_rate=0.0, initializer="keras", include_preprocessing=False,
        classes=None,
    ):
        return build_model(network, locals(), _table_densenet)

    builder.__name__ = builder.__qualname__ = network
    register(family="densenet", source=_SOURCE, variants=DENSENET_DECLARATIONS[network])(builder)
    own = """\
        variant: "imagenet" (keras.applications' BN settings), "torchvision" (torchvision's: eps
            1e-5, momentum 0.1) or "cifar", a row of `DENSENET_VARIANTS` (stem, concat order,
            input, BN settings); None: "imagenet", or the variant that has `weights`.
"""
    shape = "224x224x3 (32x32x3 with 'cifar'), at least 29x29 (8x8 with 'cifar')"
    return _document(builder, summary, own, shape=shape)


densenet121 = _imagenet_builder(
    "densenet121",
    "DenseNet-121 (k=32, blocks 6, 12, 24, 16), Huang et al. 2017 (keras.applications DenseNet121).",
)
densenet161 = _imagenet_builder(
    "densenet161",
    "DenseNet-161 (k=48, 96 stem filters, blocks 6, 12, 36, 24), torchvision's densenet161.",
)
densenet169 = _imagenet_builder(
    "densenet169",
    "DenseNet-169 (k=32, blocks 6, 12, 32, 32), Huang et al. 2017 (keras.applications DenseNet169).",
)
densenet201 = _imagenet_builder(
    "densenet201",
    "DenseNet-201 (k=32, blocks 6, 12, 48, 32), Huang et al. 2017 (keras.applications DenseNet201).",
)


def _densenet_bc(network, declared, common, *, depth, growth_rate, **options):
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
    return _densenet(network, declared, common, config, row, **options)


@register(
    family="densenet",
    source="Huang et al. 2017, arXiv:1608.06993, section 4.2; liuzhuang13/DenseNet",
    variants=DENSENET_BC_VARIANT,
)
def densenet_bc(
    *, depth=100, growth_rate=12, num_classes=10, input_shape=None, include_top=True,
    pooling=None, classifier_activation="softmax", input_tensor=None, weights=None, name=None,
    bn_size=4, compression=0.5, dropout_rate=0.0, initializer="keras", include_preprocessing=False,
    classes=None,
):
    return build_model("densenet_bc", locals(), _densenet_bc)


_document(
    densenet_bc,
    """DenseNet-BC for CIFAR (Huang et al. 2017, section 4.2 and Table 2).

    Three dense blocks of (depth - 4) / 6 bottleneck layers on 32x32, 16x16 and 8x8 maps, a 3x3 stem
    conv of 2k channels (no BN after it), transitions with compression 0.5, new features appended
    (the paper's Torch code). L=100, k=12 (paper: 0.8M).""",
    """\
        depth: L, the paper's depth; (L - 4) must be a positive multiple of 6 (100, 250, 190, ...).
        growth_rate: k (12, 24 or 40 in the paper).
""",
    classes="10; 100 for CIFAR-100",
    shape="32x32x3, at least 4x4",
)
