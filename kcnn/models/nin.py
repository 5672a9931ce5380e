"""Network in Network (Lin, Chen, Yan, arXiv:1312.4400, ICLR 2014), the d2l book's ImageNet-style
version.

Four NiN blocks (a convolution, then two 1x1 convolutions, the paper's "cccp" layers, all with
ReLU), 3x3/2 max-pools between them, dropout before the last block, and no dense layer: the last
block has one map per class and global average pooling turns the maps into the class scores.
Names: `nin{b}_conv`, `nin{b}_cccp1`, `nin{b}_cccp2`, `pool{b}`, `dropout`, `avg_pool`,
`predictions`.
"""

import keras

from kcnn.models._build import build_model
from kcnn.models._common import chain, check_dropout
from kcnn.models._registry import VariantSpec, register

NIN_VARIANT = VariantSpec(  # the declaration; stages: (layer, stride, channels)
    default_input=(224, 224, 3),
    min_input=67,
    source="d2l nin",
    stages=(("nin1_cccp2", 4, 96), ("nin2_cccp2", 8, 256), ("nin3_cccp2", 16, 384), ("pool3", 32, 384)),
    params=7_439_608,
    macs=965_572_864,
)

# (filters, kernel, stride, padding) of each block's first convolution; None = num_classes.
# d2l's paddings 0, 2, 1, 1 are 'valid' and, for the stride-1 5x5 and 3x3 kernels, 'same'.
NIN_BLOCKS = (
    (96, 11, 4, "valid"),
    (256, 5, 1, "same"),
    (384, 3, 1, "same"),
    (None, 3, 1, "same"),
)


def nin_block(index, filters, kernel, stride, padding):
    """NiN block `index`: a kernel x kernel convolution and two 1x1 convolutions, ReLU each."""
    return [
        keras.layers.Conv2D(
            filters,
            kernel,
            strides=stride,
            padding=padding,
            activation="relu",
            name=f"nin{index}_conv",
        ),
        keras.layers.Conv2D(filters, 1, activation="relu", name=f"nin{index}_cccp1"),
        keras.layers.Conv2D(filters, 1, activation="relu", name=f"nin{index}_cccp2"),
    ]


def _nin(network, declared, common, *, dropout):
    dropout = check_dropout(network, dropout)
    image, x = common.input(network, declared)
    features = []
    for index, (filters, kernel, stride, padding) in enumerate(NIN_BLOCKS[:-1], start=1):
        features += nin_block(index, filters, kernel, stride, padding)
        features.append(keras.layers.MaxPooling2D(3, strides=2, name=f"pool{index}"))
    x = chain(x, features)
    if not common.include_top:
        return common.output(image, x, network)
    _, kernel, stride, padding = NIN_BLOCKS[-1]
    top = [
        keras.layers.Dropout(dropout, name="dropout"),
        *nin_block(len(NIN_BLOCKS), common.num_classes, kernel, stride, padding),
        keras.layers.GlobalAveragePooling2D(name="avg_pool"),
        keras.layers.Activation(common.classifier_activation, dtype="float32", name="predictions"),
    ]
    return common.finish(image, chain(x, top), network)


@register(family="nin", source="Lin et al. 2013, arXiv:1312.4400; d2l nin", variants=NIN_VARIANT)
def nin(
    *, dropout=0.5, num_classes=1000, input_shape=None, include_top=True, pooling=None,
    classifier_activation="softmax", input_tensor=None, weights=None, name=None,
    initializer="keras", include_preprocessing=False, classes=None,
):
    """Network in Network, Lin et al. 2013, as built in the d2l book.

    `nin(num_classes=10, input_shape=(224, 224, 1))` (d2l's Fashion-MNIST set-up): T 1,992,166.
    The default is the ImageNet-style 224x224x3 with 1000 classes, like the other ImageNet
    networks (`kcnn list` gives its count). No batch norm, so the Keras total equals T.

    The classifier is the last NiN block (num_classes maps, ending in ReLU as in d2l, so the
    class scores are non-negative), `avg_pool` (global average pooling) and `predictions`, a
    float32 Activation layer that applies `classifier_activation` (no weights).

    Args:
        dropout: the rate of the dropout before the last block (0.5).
        num_classes: classes of the classifier (default 1000).
        input_shape: (height, width, channels), at least 67x67; default (224, 224, 3).
        include_top: build the classifier (`dropout`, block 4, `avg_pool`, `predictions`).
        pooling: without the top, None (4-D features after `pool3`), "avg" or "max".
        classifier_activation: activation of `predictions` (None for the averaged scores),
            computed in float32 under mixed precision.
        input_tensor: optional Keras tensor to build the model on.
        weights: None, or a path to a `.weights.h5` file to load.
        name: the model's name (default "nin").
        initializer: "keras" (the layers' own initialisers), "source" (the same here) or a
            scheme of `kcnn.models.initializers`.
        include_preprocessing: there are no published weights, so only False.
        classes: keras.applications' name for `num_classes`, refused with a pointer to it.
    """
    return build_model("nin", locals(), _nin)
