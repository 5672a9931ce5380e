"""Each initialiser scheme draws from its source's distribution.

Moments: on large shapes, every scheme's kernels and biases have the mean and standard deviation
of the source's formula (std within 2%, mean within 2% of the std). Distributions: models built
with `initializer="source"` draw as torch.nn.init does on same-shaped tensors (two-sample
Kolmogorov-Smirnov test on up to 20,000 values, p > 0.001).
"""

import math

import keras
import numpy as np
import pytest

import kcnn.models
from kcnn.models import initializers

SCHEMES = kcnn.models.initializer_schemes()

torch = pytest.importorskip("torch")
stats = pytest.importorskip("scipy.stats")

CONV, DENSE = (3, 3, 256, 256), (1024, 1024)  # fan_in 2304 / 1024, fan_out 2304 / 1024
UNIFORM_STD = 1 / math.sqrt(3)  # std of U(-1, 1)

# scheme -> (conv kernel std, dense kernel std), written from the sources' formulas
KERNEL_STD = {
    "torch-default": (UNIFORM_STD / math.sqrt(2304), UNIFORM_STD / math.sqrt(1024)),
    "torchvision-resnet": (math.sqrt(2 / 2304), UNIFORM_STD / math.sqrt(1024)),
    "torchvision-vgg": (math.sqrt(2 / 2304), 0.01),
    "torchvision-googlenet": (0.01, 0.01),
    "torchvision-inception_v3": (0.1, 0.1),
    "torchvision-densenet": (math.sqrt(2 / 2304), UNIFORM_STD / math.sqrt(1024)),
    "kaiming": (math.sqrt(2 / 2304), math.sqrt(2 / 1024)),
    "alexnet-paper": (0.01, 0.01),
}


def _moments_match(values, std):
    assert abs(values.std() / std - 1) < 0.02, (values.std(), std)
    assert abs(values.mean()) < 0.02 * std


@pytest.mark.parametrize("scheme", sorted(KERNEL_STD))
def test_kernels_have_the_sources_moments(scheme):
    rng = np.random.default_rng(0)
    for shape, std in zip((CONV, DENSE), KERNEL_STD[scheme]):
        _moments_match(SCHEMES[scheme].kernel("layer", shape, rng), std)


def test_biases_follow_the_sources():
    rng = np.random.default_rng(0)
    default = SCHEMES["torchvision-resnet"].bias(rng, "fc", (100_000,), 1024, False)
    assert np.abs(default).max() <= 1 / 32 and abs(default.std() * 32 / UNIFORM_STD - 1) < 0.02
    assert not SCHEMES["torchvision-vgg"].bias(rng, "fc6", (10,), 1024, False).any()
    assert not SCHEMES["torchvision-densenet"].bias(rng, "predictions", (10,), 1024, False).any()
    paper = {name: SCHEMES["alexnet-paper"].bias(rng, name, (4,), 9, True)[0]
             for name in ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7",
                          "predictions")}
    assert paper == {"conv1": 0, "conv2": 1, "conv3": 0, "conv4": 1, "conv5": 1, "fc6": 1,
                     "fc7": 1, "predictions": 0}


def test_inception_v3_aux_layers_have_their_own_std():
    rng = np.random.default_rng(0)
    for path, std in (("aux/conv1", 0.01), ("aux/predictions", 0.001), ("mixed_5b/conv", 0.1)):
        _moments_match(SCHEMES["torchvision-inception_v3"].kernel(path, CONV, rng), std)


def _same_distribution(ours, theirs):
    rng = np.random.default_rng(0)
    ours, theirs = np.asarray(ours).ravel(), theirs.detach().numpy().ravel()
    a = rng.choice(ours, min(20_000, ours.size), replace=False)
    b = rng.choice(theirs, min(20_000, theirs.size), replace=False)
    assert stats.ks_2samp(a, b).pvalue > 0.001


def _weight(model, path):
    return next(w for w in model.weights if w.path == path)


def test_torchvision_resnet_draws_as_torchvision():
    model = kcnn.models.get("resnet18", input_shape=(32, 32, 3), initializer="source")
    conv = torch.empty(512, 256, 3, 3)  # fan_out 4608, fan_in 2304
    torch.nn.init.kaiming_normal_(conv, mode="fan_out", nonlinearity="relu")
    _same_distribution(_weight(model, "conv5_block1/1_conv/kernel"), conv)
    fc = torch.nn.Linear(512, 1000)  # PyTorch's default initialisation
    _same_distribution(_weight(model, "predictions/kernel"), fc.weight)
    _same_distribution(_weight(model, "predictions/bias"), fc.bias)
    gamma = np.asarray(_weight(model, "conv1_bn/gamma"))
    assert (gamma == 1).all()


def test_googlenet_torchvision_draws_as_torchvision():
    model = kcnn.models.get("googlenet", variant="torchvision", input_shape=(64, 64, 3),
                            initializer="source")
    conv = torch.empty(384, 192, 3, 3)
    torch.nn.init.trunc_normal_(conv, mean=0.0, std=0.01, a=-2, b=2)
    _same_distribution(_weight(model, "inception5b/3x3/kernel"), conv)


def test_alexnet_paper_and_keras_options():
    model = kcnn.models.get("alexnet", variant="cifar", initializer="alexnet-paper")
    assert np.asarray(_weight(model, "conv2/bias")).tolist() == [1.0] * 192
    assert not np.asarray(_weight(model, "conv3/bias")).any()
    _moments_match(np.asarray(_weight(model, "conv4/kernel")), 0.01)
    keras_model = kcnn.models.get("alexnet", variant="cifar")  # default: the builder's (Keras')
    assert not np.asarray(_weight(keras_model, "conv2/bias")).any()
    # each variant declares its source's scheme next to its family's table
    assert kcnn.models.spec("alexnet").variant("paper").initializer.name == "alexnet-paper"
    assert kcnn.models.spec("resnet50").variant("keras").initializer.name == "keras"
    resnet50 = kcnn.models.spec("resnet50").variant("torchvision")
    assert resnet50.initializer.name == "torchvision-resnet"
    assert kcnn.models.spec("resnet20").variant().initializer.name == "kaiming"
    assert initializers.scheme("source", resnet50.initializer, SCHEMES) is resnet50.initializer
    assert initializers.scheme("kaiming", resnet50.initializer, SCHEMES) is initializers.KAIMING
    assert sorted(SCHEMES) == sorted([*KERNEL_STD, "keras"])
    with pytest.raises(ValueError, match="cannot be combined with `weights="):
        kcnn.models.get("alexnet", initializer="source", weights="imagenet")
    with pytest.raises(ValueError, match="unknown initializer 'xavier'; choose from: source, keras"):
        kcnn.models.get("lenet5", initializer="xavier")


def test_initializer_applies_with_include_preprocessing_too():
    def first_kernel(**options):
        keras.utils.set_random_seed(0)
        model = kcnn.models.resnet18(input_shape=(64, 64, 3), num_classes=4,
                                     include_preprocessing=True, **options)
        return next(w for w in model.weights if w.path.endswith("kernel")).numpy()

    keras_drawn, source_drawn = first_kernel(), first_kernel(initializer="source")
    assert not np.allclose(keras_drawn, source_drawn)  # the declared scheme drew again
