"""VGG (Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
Recognition", ICLR 2015, arXiv:1409.1556): configurations A, B, D and E.

Every convolution is 3x3, stride 1, 'same', with ReLU; each block ends in a 2x2/2 max-pool; the
head is Flatten, fc1 4096, fc2 4096 (each with dropout 0.5, as in the paper and torchvision) and
`predictions`. The layer names are keras.applications' (`block1_conv1`, ..., `block5_pool`,
`flatten`, `fc1`, `fc2`, `predictions`), so `vgg16`/`vgg19` take keras.applications' VGG16/VGG19
weights by name; keras.applications has no dropout layers (they hold no weights).

`batch_norm=True` gives torchvision's `vggXX_bn`: conv (with its bias) -> BN -> ReLU after every
convolution, BN with torch's eps 1e-5 and momentum 0.1 (Keras momentum 0.9).
"""

import keras

from kcnn.layers.batch_norm import BatchNormalization
from kcnn.models import initializers
from kcnn.models._build import build_model
from kcnn.models._common import chain, check_dropout
from kcnn.models._docs import document
from kcnn.models._registry import VariantSpec, register
from kcnn.weights.sets import keras_weights, torchvision_weights

FILTERS = (64, 128, 256, 512, 512)

# Convolutions per block (the paper's Table 1 columns); block b has FILTERS[b - 1] filters.
VGG_CONFIGS = {
    "vgg11": (1, 1, 2, 2, 2),  # A
    "vgg13": (2, 2, 2, 2, 2),  # B
    "vgg16": (2, 2, 3, 3, 3),  # D
    "vgg19": (2, 2, 4, 4, 4),  # E
}

def torchvision_rules(network, batch_norm):
    """torchvision's `features.N` indices for a VGG: conv, [BN], ReLU per convolution, a pool per
    block; `classifier.{0,3,6}` are fc1, fc2 and the classifier."""
    rules, index = [], 0
    for block, convs in enumerate(VGG_CONFIGS[network], 1):
        for conv in range(1, convs + 1):
            layer = f"block{block}_conv{conv}"
            rules.append((rf"features\.{index}", lambda m, layer=layer: layer, "conv"))
            index += 1
            if batch_norm:
                bn = f"block{block}_bn{conv}"
                rules.append((rf"features\.{index}", lambda m, bn=bn: bn, "bn"))
                index += 1
            index += 1  # ReLU
        index += 1  # MaxPool2d
    rules += [
        (r"classifier\.0", lambda m: "fc1", ("flatten_dense", 512)),
        (r"classifier\.3", lambda m: "fc2", "dense"),
        (r"classifier\.6", lambda m: "predictions", "dense"),
    ]
    return tuple(rules)


# Declarations, keyed by `batch_norm` (kcnn.models.spec("vgg16").variant(True) is vgg16_bn's):
# 224x224x3 input, at least 32x32 (five 2x2 pools). keras.applications' VGG16/19 are the authors'
# Caffe weights (Oxford), so they are `weights="imagenet"` where they exist. The feature stages are
# the five block pools, every depth, with or without BN.
KERAS_TERMS = "VGG at Oxford's weights, ported by keras.applications: Creative Commons Attribution"
VGG_MACS = {  # multiply-accumulates of the default call (`kcnn.analysis.profile`)
    "vgg11": 7_609_090_048,
    "vgg13": 11_308_466_176,
    "vgg16": 15_470_264_320,
    "vgg19": 19_632_062_464,
}
STAGES = tuple((f"block{b}_pool", 2**b, c) for b, c in enumerate(FILTERS, start=1))


def _normal_001(rng, path, shape):
    return initializers.normal(rng, shape, 0.01)


# torchvision's vgg.py: kaiming_normal_(fan_out, relu) convolutions, N(0, 0.01) Linear, zero biases.
TORCHVISION_INIT = initializers.Scheme(
    name="torchvision-vgg",
    conv=initializers.he_fan_out,
    dense=_normal_001,
    bias=initializers.zero_bias,
)


def _declaration(network, batch_norm, params, torchvision, keras=None):
    """The declaration of `network` with or without BN: torchvision's (file, acc@1, acc@5) and,
    where it has one, keras.applications' (MD5s of the top and no-top files, acc@1, acc@5),
    which then comes first ("imagenet")."""
    weights = (torchvision_weights(*torchvision),)
    source = "torchvision vgg"
    if keras:
        stem = f"{network}_weights_tf_dim_ordering_tf_kernels"
        hashes, top1, top5 = keras
        keras_set = keras_weights(network, stem, hashes, top1, top5, mode="caffe", terms=KERAS_TERMS)
        weights = (keras_set, *weights)
        source = f"Simonyan & Zisserman; keras.applications {network.upper()}"
    return VariantSpec(
        default_input=(224, 224, 3),
        min_input=32,
        source=source,
        weights=weights,
        stages=STAGES,
        initializer=TORCHVISION_INIT,
        torchvision_rules=torchvision_rules(network, batch_norm),
        params=params,
        macs=None if batch_norm else VGG_MACS[network],
    )


VGG_DECLARATIONS = {
    "vgg11": {
        False: _declaration("vgg11", False, 132_863_336, ("vgg11-8a719046.pth", 69.020, 88.628)),
        True: _declaration("vgg11", True, 132_868_840, ("vgg11_bn-6002323d.pth", 70.370, 89.810)),
    },
    "vgg13": {
        False: _declaration("vgg13", False, 133_047_848, ("vgg13-19584684.pth", 69.928, 89.246)),
        True: _declaration("vgg13", True, 133_053_736, ("vgg13_bn-abd245e5.pth", 71.586, 90.374)),
    },
    "vgg16": {
        False: _declaration(
            "vgg16",
            False,
            138_357_544,
            ("vgg16-397923af.pth", 71.592, 90.382),
            (("64373286793e3c8b2b4e3219cbf3544b", "6d6bbae143d832006294945121d1f1fc"), 71.3, 90.1),
        ),
        True: _declaration("vgg16", True, 138_365_992, ("vgg16_bn-6c64b313.pth", 73.360, 91.516)),
    },
    "vgg19": {
        False: _declaration(
            "vgg19",
            False,
            143_667_240,
            ("vgg19-dcbb9e9d.pth", 72.376, 90.876),
            (("cbe5617147190e668d6c5d5026f83318", "253f8cb515780f3b799900260a226db6"), 71.3, 90.0),
        ),
        True: _declaration("vgg19", True, 143_678_248, ("vgg19_bn-c79401a0.pth", 74.218, 91.842)),
    },
}


def vgg_block(index, convs, filters, batch_norm):
    """Block `index`: `convs` 3x3 convolutions of `filters`, then `block{index}_pool`."""
    layers = []
    for i in range(1, convs + 1):
        prefix = f"block{index}_"
        if batch_norm:
            layers += [
                keras.layers.Conv2D(filters, 3, padding="same", name=f"{prefix}conv{i}"),
                BatchNormalization(epsilon=1e-5, momentum=0.9, name=f"{prefix}bn{i}"),
                keras.layers.Activation("relu", name=f"{prefix}relu{i}"),
            ]
        else:
            layers.append(
                keras.layers.Conv2D(
                    filters, 3, padding="same", activation="relu", name=f"{prefix}conv{i}"
                )
            )
    return layers + [keras.layers.MaxPooling2D(2, name=f"block{index}_pool")]


def _vgg(network, declared, common, *, batch_norm, dropout):
    """Build the VGG of `VGG_CONFIGS[network]`: five blocks, then `flatten`, `fc1`, `fc2` (each
    with dropout) and `predictions`."""
    dropout = check_dropout(network, dropout)
    image, x = common.input(network, declared)
    if common.include_top and None in tuple(image.shape[1:3]):
        raise ValueError(
            f"`{network}`: with include_top=True the Flatten head needs a known input size; "
            f"received input_shape={tuple(image.shape[1:])}. Use include_top=False for variable "
            "sizes."
        )
    blocks = zip(range(1, 6), VGG_CONFIGS[network], FILTERS)
    x = chain(x, [layer for b in blocks for layer in vgg_block(*b, batch_norm)])
    top = [keras.layers.Flatten(name="flatten")]
    for fc in ("fc1", "fc2"):
        top += [
            keras.layers.Dense(4096, activation="relu", name=fc),
            keras.layers.Dropout(dropout, name=f"{fc}_dropout"),
        ]
    return common.output(image, x, network, top=top)


_SOURCE = (
    "Simonyan & Zisserman 2014, arXiv:1409.1556; keras.applications VGG16/VGG19; torchvision vgg"
)


def _builder(network, summary):
    """The builder of `network` (a column of `VGG_CONFIGS`), registered with its declarations."""

    def builder(
        *, batch_norm=False, dropout=0.5, num_classes=1000, input_shape=None, include_top=True,
        pooling=None, classifier_activation="softmax", input_tensor=None, weights=None, name=None,
        initializer="keras", include_preprocessing=False, classes=None,
    ):
        return build_model(network, locals(), _vgg)

    builder.__name__ = builder.__qualname__ = network
    declarations = VGG_DECLARATIONS[network]
    register(family="vgg", source=_SOURCE, variants=declarations, selector="batch_norm")(builder)
    own = f"""\
        batch_norm: BN after every convolution (torchvision's {network}_bn).
        dropout: the rate of `fc1_dropout` and `fc2_dropout` (0.5; 0 reproduces keras.applications).
"""
    shape = (
        "224x224x3, at least 32x32. With the top, height and width must be known: fc1's size\n"
        "            follows them (Flatten, as in keras.applications)"
    )
    head = "`flatten`, `fc1`, `fc2` with dropout, `predictions`"
    return document(builder, summary, own, shape=shape, head=head, features="after `block5_pool`")


vgg11 = _builder("vgg11", "VGG-11 (configuration A), Simonyan & Zisserman 2014.")
vgg13 = _builder("vgg13", "VGG-13 (configuration B), Simonyan & Zisserman 2014.")
vgg16 = _builder(
    "vgg16",
    "VGG-16 (configuration D), Simonyan & Zisserman 2014 (keras.applications VGG16, whose weights\n"
    "    it takes by name). 32x32x3 with 10 classes: 33,638,218 parameters.",
)
vgg19 = _builder(
    "vgg19",
    "VGG-19 (configuration E), Simonyan & Zisserman 2014 (keras.applications VGG19, whose weights\n"
    "    it takes by name).",
)
