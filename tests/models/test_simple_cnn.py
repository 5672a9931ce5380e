"""The tutorial CNN: its count layer by layer, names, input limits, the feature
extractor, mixed precision and saving."""

import re

import keras
import numpy as np
import pytest
from _declared import declared

import kcnn

# Keras' automatic names: the class name, then `_1`, `_2`, ... on later instances in the process.
AUTO_NAME = re.compile(r"^(conv2d|dense|max_pooling2d|flatten|dropout|activation|input_layer)_\d+$")


def _np(x):
    return keras.ops.convert_to_numpy(x)


@pytest.fixture(scope="module")
def model():
    return kcnn.models.simple_cnn()


def test_count_and_layers_match_the_layer_table(model):
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == declared("simple_cnn")
    assert model.count_params() == declared("simple_cnn")
    rows = [(layer.name, tuple(layer.output.shape), layer.count_params()) for layer in model.layers]
    assert rows == [
        ("image", (None, 128, 128, 3), 0),
        ("conv1", (None, 126, 126, 16), 448),
        ("pool1", (None, 63, 63, 16), 0),
        ("conv2", (None, 61, 61, 32), 4_640),
        ("pool2", (None, 30, 30, 32), 0),
        ("flatten", (None, 28_800), 0),
        ("fc1", (None, 64), 1_843_264),
        ("predictions", (None, 3), 195),
    ]
    assert model.name == "simple_cnn" and kcnn.models.spec("simple_cnn").default_input == (
        128,
        128,
        3,
    )


def test_names_are_explicit(model):
    # a second build in the same process would rename auto-named layers (flatten -> flatten_1)
    again = kcnn.models.simple_cnn()
    assert [layer.name for layer in again.layers] == [layer.name for layer in model.layers]
    assert not any(AUTO_NAME.match(layer.name) for layer in again.layers)


def test_registry_builds_it_with_other_classes():
    model = kcnn.models.get("simple_cnn", num_classes=5, classifier_activation=None)
    assert model.output.shape == (None, 5) and model.get_layer("predictions").count_params() == 325


@pytest.mark.parametrize(
    "pooling, shape", [(None, (None, 1, 1, 32)), ("avg", (None, 32)), ("max", (None, 32))]
)
def test_feature_extractor_from_10x10(pooling, shape):
    model = kcnn.models.simple_cnn(include_top=False, pooling=pooling, input_shape=(10, 10, 3))
    assert model.output.shape == shape
    assert model.count_params() == 448 + 4_640


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            dict(input_shape=(127, 127, 3)),
            r"`simple_cnn`: .*needs an image exactly 128x128; received input_shape=\(127, 127, 3\)",
        ),
        (dict(input_shape=(None, None, 3)), "needs an image exactly 128x128"),
        (
            dict(include_top=False, input_shape=(9, 9, 3)),
            r"`simple_cnn`: input size must be at least 10x10",
        ),
        (dict(num_classes=0), "`simple_cnn`: `num_classes` must be a positive integer; received 0"),
        (
            dict(pooling="avg"),
            "`simple_cnn`: `pooling='avg'` only applies with `include_top=False`",
        ),
        (
            dict(include_top=False, pooling="sum"),
            "`simple_cnn`: `pooling` must be None, 'avg' or 'max'",
        ),
    ],
)
def test_bad_arguments_name_the_network(kwargs, message):
    with pytest.raises(ValueError, match=message):
        kcnn.models.simple_cnn(**kwargs)


def test_mixed_float16_output_is_float32(mixed_float16):
    model = kcnn.models.simple_cnn()
    out = model(np.random.default_rng(0).uniform(size=(2, 128, 128, 3)).astype("float32"))
    assert model.get_layer("conv1").compute_dtype == "float16"
    assert keras.backend.standardize_dtype(out.dtype) == "float32"
    np.testing.assert_allclose(_np(out).sum(axis=1), 1.0, rtol=1e-5)


def test_save_and_load_identical(model, tmp_path):
    path = tmp_path / "simple_cnn.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = np.random.default_rng(1).uniform(size=(2, 128, 128, 3)).astype("float32")
    np.testing.assert_array_equal(_np(model(x)), _np(loaded(x)))
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
