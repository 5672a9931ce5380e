"""Network in Network, d2l version: counts, layer shapes and names, the GAP
classifier, input limits, mixed precision and saving."""

import re

import keras
import numpy as np
import pytest
from _declared import declared

import kcnn

AUTO_NAME = re.compile(
    r"^(conv2d|max_pooling2d|global_average_pooling2d|activation|dropout|input_layer)_\d+$"
)
RNG = np.random.default_rng(0)


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _counts(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights), model.count_params()


@pytest.fixture(scope="module")
def d2l():
    return kcnn.models.nin(num_classes=10, input_shape=(224, 224, 1))


def test_d2l_count_and_layers(d2l):
    assert _counts(d2l) == (1_992_166, 1_992_166)
    rows = [(layer.name, tuple(layer.output.shape), layer.count_params()) for layer in d2l.layers]
    assert rows == [
        ("image", (None, 224, 224, 1), 0),
        ("nin1_conv", (None, 54, 54, 96), 11_712),
        ("nin1_cccp1", (None, 54, 54, 96), 9_312),
        ("nin1_cccp2", (None, 54, 54, 96), 9_312),
        ("pool1", (None, 26, 26, 96), 0),
        ("nin2_conv", (None, 26, 26, 256), 614_656),
        ("nin2_cccp1", (None, 26, 26, 256), 65_792),
        ("nin2_cccp2", (None, 26, 26, 256), 65_792),
        ("pool2", (None, 12, 12, 256), 0),
        ("nin3_conv", (None, 12, 12, 384), 885_120),
        ("nin3_cccp1", (None, 12, 12, 384), 147_840),
        ("nin3_cccp2", (None, 12, 12, 384), 147_840),
        ("pool3", (None, 5, 5, 384), 0),
        ("dropout", (None, 5, 5, 384), 0),
        ("nin4_conv", (None, 5, 5, 10), 34_570),
        ("nin4_cccp1", (None, 5, 5, 10), 110),
        ("nin4_cccp2", (None, 5, 5, 10), 110),
        ("avg_pool", (None, 10), 0),
        ("predictions", (None, 10), 0),
    ]


def test_default_is_imagenet_sized():
    model = kcnn.models.nin()
    assert _counts(model) == (declared("nin"), declared("nin"))  # 224x224x3, 1000 classes
    assert model.inputs[0].shape == (None, 224, 224, 3) and model.output.shape == (None, 1000)
    assert kcnn.models.spec("nin").default_input == (224, 224, 3)


def test_names_are_explicit(d2l):
    again = kcnn.models.nin(num_classes=10, input_shape=(224, 224, 1))
    assert [layer.name for layer in again.layers] == [layer.name for layer in d2l.layers]
    assert not any(AUTO_NAME.match(layer.name) for layer in again.layers)


def test_scores_are_the_average_of_the_last_block():
    model = kcnn.models.nin(num_classes=10, input_shape=(67, 67, 1), classifier_activation=None)
    x = RNG.uniform(size=(2, 67, 67, 1)).astype("float32")
    maps = _np(keras.Model(model.input, model.get_layer("nin4_cccp2").output)(x))
    scores = _np(model(x))
    np.testing.assert_allclose(scores, maps.mean(axis=(1, 2)), rtol=1e-5, atol=1e-7)
    assert np.all(scores >= 0)  # d2l's last block ends in ReLU


@pytest.mark.parametrize(
    "pooling, shape", [(None, (None, 1, 1, 384)), ("avg", (None, 384)), ("max", (None, 384))]
)
def test_feature_extractor_at_the_smallest_input(pooling, shape):
    model = kcnn.models.nin(include_top=False, pooling=pooling, input_shape=(67, 67, 3))
    assert model.output.shape == shape
    assert model.layers[-1].name == {None: "pool3", "avg": "avg_pool", "max": "max_pool"}[pooling]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            dict(input_shape=(66, 66, 3)),
            r"`nin`: input size must be at least 67x67; received input_shape=\(66, 66, 3\)",
        ),
        (dict(num_classes=0), "`nin`: `num_classes` must be a positive integer; received 0"),
        (dict(pooling="avg"), "`nin`: `pooling='avg'` only applies with `include_top=False`"),
        (dict(dropout=1.5), r"`nin`: `dropout` must be a number in \[0, 1\)"),
    ],
)
def test_bad_arguments_name_the_network(kwargs, message):
    with pytest.raises(ValueError, match=message):
        kcnn.models.nin(**kwargs)


def test_mixed_float16_output_is_float32(mixed_float16):
    model = kcnn.models.nin(num_classes=10, input_shape=(67, 67, 3))
    out = model(RNG.uniform(size=(2, 67, 67, 3)).astype("float32"))
    assert model.get_layer("nin1_conv").compute_dtype == "float16"
    assert keras.backend.standardize_dtype(out.dtype) == "float32"
    np.testing.assert_allclose(_np(out).sum(axis=1), 1.0, rtol=1e-5)


def test_save_and_load_identical(tmp_path):
    model = kcnn.models.nin(num_classes=10, input_shape=(67, 67, 1))
    path = tmp_path / "nin.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = RNG.uniform(size=(2, 67, 67, 1)).astype("float32")
    np.testing.assert_array_equal(_np(model(x)), _np(loaded(x)))
