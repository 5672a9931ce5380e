"""Initial weights as each model's source drew them.

kcnn's builders create their layers with Keras' initialisers (Glorot uniform kernels, zero
biases; He normal for the ResNets). Training from scratch to reproduce a source also needs its
initial distribution; `initialize(model, scheme)` redraws every convolution and dense kernel and
bias of a built model from one of SCHEMES (BatchNorm keeps gamma 1, beta 0, as every source):

    keras                     the builder's own initialisers (unchanged)
    torch-default             PyTorch's Conv2d/Linear default: weight and bias U(-b, b),
                              b = 1 / sqrt(fan_in) (torchvision's AlexNet sets nothing else)
    torchvision-resnet        conv N(0, sqrt(2 / fan_out)) (kaiming_normal_, fan_out, relu);
                              Linear the PyTorch default
    torchvision-vgg           conv N(0, sqrt(2 / fan_out)), bias 0; Linear N(0, 0.01), bias 0
    torchvision-googlenet     conv and Linear weights N(0, 0.01) truncated to [-2, 2] (absolute
                              bounds, as torchvision calls trunc_normal_), Linear bias default
    torchvision-inception_v3  the same with std 0.1, except AuxLogits' conv1 (0.01) and fc (0.001)
    torchvision-densenet      conv N(0, sqrt(2 / fan_in)) (kaiming_normal_), Linear weight
                              default, bias 0
    kaiming                   every kernel N(0, sqrt(2 / fan_in)) (He et al. 2015's MSRA
                              initialisation; the CIFAR ResNets' reference code), Linear bias
                              the PyTorch default
    alexnet-paper             Krizhevsky et al. 2012, section 5: every weight N(0, 0.01); biases 1
                              in conv2, conv4, conv5 and the hidden dense layers fc6, fc7, else 0

fan_in is kernel height x width x input channels per group (a dense layer's inputs), fan_out
height x width x output channels, as PyTorch computes them. Each variant declares its source's
scheme (`VariantSpec.initializer`, next to the family's table);
`kcnn.models.get(name, initializer="source")` applies it.
"""

import numpy as np

SCHEMES = (
    "keras", "torch-default", "torchvision-resnet", "torchvision-vgg", "torchvision-googlenet",
    "torchvision-inception_v3", "torchvision-densenet", "kaiming", "alexnet-paper",
)

def fans(shape):
    """(fan_in, fan_out) of a conv kernel (kh, kw, in, out) or a dense kernel (in, out)."""
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    return receptive * shape[-2], receptive * shape[-1]


def _normal(rng, shape, std, bound=None):
    values = rng.normal(0.0, std, shape)
    if bound is not None:  # trunc_normal_(a=-bound, b=bound): redraw what falls outside
        outside = np.abs(values) > bound
        while outside.any():
            values[outside] = rng.normal(0.0, std, outside.sum())
            outside = np.abs(values) > bound
    return values


def _uniform(rng, shape, bound):
    return rng.uniform(-bound, bound, shape)


def _draw(scheme, path, shape, fan_in, rng):
    """Values for the kernel at `path` (a layer path), or None to keep it."""
    conv = len(shape) == 4
    fan_out = fans(shape)[1]
    if scheme == "torch-default":
        return _uniform(rng, shape, 1 / np.sqrt(fan_in))
    if scheme in ("torchvision-resnet", "torchvision-vgg"):
        if conv:
            return _normal(rng, shape, np.sqrt(2 / fan_out))
        return (_normal(rng, shape, 0.01) if scheme == "torchvision-vgg"
                else _uniform(rng, shape, 1 / np.sqrt(fan_in)))
    if scheme == "torchvision-googlenet":
        return _normal(rng, shape, 0.01, bound=2.0)
    if scheme == "torchvision-inception_v3":
        std = {"aux/conv1": 0.01, "aux/predictions": 0.001}.get(path, 0.1)
        return _normal(rng, shape, std, bound=2.0)
    if scheme in ("torchvision-densenet", "kaiming"):
        if conv or scheme == "kaiming":
            return _normal(rng, shape, np.sqrt(2 / fan_in))
        return _uniform(rng, shape, 1 / np.sqrt(fan_in))
    if scheme == "alexnet-paper":
        return _normal(rng, shape, 0.01)
    raise ValueError(f"unknown initializer scheme {scheme!r}; choose from: {', '.join(SCHEMES)}")


def _bias(scheme, path, shape, fan_in, conv, rng):
    """Values for the bias at `path`, whose kernel has `fan_in`."""
    if scheme == "alexnet-paper":
        ones = path.rpartition("/")[2] in ("conv2", "conv4", "conv5", "fc6", "fc7")
        return np.full(shape, 1.0 if ones else 0.0)
    zero = scheme == "torchvision-vgg" or (scheme == "torchvision-densenet" and not conv)
    return np.zeros(shape) if zero else _uniform(rng, shape, 1 / np.sqrt(fan_in))


def initialize(model, scheme, seed=None):
    """Redraw the conv and dense kernels and biases of `model` as `scheme` says (in place).

    Args:
        model: a built Keras model (any nesting of layers).
        scheme: one of SCHEMES.
        seed: seed of the draws; None draws from NumPy's global generator's state, so
            `keras.utils.set_random_seed` makes them repeatable.

    Returns:
        The model.
    """
    if scheme not in SCHEMES:
        raise ValueError(
            f"unknown initializer scheme {scheme!r}; choose from: {', '.join(SCHEMES)}"
        )
    if scheme == "keras":
        return model
    rng = np.random.default_rng(np.random.randint(2**31) if seed is None else seed)
    kernels = {}
    for variable in model.weights:
        path, _, kind = variable.path.rpartition("/")
        if kind == "kernel" and len(variable.shape) in (2, 4):
            shape = tuple(variable.shape)
            kernels[path] = (fans(shape)[0], len(shape) == 4)
            values = _draw(scheme, path, shape, kernels[path][0], rng)
            variable.assign(values.astype(variable.dtype))
    for variable in model.weights:
        path, _, kind = variable.path.rpartition("/")
        if kind == "bias" and path in kernels:
            fan_in, conv = kernels[path]
            values = _bias(scheme, path, tuple(variable.shape), fan_in, conv, rng)
            variable.assign(values.astype(variable.dtype))
    return model


def scheme(initializer, declared="keras"):
    """The scheme a builder's `initializer` option means.

    Args:
        initializer: "source" (the variant's declared scheme), "keras", or a scheme name.
        declared: the scheme the variant declares (`VariantSpec.initializer`).
    """
    name = declared if initializer == "source" else initializer
    if name not in SCHEMES:
        raise ValueError(
            f"unknown initializer {initializer!r}; choose from: source, {', '.join(SCHEMES)}"
        )
    return name
