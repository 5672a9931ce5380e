"""A builder's docstring: its summary, its declared parameter counts and its arguments.

The arguments every builder shares are described once here (`SHARED`), filled in with what
differs between families (default classes and input, the head, what `pooling` sees); counts come
from the declarations (`VariantSpec.params`), so they are written once.
"""

from kcnn.models import _registry as registry

SHARED = """\
        num_classes: classes of the classifier (default {classes}).
        input_shape: (height, width, channels); default {shape}.
        include_top: build the classifier ({head}).
        pooling: without the top, None (4-D features {features}), "avg" or "max".
        classifier_activation: activation of `predictions` (None for logits); it is computed in
            float32 under mixed precision.
        input_tensor: optional Keras tensor to build the model on.
        weights: None, a path to a `.weights.h5` file, or a published set's name{sets}; another
            `num_classes`, no top or another input size load all but the classifier.
        name: the model's name (default "{name}").
{extra}\
        initializer: "keras" (the layers' own initialisers), "source" (the variant's declared
            scheme) or a scheme of `kcnn.models.initializers`.
        include_preprocessing: put the weight set's preprocessing in the model as its first
            layers, so that it takes RGB images with values 0-255 (default False).
        classes: keras.applications' name for `num_classes`, refused with a pointer to it.
"""


def counts(network):
    """The declared trainable parameters of `network`'s default call, per variant, in one line."""
    spec = registry.spec(network)
    parts = []
    for key, declared in spec.variants.items():
        where = "" if key is None else f"{spec.selector}={key!r}: "
        parts.append(f"{where}{declared.params:,}")
    return "; ".join(parts)


def document(builder, summary, own="", *, classes=1000, shape="224x224x3", head="", features="",
             extra="", name=None):
    """Set the docstring of the registered `builder` and return it.

    Args:
        builder: the registered builder.
        summary: its first paragraph (what it builds, the paper).
        own: the Args entries of its own arguments (lines indented by eight spaces).
        classes, shape, head, features: what differs in the shared entries (see `SHARED`).
        extra: Args entries of arguments the family shares, after `name`.
        name: the default model name (the builder's name if None).
    """
    network = builder.__name__
    spec = registry.spec(network)
    sets = dict.fromkeys(n for v in spec.variants.values() for n in v.weight_names())
    listed = f" ({', '.join(map(repr, sets))})" if sets else " (none published)"
    shared = SHARED.format(
        classes=classes,
        shape=shape,
        head=head,
        features=features,
        sets=listed,
        name=name or network,
        extra=extra,
    )
    builder.__doc__ = (
        f"{summary}\n\n    Trainable parameters of the default call: {counts(network)}.\n\n"
        f"    Args:\n{own}{shared}"
    )
    return builder
