"""Filters hold exactly the kernel values; feature maps are the layer's real output."""

import io

import keras
import numpy as np
import pytest
from PIL import Image

import kcnn
from kcnn.viz import figures, filters, maps


def png_size(figure):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return Image.open(io.BytesIO(buffer.getvalue())).size


@pytest.fixture(scope="module")
def small_cnn():
    keras.utils.set_random_seed(1)
    return keras.Sequential([
        keras.Input((20, 20, 3)),
        keras.layers.Conv2D(6, 5, activation="relu", name="conv1"),
        keras.layers.Conv2D(5, 3, name="conv2"),
        keras.layers.GlobalAveragePooling2D(name="pool"),
        keras.layers.Dense(4, name="predictions"),
    ])


def test_first_layer_grid_holds_the_kernels_normalised_per_filter(small_cnn):
    result = filters.filters(small_cnn)
    kernel = keras.ops.convert_to_numpy(small_cnn.get_layer("conv1").kernel)
    assert result.layer == "conv1" and result.tiles.shape == (6, 5, 5, 3)
    columns = 3  # ceil(sqrt(6)): 3 x 2 tiles of 5x5, one pixel apart
    assert result.grid.shape == (2 * 6 - 1, 3 * 6 - 1, 3)
    for i in range(6):
        w = kernel[..., i]
        expected = (w - w.min()) / (w.max() - w.min())
        r, c = divmod(i, columns)
        np.testing.assert_allclose(result.grid[6 * r: 6 * r + 5, 6 * c: 6 * c + 5], expected,
                                   atol=1e-6)
    figure, _ = filters.plot_filters(small_cnn)
    assert png_size(figure) == (600, 600 * 11 // 17 + 60)


def test_deeper_kernels_as_filter_by_channel_grid(small_cnn):
    result = filters.filters(small_cnn, "conv2")
    kernel = keras.ops.convert_to_numpy(small_cnn.get_layer("conv2").kernel)  # (3, 3, 6, 5)
    assert result.grid.shape == (5 * 4 - 1, 6 * 4 - 1)  # rows: 5 filters; columns: 6 channels
    w = kernel[..., 2]
    np.testing.assert_allclose(result.grid[8:11, 4:7], (w[..., 1] - w.min()) / np.ptp(w),
                               atol=1e-6)
    with pytest.raises(ValueError, match="'pool' has no 2-D convolution kernel"):
        filters.filters(small_cnn, "pool")


def test_constant_filter_shows_grey():
    assert np.all(filters.normalise_per_filter(np.ones((3, 3, 1, 2))) == 0.5)


def test_feature_maps_equal_a_submodel_output_and_inner_layers_work(tmp_path):
    keras.utils.set_random_seed(2)
    model = kcnn.models.resnet20(input_shape=(16, 16, 3))
    x = np.random.default_rng(0).uniform(size=(1, 16, 16, 3)).astype("float32")
    result = maps.feature_maps(model, x, "conv3_block1")
    sub = keras.Model(model.input, model.get_layer("conv3_block1").output)
    np.testing.assert_allclose(result.maps, sub(x, training=False)[0], atol=1e-6)
    assert (result.receptive_field, result.jump) == (21, 2)  # 15 after conv2, +2, +4
    inner = maps.feature_maps(model, x, "conv3_block2/1_relu")
    assert inner.maps.shape == (8, 8, 32) and inner.maps.min() >= 0
    assert (inner.receptive_field, inner.jump) == (25, 2)
    figure = maps.plot_feature_maps(inner, picture=x[0] * 255, max_channels=11)
    assert png_size(figure) == (8 * 130 + 40, 2 * 130 + 80)  # 12 panels: 8 columns, 2 rows
    figures.save(figure, tmp_path / "maps.png")
    with pytest.raises(ValueError, match=r"'predictions' has output shape \(1, 10\).*spatial"):
        maps.feature_maps(model, x, "predictions")
