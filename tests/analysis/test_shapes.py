"""conv_output_size and receptive_field against the worked examples and against Keras itself."""

import itertools

import keras
import pytest

from kcnn.analysis import conv_output_size, receptive_field


def test_alexnet_first_layer():
    # (N - F + 2P) / S + 1 = (227 - 11 + 0) / 4 + 1 = 55
    assert conv_output_size(227, 11, 4, 0) == 55


CASES = [
    (n, k, s, p)
    for n, k, s, p in itertools.product(
        (7, 28, 32, 35, 224, 227, 299),
        (1, 2, 3, 5, 7, 11),
        (1, 2, 3, 4),
        ("valid", "same", 0, 1, 2, 3),
    )
    if k <= n
]


@pytest.mark.parametrize("padding", ["valid", "same", 0, 1, 2, 3])
def test_conv_and_pool_sizes_match_keras(padding):
    for n, k, s, p in (c for c in CASES if c[3] == padding):
        shape = (None, n, n, 3)
        if isinstance(p, int):  # explicit zero padding is a ZeroPadding2D before a "valid" layer
            shape = keras.layers.ZeroPadding2D(p).compute_output_shape(shape)
            mode = "valid"
        else:
            mode = p
        conv = keras.layers.Conv2D(4, k, strides=s, padding=mode).compute_output_shape(shape)
        pool = keras.layers.MaxPooling2D(k, strides=s, padding=mode).compute_output_shape(shape)
        expected = conv_output_size(n, k, s, p)
        assert conv[1] == conv[2] == expected, (n, k, s, p)
        assert pool[1] == expected, (n, k, s, p)


@pytest.mark.parametrize("n, k, d", [(32, 3, 2), (28, 5, 3), (17, 3, 4)])
def test_dilated_sizes_match_keras(n, k, d):
    for mode in ("valid", "same"):
        out = keras.layers.Conv2D(1, k, dilation_rate=d, padding=mode).compute_output_shape(
            (None, n, n, 1)
        )
        assert out[1] == conv_output_size(n, k, 1, mode, dilation=d)


def test_asymmetric_padding_and_errors():
    assert conv_output_size(224, 7, 2, (3, 3)) == 112  # ResNet's stem with ZeroPadding2D(3)
    assert conv_output_size(10, 3, 2, (0, 1)) == 5
    with pytest.raises(ValueError, match="padding"):
        conv_output_size(10, 3, 1, "full")
    with pytest.raises(ValueError, match="does not fit"):
        conv_output_size(3, 5, 1, "valid")
    with pytest.raises(ValueError, match="kernel"):
        conv_output_size(10, 0, 1)


def test_receptive_field_of_stacked_3x3():
    assert receptive_field([(3, 1)] * 3) == (7, 1)  # three 3x3 see a 7x7 patch
    assert receptive_field([(3, 1)] * 2).size == 5  # two see 5x5
    assert receptive_field([(7, 1)]).size == 7


def test_receptive_field_of_vgg16_conv5_3():
    block = lambda convs: [(3, 1)] * convs
    layers = (
        block(2)
        + [(2, 2)]
        + block(2)
        + [(2, 2)]
        + block(3)
        + [(2, 2)]
        + block(3)
        + [(2, 2)]
        + block(3)
    )
    assert receptive_field(layers) == (196, 16)


def test_receptive_field_rejects_bad_specs():
    with pytest.raises(ValueError, match="kernel, stride"):
        receptive_field([3])
    assert receptive_field([(3, 1, 2)]).size == 5  # dilation 2
