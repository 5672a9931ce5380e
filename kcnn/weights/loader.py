"""Build a registered model with pretrained weights and/or its preprocessing inside.

`build` is what a builder runs when `weights=` names a weight set ("imagenet", "torchvision",
"torchvision_v2", "keras") or `include_preprocessing=True`: it picks the variant that has those
weights (when `variant=` is not given), builds the model on raw images when asked to, and loads
the weights through `kcnn.weights.download` (the cached file) and the source's reader.
"""

import warnings

from kcnn.weights import download, preprocessing


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
    has the named weights when the call does not choose one. Unknown names raise a ValueError
    listing what exists."""
    weights = kwargs.get("weights")
    if weights is not None and spec.selector is not None and spec.selector not in kwargs:
        default = spec.variant()
        if default.weight_set(weights) is None:
            for key, declared in spec.variants.items():
                if declared.weight_set(weights) is not None:
                    kwargs[spec.selector] = key
                    break
    key = kwargs.get(spec.selector, spec.default_variant) if spec.selector else None
    declared = spec.resolve(**kwargs)
    if weights is None:
        return key, declared, None
    found = declared.weight_set(weights)
    if found is None:
        everything = available(spec)
        if not everything:
            raise ValueError(
                f"`{spec.name}` has no published pretrained weights; `weights` must be None or a "
                "path "
                f"to a `.weights.h5` file; received {weights!r}"
            )
        chosen = f" with {_describe(spec, key)}" if spec.selector else ""
        raise ValueError(
            f"`{spec.name}`{chosen}: no weights {weights!r}; available: {everything} "
            "(or None, or a path to a `.weights.h5` file)"
        )
    return key, declared, found


def build(spec, builder, kwargs, *, include_preprocessing=False):
    """Build `spec`'s model for `builder(**kwargs)` with named pretrained weights loaded and/or
    the weights' preprocessing as its first layers (the model then takes RGB 0-255 images)."""
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
        kwargs.setdefault("input_shape", tuple(kwargs["input_tensor"].shape[1:]))
    kwargs["weights"] = None
    # the file first: offline or without torch, this fails before any model is built
    path = download.ensure(spec, kwargs, weight_set) if weight_set is not None else None
    model = builder(**kwargs)
    if weight_set is not None:
        load(model, path, spec=spec, kwargs=kwargs, weight_set=weight_set)
    return model


HEADS = ("predictions", "aux", "aux1", "aux2")  # classifier layers: fresh when they do not fit


def load(model, path, *, spec, kwargs, weight_set):
    """Load `weight_set`'s local file `path` (see `download.ensure`) into `model`, built by
    `spec.builder(**kwargs)`.

    The model with the source's exact layout (the top with 1000 classes, the declared input)
    takes the file directly. Any other (another `num_classes`, `include_top=False`, another input
    size, auxiliary heads) gets the weights through a reference model of the source's layout,
    copied layer by layer by name: its backbone then equals the source's, and its classifier
    stays as initialised, which a single warning says. A backbone layer that cannot take its
    weights (a Flatten head's first dense layer at another input size) raises a ValueError.
    """
    include_top = kwargs.get("include_top", True)
    declared = spec.resolve(**kwargs)
    keras_notop = download.wants_notop(kwargs, weight_set)
    direct = keras_notop or (
        include_top
        and _classes(model) == weight_set.num_classes
        and tuple(model.input_shape[1:]) == tuple(declared.default_input)
        and not kwargs.get("aux_logits")
    )
    # torchvision's converted file holds the whole source model: a model without the top takes
    # it through a reference; keras.applications' no-top file is exactly the backbone
    target = model if direct else _reference(spec, kwargs, include_top=True)
    if weight_set.source == "keras":
        from kcnn.weights import keras_h5

        keras_h5.load(target, path, network=spec.name)
    else:
        target.load_weights(path)
    if direct:
        return model
    skipped = copy_by_name(target, model)
    backbone = [name for name in skipped if name not in HEADS]
    if backbone:
        raise ValueError(
            f"`{spec.name}`: the pretrained weights do not fit layer(s) {', '.join(backbone)} at "
            f"input_shape={tuple(model.input_shape[1:])}; they were trained at "
            f"{declared.default_input}. Use that input size, or include_top=False for other sizes."
        )
    if skipped:
        warnings.warn(
            f"{spec.name}: loaded the {weight_set.name!r} ImageNet weights into everything but the "
            f"classifier: {', '.join(skipped)} left as initialised (the source's head has "
            f"{weight_set.num_classes} classes)",
            stacklevel=4,
        )
    return model


def _classes(model):
    try:
        return getattr(model.get_layer("predictions"), "units", None)
    except ValueError:
        return None


def reference_kwargs(spec, kwargs, *, include_top):
    """The builder arguments of the source's own layout for the variant `kwargs` selects: the
    declared input, 1000 classes with the top, no auxiliary heads."""
    keep = {spec.selector: kwargs[spec.selector]} if spec.selector in kwargs else {}
    keep["include_top"] = include_top
    if include_top:
        keep["num_classes"] = 1000
    return keep


def _reference(spec, kwargs, *, include_top):
    return spec.builder(**reference_kwargs(spec, kwargs, include_top=include_top))


def copy_by_name(source, target):
    """Copy every weight of `source` into the layer of `target` with the same name and shapes;
    returns the names of `target`'s layers with weights that got none."""
    skipped = []
    for layer in target.layers:
        if not layer.weights:
            continue
        try:
            origin = source.get_layer(layer.name)
        except ValueError:
            skipped.append(layer.name)
            continue
        values = origin.get_weights()
        if [tuple(v.shape) for v in values] != [tuple(w.shape) for w in layer.weights]:
            skipped.append(layer.name)
            continue
        layer.set_weights(values)
    return skipped


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
    from kcnn.models import spec

    _, _, weight_set = resolve(spec(name), dict(builder_kwargs, weights=weights))
    return preprocessing.preprocess(images, weight_set.preprocessing)
