"""AlexNet (Krizhevsky, Sutskever, Hinton, "ImageNet Classification with Deep Convolutional
Neural Networks", NIPS 2012), in three variants, one row each of `ALEXNET_VARIANTS`:

* "paper" (default): 227x227x3 (the paper says 224, but 11x11/4 'valid' needs 227 for 55x55),
  conv -> ReLU -> LRN -> max-pool in layers 1 and 2 (`kcnn.layers.LocalResponseNormalization`
  with the paper's k=2, n=5, alpha=1e-4, beta=0.75), the two GPU towers as `groups=2` in conv2,
  conv4 and conv5, dropout 0.5 after fc6 and fc7. T 60,965,224 (62,378,344 with `groups=1`).
  This is BVLC Caffe's AlexNet structure, and its layer names.
* "torchvision": torchvision's single-tower `alexnet` ("one weird trick", arXiv:1404.5997):
  64-192-384-256-256 filters, conv1 padded by 2, no LRN, a 6x6 adaptive average pool before the
  classifier (so any input from 63x63 works), dropout *before* fc6 and fc7 (pytorch/vision#549).
  224x224x3: T 61,100,840.
* "cifar": a CIFAR AlexNet: torchvision's widths, conv1 padded by 5,
  2x2/2 max-pools, one linear layer from the 256 features. 32x32x3, 10 classes: T 2,472,266.
"""

import dataclasses

import keras
import numpy as np

from kcnn.layers import LocalResponseNormalization
from kcnn.models import initializers
from kcnn.models._build import build_model
from kcnn.models._common import chain, check_dropout
from kcnn.models._registry import VariantSpec, register
from kcnn.weights.sets import torchvision_weights


@dataclasses.dataclass(frozen=True, kw_only=True)
class AlexNetVariant:
    """What tells the AlexNet forms apart (a row of `ALEXNET_VARIANTS`)."""

    widths: tuple  # conv1 ... conv5 filters
    conv1_pad: int  # zero padding before conv1
    lrn: bool  # local response normalization after conv1 and conv2 (the paper)
    pool: tuple  # (size, stride) of pool1, pool2 and pool5
    fc_units: tuple  # the hidden dense layers
    dropout_after: tuple  # the layers followed by dropout (torchvision: fc6's and fc7's inputs)
    groups: int  # the paper's two towers: conv2, conv4 and conv5 in 2 groups
    head_sizes: tuple | None  # inputs whose pool5 is what the Flatten head needs; None: any size


ALEXNET_VARIANTS = {
    "paper": AlexNetVariant(
        widths=(96, 256, 384, 384, 256),
        conv1_pad=0,
        lrn=True,
        pool=(3, 2),
        fc_units=(4096, 4096),
        dropout_after=("fc6", "fc7"),
        groups=2,
        head_sizes=(227, 258),
    ),
    "torchvision": AlexNetVariant(
        widths=(64, 192, 384, 256, 256),
        conv1_pad=2,
        lrn=False,
        pool=(3, 2),
        fc_units=(4096, 4096),
        dropout_after=("flatten", "fc6"),
        groups=1,
        head_sizes=None,
    ),
    "cifar": AlexNetVariant(
        widths=(64, 192, 384, 256, 256),
        conv1_pad=5,
        lrn=False,
        pool=(2, 2),
        fc_units=(),
        dropout_after=(),
        groups=1,
        head_sizes=(29, 60),
    ),
}

# torchvision's AlexNet: features.{0,3,6,8,10} are conv1..conv5, classifier.{1,4,6} fc6, fc7 and
# the classifier (its Dropout and ReLU modules hold the other indices).
TORCHVISION_RULES = (
    (r"features\.0", lambda m: "conv1", "conv"),
    (r"features\.3", lambda m: "conv2", "conv"),
    (r"features\.6", lambda m: "conv3", "conv"),
    (r"features\.8", lambda m: "conv4", "conv"),
    (r"features\.10", lambda m: "conv5", "conv"),
    (r"classifier\.1", lambda m: "fc6", ("flatten_dense", 256)),
    (r"classifier\.4", lambda m: "fc7", "dense"),
    (r"classifier\.6", lambda m: "predictions", "dense"),
)


def _normal_001(rng, path, shape):
    return initializers.normal(rng, shape, 0.01)


def _paper_bias(rng, path, shape, fan_in, conv):
    ones = path.rpartition("/")[2] in ("conv2", "conv4", "conv5", "fc6", "fc7")
    return np.full(shape, 1.0 if ones else 0.0)


# Krizhevsky et al. 2012, section 5: every weight N(0, 0.01); biases 1 in conv2, conv4, conv5 and
# the hidden dense layers fc6, fc7, else 0.
PAPER_INIT = initializers.Scheme(
    name="alexnet-paper", conv=_normal_001, dense=_normal_001, bias=_paper_bias
)

# Declarations (kcnn.models.spec("alexnet").variant(...)); min_input: the smallest input whose
# pool5 is at least 1x1. Feature stages (layer, stride, channels): the paper's LRN outputs (the
# first two convolutions elsewhere), then conv5 and pool5.
_TORCHVISION_STAGES = (("conv1", 4, 64), ("conv2", 8, 192), ("conv5", 16, 256), ("pool5", 32, 256))
ALEXNET_DECLARATIONS = {
    "paper": VariantSpec(
        default_input=(227, 227, 3),
        min_input=67,
        source="Krizhevsky et al. 2012, NIPS",
        stages=(("norm1", 4, 96), ("norm2", 8, 256), ("conv5", 16, 256), ("pool5", 32, 256)),
        initializer=PAPER_INIT,
        params=60_965_224,
        macs=724_406_816,
    ),
    "torchvision": VariantSpec(
        default_input=(224, 224, 3),
        min_input=63,
        source="torchvision alexnet (One weird trick, arXiv:1404.5997)",
        weights=(torchvision_weights("alexnet-owt-7be5be79.pth", 56.522, 79.066),),
        stages=_TORCHVISION_STAGES,
        initializer=initializers.TORCH_DEFAULT,
        torchvision_rules=TORCHVISION_RULES,
        params=61_100_840,
    ),
    "cifar": VariantSpec(
        default_input=(32, 32, 3),
        min_input=29,
        source="CIFAR AlexNet: torchvision's widths, 2x2 pools, one linear classifier",
        stages=_TORCHVISION_STAGES,
        params=2_726_696,  # with the default 1000 classes; 2,472,266 with 10
    ),
}

# The paper's LRN setting (section 3.3): k=2, n=5 (depth_radius 2), alpha=1e-4, beta=0.75.
PAPER_LRN = dict(depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75)


def alexnet_features(variant, groups):
    """conv1 ... pool5 of an `AlexNetVariant` row; `groups` splits conv2, conv4 and conv5."""
    w = variant.widths
    size, stride = variant.pool

    def conv(index, filters, kernel, **options):
        return keras.layers.Conv2D(
            filters, kernel, activation="relu", name=f"conv{index}", **options
        )

    def pool(index):
        return keras.layers.MaxPooling2D(size, strides=stride, name=f"pool{index}")

    def norm(index):
        return [LocalResponseNormalization(**PAPER_LRN, name=f"norm{index}")] if variant.lrn else []

    pad = (
        [keras.layers.ZeroPadding2D(variant.conv1_pad, name="conv1_pad")]
        if variant.conv1_pad
        else []
    )
    return [
        *pad,
        conv(1, w[0], 11, strides=4),
        *norm(1),
        pool(1),
        conv(2, w[1], 5, padding="same", groups=groups),
        *norm(2),
        pool(2),
        conv(3, w[2], 3, padding="same"),
        conv(4, w[3], 3, padding="same", groups=groups),
        conv(5, w[4], 3, padding="same", groups=groups),
        pool(5),
    ]


def alexnet_top(variant, dropout):
    """The classifier before `predictions`: flatten, fc6, fc7, each dropout named after the layer
    it follows ("fc6_dropout", "fc7_dropout" in the paper; "flatten_dropout", "fc6_dropout" in
    torchvision, which drops the inputs of fc6 and fc7)."""
    adaptive = (
        [keras.layers.AdaptiveAveragePooling2D((6, 6), name="adaptive_avg_pool")]
        if variant.head_sizes is None
        else []
    )
    hidden = [keras.layers.Flatten(name="flatten")]
    hidden += [
        keras.layers.Dense(units, activation="relu", name=f"fc{i}")
        for i, units in enumerate(variant.fc_units, 6)
    ]
    layers = list(adaptive)
    for layer in hidden:
        layers.append(layer)
        if layer.name in variant.dropout_after:
            layers.append(keras.layers.Dropout(dropout, name=f"{layer.name}_dropout"))
    return layers


def _alexnet(network, declared, common, *, variant, groups, dropout):
    row = ALEXNET_VARIANTS[variant]
    groups = row.groups if groups is None else groups
    if groups not in (1, 2) or isinstance(groups, bool):
        raise ValueError(
            f"`{network}`: `groups` must be 1 or 2 (the paper's two towers); received {groups!r}"
        )
    if not row.dropout_after:
        if dropout not in (None, 0, 0.0):
            raise ValueError(
                f"`{network}`: the 'cifar' variant has no dropout (a single linear classifier); "
                f"received dropout={dropout!r}"
            )
    else:
        dropout = check_dropout(network, 0.5 if dropout is None else dropout)
    image, x = common.input(network, declared, head_sizes=row.head_sizes)
    x = chain(x, alexnet_features(row, groups))
    return common.output(image, x, network, top=alexnet_top(row, dropout))


@register(
    family="alexnet",
    source="Krizhevsky et al. 2012, NIPS; torchvision alexnet",
    variants=ALEXNET_DECLARATIONS,
)
def alexnet(
    *, variant=None, groups=None, dropout=None, num_classes=1000, input_shape=None,
    include_top=True, pooling=None, classifier_activation="softmax", input_tensor=None,
    weights=None, name=None, initializer="keras", include_preprocessing=False, classes=None,
):
    """AlexNet, Krizhevsky et al. 2012: the paper's two-tower net, torchvision's, or a CIFAR one.

    1000 classes (`kcnn list` gives the counts): "paper" (227x227x3) with `groups=1` 62,378,344
    trainable parameters. "cifar" (32x32x3, 10 classes) T 2,472,266. No batch norm, so the
    Keras total equals T.

    Args:
        variant: "paper", "torchvision" or "cifar", a row of `ALEXNET_VARIANTS`; None: "paper",
            or the variant that has `weights`.
        groups: 1 or 2, the towers of conv2, conv4 and conv5 (Keras `Conv2D(groups=...)`).
            None: the variant's (2 for "paper", 1 otherwise).
        dropout: the rate of the two classifier dropouts; None: 0.5 ("paper", "torchvision").
            The "cifar" variant has no dropout, and refuses a rate other than 0.
        num_classes: classes of the classifier (default 1000).
        input_shape: (height, width, channels); default the variant's. Without the top at least
            67x67 ("paper"), 63x63 ("torchvision") or 29x29 ("cifar"); with the top the Flatten
            needs 227x227 to 258x258 ("paper") or 29x29 to 60x60 ("cifar"); torchvision's adaptive
            pool takes any size from 63x63.
        include_top: build the classifier (`flatten`, `fc6`, `fc7` with dropout, `predictions`).
        pooling: without the top, None (4-D features after `pool5`), "avg" or "max".
        classifier_activation: activation of `predictions` (None for logits), computed in float32
            under mixed precision.
        input_tensor: optional Keras tensor to build the model on.
        weights: None, a path to a `.weights.h5` file, or a published set's name ("imagenet",
            "torchvision"); other `num_classes` load all but the classifier.
        name: the model's name (default "alexnet").
        initializer: "keras" (the layers' own initialisers), "source" (the variant's declared
            scheme) or a scheme of `kcnn.models.initializers`.
        include_preprocessing: put the weight set's preprocessing in the model as its first
            layers, so that it takes RGB images with values 0-255 (default False).
        classes: keras.applications' name for `num_classes`, refused with a pointer to it.
    """
    return build_model("alexnet", locals(), _alexnet)
