"""The shared argument checks and the CompositeLayer contract."""

import keras
import numpy as np
import pytest

from kcnn.layers import _base


@pytest.mark.parametrize("value", [0, -3, 2.5, "4", True, None])
def test_check_positive_int_rejects(value):
    with pytest.raises(ValueError, match=r"`Block`: `filters` must be a positive integer; received"):
        _base.check_positive_int("Block", "filters", value)


def test_check_positive_int_accepts_numpy_ints():
    assert _base.check_positive_int("Block", "filters", np.int64(7)) == 7


def test_check_choice_lists_the_allowed_values():
    with pytest.raises(ValueError, match=r"`shortcut` must be one of 'identity', 'projection'; received 'x'"):
        _base.check_choice("ResidualBlock", "shortcut", "x", ("identity", "projection"))


@pytest.mark.parametrize("value, ok", [(0.0, False), (0.5, True), (1.0, True), (1.5, False), ("a", False)])
def test_check_range_half_open(value, ok):
    if ok:
        assert _base.check_range("T", "compression", value, 0, 1, low_open=True) == value
    else:
        with pytest.raises(ValueError, match=r"a number in \(0, 1\]"):
            _base.check_range("T", "compression", value, 0, 1, low_open=True)


def test_check_rank():
    _base.check_rank("L", (None, 8, 8, 3))
    with pytest.raises(ValueError, match="expects inputs of rank 4"):
        _base.check_rank("L", (None, 8, 3))


def test_check_data_format_is_channels_last_only():
    assert _base.check_data_format("L", None) == "channels_last"
    with pytest.raises(ValueError, match="channels_last"):
        _base.check_data_format("L", "channels_first")


class _TwoConvs(_base.CompositeLayer):
    """A minimal composite layer: two convolutions in a row."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.first = keras.layers.Conv2D(4, 3, padding="same", name="first", dtype=self.dtype_policy)
        self.second = keras.layers.Conv2D(2, 1, name="second", dtype=self.dtype_policy)

    def paths(self, input_shape):
        middle = self.first.compute_output_shape(input_shape)
        return [[(self.first, input_shape), (self.second, middle)]]

    def call(self, inputs):
        return self.second(self.first(inputs))

    def compute_output_shape(self, input_shape):
        return self.second.compute_output_shape(self.first.compute_output_shape(input_shape))


def test_composite_build_creates_every_sublayer_weight():
    layer = _TwoConvs()
    layer.build((None, 8, 8, 3))
    # first: 3*3*3*4 + 4 = 112; second: 4*2 + 2 = 10
    assert layer.count_params() == 122
    assert layer.first.built and layer.second.built


def test_composite_without_paths_says_what_is_missing():
    with pytest.raises(NotImplementedError, match="must implement paths"):
        _base.CompositeLayer().build((None, 4, 4, 1))
