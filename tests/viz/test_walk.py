"""Layer names inside blocks, the tap that reads their real outputs, the last spatial layer."""

import keras
import numpy as np
import pytest

import kcnn
from kcnn.viz import walk


@pytest.fixture(scope="module")
def resnet20():
    keras.utils.set_random_seed(0)
    return kcnn.models.resnet20(input_shape=(16, 16, 3))


def test_names_follow_the_profile(resnet20):
    names = walk.named_layers(resnet20)
    profiled = {row.name for row in kcnn.analysis.profile(resnet20).rows}
    assert "conv3_block2/2_conv" in names
    assert set(names) <= profiled  # merges ("conv3_block2/add") are rows but not layers
    assert profiled - set(names) == {r for r in profiled if r.endswith("/add")}


def test_unknown_name_lists_close_matches(resnet20):
    with pytest.raises(ValueError, match=r"no layer 'conv3_block2/2conv'.*conv3_block2/2_conv"):
        walk.find_layer(resnet20, "conv3_block2/2conv")


def test_capture_reads_the_real_output_and_restores_the_layer(resnet20):
    x = np.random.default_rng(0).standard_normal((2, 16, 16, 3)).astype("float32")
    with walk.capture(resnet20, ["conv3_block1", "conv3_block2/2_conv", "conv3_block2"]) as rec:
        out = resnet20(x, training=False)
    # a top-level layer: a Keras sub-model gives the same tensor
    sub = keras.Model(resnet20.input, resnet20.get_layer("conv3_block2").output)
    np.testing.assert_allclose(rec.outputs["conv3_block2"], sub(x, training=False), atol=1e-6)
    # a sublayer: the block's residual path rebuilt up to 2_conv from the block's input
    block = resnet20.get_layer("conv3_block2")
    y = rec.outputs["conv3_block1"]
    for layer in block.residual_layers[:4]:
        y = layer(y, training=False)
    assert [layer.name for layer in block.residual_layers[:4]] == [
        "1_conv", "1_bn", "1_relu", "2_conv"
    ]
    np.testing.assert_allclose(rec.outputs["conv3_block2/2_conv"], y, atol=1e-5)
    # nothing is left patched, and the model's output did not change
    assert all("call" not in vars(layer) for layer in walk.named_layers(resnet20).values())
    np.testing.assert_allclose(resnet20(x, training=False), out, atol=1e-6)


def test_last_spatial_layer_of_kcnn_models(resnet20):
    assert walk.last_spatial_layer(resnet20) == "conv4_block3"
    sequential = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, name="c"),
                                   keras.layers.Flatten(), keras.layers.Dense(3)])
    assert walk.last_spatial_layer(sequential) == "c"


def test_last_spatial_layer_ignores_auxiliary_heads():
    image = keras.Input((16, 16, 1))
    trunk = keras.layers.Conv2D(4, 3, padding="same", name="trunk")(image)
    main = keras.layers.Conv2D(4, 3, padding="same", name="main_conv")(trunk)
    main = keras.layers.Dense(2, name="main")(keras.layers.GlobalAveragePooling2D()(main))
    side = keras.layers.Conv2D(4, 1, name="side_conv")(trunk)
    side = keras.layers.Dense(2, name="side")(keras.layers.Flatten()(side))
    model = kcnn.models.AuxiliaryOutputsModel(image, [main, side])
    assert walk.last_spatial_layer(model) == "main_conv"
