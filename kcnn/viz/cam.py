"""Grad-CAM (Selvaraju et al. 2017): where in the image the evidence for a class lies.

For the chosen layer's activations A (h x w x K) and the class score y_c, each channel gets the
weight alpha_k = mean over positions of d y_c / d A_k, and the map is ReLU(sum_k alpha_k A_k),
resized (bilinear) to the input and divided by its maximum. The score is taken before the
softmax, as in the paper: when the model's output layer applies a softmax (kcnn's `predictions`
Dense layer does), it is switched to linear for the gradient pass. The layer defaults to the
last one with a spatial output on the way to the main output (`walk.last_spatial_layer`), which
for kcnn models is a whole block, and for an aux-head model ignores the side heads. A map whose
gradients are all zero (a constant image can do that) is all zeros, never NaN.

Grad-CAM++ and Score-CAM are not provided: on the classic CNNs they mostly differ where several
instances of a class appear, and Score-CAM costs one forward pass per channel.
"""

import contextlib
import dataclasses

import numpy as np

from kcnn.viz import figures, grads, walk


@dataclasses.dataclass
class ClassActivationMap:
    """The arrays behind a Grad-CAM picture.

    Attributes:
        layer: the layer whose activations were weighted.
        class_index: the class explained.
        probabilities: the model's output for the image (its main head).
        coarse: the map at the layer's resolution, ReLU applied, not normalised (h, w).
        heatmap: the map resized to the input (H, W) and divided by its maximum (0..1).
        weights: alpha_k per channel (K,).
    """

    layer: str
    class_index: int
    probabilities: np.ndarray
    coarse: np.ndarray
    heatmap: np.ndarray
    weights: np.ndarray


def _output_layer(model):
    return walk.main_output(model)._keras_history[0]


@contextlib.contextmanager
def scores_before_softmax(model):
    """Within the context, the model's output layer skips its softmax (if it has one)."""
    import keras

    layer = _output_layer(model)
    activation = getattr(layer, "activation", None)
    if getattr(activation, "__name__", None) != "softmax":
        yield
        return
    layer.activation = keras.activations.linear
    try:
        yield
    finally:
        layer.activation = activation


def grad_cam(model, batch, class_index=None, layer=None):
    """Grad-CAM of the first image of `batch` for `class_index` (default: the predicted class).

    Args:
        model: a classification `keras.Model` (Functional or Sequential; aux-head models too).
        batch: the model's input, (1, H, W, C) (see `kcnn.viz.inputs.model_input`).
        class_index: the class to explain; None = the highest-scoring one.
        layer: a layer name with a spatial output; None = the last such layer.
    """
    import keras

    batch = np.asarray(batch, dtype="float32")[:1]
    layer = layer or walk.last_spatial_layer(model)
    with walk.capture(model, [layer]) as record:
        probabilities = keras.ops.convert_to_numpy(model(batch, training=False))[0]
    if layer not in record.outputs:
        raise ValueError(f"layer {layer!r} is not on the way to the output of {model.name!r}")
    shape = tuple(record.outputs[layer].shape)
    walk.require_spatial(layer, shape, "Grad-CAM")
    if class_index is None:
        class_index = int(np.argmax(probabilities))
    if not 0 <= class_index < probabilities.shape[-1]:
        raise ValueError(f"class index {class_index} is outside 0..{probabilities.shape[-1] - 1}")

    def class_score(offset):
        with (walk.capture(model, [layer], offsets={layer: offset}) as record,
              scores_before_softmax(model)):
            scores = model(batch, training=False)
        return scores[0, class_index], record.outputs[layer]

    _, activations, gradient = grads.value_and_grad(class_score, np.zeros(shape, "float32"))
    activations, gradient = activations[0].astype("float32"), gradient[0].astype("float32")
    weights = gradient.mean(axis=(0, 1))
    coarse = np.maximum((activations * weights).sum(axis=-1), 0)
    coarse = np.nan_to_num(coarse, nan=0.0, posinf=0.0, neginf=0.0)
    resized = keras.ops.convert_to_numpy(
        keras.ops.image.resize(coarse[None, :, :, None], batch.shape[1:3], interpolation="bilinear")
    )[0, :, :, 0]
    peak = float(resized.max())
    heatmap = resized / peak if peak > 0 else np.zeros_like(resized)
    return ClassActivationMap(layer, class_index, probabilities, coarse, heatmap, weights)


def plot_cam(result, picture, class_names=None, title=None, alpha=0.5):
    """The input `picture` (H, W, C on 0..255) beside it with the Grad-CAM heat map overlaid."""
    figure = figures.new_figure(7.0, 3.9)
    left, right = figure.subplots(1, 2)
    image = figures.image_for_display(picture)
    grey = image.ndim == 2
    for ax in (left, right):
        ax.imshow(image, cmap="gray" if grey else None, vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
    heat = right.imshow(result.heatmap, cmap="jet", alpha=alpha, vmin=0, vmax=1)
    figure.colorbar(heat, ax=right, shrink=0.8, label="Grad-CAM (max = 1)")
    name = class_names[result.class_index] if class_names else f"class {result.class_index}"
    probability = float(result.probabilities[result.class_index])
    left.set_title("input", fontsize=9)
    right.set_title(f"{name} (p = {probability:.2f})\nfrom layer {result.layer}", fontsize=9)
    if title:
        figure.suptitle(title, fontsize=10)
    return figure
