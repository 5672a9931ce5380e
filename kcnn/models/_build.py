"""The one call every builder ends with: the options all builders share.

A builder writes out its whole signature, then hands its arguments to `build_model`, which
handles what every builder shares, the way timm's builders end in `build_model_with_cfg`:

* `weights`: a weight set's name ("imagenet", "torchvision", "torchvision_v2", "keras") picks the
  variant that has it when the call leaves the variant to the default (`variant=None`), builds the
  model and loads the set (`kcnn.weights`); a head that does not fit is left as initialised;
  a `.weights.h5` path is loaded by the family's own code;
* `include_preprocessing`: the weight set's preprocessing as the model's first layers;
* `initializer`: "keras" (the layers' own initialisers), "source" (the variant's declared
  scheme) or a scheme of `kcnn.models.initializers`, drawn after the model is built.
"""

from kcnn.models import _loading, initializers
from kcnn.models._common import COMMON_OPTIONS, CommonOptions
from kcnn.models._registry import OptionError, names
from kcnn.models._registry import spec as model_spec


def build_model(network, options, make):
    """Build registered `network` from a builder's `options` with `make`.

    Args:
        network: the registered name, e.g. "resnet50".
        options: every argument of the builder, by name (the builder passes `locals()`).
        make: the family's function that builds the graph: `make(network, declared, common,
            **own)` with the variant's `VariantSpec`, the `CommonOptions` and the builder's own
            options (its variant keyword among them, chosen).

    Returns:
        The `keras.Model`.
    """
    spec = model_spec(network)
    options = dict(options, network=network)
    classes = options.pop("classes")
    if classes is not None:
        raise OptionError(
            f"{network}() got keras.applications' keyword argument 'classes'; kcnn calls it "
            f"`num_classes` (e.g. {network}(num_classes={classes!r}))"
        )
    initializer = options.pop("initializer")
    include_preprocessing = options.pop("include_preprocessing")
    weights = options.get("weights")
    if initializer != "keras" and weights is not None:
        raise ValueError(
            f"`{network}`: `initializer={initializer!r}` sets random initial weights, so it "
            f"cannot be combined with `weights={weights!r}`; pass one of them"
        )
    def graph(**chosen):
        network = chosen.pop("network")
        declared = spec.resolve(**chosen)
        common = CommonOptions(**{key: chosen.pop(key) for key in COMMON_OPTIONS})
        return make(network, declared, common, **chosen)

    _, declared, _ = _loading.resolve(spec, options)
    if _loading.is_weights_name(weights) or include_preprocessing:
        model = _loading.build(spec, graph, options, include_preprocessing=include_preprocessing)
    else:
        model = graph(**options)
    if initializer != "keras":  # never with weights (refused above)
        chosen = initializers.scheme(initializer, declared.initializer, initializer_schemes())
        initializers.initialize(model, chosen)
    return model


def initializer_schemes():
    """{name: `Scheme`} of every scheme `initializer=` can name: the general ones and those the
    variants declare."""
    found = {s.name: s for s in initializers.GENERAL}
    for network in names():
        for declared in model_spec(network).variants.values():
            found.setdefault(declared.initializer.name, declared.initializer)
    return found
