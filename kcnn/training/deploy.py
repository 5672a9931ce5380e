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

import json
import os

import keras
import numpy as np

CLASSES_FILE = "classes.json"


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


def network_of(model):
    """The trained network inside a model saved by a run (or the model itself)."""
    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    return nested[-1] if nested and model.layers[0].name == "image" else model


def save_class_names(run_dir, class_names):
    """Write `classes.json`: the class names in label order."""
    with open(os.path.join(run_dir, CLASSES_FILE), "w") as f:
        json.dump(list(class_names), f, indent=1)
        f.write("\n")


def read_class_names(path):
    """The class names saved with a run (a run directory or a model file inside one), or None."""
    folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    file = os.path.join(folder, CLASSES_FILE)
    if not os.path.exists(file):
        return None
    with open(file) as f:
        return tuple(json.load(f))


def load_run_model(path):
    """(keras.Model, its file) from a run directory (its model.keras) or a .keras file.

    Raises:
        ValueError: naming the path when there is no such run directory or model file.
    """
    import kcnn

    file = os.path.join(path, "model.keras") if os.path.isdir(path) else path
    if not os.path.exists(file):
        what = "is not a finished kcnn run (no model.keras)" if os.path.isdir(path) else \
            "does not exist"
        raise ValueError(f"{path} {what}")
    if not file.endswith(".keras"):
        raise ValueError(f"{path}: expected a run directory or a .keras model file")
    return kcnn.load_model(file, compile=False), file
