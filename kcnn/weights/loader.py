"""Load a weight set's arrays into a built model, by weight path; a head that does not fit is
skipped by name.

The model side (`kcnn.models`) picks the variant and the weight set and builds the model; this
module knows only files, arrays and the model's weights. Loading never builds another model: a
model with another number of classes, without the top, at another input size or with auxiliary
heads gets every weight whose path and shape the file has, and its classifier stays as
initialised (one warning says so).
"""

import warnings

import h5py
import numpy as np

from kcnn.weights import keras_h5

HEADS = ("predictions", "aux", "aux1", "aux2")  # classifier layers: fresh when they do not fit


def save_arrays(path, arrays):
    """Write {kcnn weight path: array} to the HDF5 file `path` (one dataset per weight path)."""
    with h5py.File(path, "w") as file:
        for name, array in arrays.items():
            file.create_dataset(name, data=np.asarray(array))


def read_arrays(path):
    """{kcnn weight path: array} of a file `save_arrays` wrote."""
    found = {}
    with h5py.File(path, "r") as file:
        file.visititems(
            lambda name, item: found.__setitem__(name, np.asarray(item))
            if isinstance(item, h5py.Dataset)
            else None
        )
    return found


def _is_head(path):
    return path.split("/")[0] in HEADS


def assign(model, arrays, *, network, weight_set, trained_input):
    """Give every weight of `model` its array by path; heads that do not fit stay as initialised.

    Args:
        model: the built model.
        arrays: {kcnn weight path: array} of the weight set (the file may hold more: the
            classifier a model without the top lacks, side heads).
        network: the network's name, for messages.
        weight_set: the `WeightSet` the arrays come from, for messages.
        trained_input: the input shape the weights were trained at, for messages.

    Raises:
        ValueError: a backbone weight is missing from the arrays or has another shape (a Flatten
            head's first dense layer at another input size).
    """
    misfits, skipped = [], []
    for variable in model.weights:
        value = arrays.get(variable.path)
        if value is None or tuple(value.shape) != tuple(variable.shape):
            layer = variable.path.split("/")[0]
            found = skipped if _is_head(variable.path) else misfits
            if layer not in found:
                found.append(layer)
            continue
        variable.assign(np.ascontiguousarray(value, dtype=variable.dtype))
    if misfits:
        raise ValueError(
            f"`{network}`: the pretrained weights do not fit layer(s) {', '.join(misfits)} at "
            f"input_shape={tuple(model.input_shape[1:])}; they were trained at "
            f"{tuple(trained_input)}. Use that input size, or include_top=False for other sizes."
        )
    if skipped:
        warnings.warn(
            f"{network}: loaded the {weight_set.name!r} ImageNet weights into everything but the "
            f"classifier: {', '.join(skipped)} left as initialised (the source's head has "
            f"{weight_set.num_classes} classes)",
            stacklevel=4,
        )
    return model


def load(model, path, *, weight_set, network, trained_input):
    """Load `weight_set`'s local file `path` (see `download.ensure`) into the built `model`.

    Args:
        model: the built model (any `num_classes`, `include_top`, input size, side heads).
        path: the file `download.ensure` gave: keras.applications' `.h5`, or the arrays of a
            converted torchvision file.
        weight_set: the `WeightSet` the file holds.
        network: the network's name, for messages and keras.applications' file layout.
        trained_input: the input shape the weights were trained at, for messages.
    """
    if weight_set.source == "keras":
        arrays = keras_h5.arrays_for(model, path, network=network)
    else:
        arrays = read_arrays(path)
    return assign(
        model, arrays, network=network, weight_set=weight_set, trained_input=trained_input
    )
