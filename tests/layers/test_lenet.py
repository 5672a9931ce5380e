"""LeNet-5's layers: Subsampling (S2/S4), PartialConv2D (C3's table, 1,516 parameters), the fixed
EuclideanRBF output and the scaled tanh, argument errors, and the layer contract
(tests/layers/conftest.py)."""

import keras
import numpy as np
import pytest

from kcnn.layers import EuclideanRBF, PartialConv2D, Subsampling, scaled_tanh
from kcnn.layers.lenet import DIGIT_BITMAPS, LENET5_C3_TABLE, rbf_centres

RNG = np.random.default_rng(0)


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _images(channels, size=14, batch=2):
    return RNG.normal(size=(batch, size, size, channels)).astype("float32")


def _trainable(layer):
    return sum(int(np.prod(w.shape)) for w in layer.trainable_weights)


def _non_trainable(layer):
    return sum(int(np.prod(w.shape)) for w in layer.non_trainable_weights)


# === scaled tanh ===


def test_scaled_tanh_is_the_papers_squashing_function():
    a = np.linspace(-4, 4, 9).astype("float32")
    np.testing.assert_allclose(_np(scaled_tanh(a)), 1.7159 * np.tanh(2 * a / 3), rtol=1e-6)
    np.testing.assert_allclose(_np(scaled_tanh(np.float32([1.0, -1.0]))), [1.0, -1.0], atol=2e-4)


# === Subsampling ===


def test_subsampling_is_coefficient_times_window_sum_plus_bias():
    x = _images(6)
    layer = Subsampling(name="s2")
    layer.build(x.shape)
    coefficient, bias = RNG.normal(size=6).astype("float32"), RNG.normal(size=6).astype("float32")
    layer.set_weights([coefficient, bias])
    window_sum = x.reshape(2, 7, 2, 7, 2, 6).sum(axis=(2, 4))
    np.testing.assert_allclose(_np(layer(x)), window_sum * coefficient + bias, rtol=1e-5, atol=1e-5)
    squashed = Subsampling(activation=scaled_tanh)
    squashed.build(x.shape)
    squashed.set_weights([coefficient, bias])
    np.testing.assert_allclose(
        _np(squashed(x)), _np(scaled_tanh(window_sum * coefficient + bias)), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize(
    "maps, size, expected_params, expected_side", [(6, 28, 12, 14), (16, 10, 32, 5), (3, 9, 6, 4)]
)
def test_subsampling_shape_and_two_parameters_per_map(maps, size, expected_params, expected_side):
    layer = Subsampling()
    out = layer(_images(maps, size=size))
    assert out.shape == (2, expected_side, expected_side, maps)
    assert layer.compute_output_shape((None, size, size, maps)) == (
        None,
        expected_side,
        expected_side,
        maps,
    )
    assert _trainable(layer) == expected_params


# === PartialConv2D ===


def test_c3_table_is_the_papers():
    assert len(LENET5_C3_TABLE) == 16
    assert [len(row) for row in LENET5_C3_TABLE] == [3] * 6 + [4] * 9 + [6]
    assert sum(len(row) for row in LENET5_C3_TABLE) == 60
    # every S2 map feeds ten C3 maps
    assert [sum(i in row for row in LENET5_C3_TABLE) for i in range(6)] == [10] * 6


def test_c3_has_1516_parameters_and_10x10x16_output():
    layer = PartialConv2D(name="c3")
    out = layer(_images(6))
    assert out.shape == (2, 10, 10, 16)
    assert layer.compute_output_shape((None, 14, 14, 6)) == (None, 10, 10, 16)
    assert _trainable(layer) == 1_516 and layer.count_params() == 1_516
    assert [tuple(w.shape) for w in layer.trainable_weights] == [(5, 5, 60), (16,)]


def test_partial_conv_equals_a_masked_full_convolution():
    x = _images(6)
    layer = PartialConv2D()
    layer.build(x.shape)
    full = _np(layer.full_kernel())
    mask = np.zeros((6, 16), bool)
    for j, row in enumerate(LENET5_C3_TABLE):
        mask[list(row), j] = True
    assert full.shape == (5, 5, 6, 16)
    assert np.all(full[:, :, ~mask] == 0) and np.all(full[:, :, mask] != 0)
    bias = RNG.normal(size=16).astype("float32")
    layer.bias.assign(bias)
    reference = keras.layers.Conv2D(16, 5)
    reference.build(x.shape)
    reference.set_weights([full, bias])
    np.testing.assert_allclose(_np(layer(x)), _np(reference(x)), rtol=1e-5, atol=1e-5)
    # the kernel's columns: output map by output map, inputs in the table's order
    np.testing.assert_array_equal(_np(layer.kernel)[:, :, :3], full[:, :, [0, 1, 2], 0])
    np.testing.assert_array_equal(_np(layer.kernel)[:, :, 3:6], full[:, :, [1, 2, 3], 1])


def test_partial_conv_with_a_custom_table():
    layer = PartialConv2D([[0], [1, 2]], kernel_size=3, use_bias=False)
    assert layer(_images(3, size=6)).shape == (2, 4, 4, 2)
    assert _trainable(layer) == 9 * 3 and layer.filters == 2


# === EuclideanRBF ===


def test_rbf_is_the_squared_distance_to_fixed_centres():
    layer = EuclideanRBF(10, name="output")
    x = RNG.uniform(-1.7, 1.7, size=(3, 84)).astype("float32")
    out = _np(layer(x))
    centres = rbf_centres("digits", 84, 10)
    np.testing.assert_allclose(out, ((x[:, :, None] - centres[None]) ** 2).sum(axis=1), rtol=1e-5)
    assert _trainable(layer) == 0 and _non_trainable(layer) == 840 and layer.trainable_weights == []
    assert layer.compute_output_shape((None, 84)) == (None, 10)
    # a centre is at distance 0 from itself and argmin picks its class
    out = _np(layer(centres.T))
    assert np.all(np.diag(out) == 0) and list(out.argmin(axis=1)) == list(range(10))


def test_rbf_centres_are_the_digit_bitmaps():
    centres = rbf_centres("digits", 84, 10)
    assert centres.shape == (84, 10) and set(np.unique(centres)) == {-1.0, 1.0}
    assert all(len(rows) == 12 and all(len(r) == 7 for r in rows) for rows in DIGIT_BITMAPS)
    assert len({tuple(c) for c in centres.T}) == 10  # ten distinct codes
    # the 1's bitmap: its last row is solid
    np.testing.assert_array_equal(centres[-7:, 1], np.ones(7))


def test_rbf_random_centres_are_deterministic():
    a, b = rbf_centres("random", 20, 12, seed=3), rbf_centres("random", 20, 12, seed=3)
    np.testing.assert_array_equal(a, b)
    assert set(np.unique(a)) == {-1.0, 1.0}
    assert not np.array_equal(a, rbf_centres("random", 20, 12, seed=4))
    layer = EuclideanRBF(12, centres="random", seed=3)
    layer.build((None, 20))
    np.testing.assert_array_equal(_np(layer.centres), a)


# === The layer contract (tests/layers/conftest.py), over the three layers ===


@pytest.mark.parametrize(
    "make, input_shape",
    [
        (lambda: Subsampling(activation=scaled_tanh, name="s2"), (28, 28, 6)),
        (lambda: PartialConv2D(activation=scaled_tanh, name="c3"), (14, 14, 6)),
        (lambda: EuclideanRBF(10, name="output"), (84,)),
    ],
    ids=["subsampling", "partial_conv", "rbf"],
)
def test_layer_contract(check_layer, make, input_shape):
    # every weight element is connected (C3's table included): no element may miss its gradient
    check_layer(make, input_shape, every_element=True)


def test_config_holds_the_table_and_options():
    config = PartialConv2D([[1, 0], [2]], kernel_size=3, use_bias=False).get_config()
    assert (
        config["connections"] == [[1, 0], [2]]
        and config["kernel_size"] == 3
        and config["use_bias"] is False
    )
    assert EuclideanRBF(7, centres="random", seed=5).get_config()["centres"] == "random"


def test_rbf_in_float32_under_mixed_precision(mixed_float16):
    # kcnn.models.lenet5 builds its RBF with dtype="float32": float32 distances from float16 inputs
    layer = EuclideanRBF(10, dtype="float32")
    out = layer(np.ones((2, 84), "float16"))
    assert keras.backend.standardize_dtype(out.dtype) == "float32"


# === Argument errors ===


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda: Subsampling(0),
            "`Subsampling`: `pool_size` must be a positive integer; received 0",
        ),
        (
            lambda: Subsampling(activation="squash"),
            "`Subsampling`: `activation` must be None, a Keras activation",
        ),
        (
            lambda: Subsampling(data_format="channels_first"),
            "`Subsampling`: `data_format` must be one of 'channels_last'",
        ),
        (lambda: PartialConv2D([]), "`PartialConv2D`: `connections` must be a non-empty sequence"),
        (lambda: PartialConv2D([[0, 1], []]), "`connections` must be a non-empty sequence"),
        (lambda: PartialConv2D([[0, 0]]), "distinct non-negative input-map indices"),
        (lambda: PartialConv2D([[-1]]), "distinct non-negative input-map indices"),
        (lambda: PartialConv2D(5), "`connections` must be a non-empty sequence"),
        (
            lambda: PartialConv2D(kernel_size=0),
            "`PartialConv2D`: `kernel_size` must be a positive integer",
        ),
        (lambda: PartialConv2D(use_bias="yes"), "`use_bias` must be one of True, False"),
        (lambda: EuclideanRBF(0), "`EuclideanRBF`: `units` must be a positive integer; received 0"),
        (
            lambda: EuclideanRBF(10, centres="bitmaps"),
            "`centres` must be one of 'digits', 'random'",
        ),
        (lambda: EuclideanRBF(10, seed=-1), "`seed` must be a non-negative integer"),
    ],
)
def test_bad_arguments_raise(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_table_that_reads_a_missing_map_raises():
    with pytest.raises(
        ValueError,
        match=r"`PartialConv2D`: `connections` reads input map 5, so the input needs at least 6",
    ):
        PartialConv2D().build((None, 14, 14, 4))


def test_digit_centres_need_84_inputs_and_at_most_10_units():
    with pytest.raises(
        ValueError, match="centres='digits'.*needs 84 input features and at most 10 units"
    ):
        EuclideanRBF(10).build((None, 80))
    with pytest.raises(ValueError, match="Use centres='random'"):
        EuclideanRBF(11).build((None, 84))


@pytest.mark.parametrize(
    "layer, shape",
    [
        (Subsampling(), (None, 8, 8)),
        (PartialConv2D(), (None, 14, 6)),
        (EuclideanRBF(), (None, 4, 84)),
    ],
)
def test_wrong_rank_raises(layer, shape):
    with pytest.raises(ValueError, match="expects inputs of rank"):
        layer.build(shape)
