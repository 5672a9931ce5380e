"""Read keras.applications' `.h5` weight files and assign them to kcnn's keras-compatible models.

The files are Keras' legacy HDF5 weights format: the root lists `layer_names`, each layer's group
lists `weight_names` (e.g. "conv2_block1_1_conv/kernel:0") and holds one dataset per weight.
kcnn's `variant="keras"` networks name their layers as keras.applications does, with a block's
sublayers one level down: kcnn's `conv2_block1/1_conv/kernel` is the file's layer
`conv2_block1_1_conv`, weight `kernel`. keras.applications' Inception v3 is auto-named
(`conv2d_12`, `batch_normalization_12`), so there its convolutions and batch normalizations are
matched in creation order, which kcnn's `inception_v3(variant="keras")` keeps.
"""

import re

import h5py
import numpy as np

from kcnn.layers import CompositeLayer


def _attribute(group, name):
    """A string-list attribute, joined from Keras' numbered chunks when it was split."""
    if name in group.attrs:
        values = list(group.attrs[name])
    else:
        values, chunk = [], 0
        while f"{name}{chunk}" in group.attrs:
            values += list(group.attrs[f"{name}{chunk}"])
            chunk += 1
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values]


def read(path):
    """{layer name: {weight name: array}} of a Keras legacy `.h5` weights file, in file order."""
    layers = {}
    with h5py.File(path, "r") as file:
        root = file.get("model_weights", file)
        for layer in _attribute(root, "layer_names"):
            group = root[layer]
            names = _attribute(group, "weight_names")
            if names:
                layers[layer] = {
                    n.split("/")[-1].split(":")[0]: np.asarray(group[n]) for n in names
                }
    return layers


def keras_names(model):
    """(keras.applications layer name, layer) for every layer of the kcnn `model` with weights,
    a block's sublayers path by path: block `b`'s sublayer `s` is keras.applications' `b_s`."""
    found = []
    for layer in model.layers:
        if isinstance(layer, CompositeLayer):
            for path in layer.paths(tuple(layer.input.shape)):
                found += [(f"{layer.name}_{sub.name}", sub) for sub, _ in path if sub.weights]
        elif layer.weights:
            found.append((layer.name, layer))
    return found


def _assign(layer, values, where):
    """Set `layer`'s weights from {weight name: array}: by name where the file's names are
    Keras' (kernel, bias, gamma, ...), else in Keras' order, as Keras' own loader does."""
    if len(values) != len(layer.weights):
        raise ValueError(
            f"{where}: layer {layer.name!r} has {len(layer.weights)} weights, the file "
            f"{len(values)} ({', '.join(values)})"
        )
    if {v.name for v in layer.weights} != set(values):
        values = dict(zip((v.name for v in layer.weights), values.values()))
    for variable in layer.weights:
        value = values[variable.name]
        if tuple(value.shape) != tuple(variable.shape):
            raise ValueError(
                f"{where}: {layer.name}/{variable.name} has shape {tuple(variable.shape)}, "
                "the file "
                f"{tuple(value.shape)}"
            )
        variable.assign(value)


def _auto_number(name):
    found = re.search(r"_(\d+)$", name)
    return int(found.group(1)) if found else 0


def _by_order(file_layers, leaves):
    """Pair auto-named file layers with kcnn's: convolutions, then batch normalizations, each in
    creation order; every other layer (the classifier) by name."""
    pairs, named = [], dict(leaves)
    for prefix, kind, rank in (
        ("conv2d", "Conv2D", 4),
        ("batch_normalization", "BatchNormalization", 1),
    ):
        ours = [layer for _, layer in leaves if kind in {c.__name__ for c in type(layer).__mro__}]
        # auto-named file layers of this kind (a kernel of 4 dimensions, or 1-D BN vectors)
        theirs = sorted(
            (
                n
                for n, values in file_layers.items()
                if n not in named and next(iter(values.values())).ndim == rank
            ),
            key=_auto_number,
        )
        if len(ours) != len(theirs):
            raise ValueError(
                f"the file has {len(theirs)} {prefix} layers, the model {len(ours)}: "
                "not the same network"
            )
        pairs += list(zip(theirs, ours))
    paired = {id(layer) for _, layer in pairs}
    pairs += [(name, layer) for name, layer in named.items() if id(layer) not in paired]
    return pairs


def copy_from_model(source, model):
    """Copy the weights of an in-memory keras.applications model `source` (same network, same
    names) into the kcnn `model`, layer by layer; returns the number of layers copied."""
    pairs = keras_names(model)
    for name, layer in pairs:
        layer.set_weights(source.get_layer(name).get_weights())
    return len(pairs)


def load(model, path, *, network):
    """Assign keras.applications' weights file `path` to the kcnn `model` (every weight)."""
    file_layers = read(path)
    leaves = keras_names(model)
    pairs = _by_order(file_layers, leaves) if network == "inception_v3" else leaves
    missing = [name for name, _ in pairs if name not in file_layers]
    if missing:
        raise ValueError(
            f"`{network}`: {path} has no weights for layer(s) {', '.join(missing[:5])}"
            f"{' ...' if len(missing) > 5 else ''}: not this network's keras.applications file"
        )
    for name, layer in pairs:
        _assign(layer, file_layers[name], f"`{network}` from {path}")
    unused = set(file_layers) - {name for name, _ in pairs}
    if unused:
        raise ValueError(
            f"`{network}`: {path} has weights no layer took: {', '.join(sorted(unused))}"
        )
    return model


def arrays_for(model, path, *, network):
    """{kcnn weight path: array} of keras.applications' file `path` for the kcnn `model`: each
    layer's weights by its keras.applications name (Inception v3's by creation order); layers
    the file lacks (another head, side heads) are left out, for the caller to report."""
    file_layers = read(path)
    leaves = [(name, layer) for name, layer in keras_names(model) if not name.startswith("aux")]
    pairs = _by_order(file_layers, leaves) if network == "inception_v3" else leaves
    arrays = {}
    for name, layer in pairs:
        values = file_layers.get(name)
        if values is None or len(values) != len(layer.weights):
            continue
        if {v.name for v in layer.weights} != set(values):
            values = dict(zip((v.name for v in layer.weights), values.values()))
        arrays.update({v.path: values[v.name] for v in layer.weights})
    return arrays
