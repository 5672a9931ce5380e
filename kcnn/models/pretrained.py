"""Pretrained weights by network name: the preprocessing of a weight set, and torchvision's
rule table of a network with the state-dict loader that uses it."""

import re

from kcnn.models._loading import resolve
from kcnn.models._registry import names
from kcnn.models._registry import spec as model_spec
from kcnn.weights import preprocessing, torchvision


def preprocess(images, name, *, weights="imagenet", **builder_kwargs):
    """Preprocess RGB 0-255 images (channels last) for model `name` with pretrained `weights`.

    The same as the layers `include_preprocessing=True` puts in the model, as a NumPy function:
    `kcnn.models.preprocess(images, "vgg16")` is keras.applications' caffe mode,
    `kcnn.models.preprocess(images, "resnet50")` torchvision's mean/std.

    Args:
        images: array (..., height, width, 3) of RGB values 0-255.
        name: a registered model name.
        weights: the weight set ("imagenet", "torchvision", "keras", ...).
        **builder_kwargs: the builder's variant options (e.g. variant="keras").
    """
    _, _, weight_set = resolve(model_spec(name), dict(builder_kwargs, weights=weights))
    return preprocessing.preprocess(images, weight_set.preprocessing)


def torchvision_rules(network, model=None):
    """The torchvision rule table of `network`: a kcnn builder name, or torchvision's model name
    ("vgg16_bn"); a VGG `model` with batch normalization takes the `_bn` table."""
    if not isinstance(network, str):
        raise TypeError(f"`network` must be a network name (a string); received {network!r}")
    found = re.fullmatch(r"(vgg\d+)_bn", network)
    if found and model is not None and not any(
        w.path.startswith("block1_bn1/") for w in model.weights
    ):
        raise ValueError(
            f"`network={network!r}` has batch normalization; build the model with batch_norm=True"
        )
    name = found[1] if found else network
    tables = []
    try:
        spec = model_spec(name)
    except ValueError:
        spec = None
    if spec is not None:
        for key, declared in spec.variants.items():
            if declared.torchvision_rules:
                tables.append((key, declared.torchvision_rules))
    if spec is not None and spec.selector == "batch_norm" and tables:
        wants_bn = bool(found) or (
            model is not None and any(w.path.startswith("block1_bn1/") for w in model.weights)
        )
        return dict(tables)[wants_bn]
    if not tables:
        with_rules = [
            n for n in names() if any(v.torchvision_rules for v in model_spec(n).variants.values())
        ]
        raise ValueError(
            f"No torchvision weight mapping for network {network!r}; allowed: "
            f"{', '.join(with_rules)} (VGG also with '_bn')"
        )
    return tables[0][1]


def load_torchvision_state_dict(model, state_dict, *, network, skip_head=False):
    """Assign a torchvision state dict to a kcnn model of `network` by name (see
    `kcnn.weights.torchvision.load_torchvision_state_dict`; the rule table is the one the
    network's declaration holds, found by `torchvision_rules`)."""
    rules = torchvision_rules(network, model)
    return torchvision.load_torchvision_state_dict(
        model, state_dict, rules=rules, network=network, skip_head=skip_head
    )
