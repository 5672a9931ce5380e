"""ResidualBlock, BottleneckBlock and ZeroPadShortcut: shapes, counts, the shortcut options,
pre-activation ordering, stride placement, conv bias, argument errors, and the layer contract
(tests/layers/conftest.py)."""

import keras
import numpy as np
import pytest

from kcnn.layers import BottleneckBlock, ResidualBlock, ZeroPadShortcut

RNG = np.random.default_rng(0)


def _images(channels, size=8, batch=2):
    return RNG.normal(size=(batch, size, size, channels)).astype("float32")


def _counts(layer):
    trainable = sum(int(np.prod(w.shape)) for w in layer.trainable_weights)
    return trainable, sum(int(np.prod(w.shape)) for w in layer.weights) - trainable


def _names(block, input_shape):
    return [[layer.name for layer, _ in path] for path in block.paths(input_shape)]


def _np(x):
    return keras.ops.convert_to_numpy(x)


# === Shapes ===


@pytest.mark.parametrize(
    "make, channels, size, expected",
    [
        (lambda: ResidualBlock(16), 16, 8, (2, 8, 8, 16)),
        (lambda: ResidualBlock(32, strides=2), 16, 8, (2, 4, 4, 32)),
        (lambda: ResidualBlock(32, strides=2, shortcut="zero_pad"), 16, 9, (2, 5, 5, 32)),
        (lambda: BottleneckBlock(8), 16, 8, (2, 8, 8, 32)),
        (lambda: BottleneckBlock(8, strides=2, stride_on="1x1"), 32, 7, (2, 4, 4, 32)),
        (lambda: BottleneckBlock(8, strides=2, preactivation=True), 16, 9, (2, 5, 5, 32)),
        (lambda: BottleneckBlock(8, expansion=2), 16, 5, (2, 5, 5, 16)),
    ],
)
def test_output_shape_matches_compute_output_shape(make, channels, size, expected):
    block = make()
    assert tuple(block(_images(channels, size)).shape) == expected
    assert block.compute_output_shape((None, size, size, channels)) == (None, *expected[1:])
    assert block.compute_output_shape((None, None, None, channels)) == (
        None,
        None,
        None,
        expected[-1],
    )


# === Counts (torchvision layout, BN = 2 trainable + 2 moving statistics) ===


@pytest.mark.parametrize(
    "make, input_shape, trainable, non_trainable",
    [
        # ResNet-18 stage 1 block: two 3x3 64->64 convs + BN: 2 * (36,864 + 128); stage 1 = 2 blocks = 147,968
        (lambda: ResidualBlock(64), (None, 56, 56, 64), 73_984, 256),
        # ResNet-18 conv3_block1: 3x3/2 64->128, 3x3 128->128, 1x1/2 projection 64->128, three BNs
        (
            lambda: ResidualBlock(128, strides=2),
            (None, 56, 56, 64),
            73_728 + 147_456 + 8_192 + 3 * 256,
            768,
        ),
        # ResNet-50 conv2_block1 (keras.applications summary row 75,008 T + 1,280 NT = 76,288)
        (lambda: BottleneckBlock(64), (None, 56, 56, 64), 75_008, 1_280),
        # ... and its identity blocks: stage 1 215,808 = 75,008 + 2 * 70,400
        (lambda: BottleneckBlock(64), (None, 56, 56, 256), 70_400, 768),
        # keras.applications' v1: a bias on each of the four convolutions (64 + 64 + 256 + 256)
        (
            lambda: BottleneckBlock(64, conv_bias=True, stride_on="1x1"),
            (None, 56, 56, 64),
            75_008 + 640,
            1_280,
        ),
        # option A: no shortcut parameters at all
        (
            lambda: ResidualBlock(32, strides=2, shortcut="zero_pad"),
            (None, 32, 32, 16),
            4_608 + 9_216 + 128,
            128,
        ),
        # pre-activation (WRN): preact BN on the input, bias-free 1x1 projection without BN, no BN after conv 2
        (
            lambda: ResidualBlock(160, preactivation=True),
            (None, 32, 32, 16),
            32 + 16 * 9 * 160 + 320 + 160 * 9 * 160 + 16 * 160,
            32 + 320,
        ),
    ],
)
def test_counts(make, input_shape, trainable, non_trainable):
    block = make()
    block.build(input_shape)
    assert _counts(block) == (trainable, non_trainable)


@pytest.mark.parametrize(
    "options, width, trainable",
    [
        # torchvision resnext50_32x4d layer1[0]: 1x1 64->128, 3x3 128->128 in 32 groups,
        # 1x1 128->256, projection 64->256, four BNs
        (dict(groups=32, width_per_group=4), 128, 8_192 + 4_608 + 32_768 + 16_384 + 2 * 768),
        # torchvision wide_resnet50_2 layer1[0]: base_width 128 doubles the inner width
        (dict(width_per_group=128), 128, 8_192 + 147_456 + 32_768 + 16_384 + 2 * 768),
        # resnext101_64x4d: int(64 * 4 / 64) * 64 = 256
        (dict(groups=64, width_per_group=4), 256, 16_384 + 9_216 + 65_536 + 16_384 + 2 * 1_024),
    ],
)
def test_groups_and_width_per_group(options, width, trainable):
    block = BottleneckBlock(64, **options)
    block.build((None, 56, 56, 64))
    conv2 = block.residual_layers[3]
    assert (conv2.name, conv2.filters, conv2.groups) == ("2_conv", width, options.get("groups", 1))
    assert _counts(block)[0] == trainable


def test_block_options_are_keyword_only():
    with pytest.raises(TypeError):
        ResidualBlock(8, 2)
    with pytest.raises(TypeError):
        BottleneckBlock(8, 2, 4)


def test_wrn_28_10_group1_count():
    # WRN-28-10 group 1 (four pre-activation blocks of 160 filters on the 16-channel stem) = 1,640,672
    blocks = [ResidualBlock(160, preactivation=True)] + [
        ResidualBlock(160, preactivation=True) for _ in range(3)
    ]
    blocks[0].build((None, 32, 32, 16))
    for block in blocks[1:]:
        block.build((None, 32, 32, 160))
    assert sum(_counts(b)[0] for b in blocks) == 1_640_672


# === Shortcut options ===


@pytest.mark.parametrize(
    "shortcut, channels, strides, preact, expected",
    [
        ("auto", 16, 1, False, []),
        ("auto", 16, 2, False, ["0_conv", "0_bn"]),
        ("auto", 8, 1, False, ["0_conv", "0_bn"]),
        ("auto", 8, 2, True, ["0_conv"]),
        ("identity", 16, 1, True, []),
        ("projection", 16, 1, False, ["0_conv", "0_bn"]),
        ("projection", 16, 1, True, ["0_conv"]),
        ("zero_pad", 8, 2, False, ["0_pad"]),
        ("zero_pad", 16, 1, False, []),  # nothing to subsample or pad: the identity
    ],
)
def test_shortcut_options(shortcut, channels, strides, preact, expected):
    block = ResidualBlock(16, strides=strides, shortcut=shortcut, preactivation=preact)
    block.build((None, 8, 8, channels))
    assert _names(block, (None, 8, 8, channels))[1] == expected
    if expected[:1] == ["0_conv"]:
        conv = block.shortcut_layers[0]
        assert (
            conv.kernel_size == (1, 1) and conv.strides == (strides, strides) and not conv.use_bias
        )


def test_identity_shortcut_adds_the_input():
    # With the residual branch zeroed (last BN's gamma and beta), the output is relu(x).
    block = ResidualBlock(4)
    x = _images(4)
    block.build(x.shape)
    bn = block.residual_layers[-1]
    assert bn.name == "2_bn"
    bn.gamma.assign(np.zeros(4, "float32"))
    np.testing.assert_allclose(_np(block(x)), np.maximum(x, 0), atol=1e-6)


def test_zero_pad_shortcut_adds_the_subsampled_padded_input():
    block = ResidualBlock(8, strides=2, shortcut="zero_pad")
    x = _images(4, size=7)
    block.build(x.shape)
    block.residual_layers[-1].gamma.assign(np.zeros(8, "float32"))
    expected = np.pad(x[:, ::2, ::2, :], [(0, 0), (0, 0), (0, 0), (2, 2)])
    np.testing.assert_allclose(_np(block(x)), np.maximum(expected, 0), atol=1e-6)


def test_preactivation_projection_reads_the_preactivated_input():
    # He et al. 2016b / WRN: out = F(relu(bn(x))) + conv1x1(relu(bn(x))); with F zeroed only the projection remains.
    block = ResidualBlock(6, strides=2, preactivation=True)
    x = _images(4, size=6)
    block.build(x.shape)
    bn = block.residual_layers[0]
    bn.moving_mean.assign(RNG.normal(size=4).astype("float32"))
    bn.moving_variance.assign(RNG.uniform(0.5, 2, 4).astype("float32"))
    last = block.residual_layers[-1]
    assert last.name == "2_conv"
    last.kernel.assign(np.zeros(last.kernel.shape, "float32"))
    pre = np.maximum(
        (x - _np(bn.moving_mean)) / np.sqrt(_np(bn.moving_variance) + bn.epsilon) * _np(bn.gamma)
        + _np(bn.beta),
        0,
    )
    kernel = _np(block.shortcut_layers[0].kernel)[0, 0]
    np.testing.assert_allclose(
        _np(block(x, training=False)), pre[:, ::2, ::2, :] @ kernel, atol=1e-5
    )


def test_preactivation_identity_keeps_the_raw_input_and_has_no_final_relu():
    block = BottleneckBlock(2, preactivation=True)
    x = _images(8)
    block.build(x.shape)
    last = block.residual_layers[-1]
    assert last.name == "3_conv"
    last.kernel.assign(np.zeros(last.kernel.shape, "float32"))
    np.testing.assert_allclose(
        _np(block(x)), x, atol=1e-6
    )  # negative values survive: no ReLU after the add


def test_post_activation_output_is_rectified():
    out = _np(BottleneckBlock(4, strides=2)(_images(8)))
    assert out.min() >= 0 and out.max() > 0


@pytest.mark.parametrize(
    "make, channels",
    [
        (lambda: ResidualBlock(8, zero_init_residual=True), 8),
        (lambda: BottleneckBlock(2, zero_init_residual=True, conv_bias=True), 8),
        (lambda: ResidualBlock(8, preactivation=True, zero_init_residual=True), 8),
        (lambda: BottleneckBlock(2, preactivation=True, zero_init_residual=True), 8),
    ],
)
def test_zero_init_residual_starts_as_the_shortcut(make, channels):
    block = make()
    x = _images(channels)
    out = _np(block(x, training=True))
    np.testing.assert_allclose(out, x if block.preactivation else np.maximum(x, 0), atol=1e-6)
    last = block.residual_layers[-1]
    zeroed = last.kernel if block.preactivation else last.gamma
    assert not np.any(_np(zeroed))
    others = [
        layer
        for layer in block.residual_layers[:-1]
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert all(np.all(_np(bn.gamma) == 1) for bn in others)


# === Sublayer order and names (keras.applications' suffixes) ===


def test_post_activation_names_in_forward_order():
    block = BottleneckBlock(4, strides=2, stride_on="1x1", conv_bias=True, name="conv3_block1")
    block.build((None, 8, 8, 8))
    residual, shortcut = _names(block, (None, 8, 8, 8))
    assert residual == ["1_conv", "1_bn", "1_relu", "2_conv", "2_bn", "2_relu", "3_conv", "3_bn"]
    assert shortcut == ["0_conv", "0_bn"]
    assert block.merge == "add"
    paths = {w.path for w in block.weights}
    assert {
        "conv3_block1/1_conv/kernel",
        "conv3_block1/1_conv/bias",
        "conv3_block1/0_bn/moving_variance",
    } <= paths


def test_preactivation_names_in_forward_order():
    block = ResidualBlock(8, strides=2, preactivation=True, dropout_rate=0.3)
    block.build((None, 8, 8, 4))
    residual, shortcut = _names(block, (None, 8, 8, 4))
    assert residual == [
        "preact_bn", "preact_relu", "1_pad", "1_conv", "1_bn", "1_relu", "1_dropout", "2_conv",
    ]  # fmt: skip
    assert shortcut == ["0_conv"]
    bottleneck = BottleneckBlock(4, preactivation=True, dropout_rate=0.1)
    bottleneck.build((None, 8, 8, 16))
    assert _names(bottleneck, (None, 8, 8, 16))[0] == [
        "preact_bn", "preact_relu", "1_conv", "1_bn", "1_relu", "2_conv", "2_bn", "2_relu", "2_dropout", "3_conv",
    ]  # fmt: skip


def test_paths_pair_each_sublayer_with_the_shape_it_sees():
    block = BottleneckBlock(4, strides=2)
    residual, shortcut = block.paths((None, 8, 8, 8))
    shapes = {layer.name: shape for layer, shape in residual + shortcut}
    assert shapes["1_conv"] == (None, 8, 8, 8)
    assert shapes["2_pad"] == (None, 8, 8, 4)
    assert shapes["2_conv"] == (None, 10, 10, 4)
    assert shapes["3_conv"] == (None, 4, 4, 4)
    assert shapes["0_conv"] == (None, 8, 8, 8)


# === Stride placement and padding ===


@pytest.mark.parametrize(
    "stride_on, strided, padded", [("3x3", "2_conv", ["2_pad"]), ("1x1", "1_conv", [])]
)
def test_stride_position(stride_on, strided, padded):
    block = BottleneckBlock(4, strides=2, stride_on=stride_on)
    block.build((None, 8, 8, 8))
    layers = {layer.name: layer for layer, _ in block.paths((None, 8, 8, 8))[0]}
    for name in ("1_conv", "2_conv", "3_conv"):
        assert layers[name].strides == ((2, 2) if name == strided else (1, 1)), name
    assert [n for n in layers if n.endswith("_pad")] == padded


def test_strided_3x3_pads_one_pixel_on_every_side_like_pytorch():
    # Keras' "same" at stride 2 on an even size pads only bottom/right; PyTorch's padding=1 pads all sides.
    block = ResidualBlock(1, strides=2, shortcut="projection")
    x = _images(1, size=4, batch=1)
    block.build(x.shape)
    pad, conv = block.residual_layers[:2]
    assert pad.padding == ((1, 1), (1, 1)) and conv.padding == "valid"
    kernel = _np(conv.kernel)[:, :, 0, 0]
    padded = np.pad(x[0, :, :, 0], 1)
    expected = np.array(
        [[np.sum(padded[i : i + 3, j : j + 3] * kernel) for j in (0, 2)] for i in (0, 2)]
    )
    np.testing.assert_allclose(_np(conv(pad(x)))[0, :, :, 0], expected, atol=1e-5)


def test_conv_bias_on_every_convolution():
    for bias in (False, True):
        block = BottleneckBlock(4, strides=2, conv_bias=bias)
        block.build((None, 8, 8, 8))
        convs = [
            layer
            for path in block.paths((None, 8, 8, 8))
            for layer, _ in path
            if layer.name.endswith("_conv")
        ]
        assert len(convs) == 4 and all(conv.use_bias is bias for conv in convs)


# === ZeroPadShortcut (option A) against NumPy ===


@pytest.mark.parametrize(
    "channels, filters, strides, size", [(16, 32, 2, 8), (16, 32, 2, 7), (3, 8, 1, 5), (4, 4, 3, 7)]
)
def test_zero_pad_shortcut_matches_numpy(channels, filters, strides, size):
    x = _images(channels, size=size)
    layer = ZeroPadShortcut(filters, strides)
    out = _np(layer(x))
    extra = filters - channels
    expected = np.pad(
        x[:, ::strides, ::strides, :], [(0, 0), (0, 0), (0, 0), (extra // 2, extra - extra // 2)]
    )
    np.testing.assert_array_equal(out, expected)
    assert layer.compute_output_shape((None, size, size, channels)) == (None, *expected.shape[1:])
    assert layer.weights == []


def test_zero_pad_shortcut_cannot_drop_channels():
    with pytest.raises(
        ValueError, match=r"`ZeroPadShortcut`: `filters` \(4\) must be at least the input channels"
    ):
        ZeroPadShortcut(4, 2)(_images(8))
    with pytest.raises(ValueError, match="cannot reduce 16 input channels to 8"):
        ResidualBlock(8, strides=2, shortcut="zero_pad").build((None, 8, 8, 16))


# === The composite-layer contract ===


@pytest.mark.parametrize(
    "make, input_shape, no_gradient",
    [
        (lambda: ResidualBlock(8, strides=2, shortcut="zero_pad", bn_momentum=0.99), (8, 8, 4), ()),
        (lambda: ResidualBlock(8, strides=2, preactivation=True, dropout_rate=0.3), (8, 8, 4), ()),
        (
            lambda: BottleneckBlock(
                4,
                strides=2,
                stride_on="1x1",
                conv_bias=True,
                bn_epsilon=1.001e-5,
                kernel_initializer="glorot_uniform",
            ),
            (8, 8, 8),
            # BN in training mode subtracts the batch mean, so a conv bias just before a BN gets an
            # exactly zero gradient (the reason torchvision's ResNets have none).
            ("_conv/bias",),
        ),
        (
            lambda: BottleneckBlock(2, expansion=2, shortcut="projection", preactivation=True),
            (8, 8, 4),
            (),
        ),
        (lambda: BottleneckBlock(8, strides=2, groups=4, width_per_group=16), (8, 8, 8), ()),
        (lambda: ZeroPadShortcut(8, 2), (7, 7, 4), ()),
    ],
    ids=["zero_pad", "wrn", "keras_v1", "preact_projection", "grouped", "option_a"],
)
def test_layer_contract(check_layer, make, input_shape, no_gradient):
    check_layer(make, input_shape, no_gradient=no_gradient)


def test_dropout_only_in_training():
    block = ResidualBlock(8, preactivation=True, dropout_rate=0.5)
    x = _images(8)
    np.testing.assert_array_equal(_np(block(x, training=False)), _np(block(x, training=False)))
    assert not np.allclose(_np(block(x, training=True)), _np(block(x, training=False)))


# === Argument errors ===


@pytest.mark.parametrize(
    "cls, kwargs, message",
    [
        (
            ResidualBlock,
            dict(filters=0),
            "`ResidualBlock`: `filters` must be a positive integer; received 0",
        ),
        (ResidualBlock, dict(filters=8, strides=0), "`strides` must be a positive integer"),
        (
            ResidualBlock,
            dict(filters=8, shortcut="B"),
            "`shortcut` must be one of 'auto', 'identity', 'projection', 'zero_pad'",
        ),
        (
            ResidualBlock,
            dict(filters=8, preactivation="yes"),
            "`preactivation` must be True or False",
        ),
        (ResidualBlock, dict(filters=8, conv_bias=1), "`conv_bias` must be True or False"),
        (
            BottleneckBlock,
            dict(filters=8, zero_init_residual=None),
            "`zero_init_residual` must be True or False",
        ),
        (
            ResidualBlock,
            dict(filters=8, dropout_rate=1.0),
            r"`dropout_rate` must be a number in \[0, 1\)",
        ),
        (ResidualBlock, dict(filters=8, bn_epsilon=0), "`bn_epsilon` must be a number in"),
        (ResidualBlock, dict(filters=8, bn_momentum=1.5), "`bn_momentum` must be a number in"),
        (
            BottleneckBlock,
            dict(filters=8, expansion=0),
            "`BottleneckBlock`: `expansion` must be a positive integer",
        ),
        (
            BottleneckBlock,
            dict(filters=8, stride_on="first"),
            "`stride_on` must be one of '3x3', '1x1'",
        ),
        (BottleneckBlock, dict(filters=8, groups=0), "`groups` must be a positive integer"),
        (BottleneckBlock, dict(filters=8, width_per_group=4), "leaves no channel"),
        (
            ZeroPadShortcut,
            dict(filters=8, strides=0),
            "`ZeroPadShortcut`: `strides` must be a positive integer",
        ),
    ],
)
def test_bad_arguments(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(**kwargs)


@pytest.mark.parametrize("strides, channels", [(2, 16), (1, 8)])
def test_identity_shortcut_with_a_shape_change_raises(strides, channels):
    with pytest.raises(
        ValueError, match=r"`ResidualBlock`: `shortcut='identity'` needs the output shape"
    ):
        ResidualBlock(16, strides=strides, shortcut="identity")(_images(channels))


def test_rank_3_input_raises():
    with pytest.raises(ValueError, match="expects inputs of rank 4"):
        BottleneckBlock(4).build((None, 6, 5))
