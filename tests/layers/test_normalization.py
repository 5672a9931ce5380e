"""LocalResponseNormalization: TensorFlow's op, the AlexNet paper's formula, PyTorch's mapping,
float16 safety, argument errors, and the layer contract (tests/layers/conftest.py)."""

import keras
import numpy as np
import pytest

from kcnn.layers import LocalResponseNormalization

RNG = np.random.default_rng(0)


def _activations(channels=7, scale=3.0, shape=(2, 4, 5)):
    return (scale * RNG.normal(size=(*shape, channels))).astype("float32")


def _np(x):
    return keras.ops.convert_to_numpy(x)


def paper_lrn(a, k, n, alpha, beta):
    """The AlexNet paper's section 3.3, written from the formula (float64)."""
    a = a.astype("float64")
    channels = a.shape[-1]
    out = np.empty_like(a)
    for c in range(channels):
        low, high = max(0, c - n // 2), min(channels - 1, c + n // 2)
        out[..., c] = a[..., c] / (k + alpha * np.sum(a[..., low : high + 1] ** 2, axis=-1)) ** beta
    return out


def torch_lrn(a, size, alpha, beta, k):
    """torch.nn.functional.local_response_norm: zero-pad the channels (size // 2 before,
    (size - 1) // 2 after), average the squares over `size`, b = a / (k + alpha * avg) ** beta."""
    a = a.astype("float64")
    channels = a.shape[-1]
    padded = np.pad(a**2, [(0, 0)] * (a.ndim - 1) + [(size // 2, (size - 1) // 2)])
    average = np.stack([padded[..., c : c + size].mean(axis=-1) for c in range(channels)], axis=-1)
    return a / (k + alpha * average) ** beta


# === The numbers ===


@pytest.mark.tf_only
@pytest.mark.parametrize(
    "depth_radius, bias, alpha, beta, channels",
    [
        (2, 2.0, 1e-4, 0.75, 7),
        (5, 1.0, 1.0, 0.5, 16),
        (0, 1.5, 0.1, 1.0, 3),
        (5, 1.0, 0.05, 0.75, 3),
    ],
)
def test_equals_tf_nn_local_response_normalization(depth_radius, bias, alpha, beta, channels):
    import tensorflow as tf

    x = _activations(channels)
    layer = LocalResponseNormalization(depth_radius, bias, alpha, beta)
    expected = tf.nn.local_response_normalization(
        x, depth_radius=depth_radius, bias=bias, alpha=alpha, beta=beta
    )
    np.testing.assert_allclose(_np(layer(x)), expected.numpy(), rtol=1e-5, atol=1e-6)


def test_defaults_are_the_alexnet_paper_formula():
    x = _activations(96, scale=20.0)  # large enough that the denominator is far from k**beta
    expected = paper_lrn(x, k=2.0, n=5, alpha=1e-4, beta=0.75)
    out = _np(LocalResponseNormalization()(x))
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    # the paper's formula differs from no normalization by much more than the tolerance
    assert np.abs(expected - x / 2.0**0.75).max() > 1e-2


def test_bvlc_caffe_setting_is_bias_1_alpha_2e_5():
    x = _activations(16, scale=20.0)
    caffe = LocalResponseNormalization.from_torch(5, alpha=1e-4, beta=0.75, k=1.0)  # BVLC prototxt
    assert (caffe.depth_radius, caffe.bias, caffe.beta) == (2, 1.0, 0.75)
    assert caffe.alpha == pytest.approx(2e-5)
    np.testing.assert_allclose(
        _np(caffe(x)), paper_lrn(x, k=1.0, n=5, alpha=2e-5, beta=0.75), rtol=1e-5
    )


@pytest.mark.parametrize(
    "size, alpha, beta, k", [(5, 5e-4, 0.75, 2.0), (3, 1e-2, 0.5, 1.0), (1, 0.3, 1.0, 1.5)]
)
def test_from_torch_equals_the_torch_formula(size, alpha, beta, k):
    x = _activations(8, scale=10.0)
    layer = LocalResponseNormalization.from_torch(size, alpha=alpha, beta=beta, k=k)
    assert layer.depth_radius == (size - 1) // 2 and layer.alpha == pytest.approx(alpha / size)
    np.testing.assert_allclose(
        _np(layer(x)), torch_lrn(x, size, alpha, beta, k), rtol=1e-5, atol=1e-6
    )


def test_torch_alpha_passed_unchanged_would_be_wrong():
    # the classic porting mistake: alpha_torch is n times the TF/paper alpha
    x = _activations(16, scale=20.0)
    wrong = _np(LocalResponseNormalization(2, 2.0, 5e-4, 0.75)(x))
    right = _np(LocalResponseNormalization.from_torch(5, alpha=5e-4, beta=0.75, k=2.0)(x))
    assert np.abs(wrong - right).max() > 1e-2


def test_channels_first_normalizes_axis_1():
    x = _activations(6)
    last = _np(LocalResponseNormalization(data_format="channels_last")(x))
    first = _np(LocalResponseNormalization(data_format="channels_first")(np.moveaxis(x, -1, 1)))
    np.testing.assert_allclose(np.moveaxis(first, 1, -1), last, rtol=1e-6)


# === float16 ===


def test_float16_input_with_large_values_stays_finite(mixed_float16):
    # 300**2 = 90,000 overflows float16 (max 65,504); the layer squares in float32
    x = np.full((1, 2, 2, 5), 300.0, dtype="float16")
    layer = LocalResponseNormalization()
    out = layer(x)
    assert (
        keras.backend.standardize_dtype(out.dtype) == "float16" and layer.compute_dtype == "float16"
    )
    out = _np(out).astype("float64")
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, paper_lrn(x.astype("float32"), 2.0, 5, 1e-4, 0.75), rtol=2e-3)


# === The layer contract (tests/layers/conftest.py) ===


def test_layer_contract(check_layer):
    check_layer(lambda: LocalResponseNormalization(3, 1.0, 1e-3, 0.5, name="norm"), (5, 5, 8))


def test_config_holds_the_constructor_arguments():
    layer = LocalResponseNormalization(4, 1.5, 2e-4, 0.6, data_format="channels_first", name="n")
    config = layer.get_config()
    assert {k: config[k] for k in ("depth_radius", "bias", "alpha", "beta", "data_format")} == dict(
        depth_radius=4, bias=1.5, alpha=2e-4, beta=0.6, data_format="channels_first"
    )
    assert LocalResponseNormalization(4).weights == []


# === Argument errors ===


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(depth_radius=-1), "`depth_radius` must be a non-negative integer; received -1"),
        (dict(depth_radius=2.5), "`depth_radius` must be a non-negative integer"),
        (dict(depth_radius=True), "`depth_radius` must be a non-negative integer"),
        (dict(bias=0.0), r"`bias` must be a number in \(0, inf\)"),
        (dict(bias="2"), "`bias` must be a number"),
        (dict(alpha=-1e-4), r"`alpha` must be a number in \[0, inf\)"),
        (dict(beta=0), r"`beta` must be a number in \(0, inf\)"),
        (dict(beta=float("nan")), "`beta` must be a number"),
        (
            dict(data_format="NHWC"),
            "`data_format` must be one of 'channels_last', 'channels_first'",
        ),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=f"`LocalResponseNormalization`: {message}"):
        LocalResponseNormalization(**kwargs)


@pytest.mark.parametrize("size", [4, 2, 0])
def test_even_window_raises(size):
    with pytest.raises(
        ValueError, match=rf"`size` must be an odd positive integer .*received {size}\. An even"
    ):
        LocalResponseNormalization.from_torch(size)


def test_rank_3_input_raises():
    with pytest.raises(ValueError, match="expects inputs of rank 4"):
        LocalResponseNormalization()(np.ones((2, 5, 8), "float32"))
