"""GoogLeNet: exact counts of the paper/BVLC, torchvision and CIFAR variants (with and without the
side heads), layer names, ceil-mode pool shapes, minimum inputs, heads and argument errors."""

import math

import keras
import numpy as np
import pytest
from _declared import declared

import kcnn
from kcnn.models import googlenet
from kcnn.models._aux import AuxiliaryOutputsModel


def _trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


@pytest.mark.parametrize(
    "kwargs, trainable, total, main_trainable, main_total",
    [
        ({"variant": "paper"}, 13_378_280, 13_378_280, declared("googlenet", "paper"), declared("googlenet", "paper")),
        ({"variant": "torchvision"}, 13_004_888, 13_019_960, declared("googlenet", "torchvision"), 6_639_464),
    ],
    ids=["paper", "torchvision"],
)
def test_counts_with_and_without_aux(kwargs, trainable, total, main_trainable, main_total):
    model = googlenet(aux_logits=True, **kwargs)
    assert isinstance(model, AuxiliaryOutputsModel)
    assert [o.shape for o in model.outputs] == [(None, 1000)] * 3
    assert (_trainable(model), model.count_params()) == (trainable, total)
    # the main-only model shares the layers: it is exactly googlenet(aux_logits=False)
    main = model.main_model()
    assert (_trainable(main), main.count_params()) == (main_trainable, main_total)
    assert [layer.name for layer in main.layers if layer.name.startswith("aux")] == []


def test_cifar_count_and_structure():
    model = googlenet(variant="cifar", num_classes=10)
    assert (_trainable(model), model.count_params()) == (6_166_250, 6_166_250 + 15_808)
    assert model.input_shape == (None, 32, 32, 3) and model.output_shape == (None, 10)
    assert model.get_layer("conv1").use_bias and model.get_layer("conv1").kernel_size == (3, 3)
    assert model.get_layer("inception3a").five_by_five == "double_3x3"
    assert model.get_layer("inception3b").output.shape == (None, 32, 32, 480)
    assert model.get_layer("pool3").output.shape == (None, 16, 16, 480)
    assert model.get_layer("inception5b").output.shape == (None, 8, 8, 1024)
    assert "dropout" not in [layer.name for layer in model.layers]


def test_paper_layer_names_and_lrn():
    model = googlenet(variant="paper", include_top=True, input_shape=(224, 224, 3))
    names = [layer.name for layer in model.layers]
    assert names == [
        "image", "conv1_pad", "conv1", "pool1_pad", "pool1", "norm1", "conv2_reduce", "conv2", "norm2",
        "pool2_pad", "pool2", "inception3a", "inception3b", "pool3_pad", "pool3",
        "inception4a", "inception4b", "inception4c", "inception4d", "inception4e", "pool4_pad", "pool4",
        "inception5a", "inception5b", "avg_pool", "dropout", "predictions",
    ]  # fmt: skip
    norm = model.get_layer("norm1")
    assert (norm.depth_radius, norm.bias, norm.alpha, norm.beta) == (2, 1.0, 2e-5, 0.75)  # BVLC
    assert model.get_layer("dropout").rate == 0.4
    assert model.get_layer("inception3a").output.shape == (None, 28, 28, 256)
    assert model.get_layer("inception4e").output.shape == (None, 14, 14, 832)
    assert model.get_layer("inception5b").output.shape == (None, 7, 7, 1024)


def _ceil_pool(n, k=3, s=2):
    return math.ceil((n - k) / s) + 1


@pytest.mark.parametrize("size", [224, 227])
def test_torchvision_pools_are_ceil_mode(size):
    model = googlenet(variant="torchvision", include_top=False, input_shape=(size, size, 3))
    n = (size + 6 - 7) // 2 + 1  # conv1 7x7/2 pad 3
    for pool, k in [("pool1", 3), ("pool2", 3), ("pool3", 3), ("pool4", 2)]:
        n = _ceil_pool(n, k)
        assert model.get_layer(pool).output.shape[1:3] == (n, n), pool
    assert "norm1" not in [layer.name for layer in model.layers]
    assert model.get_layer("conv1_bn").epsilon == 1e-3
    module = model.get_layer("inception3a")
    assert module.five_by_five == "3x3" and module.batch_norm and not module.conv_bias


@pytest.mark.parametrize(
    "pooling, shape", [(None, (None, 7, 7, 1024)), ("max", (None, 1024))]
)
def test_include_top_false_pooling(pooling, shape):
    model = googlenet(variant="paper", include_top=False, pooling=pooling)
    assert model.output_shape == shape
    assert _trainable(model) == 6_998_552 - 1_025_000


@pytest.mark.parametrize("variant, smallest", [("paper", 31), ("torchvision", 15)])
def test_minimum_input(variant, smallest):
    model = googlenet(variant=variant, include_top=False, input_shape=(smallest, smallest, 3))
    assert model.output_shape == (None, 1, 1, 1024)
    with pytest.raises(ValueError, match=f"at least {smallest}x{smallest}"):
        googlenet(variant=variant, input_shape=(smallest - 1, smallest - 1, 3))


def test_paper_aux_heads_need_a_14_to_16_grid():
    with pytest.raises(ValueError, match="14x14 to 16x16"):
        googlenet(variant="paper", aux_logits=True, input_shape=(160, 160, 3))
    # torchvision's adaptive pool takes any size
    model = googlenet(variant="torchvision", aux_logits=True, num_classes=3, input_shape=(64, 64, 3))
    assert [o.shape for o in model.outputs] == [(None, 3)] * 3


@pytest.mark.slow
def test_mixed_float16_output_is_float32(mixed_float16):
    model = googlenet(variant="cifar", num_classes=10, input_shape=(16, 16, 3))
    assert model.get_layer("inception3a").compute_dtype == "float16"
    out = model(np.zeros((1, 16, 16, 3), "float32"))
    assert keras.backend.standardize_dtype(out.dtype) == "float32"


@pytest.mark.slow
def test_save_load_small_input_with_aux_heads(tmp_path):
    model = googlenet(variant="cifar", aux_logits=True, num_classes=4, classifier_activation=None, input_shape=(28, 28, 3))
    assert [layer.name for layer in model.layers if layer.name.startswith("aux")] == ["aux1", "aux2"]
    x = np.random.default_rng(1).normal(size=(2, 28, 28, 3)).astype("float32")
    train = model(x, training=True)
    assert isinstance(train, list) and [t.shape for t in train] == [(2, 4)] * 3
    assert model(x).shape == (2, 4)
    path = tmp_path / "googlenet.keras"
    model.save(path)
    loaded = kcnn.load_model(path)
    assert isinstance(loaded, AuxiliaryOutputsModel) and loaded.aux_loss_weight == 0.3
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(model(x)), keras.ops.convert_to_numpy(loaded(x))
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"variant": "v1"}, "unknown variant"),
        ({"aux_logits": True, "include_top": False}, "aux_logits=True needs include_top=True"),
        ({"dropout": 1.0}, "`dropout`"),
        ({"aux_loss_weight": -1}, "`aux_loss_weight`"),
        ({"num_classes": 0}, "`num_classes`"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        googlenet(**kwargs)


def test_registered():
    spec = kcnn.models.spec("googlenet")
    assert spec.family == "googlenet" and spec.default_input == (224, 224, 3)
