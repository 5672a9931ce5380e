"""AlexNet: the paper's two towers with LRN, torchvision's single tower
and the CIFAR variant: counts, layer order, names, input limits, mixed precision and saving.

The 61M-parameter ImageNet variants are only counted: they are built inside a StatelessScope that
leaves the weights uninitialised (the variables have their shapes but no values), which takes a
fraction of a second. Forward passes use small inputs or the CIFAR variant."""

import re

import keras
import numpy as np
import pytest
from _declared import declared

import kcnn
from kcnn.layers import LocalResponseNormalization

AUTO_NAME = re.compile(
    r"^(conv2d|dense|max_pooling2d|zero_padding2d|flatten|dropout|input_layer|\w+_pooling2d)_\d+$"
)
RNG = np.random.default_rng(0)


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _unbuilt_weights(**kwargs):
    """Build `alexnet(**kwargs)` with shapes only; then drop Keras' list of uninitialised variables
    (a later StatelessScope would otherwise initialise them)."""
    with keras.StatelessScope(initialize_variables=False):
        model = kcnn.models.alexnet(**kwargs)
    keras.utils.clear_session(free_memory=False)
    return model


def _counts(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights), model.count_params()


@pytest.fixture(scope="module")
def paper():
    return _unbuilt_weights()


# === Counts and structure ===


def test_paper_count_and_layers(paper):
    assert _counts(paper) == (declared("alexnet", "paper"), declared("alexnet", "paper"))
    rows = [(layer.name, tuple(layer.output.shape), layer.count_params()) for layer in paper.layers]
    assert rows == [
        ("image", (None, 227, 227, 3), 0),
        ("conv1", (None, 55, 55, 96), 34_944),
        ("norm1", (None, 55, 55, 96), 0),
        ("pool1", (None, 27, 27, 96), 0),
        ("conv2", (None, 27, 27, 256), 307_456),
        ("norm2", (None, 27, 27, 256), 0),
        ("pool2", (None, 13, 13, 256), 0),
        ("conv3", (None, 13, 13, 384), 885_120),
        ("conv4", (None, 13, 13, 384), 663_936),
        ("conv5", (None, 13, 13, 256), 442_624),
        ("pool5", (None, 6, 6, 256), 0),
        ("flatten", (None, 9_216), 0),
        ("fc6", (None, 4_096), 37_752_832),
        ("fc6_dropout", (None, 4_096), 0),
        ("fc7", (None, 4_096), 16_781_312),
        ("fc7_dropout", (None, 4_096), 0),
        ("predictions", (None, 1_000), 4_097_000),
    ]
    # conv -> ReLU -> LRN -> pool, with the paper's k=2, n=5, alpha=1e-4, beta=0.75
    assert paper.get_layer("conv1").activation is keras.activations.relu
    for name in ("norm1", "norm2"):
        norm = paper.get_layer(name)
        assert isinstance(norm, LocalResponseNormalization)
        assert (norm.depth_radius, norm.bias, norm.alpha, norm.beta) == (2, 2.0, 1e-4, 0.75)
    assert [paper.get_layer(f"conv{i}").groups for i in range(1, 6)] == [1, 2, 1, 2, 2]
    assert {paper.get_layer(n).rate for n in ("fc6_dropout", "fc7_dropout")} == {0.5}


@pytest.mark.parametrize(
    "kwargs, trainable",
    [
        (dict(groups=1), 62_378_344),
        (dict(num_classes=10), 56_909_194),
        (dict(variant="torchvision"), declared("alexnet", "torchvision")),
    ],
)
def test_imagenet_variant_counts(kwargs, trainable):
    assert _counts(_unbuilt_weights(**kwargs)) == (trainable, trainable)


def test_torchvision_layers():
    model = _unbuilt_weights(variant="torchvision")
    rows = [(layer.name, tuple(layer.output.shape)) for layer in model.layers]
    assert rows == [
        ("image", (None, 224, 224, 3)),
        ("conv1_pad", (None, 228, 228, 3)),
        ("conv1", (None, 55, 55, 64)),
        ("pool1", (None, 27, 27, 64)),
        ("conv2", (None, 27, 27, 192)),
        ("pool2", (None, 13, 13, 192)),
        ("conv3", (None, 13, 13, 384)),
        ("conv4", (None, 13, 13, 256)),
        ("conv5", (None, 13, 13, 256)),
        ("pool5", (None, 6, 6, 256)),
        ("adaptive_avg_pool", (None, 6, 6, 256)),
        ("flatten", (None, 9_216)),
        ("flatten_dropout", (None, 9_216)),  # torchvision drops fc6's input ...
        ("fc6", (None, 4_096)),
        ("fc6_dropout", (None, 4_096)),  # ... and fc7's (pytorch/vision#549)
        ("fc7", (None, 4_096)),
        ("predictions", (None, 1_000)),
    ]
    # the adaptive pool lets the classifier take any input from 63x63
    small = _unbuilt_weights(variant="torchvision", input_shape=(63, 63, 3))
    assert small.get_layer("pool5").output.shape == (None, 1, 1, 256)
    assert (
        small.get_layer("flatten").output.shape == (None, 9_216) and _counts(small)[0] == declared("alexnet", "torchvision")
    )


def test_cifar_variant_follows_the_source_notes():
    model = kcnn.models.alexnet(variant="cifar", num_classes=10)
    assert _counts(model) == (2_472_266, 2_472_266)
    assert [layer.name for layer in model.layers] == [
        "image", "conv1_pad", "conv1", "pool1", "conv2", "pool2",
        "conv3", "conv4", "conv5", "pool5",
        "flatten", "predictions",
    ]  # fmt: skip
    assert model.get_layer("conv1").output.shape == (None, 8, 8, 64)
    assert model.get_layer("pool5").output.shape == (None, 1, 1, 256)
    out = model(RNG.uniform(size=(2, 32, 32, 3)).astype("float32"))
    assert out.shape == (2, 10)


@pytest.mark.parametrize("variant", ["paper", "torchvision", "cifar"])
def test_names_are_explicit(variant):
    # a second build in the same process would rename auto-named layers (flatten -> flatten_1)
    with keras.StatelessScope(initialize_variables=False):
        first, second = (kcnn.models.alexnet(variant=variant) for _ in range(2))
    keras.utils.clear_session(free_memory=False)
    assert [layer.name for layer in first.layers] == [layer.name for layer in second.layers]
    assert not any(AUTO_NAME.match(layer.name) for layer in second.layers)


# === Inputs, pooling, errors ===


@pytest.mark.parametrize(
    "variant, size, shape",
    [
        ("paper", 67, (None, 1, 1, 256)),
        ("torchvision", 63, (None, 1, 1, 256)),
        ("cifar", 29, (None, 1, 1, 256)),
    ],
)
def test_feature_extractor_at_the_smallest_input(variant, size, shape):
    model = kcnn.models.alexnet(variant=variant, include_top=False, input_shape=(size, size, 3))
    assert model.layers[-1].name == "pool5" and model.output.shape == shape
    for pooling, name in (("avg", "avg_pool"), ("max", "max_pool")):
        pooled = kcnn.models.alexnet(
            variant=variant, include_top=False, pooling=pooling, input_shape=(size, size, 3)
        )
        assert pooled.layers[-1].name == name and pooled.output.shape == (None, 256)


def test_paper_head_takes_227_to_258():
    for size in (227, 258):
        assert _unbuilt_weights(input_shape=(size, size, 3)).get_layer("pool5").output.shape == (
            None,
            6,
            6,
            256,
        )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            dict(input_shape=(224, 224, 3)),
            r"`alexnet`: .*needs an image from 227x227 to 258x258; received input_shape=\(224, 224",
        ),
        (dict(input_shape=(259, 259, 3)), "from 227x227 to 258x258"),
        (dict(variant="cifar", input_shape=(64, 64, 3)), "from 29x29 to 60x60"),
        (
            dict(include_top=False, input_shape=(66, 66, 3)),
            r"`alexnet`: input size must be at least 67x67",
        ),
        (dict(variant="torchvision", input_shape=(62, 62, 3)), "input size must be at least 63x63"),
        (
            dict(variant="caffenet"),
            r"`alexnet`: unknown variant 'caffenet'; allowed: 'paper', 'torchvision', 'cifar'",
        ),
        (dict(groups=4), "`alexnet`: `groups` must be 1 or 2"),
        (dict(dropout=1.0), r"`alexnet`: `dropout` must be a number in \[0, 1\)"),
        (dict(variant="cifar", dropout=0.5), "the 'cifar' variant has no dropout"),
        (dict(num_classes=0), "`alexnet`: `num_classes` must be a positive integer; received 0"),
        (dict(pooling="avg"), "`alexnet`: `pooling='avg'` only applies with `include_top=False`"),
    ],
)
def test_bad_arguments_name_the_network(kwargs, message):
    with pytest.raises(ValueError, match=message):
        kcnn.models.alexnet(**kwargs)


# === Precision and saving ===


def test_mixed_float16(mixed_float16):
    model = kcnn.models.alexnet(variant="cifar", num_classes=10)
    out = model(RNG.uniform(size=(2, 32, 32, 3)).astype("float32"))
    assert model.get_layer("conv1").compute_dtype == "float16"
    assert keras.backend.standardize_dtype(out.dtype) == "float32"
    # the paper's features, LRN included, stay finite in float16
    features = kcnn.models.alexnet(include_top=False, input_shape=(67, 67, 3))
    out = _np(features(255.0 * RNG.uniform(size=(1, 67, 67, 3)).astype("float32")))
    assert out.dtype == np.float16 and np.all(np.isfinite(out))


@pytest.mark.parametrize(
    "kwargs, shape",
    [
        (dict(include_top=False, input_shape=(67, 67, 3)), (67, 67, 3)),
        (dict(variant="cifar", num_classes=10), (32, 32, 3)),
    ],
)
def test_save_and_load_identical(kwargs, shape, tmp_path):
    model = kcnn.models.alexnet(**kwargs)
    path = tmp_path / "alexnet.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = RNG.uniform(size=(2, *shape)).astype("float32")
    np.testing.assert_array_equal(_np(model(x)), _np(loaded(x)))
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
