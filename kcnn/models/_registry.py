"""The model registry: every builder registers itself by name with one declaration per variant.

A `VariantSpec` is the one place that says, for one network variant, its default and minimum
input, its source, its published weight sets (with the rule table that places torchvision's
tensors), its feature stages, its initial distribution and its parameter count. The family modules
write them next to their configuration tables; the registry, `kcnn list` / `kcnn summary`,
`kcnn train`'s input planning and the weight loading read them from here.
"""

import dataclasses
import difflib
import fnmatch
import inspect

from kcnn.models import initializers
from kcnn.models._stages import FeatureStage

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
        stages: its feature stages, `FeatureStage`s (or (layer name, stride, channels) tuples,
            which become `FeatureStage`s), from fine to coarse, for feature extraction.
        initializer: the initial distribution of its source, a `kcnn.models.initializers.Scheme`
            (`KERAS`, the layers' own, where no other is declared); builders draw from it with
            `initializer="source"`.
        torchvision_rules: the rule table that places each tensor of its torchvision weights
            (`kcnn.weights.torchvision`); empty without torchvision weights.
        params: the trainable parameters of the builder's default call for this variant (the
            count `kcnn list` prints and the tests check), or None where none is declared.
        macs: the conv + dense multiply-accumulates per image of that call
            (`kcnn.analysis.profile`), or None.
        name: the value of the builder's keyword that selects it (set by `register`).
    """

    default_input: tuple
    min_input: int
    source: str = ""
    weights: tuple = ()
    stages: tuple = ()
    initializer: initializers.Scheme = initializers.KERAS
    torchvision_rules: tuple = ()
    params: int = None
    macs: int = None
    name: object = None

    def __post_init__(self):
        object.__setattr__(self, "stages", tuple(FeatureStage(*s) for s in self.stages))

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
        """The `VariantSpec` a call `builder(**builder_kwargs)` builds (e.g. `variant="cifar"`;
        None, or no selector, is the default variant)."""
        if self.selector is None:
            return self.variant()
        key = builder_kwargs.get(self.selector)
        return self.variant(self.default_variant if key is None else key)

    def weight_sets(self):
        """[(variant key, WeightSet)] of every published weight set of this network."""
        return [(key, w) for key, v in self.variants.items() for w in v.weights]


def register(family, source, variants, selector="variant"):
    """Decorator that records a builder under its function name with its declarations; the
    builder itself is returned unchanged.

    Args:
        family: the network family, e.g. "resnet".
        source: the paper or reference the builder follows (shown by `kcnn list`).
        variants: one `VariantSpec` (a builder without variants) or {key: VariantSpec} keyed by
            the values of the builder keyword `selector`; the first is the default.
        selector: the builder keyword that picks a variant.
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
            default = parameter.default if parameter is not None else None
            default = next(iter(table)) if default is None else default
            if default not in table:
                raise ValueError(f"{name}: the default {selector}={default!r} has no declaration")
        table = {key: dataclasses.replace(v, name=key) for key, v in table.items()}
        _REGISTRY[name] = ModelSpec(
            name=name,
            builder=builder,
            family=family,
            source=source,
            variants=table,
            selector=key_name,
            default_variant=default,
        )
        return builder

    return decorator


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


class OptionError(TypeError, ValueError):
    """A builder option that does not exist or has the wrong type. It is a TypeError, as Python
    raises for a call, and a ValueError, which commands report in one line."""


def get(name, **options):
    """Build the registered model `name` with the builder's keyword arguments.

    Args:
        name: a registered name (see `names()`).
        **options: passed to the builder (num_classes, input_shape, variant, weights, ...).

    Returns:
        A `keras.Model`.

    Raises:
        ValueError: an unknown model name (with close matches), or an option the builder cannot
            use.
        OptionError: an option the builder does not take, or of the wrong type (the builder
            points keras.applications' `classes` to `num_classes`).
    """
    builder = spec(name).builder  # an unknown name raises ValueError with close matches
    try:
        return builder(**options)
    except TypeError as error:  # an unknown builder option, or a value of the wrong type
        if isinstance(error, OptionError):
            raise
        raise OptionError(f"{name}: {error}") from None


build = get  # the name the command line and the trainer use
