"""The model side of pretrained weights: pick the variant and the weight set a call asks for,
build on raw images when asked to, and hand the built model to `kcnn.weights` to load.

`kcnn.weights` knows files, arrays, layers and preprocessing and never imports `kcnn.models`;
what needs a declaration (which variant has which set, its torchvision rules, the input it was
trained at) is read from the `ModelSpec` the registry passes in, and handed on.
"""

import os

from kcnn.weights import download, loader, preprocessing


def is_weights_name(weights):
    """A pretrained set's name ("imagenet", "torchvision", ...) rather than None or a file path."""
    return (
        isinstance(weights, str)
        and not weights.endswith(".h5")
        and os.sep not in weights
        and "/" not in weights
    )


def _describe(spec, key):
    return "" if spec.selector is None else f"{spec.selector}={key!r}"


def available(spec):
    """One line listing every weights name of `spec` with the variant it needs."""
    parts = []
    for key, declared in spec.variants.items():
        names = declared.weight_names()
        if names:
            where = f" ({_describe(spec, key)})" if spec.selector else ""
            parts.append(f"{', '.join(map(repr, names))}{where}")
    return "; ".join(parts)


def resolve(spec, kwargs):
    """(variant key, VariantSpec, WeightSet or None) for a builder call; picks the variant that
    has the named weights when the call does not choose one (and writes it into `kwargs`).
    Unknown names raise a ValueError listing what exists."""
    weights = kwargs.get("weights")
    if spec.selector is not None and kwargs.get(spec.selector) is None:
        key = spec.default_variant
        if weights is not None and spec.variant(key).weight_set(weights) is None:
            key = next(
                (k for k, v in spec.variants.items() if v.weight_set(weights) is not None), key
            )
        kwargs[spec.selector] = key
    key = kwargs[spec.selector] if spec.selector else None
    declared = spec.variant(key)
    if weights is None or not is_weights_name(weights):
        return key, declared, None
    found = declared.weight_set(weights)
    if found is None:
        everything = available(spec)
        if not everything:
            raise ValueError(
                f"`{spec.name}` has no published pretrained weights; `weights` must be None or a "
                f"path to a `.weights.h5` file; received {weights!r}"
            )
        chosen = f" with {_describe(spec, key)}" if spec.selector else ""
        raise ValueError(
            f"`{spec.name}`{chosen}: no weights {weights!r}; available: {everything} "
            "(or None, or a path to a `.weights.h5` file)"
        )
    return key, declared, found


def build(spec, make, kwargs, *, include_preprocessing=False):
    """`make(**kwargs)` with named pretrained weights loaded and/or the weights' preprocessing as
    the model's first layers (it then takes RGB 0-255 images). The weight file is fetched before
    the model is built, so an offline call fails at once."""
    kwargs = dict(kwargs)
    _, declared, weight_set = resolve(spec, kwargs)
    if include_preprocessing:
        chosen = weight_set or (declared.weights[0] if declared.weights else None)
        if chosen is None:
            raise ValueError(
                f"`{spec.name}`: include_preprocessing=True needs a variant with published weights "
                f"(their preprocessing goes into the model); available: {available(spec) or 'none'}"
            )
        kwargs["input_tensor"] = preprocessing.raw_input(
            chosen.preprocessing,
            kwargs.get("input_shape") or declared.default_input,
            kwargs.get("input_tensor"),
        )
        if kwargs.get("input_shape") is None:
            kwargs["input_shape"] = tuple(kwargs["input_tensor"].shape[1:])
    path = None
    if weight_set is not None:
        kwargs["weights"] = None
        # the file first: offline or without torch, this fails before any model is built
        path = download.ensure(
            weight_set,
            network=spec.name,
            notop=not kwargs.get("include_top", True),
            rules=declared.torchvision_rules,
        )
    model = make(**kwargs)
    if path is not None:
        loader.load(
            model,
            path,
            weight_set=weight_set,
            network=spec.name,
            trained_input=declared.default_input,
        )
    return model
