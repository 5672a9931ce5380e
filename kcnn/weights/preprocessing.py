"""A weight set's preprocessing as Keras layers (inside a model) or as a function (outside).

Both take RGB images with values 0-255, channels last, and give what the weights were trained on:
"torch" x / 255 then ImageNet mean/std per channel, "caffe" RGB -> BGR then minus the BGR means,
"tf" x / 127.5 - 1. The layers are Keras' `Rescaling` (per-channel scale and offset) and, for
"caffe", `ReverseChannels`, so a saved `.keras` model carries its preprocessing.
"""

import keras
import numpy as np

from kcnn.weights.sets import CAFFE_BGR_MEAN, IMAGENET_MEAN, IMAGENET_STD, MODES


@keras.saving.register_keras_serializable(package="kcnn")
class ReverseChannels(keras.layers.Layer):
    """Reverse the order of the last axis (RGB <-> BGR)."""

    def call(self, inputs):
        return keras.ops.flip(inputs, axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape


def _scale_offset(mode):
    """(scale, offset) per channel, in the order of the channels the layer sees."""
    if mode == "torch":
        scale = [1.0 / (255.0 * s) for s in IMAGENET_STD]
        offset = [-m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)]
        return scale, offset
    if mode == "caffe":
        return [1.0, 1.0, 1.0], [-m for m in CAFFE_BGR_MEAN]
    return 1.0 / 127.5, -1.0


def _check(mode):
    if mode not in MODES:
        raise ValueError(f"unknown preprocessing mode {mode!r}; allowed: {', '.join(MODES)}")


def layers(preprocessing):
    """The Keras layers of a `Preprocessing` (or a mode name), named `preprocess*`."""
    mode = getattr(preprocessing, "mode", preprocessing)
    _check(mode)
    scale, offset = _scale_offset(mode)
    found = [ReverseChannels(name="preprocess_bgr")] if mode == "caffe" else []
    return [*found, keras.layers.Rescaling(scale, offset, name="preprocess")]


def raw_input(preprocessing, input_shape, input_tensor=None):
    """The model input for raw RGB 0-255 images (`input_tensor` or a new `image` Input) passed
    through the preprocessing layers; a builder given it as `input_tensor` builds on it."""
    shape = tuple(input_shape)
    if shape[-1] != 3:
        raise ValueError(
            f"include_preprocessing=True needs RGB input (3 channels); received input_shape={shape}"
        )
    x = input_tensor if input_tensor is not None else keras.Input(shape=shape, name="image")
    for layer in layers(preprocessing):
        x = layer(x)
    return x


def preprocess(images, preprocessing):
    """Apply a `Preprocessing` (or a mode name) to RGB 0-255 images, channels last (numpy out)."""
    mode = getattr(preprocessing, "mode", preprocessing)
    _check(mode)
    x = np.asarray(images, dtype="float32")
    if x.shape[-1] != 3:
        raise ValueError(f"preprocess needs RGB images (3 channels last); received shape {x.shape}")
    if mode == "caffe":
        x = x[..., ::-1]
    scale, offset = _scale_offset(mode)
    return (x * np.asarray(scale, "float32") + np.asarray(offset, "float32")).astype("float32")
