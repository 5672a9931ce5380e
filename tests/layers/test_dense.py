"""DenseBlock and TransitionBlock: channel growth, compression, bottleneck width, concat order, and
argument errors, and the layer contract (tests/layers/conftest.py)."""

import keras
import numpy as np
import pytest

from kcnn.layers import DenseBlock, TransitionBlock

RNG = np.random.default_rng(0)


def _images(channels, size=6, batch=2):
    return RNG.normal(size=(batch, size, size, channels)).astype("float32")


def _trainable(layer):
    return sum(int(np.prod(w.shape)) for w in layer.trainable_weights)


def _model(block, channels, size=6):
    image = keras.Input((size, size, channels))
    return keras.Model(image, block(image))


# === Shapes and counts ===


@pytest.mark.parametrize("channels, num_layers, k", [(5, 1, 4), (16, 3, 12), (64, 6, 32)])
def test_dense_block_adds_num_layers_times_k_channels(channels, num_layers, k):
    block = DenseBlock(num_layers, k)
    out = block(_images(channels, size=4))
    assert out.shape == (2, 4, 4, channels + num_layers * k)
    assert block.compute_output_shape((None, 4, 4, channels)) == (
        None,
        4,
        4,
        channels + num_layers * k,
    )


def _dense_layer_trainable(c, k, bn_size):
    # BN(c) gamma/beta + 1x1 conv c -> bn_size*k + BN(bn_size*k) + 3x3 conv bn_size*k -> k, no biases
    return 2 * c + c * bn_size * k + 2 * bn_size * k + 9 * bn_size * k * k


@pytest.mark.parametrize("bn_size", [1, 4])
def test_dense_block_count_and_bottleneck_width(bn_size):
    c, k, n = 24, 12, 3
    block = DenseBlock(n, k, bn_size=bn_size, name="conv2")
    block.build((None, 8, 8, c))
    assert _trainable(block) == sum(_dense_layer_trainable(c + j * k, k, bn_size) for j in range(n))
    bottleneck = block.dense_layers[0][2]
    assert bottleneck.name == "block1_1_conv" and bottleneck.filters == bn_size * k
    assert not bottleneck.use_bias and not block.dense_layers[0][5].use_bias


def test_spec_densenet121_first_block_count():
    # DenseNet-121 block1 (6 layers, k=32, on 64 channels) has T 335,040
    block = DenseBlock(6, 32)
    block.build((None, 56, 56, 64))
    assert _trainable(block) == 335_040


@pytest.mark.parametrize(
    "channels, compression, expected",
    [(256, 0.5, 128), (13, 0.5, 6), (10, 1 / 3, 3), (7, 1.0, 7)],
)
def test_transition_width_is_floor_of_c_times_compression(channels, compression, expected):
    block = TransitionBlock(compression)
    out = block(_images(channels, size=7))
    assert out.shape == (2, 3, 3, expected)  # 2x2/2 average pool floors 7 to 3
    assert block.conv.filters == expected and not block.conv.use_bias
    assert block.compute_output_shape((None, 7, 7, channels)) == (None, 3, 3, expected)
    # BN gamma/beta on the input channels, then the bias-free 1x1 conv
    assert _trainable(block) == 2 * channels + channels * expected


def test_spec_densenet121_first_transition_count():
    block = TransitionBlock(0.5)
    block.build((None, 56, 56, 256))
    assert _trainable(block) == 33_280  # trans1


# === Concatenation order ===


@pytest.mark.parametrize("order, keep", [("append", slice(0, 5)), ("prepend", slice(-5, None))])
def test_concat_order_places_the_input_channels(order, keep):
    x = _images(5)
    out = keras.ops.convert_to_numpy(DenseBlock(2, 3, concat_order=order)(x))
    np.testing.assert_array_equal(out[..., keep], x)


def test_prepend_is_append_with_the_channels_reordered():
    x = _images(5)
    append, prepend = DenseBlock(1, 3), DenseBlock(1, 3, concat_order="prepend")
    append.build(x.shape)
    prepend.build(x.shape)
    prepend.set_weights(append.get_weights())
    a = keras.ops.convert_to_numpy(append(x))
    p = keras.ops.convert_to_numpy(prepend(x))
    np.testing.assert_allclose(p, np.concatenate([a[..., 5:], a[..., :5]], axis=-1), atol=1e-6)


# === Names and paths (what kcnn.analysis walks) ===


def test_sublayer_names_follow_keras_applications():
    block = DenseBlock(2, 4, dropout_rate=0.1, name="conv2")
    block.build((None, 6, 6, 8))
    names = [layer.name for path in block.paths((None, 6, 6, 8)) for layer, _ in path]
    expected = [
        f"block{i}_{suffix}"
        for i in (1, 2)
        for suffix in ("0_bn", "0_relu", "1_conv", "1_bn", "1_relu", "2_conv", "2_dropout")
    ]
    assert names == expected
    assert block.weights[0].path == "conv2/block1_0_bn/gamma"
    transition = TransitionBlock(name="pool2")
    transition.build((None, 6, 6, 8))
    assert [layer.name for layer, _ in transition.paths((None, 6, 6, 8))[0]] == [
        "bn",
        "relu",
        "conv",
        "pool",
    ]
    assert transition.merge is None
    assert {w.path for w in transition.trainable_weights} == {
        "pool2/bn/gamma",
        "pool2/bn/beta",
        "pool2/conv/kernel",
    }


@pytest.mark.parametrize("order, identity_index", [("append", 0), ("prepend", 1)])
def test_paths_cover_every_sublayer_once_with_its_input_width(order, identity_index):
    c, k = 8, 4
    block = DenseBlock(3, k, concat_order=order)
    block.build((None, 6, 6, c))
    paths = block.paths((None, 6, 6, c))
    assert block.merge == "concat" and len(paths) == 2 and paths[identity_index] == []
    path = paths[1 - identity_index]
    assert len(path) == 3 * 6 and len({id(layer) for layer, _ in path}) == len(path)
    first_bns = [shape for layer, shape in path if layer.name.endswith("_0_bn")]
    assert [s[-1] for s in first_bns] == [c, c + k, c + 2 * k]


# === The layer contract (tests/layers/conftest.py) ===


@pytest.mark.parametrize(
    "make",
    [
        lambda: DenseBlock(
            2, 4, bn_size=2, dropout_rate=0.2, bn_epsilon=1e-5, concat_order="prepend", name="d"
        ),
        lambda: TransitionBlock(0.25, bn_momentum=0.9, name="t"),
    ],
    ids=["dense", "transition"],
)
def test_layer_contract(check_layer, make):
    check_layer(make, (6, 6, 8))


def test_dropout_only_in_training():
    block = DenseBlock(1, 8, dropout_rate=0.5)
    x = _images(4)

    def run(training):
        return keras.ops.convert_to_numpy(block(x, training=training))

    np.testing.assert_array_equal(run(False), run(False))
    assert not np.allclose(run(True), run(False))


# === Argument errors ===


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"num_layers": 0, "growth_rate": 4},
            "`DenseBlock`: `num_layers` must be a positive integer; received 0",
        ),
        ({"num_layers": 2, "growth_rate": 2.5}, "`growth_rate` must be a positive integer"),
        ({"num_layers": 2, "growth_rate": 4, "bn_size": 0}, "`bn_size` must be a positive integer"),
        (
            {"num_layers": 2, "growth_rate": 4, "dropout_rate": 1.0},
            r"`dropout_rate` must be a number in \[0, 1\)",
        ),
        ({"num_layers": 2, "growth_rate": 4, "bn_epsilon": 0}, "`bn_epsilon` must be a number in"),
        (
            {"num_layers": 2, "growth_rate": 4, "concat_order": "before"},
            "`concat_order` must be one of 'append', 'prepend'",
        ),
    ],
)
def test_dense_block_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DenseBlock(**kwargs)


@pytest.mark.parametrize("compression", [0, -0.5, 1.5, "half", None])
def test_transition_compression_outside_0_1_raises(compression):
    with pytest.raises(
        ValueError, match=r"`TransitionBlock`: `compression` must be a number in \(0, 1\]"
    ):
        TransitionBlock(compression)


def test_transition_that_would_keep_no_channel_raises():
    with pytest.raises(ValueError, match="leaves 0 channels"):
        TransitionBlock(0.1)(_images(5))


def test_rank_3_input_raises():
    with pytest.raises(ValueError, match="expects inputs of rank 4"):
        DenseBlock(1, 4).build((None, 6, 5))
