"""VGG (Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
Recognition", ICLR 2015, arXiv:1409.1556; spec section 3): configurations A, B, D and E.

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
from kcnn.models._common import (
    chain,
    check_common_args,
    check_dropout,
    classifier_head,
    finish_model,
    forwards_to,
    image_input,
)
from kcnn.models._registry import VariantSpec, register
from kcnn.models.features import with_stages
from kcnn.weights.sets import keras_weights, torchvision_weights

FILTERS = (64, 128, 256, 512, 512)

# Convolutions per block (the paper's Table 1 columns); block b has FILTERS[b - 1] filters.
VGG_CONFIGS = {
    "vgg11": (1, 1, 2, 2, 2),  # A
    "vgg13": (2, 2, 2, 2, 2),  # B
    "vgg16": (2, 2, 3, 3, 3),  # D
    "vgg19": (2, 2, 4, 4, 4),  # E
}

# Declarations, keyed by `batch_norm` (kcnn.models.spec("vgg16").variant(True) is vgg16_bn's):
# 224x224x3 input, at least 32x32 (five 2x2 pools). keras.applications' VGG16/19 are the authors'
# Caffe weights (Oxford), so they are `weights="imagenet"` where they exist.


def _torchvision_vgg(file, top1, top5):
    """A variant whose only weights are torchvision's `file` (acc@1, acc@5)."""
    weights = (torchvision_weights(file, top1, top5),)
    return VariantSpec(
        default_input=(224, 224, 3),
        min_input=32,
        source="torchvision vgg",
        weights=weights,
        initializer="torchvision-vgg",
    )


def _keras_vgg(depth, hashes, top1, top5, torchvision):
    """keras.applications' VGG{depth} (the authors' weights, "imagenet") and torchvision's."""
    stem = f"vgg{depth}_weights_tf_dim_ordering_tf_kernels"
    keras = keras_weights(f"vgg{depth}", stem, hashes, top1, top5, mode="caffe", terms="vgg")
    source = f"Simonyan & Zisserman; keras.applications VGG{depth}"
    weights = (keras, torchvision_weights(*torchvision))
    return VariantSpec(
        default_input=(224, 224, 3),
        min_input=32,
        source=source,
        weights=weights,
        initializer="torchvision-vgg",
    )


VGG_DECLARATIONS = {
    "vgg11": {
        False: _torchvision_vgg("vgg11-8a719046.pth", 69.020, 88.628),
        True: _torchvision_vgg("vgg11_bn-6002323d.pth", 70.370, 89.810),
    },
    "vgg13": {
        False: _torchvision_vgg("vgg13-19584684.pth", 69.928, 89.246),
        True: _torchvision_vgg("vgg13_bn-abd245e5.pth", 71.586, 90.374),
    },
    "vgg16": {
        False: _keras_vgg(
            16,
            ("64373286793e3c8b2b4e3219cbf3544b", "6d6bbae143d832006294945121d1f1fc"),
            71.3,
            90.1,
            ("vgg16-397923af.pth", 71.592, 90.382),
        ),
        True: _torchvision_vgg("vgg16_bn-6c64b313.pth", 73.360, 91.516),
    },
    "vgg19": {
        False: _keras_vgg(
            19,
            ("cbe5617147190e668d6c5d5026f83318", "253f8cb515780f3b799900260a226db6"),
            71.3,
            90.0,
            ("vgg19-dcbb9e9d.pth", 72.376, 90.876),
        ),
        True: _torchvision_vgg("vgg19_bn-c79401a0.pth", 74.218, 91.842),
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


def _vgg(
    network,
    *,
    batch_norm=False,
    dropout=0.5,
    num_classes=1000,
    input_shape=None,
    include_top=True,
    pooling=None,
    classifier_activation="softmax",
    input_tensor=None,
    weights=None,
    name=None,
):
    """Build the VGG of `VGG_CONFIGS[network]`; the arguments are those of every VGG builder.

    Args:
        batch_norm: torchvision's `_bn` form: BN and a separate ReLU after every convolution.
        dropout: the rate of `fc1_dropout` and `fc2_dropout` (0.5; 0 reproduces keras.applications).
        num_classes: classes of the classifier (default 1000).
        input_shape: (height, width, channels), at least 32x32; default (224, 224, 3). With the
            top, height and width must be known: fc1's size follows them (Flatten, as in
            keras.applications: 32x32 input, 10 classes gives VGG16 33,638,218 parameters).
        include_top: build the classifier (`flatten`, `fc1`, `fc2` with dropout, `predictions`).
        pooling: without the top, None (4-D features after `block5_pool`), "avg" or "max".
        classifier_activation: activation of `predictions` (None for logits), computed in float32
            under mixed precision.
        input_tensor: optional Keras tensor to build the model on.
        weights: None, or a path to a `.weights.h5` file to load.
        name: the model's name (default: the network's, e.g. "vgg16").
    """
    dropout = check_dropout(network, dropout)
    check_common_args(
        network, num_classes=num_classes, include_top=include_top, pooling=pooling, weights=weights
    )
    image, x = image_input(
        network,
        input_shape=input_shape,
        input_tensor=input_tensor,
        default_shape=VGG_DECLARATIONS[network][bool(batch_norm)].default_input,
        min_size=VGG_DECLARATIONS[network][bool(batch_norm)].min_input,
    )
    if include_top and None in tuple(image.shape[1:3]):
        raise ValueError(
            f"`{network}`: with include_top=True the Flatten head needs a known input size; "
            f"received input_shape={tuple(image.shape[1:])}. Use include_top=False for variable "
            "sizes."
        )
    blocks = zip(range(1, 6), VGG_CONFIGS[network], FILTERS)
    x = chain(
        x,
        [
            layer
            for index, convs, filters in blocks
            for layer in vgg_block(index, convs, filters, batch_norm)
        ],
    )
    top = [keras.layers.Flatten(name="flatten")]
    for fc in ("fc1", "fc2"):
        top += [
            keras.layers.Dense(4096, activation="relu", name=fc),
            keras.layers.Dropout(dropout, name=f"{fc}_dropout"),
        ]
    outputs = classifier_head(
        x,
        include_top=include_top,
        pooling=pooling,
        num_classes=num_classes,
        classifier_activation=classifier_activation,
        top=top,
    )
    return finish_model(image, outputs, name=name or network, weights=weights)


_SOURCE = (
    "Simonyan & Zisserman 2014, arXiv:1409.1556; keras.applications VGG16/VGG19; torchvision vgg"
)


# Feature stages (layer, stride, channels): the five block pools, every depth, with or without BN.
_STAGES = [(f"block{b}_pool", 2**b, c) for b, c in enumerate(FILTERS, start=1)]
VGG_DECLARATIONS = {
    net: {bn: with_stages(v, _STAGES) for bn, v in table.items()}
    for net, table in VGG_DECLARATIONS.items()
}


@register(family="vgg", source=_SOURCE, variants=VGG_DECLARATIONS["vgg11"], selector="batch_norm")
@forwards_to(_vgg)
def vgg11(*, batch_norm=False, dropout=0.5, **kwargs):
    """VGG-11 (configuration A), Simonyan & Zisserman 2014.

    224x224x3, 1000 classes: T 132,863,336; `batch_norm=True` T 132,868,840, Keras total
    132,874,344 (torchvision vgg11 / vgg11_bn).

    Args:
        batch_norm: BN after every convolution (torchvision's vgg11_bn).
        dropout: the rate of the two classifier dropouts (0.5).
        **kwargs: num_classes, input_shape, include_top, pooling, ... as documented in `_vgg`.
    """
    return _vgg("vgg11", batch_norm=batch_norm, dropout=dropout, **kwargs)


@register(family="vgg", source=_SOURCE, variants=VGG_DECLARATIONS["vgg13"], selector="batch_norm")
@forwards_to(_vgg)
def vgg13(*, batch_norm=False, dropout=0.5, **kwargs):
    """VGG-13 (configuration B), Simonyan & Zisserman 2014.

    224x224x3, 1000 classes: T 133,047,848; `batch_norm=True` T 133,053,736, Keras total
    133,059,624 (torchvision vgg13 / vgg13_bn).

    Args:
        batch_norm: BN after every convolution (torchvision's vgg13_bn).
        dropout: the rate of the two classifier dropouts (0.5).
        **kwargs: num_classes, input_shape, include_top, pooling, ... as documented in `_vgg`.
    """
    return _vgg("vgg13", batch_norm=batch_norm, dropout=dropout, **kwargs)


@register(family="vgg", source=_SOURCE, variants=VGG_DECLARATIONS["vgg16"], selector="batch_norm")
@forwards_to(_vgg)
def vgg16(*, batch_norm=False, dropout=0.5, **kwargs):
    """VGG-16 (configuration D), Simonyan & Zisserman 2014.

    224x224x3, 1000 classes: T 138,357,544 (keras.applications VGG16, whose weights it takes by
    name; torchvision vgg16); `batch_norm=True` T 138,365,992, Keras total 138,374,440.
    32x32x3 with 10 classes: 33,638,218.

    Args:
        batch_norm: BN after every convolution (torchvision's vgg16_bn).
        dropout: the rate of the two classifier dropouts (0.5).
        **kwargs: num_classes, input_shape, include_top, pooling, ... as documented in `_vgg`.
    """
    return _vgg("vgg16", batch_norm=batch_norm, dropout=dropout, **kwargs)


@register(family="vgg", source=_SOURCE, variants=VGG_DECLARATIONS["vgg19"], selector="batch_norm")
@forwards_to(_vgg)
def vgg19(*, batch_norm=False, dropout=0.5, **kwargs):
    """VGG-19 (configuration E), Simonyan & Zisserman 2014.

    224x224x3, 1000 classes: T 143,667,240 (keras.applications VGG19, whose weights it takes by
    name; torchvision vgg19); `batch_norm=True` T 143,678,248, Keras total 143,689,256.

    Args:
        batch_norm: BN after every convolution (torchvision's vgg19_bn).
        dropout: the rate of the two classifier dropouts (0.5).
        **kwargs: num_classes, input_shape, include_top, pooling, ... as documented in `_vgg`.
    """
    return _vgg("vgg19", batch_norm=batch_norm, dropout=dropout, **kwargs)
