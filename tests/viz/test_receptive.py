"""Theoretical receptive-field boxes from kcnn.analysis, and the measured effective field."""

import io

import keras
import numpy as np
import pytest
from PIL import Image

import kcnn
from kcnn.viz import grads, placement, receptive, walk


def linear_stack():
    """Valid convolutions and pooling with positive weights, no activation: the gradient of an
    output is non-zero exactly on its theoretical field. 39 -> 18 -> 9 -> 7 uses every pixel."""
    positive = keras.initializers.RandomUniform(0.1, 1.0, seed=0)
    return keras.Sequential([
        keras.Input((39, 39, 2)),
        keras.layers.Conv2D(3, 5, strides=2, kernel_initializer=positive, name="conv1"),
        keras.layers.AveragePooling2D(2, name="pool1"),
        keras.layers.Conv2D(2, 3, kernel_initializer=positive, name="conv2"),
    ])


@pytest.mark.parametrize("position", [(0, 0), (3, 3), (6, 2)])
def test_box_equals_analysis_and_the_gradient_support(position):
    model = linear_stack()
    box = receptive.theoretical_field(model, "conv2", position)
    expected = kcnn.analysis.receptive_field([(5, 2), (2, 2), (3, 1)])
    assert box.size == (expected.size, expected.size) == (15, 15)
    assert box.jump == (expected.jump, expected.jump) == (4, 4)

    def output(x):
        return keras.ops.sum(model(x)[0, position[0], position[1], :]), ()

    _, _, gradient = grads.value_and_grad(output, np.ones((1, 39, 39, 2), "float32"))
    rows, cols = np.nonzero(np.abs(gradient[0]).sum(-1))
    assert (rows.min(), cols.min(), rows.max(), cols.max()) == (
        box.top, box.left, box.bottom, box.right)
    assert (box.top, box.left) == (4 * position[0], 4 * position[1])


def test_box_is_clipped_to_the_image():
    model = kcnn.models.resnet20(input_shape=(32, 32, 3))
    rows = receptive.profile_rows(model)
    box = receptive.theoretical_field(model, "conv3_block1", (0, 0))
    assert box.size == (rows["conv3_block1"].receptive_field,) * 2 == (21, 21)
    # output 0's field starts 10 pixels before the image (seven 3x3 layers padded by 1 at jump 1,
    # then the stride-2 conv's explicit padding of 1 and 2_conv's 1 at jump 2), so it ends at 10
    assert placement.placements(model)["conv3_block1"] == ((-10, 21, 2), (-10, 21, 2))
    assert (box.top, box.left, box.bottom, box.right) == (0, 0, 10, 10)
    whole = receptive.theoretical_field(model, "conv4_block3")
    assert (whole.top, whole.left, whole.bottom, whole.right) == (0, 0, 31, 31)
    with pytest.raises(ValueError, match=r"position \(16, 0\) is outside the 16x16 output"):
        receptive.theoretical_field(model, "conv3_block1", (16, 0))
    with pytest.raises(ValueError, match="receptive field"):
        receptive.theoretical_field(model, "predictions")


def test_effective_field_of_a_deep_resnet_is_smaller_and_centred():
    """Luo et al. 2016: at random initialisation the gradient mass concentrates in the middle."""
    keras.utils.set_random_seed(0)
    model = kcnn.models.resnet20(input_shape=(96, 96, 3))
    layer = "conv4_block3"  # 19 convolutions deep; theoretical field 81x81 on a 96x96 input
    box = receptive.theoretical_field(model, layer)
    assert box.size == (81, 81) and box.bottom - box.top + 1 == 81
    effective = receptive.effective_field(model, layer, samples=4)
    assert effective.extent < 0.75 * 81, effective.extent
    assert np.allclose(effective.centroid, box.centre, atol=1.0), (effective.centroid, box.centre)
    # the gradient reaches exactly the theoretical field: Keras' "same" padding with stride 2
    # pads the odd pixel at the end, which puts this field at 8..88, not centred on 47.5
    rows = np.nonzero(effective.gradient.sum(axis=1))[0]
    cols = np.nonzero(effective.gradient.sum(axis=0))[0]
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (8, 88, 8, 88)
    assert (box.top, box.bottom, box.left, box.right) == (8, 88, 8, 88)
    figure = receptive.plot_receptive_field(np.full((96, 96, 3), 128.0), box, effective)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    assert Image.open(buffer).size == (840, 460)


@pytest.mark.parametrize("name, options", [
    ("resnet20", {}),
    ("alexnet", {"variant": "cifar", "input_shape": (60, 60, 1)}),
    ("googlenet", {}),
    ("inception_v3", {}),
])
def test_placement_agrees_with_analysis_on_every_layer(name, options):
    model = kcnn.models.get(name, **options)
    rows = receptive.profile_rows(model)
    placed = placement.placements(model)
    assert set(placed) == set(walk.named_layers(model))
    for layer, geometry in placed.items():
        row = rows[layer]
        if geometry is None:
            assert row.receptive_field is None, layer
            continue
        sizes = tuple(axis[1] for axis in geometry)
        jumps = tuple(axis[2] for axis in geometry)
        assert sizes == receptive._pair(row.receptive_field), layer
        assert jumps == receptive._pair(row.jump), layer
