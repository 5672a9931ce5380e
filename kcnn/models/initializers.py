"""Initial weights as each model's source drew them.

kcnn's builders create their layers with Keras' initialisers (Glorot uniform kernels, zero
biases; He normal for the ResNets). Training from scratch to reproduce a source also needs its
initial distribution: a `Scheme` says how every convolution and dense kernel and bias is drawn,
and `initialize(model, scheme)` redraws them in a built model (BatchNorm keeps gamma 1, beta 0,
as every source). Each variant declares its source's scheme next to its family's table
(`VariantSpec.initializer`, e.g. `kcnn.models.resnet.TORCHVISION_INIT`); the ones here serve
every family:

    keras          the builder's own initialisers (unchanged)
    torch-default  PyTorch's Conv2d/Linear default: weight and bias U(-b, b), b = 1 / sqrt(fan_in)
    kaiming        every kernel N(0, sqrt(2 / fan_in)) (He et al. 2015's MSRA initialisation; the
                   CIFAR ResNets' reference code), bias the PyTorch default

fan_in is kernel height x width x input channels per group (a dense layer's inputs), fan_out
height x width x output channels, as PyTorch computes them. `kcnn.models.get(name,
initializer="source")` applies the variant's scheme; any declared scheme can be named instead.
"""

import dataclasses

import numpy as np


def fans(shape):
    """(fan_in, fan_out) of a conv kernel (kh, kw, in, out) or a dense kernel (in, out)."""
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    return receptive * shape[-2], receptive * shape[-1]


def normal(rng, shape, std, bound=None):
    """N(0, std) values; with `bound`, redrawn until inside [-bound, bound] (trunc_normal_)."""
    values = rng.normal(0.0, std, shape)
    if bound is not None:
        outside = np.abs(values) > bound
        while outside.any():
            values[outside] = rng.normal(0.0, std, outside.sum())
            outside = np.abs(values) > bound
    return values


def torch_uniform(rng, shape, fan_in):
    """PyTorch's default for Conv2d and Linear weights and biases: U(-b, b), b = 1/sqrt(fan_in)."""
    bound = 1 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, shape)


def he_fan_in(rng, path, shape):
    """kaiming_normal_ (fan_in, relu): N(0, sqrt(2 / fan_in))."""
    return normal(rng, shape, np.sqrt(2 / fans(shape)[0]))


def he_fan_out(rng, path, shape):
    """kaiming_normal_ (fan_out, relu): N(0, sqrt(2 / fan_out))."""
    return normal(rng, shape, np.sqrt(2 / fans(shape)[1]))


def torch_default(rng, path, shape):
    """A kernel drawn as PyTorch's default (`torch_uniform` of its fan_in)."""
    return torch_uniform(rng, shape, fans(shape)[0])


def torch_default_bias(rng, path, shape, fan_in, conv):
    """A bias drawn as PyTorch's default, from its kernel's fan_in."""
    return torch_uniform(rng, shape, fan_in)


def zero_bias(rng, path, shape, fan_in, conv):
    """A bias set to zero."""
    return np.zeros(shape)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Scheme:
    """How a source draws its initial weights.

    Attributes:
        name: what `initializer=` calls it.
        conv: (rng, layer path, kernel shape) -> values of a convolution kernel; None keeps it.
        dense: the same for a dense kernel.
        bias: (rng, layer path, bias shape, its kernel's fan_in, whether a convolution's) ->
            values.
    """

    name: str
    conv: object = None
    dense: object = None
    bias: object = torch_default_bias

    def kernel(self, path, shape, rng):
        """Values for the kernel of shape `shape` at layer `path`, or None to keep it."""
        draw = self.conv if len(shape) == 4 else self.dense
        return None if draw is None else draw(rng, path, shape)


KERAS = Scheme(name="keras")
TORCH_DEFAULT = Scheme(name="torch-default", conv=torch_default, dense=torch_default)
KAIMING = Scheme(name="kaiming", conv=he_fan_in, dense=he_fan_in)
GENERAL = (KERAS, TORCH_DEFAULT, KAIMING)


def initialize(model, scheme, seed=None):
    """Redraw the conv and dense kernels and biases of `model` as `scheme` says (in place).

    Args:
        model: a built Keras model (any nesting of layers).
        scheme: a `Scheme`.
        seed: seed of the draws; None draws from NumPy's global generator's state, so
            `keras.utils.set_random_seed` makes them repeatable.

    Returns:
        The model.
    """
    if scheme.conv is None and scheme.dense is None:
        return model
    rng = np.random.default_rng(np.random.randint(2**31) if seed is None else seed)
    kernels = {}
    for variable in model.weights:
        path, _, kind = variable.path.rpartition("/")
        if kind == "kernel" and len(variable.shape) in (2, 4):
            shape = tuple(variable.shape)
            values = scheme.kernel(path, shape, rng)
            if values is not None:
                kernels[path] = (fans(shape)[0], len(shape) == 4)
                variable.assign(values.astype(variable.dtype))
    for variable in model.weights:
        path, _, kind = variable.path.rpartition("/")
        if kind == "bias" and path in kernels:
            fan_in, conv = kernels[path]
            values = scheme.bias(rng, path, tuple(variable.shape), fan_in, conv)
            variable.assign(values.astype(variable.dtype))
    return model


def scheme(initializer, declared, known):
    """The `Scheme` a builder's `initializer` option means.

    Args:
        initializer: "source" (the variant's declared scheme), "keras", or a scheme's name.
        declared: the scheme the variant declares (`VariantSpec.initializer`).
        known: {name: Scheme} of every scheme that can be named.
    """
    if initializer == "source":
        return declared
    if initializer not in known:
        raise ValueError(
            f"unknown initializer {initializer!r}; choose from: source, {', '.join(known)}"
        )
    return known[initializer]
