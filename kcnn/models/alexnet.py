"""AlexNet (Krizhevsky, Sutskever, Hinton, "ImageNet Classification with Deep Convolutional
Neural Networks", NIPS 2012; spec section 2), in three variants, one row each of `ALEXNET_VARIANTS`:

* "paper" (default): 227x227x3 (the paper says 224, but 11x11/4 'valid' needs 227 for 55x55),
  conv -> ReLU -> LRN -> max-pool in layers 1 and 2 (`kcnn.layers.LocalResponseNormalization`
  with the paper's k=2, n=5, alpha=1e-4, beta=0.75), the two GPU towers as `groups=2` in conv2,
  conv4 and conv5, dropout 0.5 after fc6 and fc7. T 60,965,224 (62,378,344 with `groups=1`).
  This is BVLC Caffe's AlexNet structure, and its layer names.
* "torchvision": torchvision's single-tower `alexnet` ("one weird trick", arXiv:1404.5997):
  64-192-384-256-256 filters, conv1 padded by 2, no LRN, a 6x6 adaptive average pool before the
  classifier (so any input from 63x63 works), dropout *before* fc6 and fc7 (pytorch/vision#549).
  224x224x3: T 61,100,840.
* "cifar": the project's CIFAR AlexNet (spec section 16): torchvision's widths, conv1 padded by 5,
  2x2/2 max-pools, one linear layer from the 256 features. 32x32x3, 10 classes: T 2,472,266.
"""

import dataclasses

import keras

from kcnn.layers import LocalResponseNormalization
from kcnn.models._common import (
    chain,
    check_common_args,
    check_dropout,
    check_variant,
    classifier_head,
    finish_model,
    image_input,
)
from kcnn.models._registry import VariantSpec, register
from kcnn.models.features import with_stages
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

# Declarations (kcnn.models.spec("alexnet").variant(...)); min_input: the smallest input whose
# pool5 is at least 1x1.
ALEXNET_DECLARATIONS = {
    "paper": VariantSpec(
        default_input=(227, 227, 3),
        min_input=67,
        source="Krizhevsky et al. 2012, NIPS",
        initializer="alexnet-paper",
    ),
    "torchvision": VariantSpec(
        default_input=(224, 224, 3),
        min_input=63,
        source="torchvision alexnet (One weird trick, arXiv:1404.5997)",
        weights=(torchvision_weights("alexnet-owt-7be5be79.pth", 56.522, 79.066),),
        initializer="torch-default",
    ),
    "cifar": VariantSpec(
        default_input=(32, 32, 3), min_input=29, source="the project's source notes (spec 16)"
    ),
}
# Feature stages (layer, stride, channels): the paper's LRN outputs, then conv5 and pool5.
_TORCHVISION_STAGES = [("conv1", 4, 64), ("conv2", 8, 192), ("conv5", 16, 256), ("pool5", 32, 256)]
ALEXNET_DECLARATIONS = {
    "paper": with_stages(
        ALEXNET_DECLARATIONS["paper"],
        [("norm1", 4, 96), ("norm2", 8, 256), ("conv5", 16, 256), ("pool5", 32, 256)],
    ),
    "torchvision": with_stages(ALEXNET_DECLARATIONS["torchvision"], _TORCHVISION_STAGES),
    "cifar": with_stages(ALEXNET_DECLARATIONS["cifar"], _TORCHVISION_STAGES),
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


@register(
    family="alexnet",
    source="Krizhevsky et al. 2012, NIPS; torchvision alexnet",
    variants=ALEXNET_DECLARATIONS,
)
def alexnet(
    *,
    variant="paper",
    groups=None,
    dropout=None,
    num_classes=1000,
    input_shape=None,
    include_top=True,
    pooling=None,
    classifier_activation="softmax",
    input_tensor=None,
    weights=None,
    name=None,
):
    """AlexNet, Krizhevsky et al. 2012: the paper's two-tower net, torchvision's, or a CIFAR one.

    1000 classes: "paper" (227x227x3) T 60,965,224, with `groups=1` 62,378,344; "torchvision"
    (224x224x3) T 61,100,840. "cifar" (32x32x3, 10 classes) T 2,472,266. No batch norm, so the
    Keras total equals T.

    Args:
        variant: "paper", "torchvision" or "cifar", a row of `ALEXNET_VARIANTS`.
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
        weights: None, or a path to a `.weights.h5` file to load.
        name: the model's name (default "alexnet").
    """
    network = "alexnet"
    row = ALEXNET_VARIANTS[check_variant(network, variant, tuple(ALEXNET_VARIANTS))]
    declared = ALEXNET_DECLARATIONS[variant]
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
    check_common_args(
        network, num_classes=num_classes, include_top=include_top, pooling=pooling, weights=weights
    )
    image, x = image_input(
        network,
        input_shape=input_shape,
        input_tensor=input_tensor,
        default_shape=declared.default_input,
        min_size=declared.min_input,
        head_sizes=row.head_sizes if include_top else None,
    )
    x = chain(x, alexnet_features(row, groups))
    outputs = classifier_head(
        x,
        include_top=include_top,
        pooling=pooling,
        num_classes=num_classes,
        classifier_activation=classifier_activation,
        top=alexnet_top(row, dropout),
    )
    return finish_model(image, outputs, name=name or network, weights=weights)
