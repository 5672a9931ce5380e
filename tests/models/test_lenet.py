"""LeNet-5: the original's 60,000 trainable parameters and fixed RBF output, the
modern and d2l forms, names, input limits, mixed precision, saving and training the RBF output
with cross-entropy."""

import re

import keras
import numpy as np
import pytest
from _declared import declared

import kcnn
from kcnn.layers import EuclideanRBF, PartialConv2D, Subsampling

AUTO_NAME = re.compile(
    r"^(conv2d|dense|max_pooling2d|average_pooling2d|flatten|activation|rescaling|input_layer)_\d+$"
)
RNG = np.random.default_rng(0)


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _counts(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights), model.count_params()


def _digits(n=4, size=32, channels=1):
    return RNG.uniform(-0.1, 1.175, size=(n, size, size, channels)).astype(
        "float32"
    )  # the paper's pixel range


@pytest.fixture(scope="module")
def original():
    return kcnn.models.lenet5(variant="original")


# === Counts and structure ===


@pytest.mark.parametrize(
    "kwargs, counts",
    [
        (dict(variant="original"), (declared("lenet5", "original"), 60_840)),
        (dict(), (declared("lenet5", "modern"), declared("lenet5", "modern"))),
        (dict(variant="modern", input_shape=(32, 32, 3)), (62_006, 62_006)),
        (dict(variant="d2l"), (declared("lenet5", "d2l"), declared("lenet5", "d2l"))),
    ],
)
def test_counts_match_the_declaration(kwargs, counts):
    assert _counts(kcnn.models.lenet5(**kwargs)) == counts


def test_original_layers_match_the_paper(original):
    rows = [
        (layer.name, type(layer).__name__, tuple(layer.output.shape)) for layer in original.layers
    ]
    assert rows == [
        ("image", "InputLayer", (None, 32, 32, 1)),
        ("c1", "Conv2D", (None, 28, 28, 6)),
        ("s2", "Subsampling", (None, 14, 14, 6)),
        ("c3", "PartialConv2D", (None, 10, 10, 16)),
        ("s4", "Subsampling", (None, 5, 5, 16)),
        ("c5", "Conv2D", (None, 1, 1, 120)),
        ("flatten", "Flatten", (None, 120)),
        ("f6", "Dense", (None, 84)),
        ("output", "EuclideanRBF", (None, 10)),
        ("logits", "Rescaling", (None, 10)),
        ("predictions", "Activation", (None, 10)),
    ]
    params = {layer.name: layer.count_params() for layer in original.layers if layer.count_params()}
    assert params == {
        "c1": 156,
        "s2": 12,
        "c3": 1_516,
        "s4": 32,
        "c5": 48_120,
        "f6": 10_164,
        "output": 840,
    }
    assert original.get_layer("output").trainable_weights == []
    # the squashing function everywhere up to F6
    for name in ("c1", "s2", "c3", "s4", "c5", "f6"):
        assert original.get_layer(name).activation is kcnn.layers.scaled_tanh, name


@pytest.mark.parametrize(
    "variant, names, pool",
    [
        (
            "modern",
            ["image", "c1", "s2", "c3", "s4", "flatten", "c5", "f6", "predictions"],
            keras.layers.MaxPooling2D,
        ),
        (
            "d2l",
            ["image", "c1", "s2", "c3", "s4", "flatten", "c5", "f6", "predictions"],
            keras.layers.AveragePooling2D,
        ),
    ],
)
def test_tutorial_forms(variant, names, pool):
    model = kcnn.models.lenet5(variant=variant)
    assert [layer.name for layer in model.layers] == names
    assert type(model.get_layer("s2")) is pool and model.get_layer("c3").filters == 16
    assert model.get_layer("s4").output.shape == (None, 5, 5, 16) and model.output.shape == (
        None,
        10,
    )


def test_names_are_explicit(original):
    again = kcnn.models.lenet5(variant="original")
    assert [layer.name for layer in again.layers] == [layer.name for layer in original.layers]
    for variant in ("modern", "d2l"):
        assert not any(
            AUTO_NAME.match(layer.name) for layer in kcnn.models.lenet5(variant=variant).layers
        )


# === The RBF output ===


def test_original_predictions_are_softmax_over_negated_distances(original):
    x = _digits()
    distances = _np(keras.Model(original.input, original.get_layer("output").output)(x))
    scores = _np(original(x))
    expected = np.exp(-distances - (-distances).max(axis=1, keepdims=True))
    np.testing.assert_allclose(
        scores, expected / expected.sum(axis=1, keepdims=True), rtol=1e-5, atol=1e-7
    )
    np.testing.assert_array_equal(scores.argmax(axis=1), distances.argmin(axis=1))
    assert np.all(distances >= 0)


def test_original_logits_without_activation():
    model = kcnn.models.lenet5(variant="original", classifier_activation=None)
    x = _digits()
    distances = _np(keras.Model(model.input, model.get_layer("output").output)(x))
    np.testing.assert_allclose(_np(model(x)), -distances, rtol=1e-6)


def test_original_trains_with_cross_entropy():
    keras.utils.set_random_seed(0)  # fixed weights: the check must not depend on earlier tests
    model = kcnn.models.lenet5(variant="original")
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy")
    before = [w.numpy() for w in model.trainable_weights]
    centres = model.get_layer("output").centres.numpy()
    loss = model.train_on_batch(_digits(8), np.arange(8) % 10)
    assert np.isfinite(loss)
    assert all(
        not np.array_equal(w.numpy(), old) for w, old in zip(model.trainable_weights, before)
    )
    np.testing.assert_array_equal(model.get_layer("output").centres.numpy(), centres)


def test_original_with_more_than_ten_classes_uses_fixed_random_centres():
    model = kcnn.models.lenet5(variant="original", num_classes=12)
    rbf = model.get_layer("output")
    assert rbf.centres_kind == "random" and _counts(model) == (declared("lenet5", "original"), declared("lenet5", "original") + 84 * 12)


# === Inputs, pooling, errors ===


@pytest.mark.parametrize("variant, size", [("modern", 16), ("original", 16), ("d2l", 12)])
@pytest.mark.parametrize("pooling, rank", [(None, 4), ("avg", 2), ("max", 2)])
def test_feature_extractor_at_the_smallest_input(variant, size, pooling, rank):
    model = kcnn.models.lenet5(
        variant=variant, include_top=False, pooling=pooling, input_shape=(size, size, 1)
    )
    assert model.layers[-1].name == {None: "s4", "avg": "avg_pool", "max": "max_pool"}[pooling]
    assert model.output.shape == ((None, 1, 1, 16) if rank == 4 else (None, 16))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            dict(input_shape=(28, 28, 1)),
            r"`lenet5`: .*needs an image exactly 32x32; received input_shape=\(28, 28, 1\)",
        ),
        (dict(variant="original", input_shape=(36, 36, 1)), "needs an image exactly 32x32"),
        (dict(variant="d2l", input_shape=(32, 32, 1)), "needs an image exactly 28x28"),
        (
            dict(include_top=False, input_shape=(15, 15, 1)),
            r"`lenet5`: input size must be at least 16x16",
        ),
        (
            dict(variant="lecun"),
            r"`lenet5`: unknown variant 'lecun'; allowed: 'modern', 'original', 'd2l'",
        ),
        (dict(num_classes=0), "`lenet5`: `num_classes` must be a positive integer; received 0"),
        (
            dict(variant="original", pooling="max"),
            "`lenet5`: `pooling='max'` only applies with `include_top=False`",
        ),
    ],
)
def test_bad_arguments_name_the_network(kwargs, message):
    with pytest.raises(ValueError, match=message):
        kcnn.models.lenet5(**kwargs)


# === Precision and saving ===


@pytest.mark.parametrize("variant", ["original", "modern"])
def test_mixed_float16_output_is_float32(variant, mixed_float16):
    model = kcnn.models.lenet5(variant=variant)
    out = model(_digits())
    assert model.get_layer("c1").compute_dtype == "float16"
    assert keras.backend.standardize_dtype(out.dtype) == "float32"
    assert np.all(np.isfinite(_np(out)))


@pytest.mark.parametrize("variant", ["original", "modern"])
def test_save_and_load_identical(variant, tmp_path):
    model = kcnn.models.lenet5(variant=variant)
    path = tmp_path / f"lenet5_{variant}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = _digits()
    np.testing.assert_array_equal(_np(model(x)), _np(loaded(x)))
    if variant == "original":
        assert isinstance(loaded.get_layer("s2"), Subsampling) and isinstance(
            loaded.get_layer("c3"), PartialConv2D
        )
        assert isinstance(loaded.get_layer("output"), EuclideanRBF)
        assert loaded.get_layer("c1").activation is kcnn.layers.scaled_tanh
