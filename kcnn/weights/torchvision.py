"""torchvision state dicts into kcnn models: read a `.pth` file and assign its tensors by name.

kcnn's torchvision-layout networks (AlexNet and GoogLeNet `variant="torchvision"`, VGG with or
without `batch_norm`, Inception v3 `variant="torchvision"`, the ImageNet ResNets and ResNeXts,
DenseNet-121/161/169/201) compute what torchvision's compute. A state dict is converted by
translating every torchvision module path into the kcnn layer that plays its part, with one table
of rules per family (names, never the order of the weights), and by changing the layouts:

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


# --- one table per family: torch module path -> (kcnn layer path, kind) ----------------------------
# A rule is (regular expression over the torch module path, function of the match giving the
# kcnn layer path, kind). Kinds: "conv", "dense", "bn", or ("flatten_dense", channels) for a
# linear layer that reads a flattened map of `channels` channels.


def _index(text, offset=0):
    return int(text) + offset


RESNET_RULES = (
    (r"conv1", lambda m: "conv1_conv", "conv"),
    (r"bn1", lambda m: "conv1_bn", "bn"),
    # layerS.B.convK / bnK: block B of stage S is kcnn's conv{S+1}_block{B+1}, sublayer K.
    (
        r"layer(\d+)\.(\d+)\.conv(\d)",
        lambda m: f"conv{_index(m[1], 1)}_block{_index(m[2], 1)}/{m[3]}_conv",
        "conv",
    ),
    (
        r"layer(\d+)\.(\d+)\.bn(\d)",
        lambda m: f"conv{_index(m[1], 1)}_block{_index(m[2], 1)}/{m[3]}_bn",
        "bn",
    ),
    (
        r"layer(\d+)\.(\d+)\.downsample\.0",
        lambda m: f"conv{_index(m[1], 1)}_block{_index(m[2], 1)}/0_conv",
        "conv",
    ),
    (
        r"layer(\d+)\.(\d+)\.downsample\.1",
        lambda m: f"conv{_index(m[1], 1)}_block{_index(m[2], 1)}/0_bn",
        "bn",
    ),
    (r"fc", lambda m: "predictions", "dense"),
)

DENSENET_RULES = (
    (r"features\.conv0", lambda m: "conv1_conv", "conv"),
    (r"features\.norm0", lambda m: "conv1_bn", "bn"),
    # denseblockD.denselayerL: kcnn's dense block conv{D+1}, layer L; norm1 conv1 norm2 conv2.
    (
        r"features\.denseblock(\d+)\.denselayer(\d+)\.norm1",
        lambda m: f"conv{_index(m[1], 1)}/block{m[2]}_0_bn",
        "bn",
    ),
    (
        r"features\.denseblock(\d+)\.denselayer(\d+)\.conv1",
        lambda m: f"conv{_index(m[1], 1)}/block{m[2]}_1_conv",
        "conv",
    ),
    (
        r"features\.denseblock(\d+)\.denselayer(\d+)\.norm2",
        lambda m: f"conv{_index(m[1], 1)}/block{m[2]}_1_bn",
        "bn",
    ),
    (
        r"features\.denseblock(\d+)\.denselayer(\d+)\.conv2",
        lambda m: f"conv{_index(m[1], 1)}/block{m[2]}_2_conv",
        "conv",
    ),
    # transitionT follows dense block T: kcnn's transition pool{T+1}.
    (r"features\.transition(\d+)\.norm", lambda m: f"pool{_index(m[1], 1)}/bn", "bn"),
    (r"features\.transition(\d+)\.conv", lambda m: f"pool{_index(m[1], 1)}/conv", "conv"),
    (r"features\.norm5", lambda m: "bn", "bn"),
    (r"classifier", lambda m: "predictions", "dense"),
)

# torchvision's AlexNet: features.{0,3,6,8,10} are conv1..conv5, classifier.{1,4,6} fc6, fc7 and
# the classifier (its Dropout and ReLU modules hold the other indices).
ALEXNET_RULES = (
    (r"features\.0", lambda m: "conv1", "conv"),
    (r"features\.3", lambda m: "conv2", "conv"),
    (r"features\.6", lambda m: "conv3", "conv"),
    (r"features\.8", lambda m: "conv4", "conv"),
    (r"features\.10", lambda m: "conv5", "conv"),
    (r"classifier\.1", lambda m: "fc6", ("flatten_dense", 256)),
    (r"classifier\.4", lambda m: "fc7", "dense"),
    (r"classifier\.6", lambda m: "predictions", "dense"),
)

GOOGLENET_BRANCHES = {
    "branch1": "1x1",
    "branch2.0": "3x3_reduce",
    "branch2.1": "3x3",
    "branch3.0": "5x5_reduce",
    "branch3.1": "5x5",
    "branch4.1": "pool_proj",  # branch4.0 is the max-pool
}
GOOGLENET_STEM = {"conv1": "conv1", "conv2": "conv2_reduce", "conv3": "conv2"}

GOOGLENET_RULES = (
    # BasicConv2d units: <unit>.conv and <unit>.bn are kcnn's <layer> and <layer>_bn.
    (r"(conv[123])\.conv", lambda m: GOOGLENET_STEM[m[1]], "conv"),
    (r"(conv[123])\.bn", lambda m: f"{GOOGLENET_STEM[m[1]]}_bn", "bn"),
    (
        r"(inception\d[a-e])\.(branch1|branch[23]\.[01]|branch4\.1)\.conv",
        lambda m: f"{m[1]}/{GOOGLENET_BRANCHES[m[2]]}",
        "conv",
    ),
    (
        r"(inception\d[a-e])\.(branch1|branch[23]\.[01]|branch4\.1)\.bn",
        lambda m: f"{m[1]}/{GOOGLENET_BRANCHES[m[2]]}_bn",
        "bn",
    ),
    (r"(aux[12])\.conv\.conv", lambda m: f"{m[1]}/conv", "conv"),
    (r"(aux[12])\.conv\.bn", lambda m: f"{m[1]}/conv_bn", "bn"),
    (r"(aux[12])\.fc1", lambda m: f"{m[1]}/fc", ("flatten_dense", 128)),
    (r"(aux[12])\.fc2", lambda m: f"{m[1]}/predictions", "dense"),
    (r"fc", lambda m: "predictions", "dense"),
)

# torchvision's Mixed_5b ... Mixed_7c are keras.applications' (and kcnn's) mixed0 ... mixed10.
INCEPTION_V3_MODULES = {
    name: f"mixed{i}"
    for i, name in enumerate(
        ["5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"]
    )
}

INCEPTION_V3_RULES = (
    # Stem units Conv2d_1a_3x3 ... are kcnn's conv_1a_3x3 ... (lower case).
    (r"Conv2d_(\w+)\.conv", lambda m: f"conv_{m[1]}", "conv"),
    (r"Conv2d_(\w+)\.bn", lambda m: f"conv_{m[1]}_bn", "bn"),
    (
        r"Mixed_(\d[a-e])\.(branch\w+)\.conv",
        lambda m: f"{INCEPTION_V3_MODULES[m[1]]}/{m[2]}",
        "conv",
    ),
    (
        r"Mixed_(\d[a-e])\.(branch\w+)\.bn",
        lambda m: f"{INCEPTION_V3_MODULES[m[1]]}/{m[2]}_bn",
        "bn",
    ),
    (r"AuxLogits\.(conv[01])\.conv", lambda m: f"aux/{m[1]}", "conv"),
    (r"AuxLogits\.(conv[01])\.bn", lambda m: f"aux/{m[1]}_bn", "bn"),
    (r"AuxLogits\.fc", lambda m: "aux/predictions", "dense"),
    (r"fc", lambda m: "predictions", "dense"),
)

VGG_CONVS = {"vgg11": (1, 1, 2, 2, 2), "vgg13": (2, 2, 2, 2, 2), "vgg16": (2, 2, 3, 3, 3),
             "vgg19": (2, 2, 4, 4, 4)}  # convolutions per block (the paper's Table 1 columns)


def vgg_rules(network, batch_norm):
    """torchvision's `features.N` indices for a VGG: conv, [BN], ReLU per convolution, a pool per
    block; `classifier.{0,3,6}` are fc1, fc2 and the classifier."""
    rules, index = [], 0
    for block, convs in enumerate(VGG_CONVS[network], 1):
        for conv in range(1, convs + 1):
            layer = f"block{block}_conv{conv}"
            rules.append((rf"features\.{index}", lambda m, layer=layer: layer, "conv"))
            index += 1
            if batch_norm:
                bn = f"block{block}_bn{conv}"
                rules.append((rf"features\.{index}", lambda m, bn=bn: bn, "bn"))
                index += 1
            index += 1  # ReLU
        index += 1  # MaxPool2d
    rules += [
        (r"classifier\.0", lambda m: "fc1", ("flatten_dense", 512)),
        (r"classifier\.3", lambda m: "fc2", "dense"),
        (r"classifier\.6", lambda m: "predictions", "dense"),
    ]
    return tuple(rules)


RESNET_NETWORK = re.compile(
    r"resnet(18|34|50|101|152)|resnext\d+_\d+x\d+d|wide_resnet(50|101)_2"
)
NETWORKS = (
    "alexnet",
    "vgg11, vgg13, vgg16, vgg19 (with or without '_bn')",
    "googlenet",
    "inception_v3",
    "resnet18, resnet34, resnet50, resnet101, resnet152, resnext*, wide_resnet50_2/101_2",
    "densenet121, densenet161, densenet169, densenet201",
)


def family_rules(network, model):
    """The rule table for `network` (a kcnn builder name or torchvision's model name)."""
    if not isinstance(network, str):
        raise TypeError(f"`network` must be a network name (a string); received {network!r}")
    vgg = re.fullmatch(r"(vgg1[169]|vgg13)(_bn)?", network)
    if vgg:
        model_bn = any(w.path.startswith("block1_bn1/") for w in model.weights)
        if vgg[2] and not model_bn:
            raise ValueError(
                f"`network={network!r}` has batch normalization; build the model with "
                "batch_norm=True"
            )
        return vgg_rules(vgg[1], batch_norm=model_bn)
    if RESNET_NETWORK.fullmatch(network):
        return RESNET_RULES
    if re.fullmatch(r"densenet(121|161|169|201)", network):
        return DENSENET_RULES
    tables = {
        "alexnet": ALEXNET_RULES,
        "googlenet": GOOGLENET_RULES,
        "inception_v3": INCEPTION_V3_RULES,
    }
    if network in tables:
        return tables[network]
    raise ValueError(
        f"No torchvision weight mapping for network {network!r}; allowed: {'; '.join(NETWORKS)}"
    )


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
            value = value.reshape(out, channels, side, side).transpose(0, 2, 3, 1)
            value = value.reshape(out, inputs)
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


def load_torchvision_state_dict(model, state_dict, *, network, skip_head=False):
    """Assign a torchvision state dict to a kcnn model of the same network, by name.

    Every torchvision parameter is translated through `network`'s rule table into the kcnn weight
    path it belongs to and converted to Keras' layout (see the module docstring). torchvision's
    side heads (GoogLeNet's `aux1`/`aux2`, Inception v3's `AuxLogits`) load into the kcnn model's
    side heads when it was built with `aux_logits=True`, and are ignored otherwise.

    Args:
        model: a kcnn model built with torchvision's layout (e.g. `resnet50()`,
            `alexnet(variant="torchvision")`, `vgg16(batch_norm=True)`,
            `googlenet(variant="torchvision")`, `inception_v3(variant="torchvision")`,
            `densenet121(variant="torchvision")`).
        state_dict: mapping of torchvision parameter names to arrays (e.g. from `read_pth`).
        network: the kcnn builder name ("resnet50", "vgg16", ...); torchvision's names
            ("vgg16_bn", "resnext50_32x4d", ...) work too.
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
    rules = family_rules(network, model)
    weights = {w.path: w for w in model.weights}
    has_aux = any(_is_aux(path) for path in weights)
    has_top = any(path.split("/")[0] == "predictions" for path in weights)
    assignments = {}
    for key, value in state_dict.items():
        if key.rpartition(".")[2] in IGNORED_PARAMETERS:
            continue
        path, kind = kcnn_weight_path(key, rules)
        if path is None:
            raise ValueError(
                f"torchvision parameter {key!r} has no counterpart in kcnn's {network}: it is not "
                "a parameter of that torchvision network"
            )
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
        array = convert_array(np.asarray(value), kind)
        expected = tuple(weights[path].shape)
        if array.shape != expected:
            raise ValueError(
                f"torchvision parameter {key!r} has shape {tuple(np.shape(value))}, which is "
                f"{array.shape} in Keras' layout; kcnn weight {path!r} has shape {expected} "
                "(another width, number of classes or input size?)"
            )
        if path in assignments:
            raise ValueError(f"kcnn weight {path!r} is the target of two torchvision parameters")
        assignments[path] = array
    unassigned = sorted(set(weights) - set(assignments))
    missing = [p for p in unassigned if not (skip_head and _is_head(p))]
    if missing:
        raise ValueError(
            f"kcnn weights of {model.name!r} with no torchvision parameter in the state dict: "
            f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''} ({len(missing)} in all)"
        )
    for path, array in assignments.items():
        weights[path].assign(array.astype(weights[path].dtype))
    return unassigned
