"""The model registry: every builder registers itself by name, `get(name)` builds it."""

import dataclasses
import difflib
import fnmatch
import functools

_REGISTRY = {}


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """What the registry knows about a builder.

    Attributes:
        name: the builder's name, e.g. "vgg16".
        builder: the builder function.
        family: the network family, e.g. "vgg".
        source: the paper or reference implementation the builder follows.
        default_input: the input shape used when `input_shape=None`.
        min_input: the smallest spatial size (height = width) the network accepts.
    """

    name: str
    builder: object
    family: str
    source: str
    default_input: tuple
    min_input: int


def register(family, source, default_input, min_input):
    """Decorator that registers a builder under its function name.

    The builder is returned wrapped to turn keras.applications' `classes=` spelling into a
    clear error (kcnn says `num_classes`, like torchvision and KerasHub), and to take every
    builder's `initializer` option: "keras" (default: the builder's own initialisers), "source"
    (the initial distribution of the source the model follows) or a scheme name
    (`kcnn.models.initializers`).
    """

    def decorator(builder):
        name = builder.__name__
        if name in _REGISTRY:
            raise ValueError(f"a model named {name!r} is already registered")

        @functools.wraps(builder)
        def wrapper(*args, **kwargs):
            if "classes" in kwargs:
                raise TypeError(
                    f"{name}() got an unexpected keyword argument 'classes'; "
                    f"kcnn calls it `num_classes` (e.g. {name}(num_classes=10))"
                )
            initializer = kwargs.pop("initializer", "keras")
            model = builder(*args, **kwargs)
            if initializer != "keras":
                from kcnn.models import initializers

                scheme = initializers.scheme_for(name, kwargs.get("variant"), initializer)
                initializers.initialize(model, scheme)
            return model

        _REGISTRY[name] = ModelSpec(name, wrapper, family, source, tuple(default_input), min_input)
        return wrapper

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


def get(name, **kwargs):
    """Build the registered model `name` with the builder's keyword arguments.

    Args:
        name: a registered name (see `names()`).
        **kwargs: passed to the builder (num_classes, input_shape, variant, ...).

    Returns:
        A `keras.Model`.
    """
    return spec(name).builder(**kwargs)
