"""The model registry: every builder registers itself by name with one declaration per variant.

A `VariantSpec` is the one place that says, for one network variant, its default and minimum
input, its source, its published weight sets and (issue 15) its feature stages. The family modules
write them next to their configuration tables; the registry, `kcnn list` / `kcnn summary`,
`kcnn train`'s input planning and the weight loader read them from here.
"""

import dataclasses
import difflib
import fnmatch
import functools
import inspect
import os

_REGISTRY = {}
_DEFAULT = object()


@dataclasses.dataclass(frozen=True, kw_only=True)
class VariantSpec:
    """The declaration of one network variant.

    Attributes:
        default_input: the input shape used when `input_shape=None`.
        min_input: the smallest spatial size (height = width) the network accepts.
        source: where this variant's layout comes from (paper, reference implementation).
        weights: its published `kcnn.weights.sets.WeightSet`s; the first is `weights="imagenet"`.
        stages: its feature stages (layer name, stride, channels), for feature extraction.
        initializer: the initial distribution of its source, a `kcnn.models.initializers`
            scheme ("keras" where no other is declared); builders draw from it with
            `initializer="source"`.
        name: the value of the builder's keyword that selects it (set by `register`).
    """

    default_input: tuple
    min_input: int
    source: str = ""
    weights: tuple = ()
    stages: tuple = ()
    initializer: str = "keras"
    name: object = None

    def weight_names(self):
        """The names `weights=` takes for this variant: "imagenet" first, then each set's name."""
        return ("imagenet", *(w.name for w in self.weights)) if self.weights else ()

    def weight_set(self, name):
        """The `WeightSet` called `name` ("imagenet" is the first), or None if there is none."""
        if not self.weights:
            return None
        if name == "imagenet":
            return self.weights[0]
        return next((w for w in self.weights if w.name == name), None)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """What the registry knows about a builder.

    Attributes:
        name: the builder's name, e.g. "vgg16".
        builder: the builder function.
        family: the network family, e.g. "vgg".
        source: the paper or reference implementation the builder follows.
        variants: {selector value: `VariantSpec`}, e.g. {"paper": ..., "cifar": ...}.
        selector: the builder keyword that picks a variant ("variant", "batch_norm"), or None.
        default_variant: the selector's default value (the key of the default declaration).
    """

    name: str
    builder: object
    family: str
    source: str
    variants: dict
    selector: str = None
    default_variant: object = None

    @property
    def default_input(self):
        """The default variant's default input shape."""
        return self.variant().default_input

    @property
    def min_input(self):
        """The default variant's smallest input size."""
        return self.variant().min_input

    def variant(self, key=_DEFAULT):
        """The `VariantSpec` of variant `key` (default: the builder's default variant)."""
        key = self.default_variant if key is _DEFAULT else key
        try:
            return self.variants[key]
        except KeyError:
            raise ValueError(
                f"`{self.name}`: unknown {self.selector or 'variant'} {key!r}; "
                f"allowed: {', '.join(map(repr, self.variants))}"
            ) from None

    def resolve(self, **builder_kwargs):
        """The `VariantSpec` a call `builder(**builder_kwargs)` builds (e.g. `variant="cifar"`)."""
        if self.selector is None:
            return self.variant()
        return self.variant(builder_kwargs.get(self.selector, self.default_variant))

    def weight_sets(self):
        """[(variant key, WeightSet)] of every published weight set of this network."""
        return [(key, w) for key, v in self.variants.items() for w in v.weights]


def register(family, source, variants, selector="variant"):
    """Decorator that registers a builder under its function name with its declarations.

    Args:
        family: the network family, e.g. "resnet".
        source: the paper or reference the builder follows (shown by `kcnn list`).
        variants: one `VariantSpec` (a builder without variants) or {key: VariantSpec} keyed by
            the values of the builder keyword `selector`.
        selector: the builder keyword that picks a variant.

    The builder is returned wrapped to turn keras.applications' `classes=` spelling into a clear
    error (kcnn says `num_classes`, like torchvision and KerasHub), to serve pretrained
    `weights=` names and `include_preprocessing=` (see `kcnn.weights`), and to take every
    builder's `initializer` option for random weights: "keras" (default: the builder's own
    initialisers), "source" (the initial distribution of the source the model follows) or a
    scheme name (`kcnn.models.initializers`).
    """

    def decorator(builder):
        name = builder.__name__
        if name in _REGISTRY:
            raise ValueError(f"a model named {name!r} is already registered")
        if isinstance(variants, VariantSpec):
            table, key_name, default = {None: variants}, None, None
        else:
            table, key_name = dict(variants), selector
            parameter = inspect.signature(builder).parameters.get(selector)
            default = parameter.default if parameter is not None else next(iter(table))
            if default not in table:
                raise ValueError(f"{name}: the default {selector}={default!r} has no declaration")
        table = {key: dataclasses.replace(v, name=key) for key, v in table.items()}

        @functools.wraps(builder)
        def wrapper(*args, **kwargs):
            if "classes" in kwargs:
                raise TypeError(
                    f"{name}() got an unexpected keyword argument 'classes'; "
                    f"kcnn calls it `num_classes` (e.g. {name}(num_classes=10))"
                )
            initializer = kwargs.pop("initializer", "keras")
            weights = kwargs.get("weights")
            if initializer != "keras" and weights is not None:
                raise ValueError(
                    f"`{name}`: `initializer={initializer!r}` sets random initial weights, so it "
                    f"cannot be combined with `weights={weights!r}`; pass one of them"
                )
            preprocessing = kwargs.pop("include_preprocessing", False)
            if _is_weights_name(weights) or preprocessing:
                from kcnn.weights import loader

                return loader.build(
                    _REGISTRY[name], builder, kwargs, include_preprocessing=preprocessing
                )
            model = builder(*args, **kwargs)
            if initializer != "keras":
                from kcnn.models import initializers

                declared = _REGISTRY[name].resolve(**kwargs).initializer
                initializers.initialize(model, initializers.scheme(initializer, declared))
            return model

        _REGISTRY[name] = ModelSpec(
            name=name,
            builder=wrapper,
            family=family,
            source=source,
            variants=table,
            selector=key_name,
            default_variant=default,
        )
        if any(v.weights for v in table.values()):
            _document_pretrained(wrapper, builder)
        return wrapper

    return decorator


_PRETRAINED_DOC = """
    Pretrained weights (kcnn.weights):
        weights: also "imagenet" (the variant's first published set; without a variant given, the
            variant that has weights), or a set by name: "torchvision", "torchvision_v2", "keras".
            `kcnn.models.spec(name).variant(...).weights` lists them; other `num_classes` load all
            but the classifier.
        include_preprocessing: put the weights' preprocessing in the model as its first layers,
            so that it takes RGB images with values 0-255 (default False).
"""


def _document_pretrained(wrapper, builder):
    """Add `include_preprocessing` to the wrapper's signature and the weight names to its doc."""
    signature = inspect.signature(builder)
    parameters = list(signature.parameters.values())
    extra = inspect.Parameter("include_preprocessing", inspect.Parameter.KEYWORD_ONLY, default=False)
    at = next((i for i, p in enumerate(parameters) if p.kind is p.VAR_KEYWORD), len(parameters))
    wrapper.__signature__ = signature.replace(parameters=[*parameters[:at], extra, *parameters[at:]])
    wrapper.__doc__ = (builder.__doc__ or "").rstrip() + "\n" + _PRETRAINED_DOC


def _is_weights_name(weights):
    """A pretrained set's name ("imagenet", "torchvision", ...) rather than None or a file path."""
    return (
        isinstance(weights, str)
        and not weights.endswith(".h5")
        and os.sep not in weights
        and "/" not in weights
    )


def names(family=None, pattern=None):
    """Sorted names of the registered builders.

    Args:
        family: keep only this family (e.g. "resnet").
        pattern: keep only names matching this shell-style pattern (e.g. "resnet*").
    """
    found = [
        n
        for n, s in _REGISTRY.items()
        if (family is None or s.family == family) and (pattern is None or fnmatch.fnmatch(n, pattern))
    ]
    return sorted(found)


def families():
    """Sorted names of the registered families."""
    return sorted({s.family for s in _REGISTRY.values()})


def spec(name):
    """The `ModelSpec` registered under `name`; an unknown name raises a ValueError with close matches."""
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(str(name), list(_REGISTRY), n=5, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise ValueError(
            f"Unknown model {name!r}.{hint} Known families: {', '.join(families())}; "
            f"kcnn.models.names() lists all {len(_REGISTRY)} models."
        ) from None


def get(name, **kwargs):
    """Build the registered model `name` with the builder's keyword arguments.

    Args:
        name: a registered name (see `names()`).
        **kwargs: passed to the builder (num_classes, input_shape, variant, weights, ...).

    Returns:
        A `keras.Model`.
    """
    return spec(name).builder(**kwargs)


def build(name, **options):
    """`get(name, **options)` for options a user typed (the CLI, config files): a builder's
    TypeError (an unknown or ill-typed option) is raised as a ValueError naming the model, so
    commands report it in one line.

    Raises:
        ValueError: an unknown model name (with close matches), or an option the builder does not
            take or cannot use.
    """
    builder = spec(name).builder  # an unknown name raises ValueError with close matches
    try:
        return builder(**options)
    except TypeError as error:  # an unknown builder option, or a value of the wrong type
        raise ValueError(f"{name}: {error}") from None
