"""The saved model takes raw images: Keras preprocessing layers in front of the trained network.

A run trains the bare network on the pipeline's resized, normalised batches. What it saves
(`model.keras`, `best.keras`) is

    Input (any height and width, the model's channels, pixel values 0..255, uint8 or float)
    -> Resizing (the run's size, interpolation and centre-crop: the data pipeline's own layer)
    -> Rescaling (standardisation with the run's per-channel mean and standard deviation, as
       the pipeline did; absent when the network carries its pretrained weights' own
       preprocessing)
    -> the network

so `keras.saving.load_model(path).predict(images)` works on decoded images as they come (one
image per call when their sizes differ). The class names are saved beside it (`classes.json`).
"""

import os

import keras
import numpy as np

from kcnn.training import rundir
from kcnn.runs import CLASSES_FILE, network_of, read_class_names  # noqa: F401 (public here too)


def with_preprocessing(network, *, image_size, interpolation="bilinear",
                       crop_to_aspect_ratio=False, mean=None, std=None):
    """The network behind a Resizing layer (and a standardising Rescaling when `mean` is given).

    Args:
        network: the trained keras.Model (inputs (H, W, C), normalised).
        image_size: (height, width) the network was trained at.
        interpolation, crop_to_aspect_ratio: as the data pipeline resized (Keras' Resizing).
        mean, std: per-channel statistics on the 0..1 scale, or None for no normalisation.

    Returns:
        A keras.Model with input (None, None, C), pixel values 0..255, and the network's outputs.
    """
    from kcnn.data.folder import resizer

    if network.compiled:  # a copy without the training set-up (optimizer, schedule, loss)
        trained = network  # (keras.models.clone_model would copy the compile settings too)
        network = type(trained).from_config(trained.get_config())
        network.set_weights(trained.get_weights())
    channels = network.input_shape[-1]
    inputs = keras.Input((None, None, channels), name="image")
    x = resizer(tuple(image_size), interpolation, crop_to_aspect_ratio)(inputs)
    if mean is not None:  # x / 255 standardised: the data pipeline's own x * scale + offset
        mean, std = np.asarray(mean, dtype="float64"), np.asarray(std, dtype="float64")
        x = keras.layers.Rescaling(scale=(1.0 / (255.0 * std)).tolist(),
                                   offset=(-mean / std).tolist(), dtype="float32",
                                   name="normalize")(x)
    outputs = network(x)
    return keras.Model(inputs, outputs, name=network.name)


def save_class_names(run_dir, class_names):
    """Write `classes.json`: the class names in label order (atomically, `rundir.write_json`)."""
    rundir.write_json(os.path.join(run_dir, CLASSES_FILE), list(class_names), indent=1)
