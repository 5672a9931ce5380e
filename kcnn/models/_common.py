"""What every builder shares: `chain`, input checks, the classifier head, argument validation.

A builder reads like Sequential code: it makes its input with `image_input`, passes it through
lists of named layers with `chain`, and ends with `classifier_head` and `finish_model`.
"""

import dataclasses
import os

import keras

from kcnn.layers._base import check_range

POOLINGS = (None, "avg", "max")


def chain(x, layers):
    """Apply `layers` to `x` in order and return the result (the Sequential idea, in Functional form)."""
    for layer in layers:
        x = layer(x)
    return x


def check_variant(network, variant, allowed):
    """Raise a ValueError naming `network` unless `variant` is one of `allowed`."""
    if variant not in allowed:
        raise ValueError(
            f"`{network}`: unknown variant {variant!r}; allowed: {', '.join(map(repr, allowed))}"
        )
    return variant


def check_dropout(network, rate):
    """Return the dropout `rate` as a float if it is a number in [0, 1), else raise a ValueError."""
    return check_range(network, "dropout", rate, 0, 1, high_open=True)


def check_common_args(network, *, num_classes, include_top, pooling, weights):
    """Validate the arguments every builder shares; errors name the network and what is allowed.

    Args:
        network: the builder's name, used in messages.
        num_classes: number of classes, a positive integer when `include_top`.
        include_top: whether the classifier is built.
        pooling: None, "avg" or "max"; only meaningful with `include_top=False`.
        weights: None or a path to a `.weights.h5` file (the registry's builders serve the
            pretrained names such as "imagenet" before they get here).
    """
    if include_top and (
        isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1
    ):
        raise ValueError(f"`{network}`: `num_classes` must be a positive integer; received {num_classes!r}")
    if pooling not in POOLINGS:
        raise ValueError(
            f"`{network}`: `pooling` must be None, 'avg' or 'max'; received {pooling!r}"
        )
    if include_top and pooling is not None:
        raise ValueError(
            f"`{network}`: `pooling={pooling!r}` only applies with `include_top=False` "
            "(with the top, the network's own head does the pooling)"
        )
    if weights is not None and not (
        isinstance(weights, (str, os.PathLike)) and str(weights).endswith(".weights.h5")
    ):
        raise ValueError(
            f"`{network}`: `weights` must be None, a pretrained set's name (see the builder's "
            f"declarations) or a path to a `.weights.h5` file; received {weights!r}"
        )


def image_input(network, *, input_shape, input_tensor, default_shape, min_size, head_sizes=None):
    """Make (or adopt) the model's input and check its shape.

    Args:
        network: the builder's name, used in messages.
        input_shape: (height, width, channels), or None for `default_shape` (or the shape of
            `input_tensor`). Height and width may be None for a fully convolutional model.
        input_tensor: an optional Keras tensor (or array) to build the model on.
        default_shape: the paper's input shape.
        min_size: the smallest height and width the network accepts.
        head_sizes: optional inclusive (low, high) range of height and width that a fixed-size head
            (a Flatten into a Dense layer) accepts; pass it only when the head is built.

    Returns:
        (image, x): the model input and the tensor to build on (the same object unless
        `input_tensor` is not already a Keras tensor).
    """
    if input_shape is None:
        if input_tensor is not None and keras.backend.is_keras_tensor(input_tensor):
            input_shape = tuple(input_tensor.shape[1:])
        else:
            input_shape = tuple(default_shape)
    shape = tuple(input_shape)
    if len(shape) != 3 or not all(d is None or (isinstance(d, int) and d > 0) for d in shape):
        raise ValueError(
            f"`{network}`: `input_shape` must be a tuple of three positive integers "
            f"(height, width, channels); received input_shape={input_shape!r}"
        )
    if shape[2] is None:
        raise ValueError(f"`{network}`: the number of channels must be known; received input_shape={shape}")
    spatial = [d for d in shape[:2] if d is not None]
    if any(d < min_size for d in spatial):
        raise ValueError(
            f"`{network}`: input size must be at least {min_size}x{min_size}; received input_shape={shape}"
        )
    if head_sizes is not None:
        low, high = head_sizes
        if len(spatial) < 2 or any(not low <= d <= high for d in spatial):
            allowed = f"exactly {low}x{low}" if low == high else f"from {low}x{low} to {high}x{high}"
            raise ValueError(
                f"`{network}`: with include_top=True the classifier's fixed-size input needs an image "
                f"{allowed}; received input_shape={shape}. Use include_top=False for other sizes."
            )
    if input_tensor is None:
        image = keras.Input(shape=shape, name="image")
        return image, image
    if keras.backend.is_keras_tensor(input_tensor):
        return input_tensor, input_tensor
    image = keras.Input(tensor=input_tensor, shape=shape, name="image")
    return image, image


def predictions(num_classes, classifier_activation):
    """The classifier layer: Dense named "predictions", computed in float32 under mixed precision
    (else in the global dtype policy's, so a float64 model is float64 throughout)."""
    mixed = keras.config.dtype_policy().name.startswith("mixed")
    return keras.layers.Dense(
        num_classes, activation=classifier_activation, dtype="float32" if mixed else None,
        name="predictions",
    )


def global_pooling(pooling):
    """The layers `pooling` asks for on a feature extractor: [] for None, else one global pool."""
    if pooling is None:
        return []
    if pooling == "avg":
        return [keras.layers.GlobalAveragePooling2D(name="avg_pool")]
    return [keras.layers.GlobalMaxPooling2D(name="max_pool")]


def classifier_head(x, *, include_top, pooling, num_classes, classifier_activation, top=()):
    """Finish the network: its head (`top` layers then `predictions`), or `pooling` without the top."""
    if include_top:
        return chain(x, [*top, predictions(num_classes, classifier_activation)])
    return chain(x, global_pooling(pooling))


def finish_model(image, outputs, *, name, weights=None, model_class=keras.Model, **options):
    """Wrap the graph in a model named `name`, loading `weights` (a `.weights.h5` path) if given.

    `options` go to `model_class` (e.g. `aux_loss_weight` of an `AuxiliaryOutputsModel`)."""
    inputs = keras.utils.get_source_inputs(image)
    if len(inputs) == 1:  # a single input, not a one-element list: Keras then expects a plain array
        inputs = inputs[0]
    model = model_class(inputs, outputs, name=name, **options)
    if weights is not None:
        model.load_weights(weights)
    return model


COMMON_OPTIONS = (
    "num_classes",
    "input_shape",
    "include_top",
    "pooling",
    "classifier_activation",
    "input_tensor",
    "weights",
    "name",
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class CommonOptions:
    """The arguments every builder takes (`COMMON_OPTIONS`), for the family's graph code."""

    num_classes: object
    input_shape: object
    include_top: bool
    pooling: object
    classifier_activation: object
    input_tensor: object
    weights: object
    name: object

    def input(self, network, declared, *, min_size=None, head_sizes=None):
        """Check the shared arguments and make the model's input: (image, x), see `image_input`.

        `declared` is the variant's `VariantSpec` (default and minimum input); `min_size`
        overrides its minimum; `head_sizes` applies with the top only."""
        check_common_args(
            network,
            num_classes=self.num_classes,
            include_top=self.include_top,
            pooling=self.pooling,
            weights=self.weights,
        )
        return image_input(
            network,
            input_shape=self.input_shape,
            input_tensor=self.input_tensor,
            default_shape=declared.default_input,
            min_size=declared.min_input if min_size is None else min_size,
            head_sizes=head_sizes if self.include_top else None,
        )

    def head(self, x, *, top=()):
        """The head on `x`: `top` then `predictions`, or `pooling` without the top."""
        return classifier_head(
            x,
            include_top=self.include_top,
            pooling=self.pooling,
            num_classes=self.num_classes,
            classifier_activation=self.classifier_activation,
            top=top,
        )

    def output(self, image, x, network, *, top=()):
        """The head on `x` (see `head`), wrapped in the model named `name` (default `network`)
        with `weights` (a path) loaded."""
        return self.finish(image, self.head(x, top=top), network)

    def finish(self, image, outputs, network, **model_options):
        """The model from `image` to `outputs`, named `name` (default `network`), with `weights`
        (a path) loaded; see `finish_model`."""
        return finish_model(
            image, outputs, name=self.name or network, weights=self.weights, **model_options
        )
