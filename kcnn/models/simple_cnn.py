"""The tutorial Sequential CNN: two small conv-pool stages and a dense head.

The network of countless "first CNN" tutorials, kept as the smallest model of the zoo and the
first `model.summary()` exercise: on 128x128x3 input with 3 classes it has 1,848,547 parameters,
almost all of them (1,843,264) in the first dense layer.
"""

import keras

from kcnn.models._build import build_model
from kcnn.models._common import chain
from kcnn.models._registry import VariantSpec, register

SIMPLE_CNN_VARIANT = VariantSpec(  # the declaration; stages: (layer, stride, channels)
    default_input=(128, 128, 3),
    min_input=10,
    source="the tutorial CNN",
    stages=(("conv1", 1, 16), ("conv2", 2, 32), ("pool2", 4, 32)),
    params=1_848_547,
    macs=25_848_192,
)


def _simple_cnn(network, declared, common):
    image, x = common.input(network, declared, head_sizes=(128, 128))
    x = chain(
        x,
        [
            keras.layers.Conv2D(16, 3, activation="relu", name="conv1"),
            keras.layers.MaxPooling2D(2, name="pool1"),
            keras.layers.Conv2D(32, 3, activation="relu", name="conv2"),
            keras.layers.MaxPooling2D(2, name="pool2"),
        ],
    )
    top = [
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(64, activation="relu", name="fc1"),
    ]
    return common.output(image, x, network, top=top)


@register(family="simple_cnn", source="the tutorial Sequential CNN", variants=SIMPLE_CNN_VARIANT)
def simple_cnn(
    *, num_classes=3, input_shape=None, include_top=True, pooling=None,
    classifier_activation="softmax", input_tensor=None, weights=None, name=None,
    initializer="keras", include_preprocessing=False, classes=None,
):
    """The tutorial CNN: Conv16-pool-Conv32-pool-Flatten-Dense64-Dense(num_classes).

    128x128x3 input, 3 classes, all parameters trainable (`kcnn list` gives the count). Both
    convolutions are 3x3 'valid' (the common near-miss, 'same' padding, gives 2,102,499). The
    Flatten head takes 28,800 features, so with the top the input must be exactly 128x128; the
    conv stack alone works from 10x10.

    Args:
        num_classes: classes of the classifier (default 3).
        input_shape: (height, width, channels); default (128, 128, 3).
        include_top: build the head (`flatten`, `fc1`, `predictions`); it needs 128x128 input.
        pooling: without the top, None (4-D features after `pool2`), "avg" or "max".
        classifier_activation: activation of `predictions` (None for logits), computed in float32
            under mixed precision.
        input_tensor: optional Keras tensor to build the model on.
        weights: None, or a path to a `.weights.h5` file to load.
        name: the model's name (default "simple_cnn").
        initializer: "keras" (the layers' own initialisers), "source" (the same here) or a
            scheme of `kcnn.models.initializers`.
        include_preprocessing: there are no published weights, so only False.
        classes: keras.applications' name for `num_classes`, refused with a pointer to it.
    """
    return build_model("simple_cnn", locals(), _simple_cnn)
