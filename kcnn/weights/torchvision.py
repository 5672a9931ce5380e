"""torchvision state dicts into kcnn models: read a `.pth` file and assign its tensors by name.

kcnn's torchvision-layout networks (AlexNet and GoogLeNet `variant="torchvision"`, VGG with or
without `batch_norm`, Inception v3 `variant="torchvision"`, the ImageNet ResNets and ResNeXts,
DenseNet-121/161/169/201) compute what torchvision's compute. A state dict is converted by
translating every torchvision module path into the kcnn layer that plays its part, with one table
of rules per network variant, declared in the family's module (names, never the order of the weights), and by changing the layouts:

* convolution kernels (out, in / groups, kh, kw) -> (kh, kw, in / groups, out);
* linear weights (out, in) -> (in, out); the first linear layer after a Flatten (AlexNet's fc6,
  VGG's fc1, GoogLeNet's side heads) also has its rows permuted, because torch flattens
  (C, H, W) and Keras flattens (H, W, C);
* BatchNorm weight, bias, running_mean, running_var -> gamma, beta, moving_mean,
  moving_variance (`num_batches_tracked` has no Keras counterpart and is ignored).

Reading `.pth` files needs PyTorch (`pip install "kcnn[torch]"`); converting does not.
"""

import math
import os
import re

import numpy as np

# Keras weight names of the three kinds of torch modules, by torch parameter name.
PARAMETER_NAMES = {
    "conv": {"weight": "kernel", "bias": "bias"},
    "dense": {"weight": "kernel", "bias": "bias"},
    "bn": {
        "weight": "gamma",
        "bias": "beta",
        "running_mean": "moving_mean",
        "running_var": "moving_variance",
    },
}
IGNORED_PARAMETERS = ("num_batches_tracked",)


def read_pth(path):
    """Read a torch state dict file (torchvision's published `.pth` format) into NumPy arrays.

    Args:
        path: the `.pth` file (a `torch.save`d state dict, as torchvision publishes its weights).

    Returns:
        dict of parameter name -> `numpy.ndarray` (float32 for floating tensors), in file order.

    Raises:
        ImportError: PyTorch is not installed.
        ValueError: the file cannot be read as a state dict (the message names the file).
    """
    try:
        import torch
    except ImportError as error:
        raise ImportError(
            f'Reading the torchvision weights file {os.fspath(path)!r} needs PyTorch: '
            'pip install "kcnn[torch]"'
        ) from error
    try:
        # weights_only: plain tensors and containers; a file cannot run code while loading.
        state = torch.load(os.fspath(path), map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types: unpickling, zip, EOF, runtime
        raise ValueError(
            f"{os.fspath(path)!r} is not a readable torch state dict file: {error}"
        ) from error
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]  # a training checkpoint that wraps the state dict
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise ValueError(
            f"{os.fspath(path)!r} does not hold a state dict (a mapping of names to tensors); "
            f"it holds a {type(state).__name__}"
        )
    return {name: tensor.detach().cpu().numpy() for name, tensor in state.items()}


# A family module declares, for each variant, its rule table: a tuple of rules
# (regular expression over the torch module path, function of the match giving the kcnn layer
# path, kind). Kinds: "conv", "dense", "bn", or ("flatten_dense", channels) for a linear layer
# that reads a flattened map of `channels` channels.


def kcnn_weight_path(key, rules):
    """The kcnn weight path and kind of torchvision parameter `key`, or (None, None) if no rule
    matches its module."""
    module, _, parameter = key.rpartition(".")
    for pattern, layer, kind in rules:
        match = re.fullmatch(pattern, module)
        if match:
            names = PARAMETER_NAMES[kind if isinstance(kind, str) else "dense"]
            if parameter not in names:
                return None, None
            return f"{layer(match)}/{names[parameter]}", kind
    return None, None


def convert_array(value, kind):
    """torch layout -> Keras layout for one parameter of a module of `kind`."""
    if value.ndim == 4:  # (out, in / groups, kh, kw) -> (kh, kw, in / groups, out)
        return np.transpose(value, (2, 3, 1, 0))
    if value.ndim == 2:  # (out, in) -> (in, out)
        if isinstance(kind, tuple):  # reads a flattened (C, H, W) map; Keras flattens (H, W, C)
            channels = kind[1]
            out, inputs = value.shape
            side = math.isqrt(inputs // channels)
            if channels * side * side != inputs:
                raise ValueError(
                    f"a linear layer after a flattened {channels}-channel map needs a square map "
                    f"({channels} x H x H inputs); it has {inputs} inputs"
                )
            # (out, C, H, W) -> (H, W, C, out): one copy.
            return value.reshape(out, channels, side, side).transpose(2, 3, 1, 0).reshape(-1, out)
        return value.T
    return value


def _is_head(path):
    """Classifier weights: `predictions/...` and the side heads' `<aux>/predictions/...`."""
    return path.split("/")[-2] == "predictions"


def _is_top(path):
    """The layers `include_top` adds before the classifier (AlexNet's fc6/fc7, VGG's fc1/fc2)."""
    return path.split("/")[0] in ("fc1", "fc2", "fc6", "fc7")


def _is_aux(path):
    return path.split("/")[0] in ("aux", "aux1", "aux2")


def convert_state_dict(state_dict, rules, *, network):
    """{kcnn weight path: array in Keras' layout} of a torchvision state dict, no model needed.

    Args:
        state_dict: mapping of torchvision parameter names to arrays (e.g. from `read_pth`).
        rules: the variant's rule table (its declaration's `torchvision_rules`).
        network: the network's name, for messages.

    Raises:
        ValueError: a parameter matches no rule, or two parameters map to one kcnn weight.
    """
    arrays = {}
    for key, value in state_dict.items():
        if key.rpartition(".")[2] in IGNORED_PARAMETERS:
            continue
        path, kind = kcnn_weight_path(key, rules)
        if path is None:
            raise ValueError(
                f"torchvision parameter {key!r} has no counterpart in kcnn's {network}: it is not "
                "a parameter of that torchvision network"
            )
        if path in arrays:
            raise ValueError(f"kcnn weight {path!r} is the target of two torchvision parameters")
        arrays[path] = convert_array(np.asarray(value), kind)
    return arrays


def load_torchvision_state_dict(model, state_dict, *, rules, network, skip_head=False):
    """Assign a torchvision state dict to a kcnn model of the same network, by name.

    Every torchvision parameter is translated through the variant's rule table into the kcnn
    weight path it belongs to and converted to Keras' layout (see the module docstring).
    torchvision's side heads (GoogLeNet's `aux1`/`aux2`, Inception v3's `AuxLogits`) load into the
    kcnn model's side heads when it was built with `aux_logits=True`, and are ignored otherwise.
    `kcnn.models.load_torchvision_state_dict` finds `rules` by the network's name.

    Args:
        model: a kcnn model built with torchvision's layout (e.g. `resnet50()`,
            `alexnet(variant="torchvision")`, `vgg16(batch_norm=True)`).
        state_dict: mapping of torchvision parameter names to arrays (e.g. from `read_pth`).
        rules: the variant's rule table (its declaration's `torchvision_rules`).
        network: the network's name, for messages.
        skip_head: leave the classifier (`predictions`, and the side heads' `predictions`)
            unassigned, for a model with another number of classes; with `include_top=False`
            the torchvision classifier layers the model lacks (AlexNet's fc6/fc7, VGG's fc1/fc2
            too) are skipped.

    Returns:
        The kcnn weight paths left unassigned (sorted): the classifier's with `skip_head`, else [].

    Raises:
        ValueError: a torchvision parameter matches no rule or names a kcnn weight the model lacks,
            a shape differs, or a kcnn weight receives no value. The message names the parameter.
    """
    weights = {w.path: w for w in model.weights}
    has_aux = any(_is_aux(path) for path in weights)
    has_top = any(path.split("/")[0] == "predictions" for path in weights)
    sources = {}
    for key in state_dict:
        if key.rpartition(".")[2] not in IGNORED_PARAMETERS:
            sources[kcnn_weight_path(key, rules)[0]] = key
    assignments = {}
    for path, array in convert_state_dict(state_dict, rules, network=network).items():
        key = sources[path]
        if _is_aux(path) and not has_aux:
            continue  # side heads exist only in training; the model was built without them
        if skip_head and (_is_head(path) or (_is_top(path) and not has_top)):
            continue
        if path not in weights:
            raise ValueError(
                f"torchvision parameter {key!r} maps to kcnn weight {path!r}, which the model "
                f"{model.name!r} does not have; was it built with torchvision's layout "
                "(variant, batch_norm, include_top)?"
            )
        expected = tuple(weights[path].shape)
        if array.shape != expected:
            raise ValueError(
                f"torchvision parameter {key!r} has shape {tuple(np.shape(state_dict[key]))}, "
                f"which is {array.shape} in Keras' layout; kcnn weight {path!r} has shape "
                f"{expected} (another width, number of classes or input size?)"
            )
        assignments[path] = array
    unassigned = sorted(set(weights) - set(assignments))
    missing = [p for p in unassigned if not (skip_head and _is_head(p))]
    if missing:
        raise ValueError(
            f"kcnn weights of {model.name!r} with no torchvision parameter in the state dict: "
            f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''} ({len(missing)} in all)"
        )
    for path, array in assignments.items():
        weights[path].assign(np.ascontiguousarray(array, dtype=weights[path].dtype))
    return unassigned
