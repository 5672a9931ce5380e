"""Inception blocks: GoogLeNet's module (3a exact, "5x5" branch options, BN/bias), the Inception v3
modules (shapes, counts, creation order), the auxiliary heads (counts, float32 output), argument
errors, and the layer contract (tests/layers/conftest.py)."""

import keras
import numpy as np
import pytest

from kcnn.layers import (
    AuxiliaryClassifier,
    InceptionA,
    InceptionB,
    InceptionC,
    InceptionModule,
    InceptionReductionA,
    InceptionReductionB,
)

RNG = np.random.default_rng(0)
TABLE_3A = (64, 96, 128, 16, 32, 32)  # paper Table 1, module 3a


def _images(size, channels, batch=2):
    return RNG.normal(size=(batch, size, size, channels)).astype("float32")


def _trainable(layer):
    return sum(int(np.prod(w.shape)) for w in layer.trainable_weights)


def _non_trainable(layer):
    return sum(int(np.prod(w.shape)) for w in layer.non_trainable_weights)


def _conv(cin, cout, kh, kw=None, bias=True):
    return cin * cout * kh * (kw or kh) + (cout if bias else 0)


# === GoogLeNet's module ===


def test_module_3a_shape_and_exact_count():
    block = InceptionModule(*TABLE_3A, name="inception3a")
    out = block(_images(28, 192, batch=1))
    assert out.shape == (1, 28, 28, 256)
    assert block.compute_output_shape((None, 28, 28, 192)) == (None, 28, 28, 256)
    expected = (
        _conv(192, 64, 1)
        + _conv(192, 96, 1) + _conv(96, 128, 3)
        + _conv(192, 16, 1) + _conv(16, 32, 5)
        + _conv(192, 32, 1)
    )
    assert _trainable(block) == expected == 163_696
    assert _non_trainable(block) == 0


def test_module_sublayer_names_in_forward_order():
    block = InceptionModule(*TABLE_3A, batch_norm=True)
    block.build((None, 28, 28, 192))
    names = [layer.name for path in block.paths((None, 28, 28, 192)) for layer, _ in path]
    assert names == [
        "1x1", "1x1_bn",
        "3x3_reduce", "3x3_reduce_bn", "3x3", "3x3_bn",
        "5x5_reduce", "5x5_reduce_bn", "5x5", "5x5_bn",
        "pool", "pool_proj", "pool_proj_bn",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "five_by_five, branch",
    [
        ("5x5", _conv(16, 32, 5)),
        ("3x3", _conv(16, 32, 3)),  # torchvision's 3x3 "5x5"
        ("double_3x3", _conv(16, 32, 3) + _conv(32, 32, 3)),  # the CIFAR variant
    ],
)
def test_five_by_five_options(five_by_five, branch):
    block = InceptionModule(*TABLE_3A, five_by_five=five_by_five)
    block.build((None, 28, 28, 192))
    assert _trainable(block) == 163_696 - _conv(16, 32, 5) + branch
    assert block.compute_output_shape((None, 28, 28, 192)) == (None, 28, 28, 256)
    assert block(_images(5, 192, batch=1)).shape == (1, 5, 5, 256)


def test_batch_norm_drops_bias_unless_asked():
    conv_channels = sum(TABLE_3A)  # every convolution's output channels
    plain = InceptionModule(*TABLE_3A)
    bn = InceptionModule(*TABLE_3A, batch_norm=True)  # torchvision: no bias, BN gamma/beta
    both = InceptionModule(*TABLE_3A, batch_norm=True, conv_bias=True)  # CIFAR variant
    for block in (plain, bn, both):
        block.build((None, 28, 28, 192))
    assert _trainable(bn) == _trainable(plain) - conv_channels + 2 * conv_channels
    assert _non_trainable(bn) == 2 * conv_channels
    assert _trainable(both) == _trainable(bn) + conv_channels
    assert all(not sub.use_bias for sub in bn._flatten_layers() if isinstance(sub, keras.layers.Conv2D))


def test_module_is_a_concat_of_its_branches_with_relu():
    block = InceptionModule(2, 3, 4, 2, 3, 5)
    x = _images(6, 4)
    out = keras.ops.convert_to_numpy(block(x))
    assert out.shape == (2, 6, 6, 2 + 4 + 3 + 5)
    assert out.min() >= 0.0
    first = keras.ops.convert_to_numpy(block.branches[0][0](x))  # the 1x1 conv with its ReLU
    np.testing.assert_allclose(out[..., :2], first, rtol=1e-6, atol=1e-6)


# === Inception v3 modules ===

V3_CASES = [
    # (class, args, input shape, output shape)
    (InceptionA, {"pool_features": 32}, (35, 35, 192), (35, 35, 256)),
    (InceptionA, {"pool_features": 64}, (35, 35, 256), (35, 35, 288)),
    (InceptionReductionA, {}, (35, 35, 288), (17, 17, 768)),
    (InceptionB, {"channels_7x7": 128}, (17, 17, 768), (17, 17, 768)),
    (InceptionReductionB, {}, (17, 17, 768), (8, 8, 1280)),
    (InceptionC, {}, (8, 8, 1280), (8, 8, 2048)),
]


@pytest.mark.parametrize("cls, args, in_shape, out_shape", V3_CASES)
def test_v3_module_shapes(cls, args, in_shape, out_shape):
    block = cls(**args)
    assert block.compute_output_shape((None, *in_shape)) == (None, *out_shape)
    small = (in_shape[0] // 3 + 3, in_shape[0] // 3 + 3, in_shape[2])  # a cheaper run
    out = block(_images(small[0], small[2], batch=1))
    assert out.shape[1:] == block.compute_output_shape((None, *small))[1:]
    assert out.shape[-1] == out_shape[-1]


def test_inception_a_count_and_bn_scale():
    convs = (
        _conv(192, 64, 1, bias=False)
        + _conv(192, 48, 1, bias=False) + _conv(48, 64, 5, bias=False)
        + _conv(192, 64, 1, bias=False) + _conv(64, 96, 3, bias=False) + _conv(96, 96, 3, bias=False)
        + _conv(192, 32, 1, bias=False)
    )
    channels = 64 + 48 + 64 + 64 + 96 + 96 + 32
    keras_style = InceptionA(32, bn_scale=False)  # keras.applications: BN without gamma
    torch_style = InceptionA(32, bn_scale=True)
    for block in (keras_style, torch_style):
        block.build((None, 35, 35, 192))
    assert _trainable(keras_style) == convs + channels == 255_440
    assert _trainable(torch_style) == convs + 2 * channels
    assert _non_trainable(keras_style) == _non_trainable(torch_style) == 2 * channels


def test_v3_sublayers_created_in_keras_applications_order():
    block = InceptionC()
    block.build((None, 8, 8, 1280))
    convs = [s.name for s in block._flatten_layers(include_self=False) if isinstance(s, keras.layers.Conv2D)]
    assert convs == [
        "branch1x1",
        "branch3x3_1", "branch3x3_2a", "branch3x3_2b",
        "branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3a", "branch3x3dbl_3b",
        "branch_pool",
    ]  # fmt: skip
    # the split's second half is a path of its own starting at the split, with its real input
    paths = block.paths((None, 8, 8, 1280))
    assert [p[0][0].name for p in paths] == [
        "branch1x1", "branch3x3_1", "branch3x3_2b", "branch3x3dbl_1", "branch3x3dbl_3b", "pool"
    ]  # fmt: skip
    assert paths[2][0][1] == (None, 8, 8, 384)
    kernels = {s.name: s.kernel_size for s in block._flatten_layers() if isinstance(s, keras.layers.Conv2D)}
    assert kernels["branch3x3_2a"] == (1, 3) and kernels["branch3x3_2b"] == (3, 1)


def test_inception_b_factorised_kernels():
    block = InceptionB(160)
    block.build((None, 17, 17, 768))
    kernels = [s.kernel_size for s in block._flatten_layers() if isinstance(s, keras.layers.Conv2D)]
    assert kernels == [(1, 1), (1, 1), (1, 7), (7, 1), (1, 1), (7, 1), (1, 7), (7, 1), (1, 7), (1, 1)]


def test_count_include_pad_divides_border_by_nine():
    x = np.ones((1, 5, 5, 4), "float32")
    keras_pool = InceptionA(8)._avg_pool(False)
    torch_pool = InceptionA(8)._avg_pool(True)
    a = keras.ops.convert_to_numpy(keras_pool[0](x))
    b = keras.ops.convert_to_numpy(torch_pool[1](torch_pool[0](x)))
    np.testing.assert_allclose(a, 1.0, rtol=1e-6)
    assert b[0, 0, 0, 0] == pytest.approx(4 / 9) and b[0, 2, 2, 0] == pytest.approx(1.0)


# === Auxiliary classifiers ===


@pytest.mark.parametrize(
    "kwargs, in_shape, expected",
    [
        ({}, (14, 14, 512), 3_188_840),  # paper/BVLC aux1
        ({}, (14, 14, 528), 3_190_888),  # paper aux2
        ({"batch_norm": True}, (14, 14, 512), 3_188_968),  # torchvision aux1
        ({"batch_norm": True, "adaptive_pool": True}, (14, 14, 528), 3_191_016),  # torchvision aux2
        ({"variant": "inception_v3"}, (17, 17, 768), 3_326_696),  # torchvision AuxLogits
    ],
)
def test_aux_counts(kwargs, in_shape, expected):
    head = AuxiliaryClassifier(1000, **kwargs)
    head.build((None, *in_shape))
    assert _trainable(head) == expected
    assert head.compute_output_shape((None, *in_shape)) == (None, 1000)


def test_aux_output_is_float32_with_activation(mixed_float16):
    head = AuxiliaryClassifier(7, batch_norm=True, classifier_activation="softmax")
    out = head(_images(14, 16, batch=3))
    assert out.shape == (3, 7)
    assert keras.backend.standardize_dtype(out.dtype) == "float32"
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras.ops.sum(out, axis=-1)), 1.0, rtol=1e-4)
    assert all(keras.backend.standardize_dtype(w.dtype) == "float32" for w in head.weights)


def test_aux_googlenet_layers_and_dropout():
    head = AuxiliaryClassifier(10)
    names = [s.name for s in head.branches[0]]
    assert names == ["pool", "conv", "flatten", "fc", "dropout", "predictions"]
    assert head.branches[0][4].rate == 0.7
    v3 = AuxiliaryClassifier(10, variant="inception_v3")
    assert [s.name for s in v3.branches[0]] == [
        "pool", "conv0", "conv0_bn", "conv1", "conv1_bn", "avg_pool", "predictions"
    ]  # fmt: skip


# === The layer contract (tests/layers/conftest.py), then argument errors ===

SMALL_BLOCKS = [
    (lambda: InceptionModule(4, 3, 5, 2, 3, 2), 8, 6),
    (lambda: InceptionModule(4, 3, 5, 2, 3, 2, batch_norm=True, five_by_five="double_3x3"), 8, 6),
    (lambda: InceptionA(8, count_include_pad=True), 8, 6),
    (lambda: InceptionReductionA(), 8, 7),
    (lambda: InceptionB(8, bn_scale=False), 8, 6),
    (lambda: InceptionReductionB(), 8, 7),
    (lambda: InceptionC(), 8, 4),
    # the side heads compute their logits in float32 under mixed precision, on purpose
    (lambda: AuxiliaryClassifier(5, batch_norm=True, dropout=0.0), 8, 14, "float32"),
    (lambda: AuxiliaryClassifier(5, variant="inception_v3"), 8, 17, "float32"),
]
IDS = ["module", "module_bn_double", "A", "redA", "B", "redB", "C", "aux_googlenet", "aux_v3"]


@pytest.mark.parametrize("case", SMALL_BLOCKS, ids=IDS)
def test_layer_contract(check_layer, case):
    make, channels, size, dtype = (*case, "float16")[:4]
    check_layer(make, (size, size, channels), output_dtype=dtype)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: InceptionModule(0, 96, 128, 16, 32, 32), "`filters_1x1` must be a positive integer"),
        (lambda: InceptionModule(64, 96, 128, 16, 32, -1), "`filters_pool_proj`"),
        (lambda: InceptionModule(64, 96, 1.5, 16, 32, 32), "`filters_3x3`"),
        (lambda: InceptionModule(*TABLE_3A, five_by_five="7x7"), "`five_by_five` must be one of"),
        (lambda: InceptionModule(*TABLE_3A, batch_norm="yes"), "`batch_norm` must be True or False"),
        (lambda: InceptionModule(*TABLE_3A, bn_epsilon=0), "`bn_epsilon`"),
        (lambda: InceptionA(0), "`pool_features` must be a positive integer"),
        (lambda: InceptionB(None), "`channels_7x7`"),
        (lambda: InceptionC(bn_momentum=2), "`bn_momentum`"),
        (lambda: AuxiliaryClassifier(0), "`num_classes`"),
        (lambda: AuxiliaryClassifier(10, variant="resnet"), "`variant` must be one of"),
        (lambda: AuxiliaryClassifier(10, dropout=1.0), "`dropout`"),
        (lambda: AuxiliaryClassifier(10, variant="inception_v3", adaptive_pool=True), "adaptive_pool"),
    ],
)
def test_bad_arguments_raise_value_error(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_wrong_rank_raises():
    with pytest.raises(ValueError, match="rank 4"):
        InceptionModule(*TABLE_3A).compute_output_shape((None, 28, 192))
