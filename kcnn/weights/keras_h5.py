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


def _leaves(model):
    """(file layer name, layer) for every layer with weights, a block's sublayers path by path."""
    found = []
    for layer in model.layers:
        if isinstance(layer, CompositeLayer):
            for path in layer.paths(tuple(layer.input.shape)):
                found += [(f"{layer.name}_{sub.name}", sub) for sub, _ in path if sub.weights]
        elif layer.weights:
            found.append((layer.name, layer))
    return found


def _assign(layer, values, where):
    """Set `layer`'s weights from {weight name: array}, checking names and shapes."""
    for variable in layer.weights:
        if variable.name not in values:
            raise ValueError(f"{where}: the file has no {variable.name!r} for layer {layer.name!r}")
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
    for prefix, kind in (("conv2d", "Conv2D"), ("batch_normalization", "BatchNormalization")):
        ours = [layer for _, layer in leaves if kind in {c.__name__ for c in type(layer).__mro__}]
        theirs = sorted(
            (n for n in file_layers if re.fullmatch(rf"{prefix}(_\d+)?", n)), key=_auto_number
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


def load(model, path, *, network):
    """Assign keras.applications' weights file `path` to the kcnn `model` (every weight)."""
    file_layers = read(path)
    leaves = _leaves(model)
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
