"""LeNet-5 (LeCun, Bottou, Bengio, Haffner, "Gradient-Based Learning Applied to Document
Recognition", Proc. IEEE 1998, section II-B).

Three variants, one row each of `LENET_VARIANTS`:

* "modern" (default): the usual Keras/PyTorch tutorial form: ReLU, 2x2 max-pools, a full C3, a
  120-84-classes dense head with softmax. 32x32x1, 10 classes: T 61,706 (62,006 on 32x32x3).
* "original": the 1998 network: scaled tanh, trainable subsampling (`kcnn.layers.Subsampling`),
  C3 with the paper's connection table (`kcnn.layers.PartialConv2D`), C5 as a 5x5 convolution,
  F6, and fixed Euclidean RBF output units (`kcnn.layers.EuclideanRBF`). T 60,000 exactly (the
  paper's figure) plus 840 fixed RBF centres (non-trainable).
* "d2l": the d2l book's LeNet: sigmoid, 2x2 average pools, C1 padded to keep 28x28. 28x28x1:
  T 61,706.

Layers carry the paper's labels: `c1`, `s2`, `c3`, `s4`, `c5`, `f6`, then `predictions` (or, in
the original, `output`, the RBF distances; see `lenet5`).
"""

import dataclasses

import keras

from kcnn.layers import EuclideanRBF, PartialConv2D, Subsampling, scaled_tanh
from kcnn.models._build import build_model
from kcnn.models._common import chain
from kcnn.models._registry import VariantSpec, register


@dataclasses.dataclass(frozen=True, kw_only=True)
class LeNetVariant:
    """What tells the LeNet-5 forms apart (a row of `LENET_VARIANTS`)."""

    activation: object  # of every layer but the classifier: a Keras activation name or callable
    pooling: str  # "max", "avg", or "subsampling" (trainable, with the original's partial C3)
    c1_padding: str  # "valid", or "same" for 28x28 inputs (d2l)


LENET_VARIANTS = {
    "modern": LeNetVariant(activation="relu", pooling="max", c1_padding="valid"),
    "original": LeNetVariant(activation=scaled_tanh, pooling="subsampling", c1_padding="valid"),
    "d2l": LeNetVariant(activation="sigmoid", pooling="avg", c1_padding="same"),
}
# Declarations. Smallest inputs: the feature extractor ends at s4 (16: 12 -> 6 -> 2 -> 1; 12 for
# d2l's padded C1). With the top, the 400-feature Flatten (or the original's 5x5 C5) needs exactly
# the default size. Feature stages (layer, stride, channels), the same in every variant.
STAGES = (("c1", 1, 6), ("c3", 2, 16), ("s4", 4, 16))
LENET_DECLARATIONS = {
    "modern": VariantSpec(
        default_input=(32, 32, 1),
        min_input=16,
        source="LeNet-5 with ReLU and max-pooling",
        stages=STAGES,
        params=61_706,
        macs=416_520,
    ),
    "original": VariantSpec(
        default_input=(32, 32, 1),
        min_input=16,
        source="LeCun et al. 1998, section II-B",
        stages=STAGES,
        params=60_000,
    ),
    "d2l": VariantSpec(
        default_input=(28, 28, 1), min_input=12, source="d2l lenet", stages=STAGES, params=61_706
    ),
}


def _pool(kind, activation, name):
    if kind == "subsampling":
        return Subsampling(2, activation=activation, name=name)
    if kind == "max":
        return keras.layers.MaxPooling2D(2, name=name)
    return keras.layers.AveragePooling2D(2, name=name)


def lenet_features(variant):
    """C1, S2, C3, S4 of a `LeNetVariant` row: the layers up to the 5x5x16 feature maps."""
    act = variant.activation
    c3 = (
        PartialConv2D(activation=act, name="c3")
        if variant.pooling == "subsampling"
        else keras.layers.Conv2D(16, 5, activation=act, name="c3")
    )
    return [
        keras.layers.Conv2D(6, 5, padding=variant.c1_padding, activation=act, name="c1"),
        _pool(variant.pooling, act, "s2"),
        c3,
        _pool(variant.pooling, act, "s4"),
    ]


def original_head(num_classes, classifier_activation):
    """The 1998 head: C5 (a 5x5 convolution, 120 maps), F6 (84), the RBF `output`, and its scores.

    `output` gives the paper's penalties, the squared distances to the class centres (smaller is
    better). `logits` negates them and `predictions` applies `classifier_activation`, so argmax
    picks the nearest centre and a cross-entropy trainer can train the model (the paper trained
    with its own MAP criterion). All three run in float32.
    """
    centres = "digits" if num_classes <= 10 else "random"
    return [
        keras.layers.Conv2D(120, 5, activation=scaled_tanh, name="c5"),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(84, activation=scaled_tanh, name="f6"),
        EuclideanRBF(num_classes, centres=centres, dtype="float32", name="output"),
        keras.layers.Rescaling(-1.0, dtype="float32", name="logits"),
        keras.layers.Activation(classifier_activation, dtype="float32", name="predictions"),
    ]


def _lenet5(network, declared, common, *, variant):
    row = LENET_VARIANTS[variant]
    side = declared.default_input[0]
    image, x = common.input(network, declared, head_sizes=(side, side))
    x = chain(x, lenet_features(row))
    if common.include_top and variant == "original":
        outputs = chain(x, original_head(common.num_classes, common.classifier_activation))
        return common.finish(image, outputs, network)
    top = [
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(120, activation=row.activation, name="c5"),
        keras.layers.Dense(84, activation=row.activation, name="f6"),
    ]
    return common.output(image, x, network, top=top)


@register(
    family="lenet",
    source="LeCun et al. 1998, Proc. IEEE 86(11), section II-B",
    variants=LENET_DECLARATIONS,
)
def lenet5(
    *, variant="modern", num_classes=10, input_shape=None, include_top=True, pooling=None,
    classifier_activation="softmax", input_tensor=None, weights=None, name=None,
    initializer="keras", include_preprocessing=False, classes=None,
):
    """LeNet-5, LeCun et al. 1998, in its paper form or the tutorial forms.

    32x32x1, 10 classes ("d2l": 28x28x1); "modern" has 62,006 trainable parameters with 3
    channels; "original" has 840 fixed RBF centres besides its trainable ones.

    The original's output layer is the RBF: y_i = sum_j (x_j - w_ij)^2, the squared distance of
    F6's 84 outputs to class i's fixed +-1 centre (the 7x12 digit bitmaps of
    `kcnn.layers.lenet.DIGIT_BITMAPS` for up to 10 classes, a fixed-seed +-1 pattern for more).
    The model returns `classifier_activation(-y)` from a float32 layer named `predictions`: softmax
    over the negated distances by default, the negated distances themselves with
    `classifier_activation=None`. The distances are the output of the layer named `output`.

    Args:
        variant: "modern", "original" or "d2l", a row of `LENET_VARIANTS`.
        num_classes: classes of the classifier (default 10).
        input_shape: (height, width, channels); default (32, 32, 1), (28, 28, 1) for "d2l". With
            the top the size must be exactly the default; without it at least 16x16 (12 for "d2l").
        include_top: build C5, F6 and the output (for "modern"/"d2l": `flatten`, `c5` and `f6`
            as dense layers, then `predictions`).
        pooling: without the top, None (the 5x5x16 maps of `s4`), "avg" or "max".
        classifier_activation: activation of `predictions` (None for logits), computed in float32
            under mixed precision.
        input_tensor: optional Keras tensor to build the model on.
        weights: None, or a path to a `.weights.h5` file to load.
        name: the model's name (default "lenet5").
        initializer: "keras" (the layers' own initialisers), "source" (the same here) or a
            scheme of `kcnn.models.initializers`.
        include_preprocessing: there are no published weights, so only False.
        classes: keras.applications' name for `num_classes`, refused with a pointer to it.
    """
    return build_model("lenet5", locals(), _lenet5)
