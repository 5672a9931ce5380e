"""Inception v3 (Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", CVPR
2016, arXiv:1512.00567), as keras.applications and torchvision build it (identical widths).

`INCEPTION_V3_MODULES` replaces keras.applications' 356-line body: one row per module, named as
keras.applications names them (`mixed0` ... `mixed10`, the names DeepDream uses). The stem's layers
take TF-slim's / torchvision's grid labels, lower-cased: `conv_1a_3x3`, `conv_2a_3x3`, `conv_2b_3x3`,
`pool_3a`, `conv_3b_1x1`, `conv_4a_3x3`, `pool_5a` (keras.applications leaves them auto-named), each
convolution followed by `<name>_bn` and `<name>_relu`.

Every layer with weights is created in keras.applications' order, so the `variant="keras"` model
takes `keras.applications.InceptionV3` weights copied by order (that model's layer names change
from one build to the next, so names cannot be matched).
"""

import dataclasses

import keras

from kcnn.layers.batch_norm import BatchNormalization
from kcnn.layers.inception import (
    AuxiliaryClassifier,
    InceptionA,
    InceptionB,
    InceptionC,
    InceptionReductionA,
    InceptionReductionB,
)
from kcnn.models import initializers
from kcnn.models._aux import DEFAULT_AUX_LOSS_WEIGHT, check_aux_loss_weight, finish_pooled_with_aux
from kcnn.models._build import build_model
from kcnn.models._common import chain, check_dropout
from kcnn.models._registry import VariantSpec, register
from kcnn.weights.sets import keras_weights, torchvision_weights

# (name, block class, block arguments); torchvision's Mixed_5b..Mixed_7c in the same order.
INCEPTION_V3_MODULES = (
    ("mixed0", InceptionA, {"pool_features": 32}),  # 35x35x256
    ("mixed1", InceptionA, {"pool_features": 64}),  # 35x35x288
    ("mixed2", InceptionA, {"pool_features": 64}),  # 35x35x288
    ("mixed3", InceptionReductionA, {}),  # 17x17x768
    ("mixed4", InceptionB, {"channels_7x7": 128}),  # 17x17x768
    ("mixed5", InceptionB, {"channels_7x7": 160}),
    ("mixed6", InceptionB, {"channels_7x7": 160}),
    ("mixed7", InceptionB, {"channels_7x7": 192}),  # the aux head taps here (torchvision Mixed_6e)
    ("mixed8", InceptionReductionB, {}),  # 8x8x1280
    ("mixed9", InceptionC, {}),  # 8x8x2048
    ("mixed10", InceptionC, {}),  # 8x8x2048
)
AUX_TAP = "mixed7"
AUX_MIN_INPUT = 299  # the aux head's avg-pool 5x5/3 then 5x5 "valid" conv need a 17x17 grid


@dataclasses.dataclass(frozen=True, kw_only=True)
class InceptionV3Variant:
    """What tells keras.applications' and torchvision's Inception v3 apart."""

    bn_scale: bool  # BatchNormalization with gamma
    bn_epsilon: float
    bn_momentum: float  # Keras convention (PyTorch's momentum 0.1 is Keras' 0.9)
    count_include_pad: bool  # average pools divide by the full window, zero padding included
    dropout: float  # before `predictions`


INCEPTION_V3_VARIANTS = {
    # keras.applications.InceptionV3: BN without gamma (scale=False), eps 1e-3, momentum 0.99,
    # average pools that ignore the padding, no dropout.
    "keras": InceptionV3Variant(
        bn_scale=False, bn_epsilon=1e-3, bn_momentum=0.99, count_include_pad=False, dropout=0.0
    ),
    # torchvision inception_v3: BN with gamma, eps 1e-3, torch momentum 0.1 (= Keras 0.9), average
    # pools that count the zero padding (count_include_pad), dropout 0.5 before the classifier.
    "torchvision": InceptionV3Variant(
        bn_scale=True, bn_epsilon=1e-3, bn_momentum=0.9, count_include_pad=True, dropout=0.5
    ),
}

# torchvision's Mixed_5b ... Mixed_7c are keras.applications' (and kcnn's) mixed0 ... mixed10.
TORCHVISION_MIXED = {
    name: f"mixed{i}"
    for i, name in enumerate(
        ["5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"]
    )
}

TORCHVISION_RULES = (
    # Stem units Conv2d_1a_3x3 ... are kcnn's conv_1a_3x3 ... (lower case).
    (r"Conv2d_(\w+)\.conv", lambda m: f"conv_{m[1]}", "conv"),
    (r"Conv2d_(\w+)\.bn", lambda m: f"conv_{m[1]}_bn", "bn"),
    (
        r"Mixed_(\d[a-e])\.(branch\w+)\.conv",
        lambda m: f"{TORCHVISION_MIXED[m[1]]}/{m[2]}",
        "conv",
    ),
    (
        r"Mixed_(\d[a-e])\.(branch\w+)\.bn",
        lambda m: f"{TORCHVISION_MIXED[m[1]]}/{m[2]}_bn",
        "bn",
    ),
    (r"AuxLogits\.(conv[01])\.conv", lambda m: f"aux/{m[1]}", "conv"),
    (r"AuxLogits\.(conv[01])\.bn", lambda m: f"aux/{m[1]}_bn", "bn"),
    (r"AuxLogits\.fc", lambda m: "aux/predictions", "dense"),
    (r"fc", lambda m: "predictions", "dense"),
)


# Feature stages (layer, stride, channels): the stem's two grids, then mixed2, mixed7, mixed10.
STAGES = (
    ("conv_2b_3x3_relu", 2, 64),
    ("conv_4a_3x3_relu", 4, 192),
    ("mixed2", 8, 288),
    ("mixed7", 16, 768),
    ("mixed10", 32, 2048),
)
def _truncated(rng, path, shape):
    """torchvision's inception.py: N(0, 0.1) truncated to [-2, 2], except AuxLogits' conv1 (0.01)
    and fc (0.001)."""
    std = {"aux/conv1": 0.01, "aux/predictions": 0.001}.get(path, 0.1)
    return initializers.normal(rng, shape, std, bound=2.0)


TORCHVISION_INIT = initializers.Scheme(
    name="torchvision-inception_v3", conv=_truncated, dense=_truncated
)
# Declarations: 299x299x3, at least 75x75 (keras.applications' enforced minimum, also the
# architectural one); the aux head needs 299 (`AUX_MIN_INPUT`, checked by the builder).
INCEPTION_V3_DECLARATIONS = {
    "keras": VariantSpec(
        default_input=(299, 299, 3),
        min_input=75,
        source="keras.applications InceptionV3",
        stages=STAGES,
        params=23_817_352,
        macs=5_713_216_096,
        weights=(
            keras_weights(
                "inception_v3",
                "inception_v3_weights_tf_dim_ordering_tf_kernels",
                ("9a0d58056eeedaa3f26cb7ebd46da564", "bcbd6486424b2319ff4ef7d526e38f63"),
                77.9,
                93.7,
                mode="tf",
                terms="keras.applications InceptionV3: Apache License 2.0 (tensorflow/models)",
                crop=299,
            ),
        ),
    ),
    "torchvision": VariantSpec(
        default_input=(299, 299, 3),
        min_input=75,
        source="torchvision inception_v3 (ported from TensorFlow)",
        stages=STAGES,
        params=23_834_568,
        weights=(
            torchvision_weights(
                "inception_v3_google-0cc3c7bd.pth", 77.294, 93.450, crop=299, resize=342, mode="tf"
            ),
        ),
        initializer=TORCHVISION_INIT,
        torchvision_rules=TORCHVISION_RULES,
    ),
}


def stem(v):
    """The stem, 299x299x3 -> 35x35x192: five conv-BN-ReLU units and two 3x3/2 max-pools."""

    def unit(name, filters, kernel, strides=1, padding="valid"):
        return [
            keras.layers.Conv2D(filters, kernel, strides, padding, use_bias=False, name=name),
            BatchNormalization(
                scale=v.bn_scale, epsilon=v.bn_epsilon, momentum=v.bn_momentum, name=f"{name}_bn"
            ),
            keras.layers.Activation("relu", name=f"{name}_relu"),
        ]

    return [
        *unit("conv_1a_3x3", 32, 3, strides=2),
        *unit("conv_2a_3x3", 32, 3),
        *unit("conv_2b_3x3", 64, 3, padding="same"),
        keras.layers.MaxPooling2D(3, strides=2, name="pool_3a"),
        *unit("conv_3b_1x1", 80, 1),
        *unit("conv_4a_3x3", 192, 3),
        keras.layers.MaxPooling2D(3, strides=2, name="pool_5a"),
    ]


def modules(v, rows=INCEPTION_V3_MODULES):
    """One Inception v3 block per row, with the variant's BN and pooling options."""
    layers = []
    for name, block, args in rows:
        options = dict(
            args, bn_scale=v.bn_scale, bn_epsilon=v.bn_epsilon, bn_momentum=v.bn_momentum
        )
        if block in (InceptionA, InceptionB, InceptionC):
            options["count_include_pad"] = v.count_include_pad
        layers.append(block(name=name, **options))
    return layers


def _inception_v3(
    network, declared, common, *, variant, aux_logits, dropout, aux_loss_weight
):
    v = INCEPTION_V3_VARIANTS[variant]
    if aux_logits and not common.include_top:
        raise ValueError(
            f"`{network}`: aux_logits=True needs include_top=True (the side head is a classifier)"
        )
    aux_loss_weight = check_aux_loss_weight(network, aux_loss_weight)
    rate = check_dropout(network, v.dropout if dropout is None else dropout)
    image, x = common.input(network, declared, min_size=AUX_MIN_INPUT if aux_logits else None)
    x = chain(x, stem(v))
    aux = []
    for layer in modules(v):
        x = layer(x)
        if aux_logits and layer.name == AUX_TAP:
            head = AuxiliaryClassifier(
                common.num_classes,
                variant="inception_v3",
                classifier_activation=common.classifier_activation,
                bn_scale=v.bn_scale,
                bn_epsilon=v.bn_epsilon,
                bn_momentum=v.bn_momentum,
                name="aux",
            )
            aux.append(head(x))
    return finish_pooled_with_aux(image, x, aux, network=network, common=common, rate=rate,
                                  aux_loss_weight=aux_loss_weight)


@register(
    family="inception",
    source="Szegedy et al. 2015, arXiv:1512.00567; keras.applications and torchvision inception_v3",
    variants=INCEPTION_V3_DECLARATIONS,
)
def inception_v3(
    *, variant=None, aux_logits=False, dropout=None, aux_loss_weight=DEFAULT_AUX_LOSS_WEIGHT,
    num_classes=1000, input_shape=None, include_top=True, pooling=None,
    classifier_activation="softmax", input_tensor=None, weights=None, name=None,
    initializer="keras", include_preprocessing=False, classes=None,
):
    """Inception v3, Szegedy et al. 2015: keras.applications' or torchvision's form.

    1000 classes at 299x299 (`kcnn list` gives the trainable counts): `variant="keras"` Keras
    total 23,851,784 (equal to keras.applications.InceptionV3, whose weights it takes by order);
    `variant="torchvision"` total 23,869,000, and with `aux_logits=True` T 27,161,264 / total 27,197,488
    (torchvision's `num_params`). The smallest input is 75x75 (keras.applications' enforced minimum,
    also the architectural one); with the aux head, 299x299.

    Args:
        variant: "keras" (BN without gamma, momentum 0.99, no dropout) or "torchvision" (BN with
            gamma, momentum 0.9, padding-counting average pools, dropout 0.5): a row of
            `INCEPTION_V3_VARIANTS`; None: "keras", or the variant that has `weights`.
        aux_logits: add torchvision's side head `aux` after mixed7 (17x17x768). The model is then
            an `AuxiliaryOutputsModel`: [main, aux] in training, trained on main_loss +
            aux_loss_weight * aux_loss with the one compiled loss; the main output only at
            inference. The head's 5x5 "valid" convolution needs a 17x17 grid, so the input must be
            at least 299x299. Needs include_top=True.
        dropout: dropout before `predictions`; None means the variant's (keras none, torchvision
            0.5). 0 adds no layer.
        aux_loss_weight: weight of the side head's loss (0.3, as GoogLeNet; torchvision's
            reference recipe uses 0.4).
        num_classes: classes of the classifier (default 1000).
        input_shape: (height, width, channels); default 299x299x3; at least 75x75.
        include_top: build the classifier (`avg_pool`, `dropout`, `predictions`).
        pooling: without the top, None (4-D features of mixed10), "avg" or "max".
        classifier_activation: activation of `predictions` and of the side head (None for
            logits); computed in float32 under mixed precision.
        input_tensor: optional Keras tensor to build the model on.
        weights: None, a path to a `.weights.h5` file, or a published set's name ("imagenet",
            "torchvision", "keras"); other `num_classes` load all but the classifier.
        name: the model's name (default "inception_v3").
        initializer: "keras" (the layers' own initialisers), "source" (the variant's declared
            scheme) or a scheme of `kcnn.models.initializers`.
        include_preprocessing: put the weight set's preprocessing in the model as its first
            layers, so that it takes RGB images with values 0-255 (default False).
        classes: keras.applications' name for `num_classes`, refused with a pointer to it.
    """
    return build_model("inception_v3", locals(), _inception_v3)
