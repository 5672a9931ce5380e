"""The ResNet family: exact counts, names, stage shapes, variants, the
CIFAR option A/B shortcuts, pre-activation and WRN heads, argument errors, saving, and weight-copy
equivalence with keras.applications' ResNet50.

Shared behaviour (float32 output under mixed precision, no auto-generated names, `pooling="avg"`,
`num_classes=0`) is checked for every registered builder in test_zoo_contract.py.
"""

import keras
import numpy as np
import pytest
from _declared import declared

import kcnn
from kcnn.layers import BottleneckBlock, CompositeLayer, ResidualBlock, ZeroPadShortcut
from kcnn.weights import keras_h5

RNG = np.random.default_rng(0)

# (builder, options) -> (trainable: the declaration's, Keras total).
COUNTS = {
    ("resnet18", ()): (declared("resnet18", "torchvision"), 11_699_112),
    ("resnet34", ()): (declared("resnet34", "torchvision"), 21_814_696),
    ("resnet50", ()): (declared("resnet50", "torchvision"), 25_610_152),
    ("resnet101", ()): (declared("resnet101", "torchvision"), 44_654_504),
    ("resnet152", ()): (declared("resnet152", "torchvision"), 60_344_232),
    ("resnet50", (("variant", "keras"),)): (declared("resnet50", "keras"), 25_636_712),
    ("resnet101", (("variant", "keras"),)): (declared("resnet101", "keras"), 44_707_176),
    ("resnet152", (("variant", "keras"),)): (declared("resnet152", "keras"), 60_419_944),
    ("resnet18", (("variant", "cifar"),)): (declared("resnet18", "cifar"), 11_183_562),
    ("resnet20", ()): (declared("resnet20"), 271_098),
    ("resnet32", ()): (declared("resnet32"), 466_426),
    ("resnet44", ()): (declared("resnet44"), 661_754),
    ("resnet56", ()): (declared("resnet56"), 857_082),
    ("resnet110", ()): (declared("resnet110"), 1_736_058),
    ("preact_resnet164", ()): (declared("preact_resnet164"), 1_727_482),
    ("wide_resnet", ()): (declared("wide_resnet"), 36_497_146),
    ("wide_resnet", (("depth", 16), ("width", 4))): (2_748_890, None),
}

LARGE = ("resnet101", "resnet152")  # built only to be counted, and not kept

_BUILT = {}


@pytest.fixture(scope="module", autouse=True)
def _release_models():
    yield
    _BUILT.clear()


def build(name, **options):
    """Build each (name, options) once per module: the ImageNet nets take seconds each.

    The GAP head makes the count independent of the input size, so the ImageNet nets are built on
    32x32 inputs, which is all the tests here need.
    """
    key = (name, tuple(sorted(options.items())))
    if key not in _BUILT:
        if kcnn.models.spec(name).default_input[0] == 224 and options.get("variant") != "cifar":
            options = {"input_shape": (32, 32, 3), **options}
        model = kcnn.models.get(name, **options)
        if name in LARGE:
            return model
        _BUILT[key] = model
    return _BUILT[key]


def counts(model):
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    return trainable, model.count_params()


def _np(x):
    return keras.ops.convert_to_numpy(x)


# === ResNeXt and Wide ResNet-50/101 (torchvision layout) ===

# trainable and Keras total at 1000 classes (torchvision's num_params for the first), and
# torchvision's published GFLOPS (multiply-adds) at 224x224
WIDER = {
    "resnext50_32x4d": (declared("resnext50_32x4d"), 25_097_128, 4.23e9),
    "resnext101_32x8d": (declared("resnext101_32x8d"), 88_994_216, 16.41e9),
    "resnext101_64x4d": (declared("resnext101_64x4d"), 83_658_152, 15.46e9),
    "wide_resnet50_2": (declared("wide_resnet50_2"), 68_951_464, 11.40e9),
    "wide_resnet101_2": (declared("wide_resnet101_2"), 127_024_552, 22.75e9),
}


@pytest.mark.parametrize(
    "name",
    [n if n == "resnext50_32x4d" else pytest.param(n, marks=pytest.mark.slow) for n in WIDER],
)
def test_resnext_and_wide_resnet_counts_and_macs(name):
    trainable, total, macs = WIDER[name]
    model = kcnn.models.get(name)
    assert counts(model) == (trainable, total)
    assert kcnn.analysis.profile(model).totals.macs == pytest.approx(macs, rel=0.02)
    # torchvision's layout and names: 3x3 convolutions in groups, widths int(64 * base / 64) * g
    block = model.get_layer("conv2_block1")
    conv = block.residual_layers[3]
    assert (conv.name, conv.filters, conv.groups) == ("2_conv", block.width, block.groups)
    keras.utils.clear_session(free_memory=False)


# === Counts ===


@pytest.mark.parametrize(
    "key",
    [pytest.param(key, marks=[pytest.mark.slow] if key[0] in LARGE else []) for key in COUNTS],
    ids=lambda k: "-".join([k[0], *(f"{a}={v}" for a, v in k[1])]),
)
def test_counts_match_the_declaration(key):
    name, options = key
    trainable, total = COUNTS[key]
    model = build(name, **dict(options))
    assert counts(model)[0] == trainable
    if total is not None:
        assert counts(model)[1] == total


@pytest.mark.parametrize("name", ["resnet20", "resnet56"])
def test_option_b_adds_two_projections(name):
    # option B: 1x1 projection + BN at the two downsamplings: exactly +2,752 T and +192 NT
    a = counts(build(name))
    b = counts(build(name, shortcut="projection"))
    assert (b[0] - a[0], (b[1] - b[0]) - (a[1] - a[0])) == (2_752, 192)
    blocks = build(name, shortcut="projection")
    assert [layer.name for layer in blocks.layers if _has_projection(layer)] == [
        "conv3_block1",
        "conv4_block1",
    ]


def _has_projection(layer):
    return isinstance(layer, CompositeLayer) and any(
        s.name == "0_conv" for s in layer.shortcut_layers
    )


def test_option_a_has_zero_pad_shortcuts_at_the_downsamplings():
    model = build("resnet20")
    kinds = {
        layer.name: layer.shortcut_kind
        for layer in model.layers
        if isinstance(layer, ResidualBlock)
    }
    assert kinds.pop("conv3_block1") == kinds.pop("conv4_block1") == "zero_pad"
    assert set(kinds.values()) == {"identity"}
    assert isinstance(model.get_layer("conv3_block1").shortcut_layers[0], ZeroPadShortcut)


def test_wrn_28_10_with_100_classes():
    # T 36,536,884 with 100 classes; only the classifier differs (641 weights per extra class)
    assert COUNTS[("wide_resnet", ())][0] + 90 * 641 == 36_536_884


# === Names and shapes ===


def test_imagenet_names_follow_keras_applications():
    model = build("resnet18")
    names = [layer.name for layer in model.layers]
    assert names == [
        "image", "conv1_pad", "conv1_conv", "conv1_bn", "conv1_relu", "pool1_pad", "pool1_pool",
        *(f"conv{s}_block{b}" for s in (2, 3, 4, 5) for b in (1, 2)),
        "avg_pool", "predictions",
    ]  # fmt: skip


def test_imagenet_stage_shapes():
    model = kcnn.models.resnet50(input_shape=(224, 224, 3), include_top=False)
    shapes = {f"conv{s}": model.get_layer(f"conv{s}_block1").output.shape for s in (2, 3, 4, 5)}
    assert shapes == {
        "conv2": (None, 56, 56, 256),
        "conv3": (None, 28, 28, 512),
        "conv4": (None, 14, 14, 1024),
        "conv5": (None, 7, 7, 2048),
    }
    assert model.get_layer("pool1_pool").output.shape == (None, 56, 56, 64)
    assert model.output.shape == (None, 7, 7, 2048)


def test_cifar_resnet_names_and_shapes():
    model = build("resnet20")
    assert [layer.name for layer in model.layers[:4]] == [
        "image",
        "conv1_conv",
        "conv1_bn",
        "conv1_relu",
    ]
    assert [layer.name for layer in model.layers[-2:]] == ["avg_pool", "predictions"]
    for stage, shape in ((2, (None, 32, 32, 16)), (3, (None, 16, 16, 32)), (4, (None, 8, 8, 64))):
        assert [model.get_layer(f"conv{stage}_block{b}").output.shape for b in (1, 2, 3)] == [
            shape
        ] * 3
    assert model.output.shape == (None, 10) and model.inputs[0].shape == (None, 32, 32, 3)
    assert (
        model.get_layer("conv1_conv").kernel_size == (3, 3)
        and not model.get_layer("conv1_conv").use_bias
    )


def test_resnet18_cifar_variant():
    model = build("resnet18", variant="cifar")
    assert model.inputs[0].shape == (None, 32, 32, 3) and model.output.shape == (None, 10)
    assert "pool1_pool" not in [layer.name for layer in model.layers]
    assert model.get_layer("conv1_conv").strides == (1, 1)
    assert model.get_layer("conv5_block2").output.shape == (None, 4, 4, 512)


@pytest.mark.parametrize(
    "variant, strided, bias, epsilon",
    [("torchvision", "2_conv", False, 1e-5), ("keras", "1_conv", True, 1.001e-5)],
)
def test_imagenet_variants(variant, strided, bias, epsilon):
    model = build("resnet50", variant=variant)
    block = model.get_layer("conv3_block1")
    assert (
        isinstance(block, BottleneckBlock)
        and block.stride_on == {"2_conv": "3x3", "1_conv": "1x1"}[strided]
    )
    convs = {
        layer.name: layer
        for layer, _ in block.paths((None, 8, 8, 256))[0]
        if layer.name.endswith("_conv")
    }
    assert [n for n, c in convs.items() if c.strides == (2, 2)] == [strided]
    assert model.get_layer("conv1_conv").use_bias is bias and block.conv_bias is bias
    assert model.get_layer("conv1_bn").epsilon == block.bn_epsilon == epsilon


def test_preactivation_networks_end_with_post_bn_relu():
    model = build("preact_resnet164")
    names = [layer.name for layer in model.layers]
    assert (
        names[:2] == ["image", "conv1_conv"] and "conv1_bn" not in names
    )  # the first block pre-activates
    assert names[-4:] == ["post_bn", "post_relu", "avg_pool", "predictions"]
    assert sum(isinstance(layer, BottleneckBlock) for layer in model.layers) == 54
    first = model.get_layer("conv2_block1")
    assert first.preactivation and first.shortcut_kind == "projection" and first.out_channels == 64
    assert model.get_layer("conv4_block18").output.shape == (None, 8, 8, 256)


def test_wide_resnet_structure():
    model = build("wide_resnet")
    assert model.name == "wide_resnet_28_10"
    blocks = [layer for layer in model.layers if isinstance(layer, ResidualBlock)]
    assert [b.name for b in blocks[:5]] == [
        "conv2_block1",
        "conv2_block2",
        "conv2_block3",
        "conv2_block4",
        "conv3_block1",
    ]
    assert [b.filters for b in blocks[::4]] == [160, 320, 640]
    assert [b.shortcut_kind for b in blocks] == (["projection"] + ["identity"] * 3) * 3
    assert all(b.preactivation and b.dropout_rate == 0 for b in blocks)
    assert [layer.name for layer in model.layers[-4:]] == [
        "post_bn",
        "post_relu",
        "avg_pool",
        "predictions",
    ]
    thin = build("wide_resnet", depth=16, width=1)
    assert thin.get_layer("conv2_block1").shortcut_kind == "identity"  # k = 1: 16 -> 16 channels


def test_wide_resnet_dropout_between_the_convolutions():
    model = kcnn.models.wide_resnet(depth=10, width=2, dropout_rate=0.3)
    block = model.get_layer("conv3_block1")
    names = [layer.name for layer, _ in block.paths((None, 32, 32, 32))[0]]
    assert names[names.index("1_relu") + 1 : names.index("2_conv")] == ["1_dropout"]
    assert block.residual_layers[names.index("1_dropout")].rate == 0.3


@pytest.mark.parametrize(
    "name, options, zeroed",
    [
        ("resnet20", {}, False),  # the papers' and torchvision's default
        ("resnet20", {"zero_init_residual": True}, True),
        ("resnet50", {}, False),
        ("resnet50", {"variant": "keras", "zero_init_residual": True}, True),
        ("wide_resnet", {"depth": 10, "width": 1, "zero_init_residual": True}, True),
    ],
)
def test_zero_init_residual(name, options, zeroed):
    model = build(name, **options)
    blocks = [
        layer for layer in model.layers if isinstance(layer, (ResidualBlock, BottleneckBlock))
    ]
    assert {block.zero_init_residual for block in blocks} == {zeroed}
    last = blocks[-1].residual_layers[-1]
    assert np.any(_np(last.kernel if blocks[-1].preactivation else last.gamma)) != zeroed


@pytest.mark.parametrize(
    "name, options, pooling, shape, last",
    [
        ("resnet20", {}, None, (None, 8, 8, 64), "conv4_block3"),
        ("resnet20", {}, "max", (None, 64), "max_pool"),
        ("wide_resnet", {"depth": 10, "width": 1}, None, (None, 8, 8, 64), "post_relu"),
    ],
)
def test_feature_extractor(name, options, pooling, shape, last):
    model = kcnn.models.get(name, include_top=False, pooling=pooling, **options)
    assert model.output.shape == shape
    assert model.layers[-1].name == last


def test_any_input_size_from_1x1():
    model = kcnn.models.resnet18(input_shape=(1, 1, 3), num_classes=3)
    assert _np(model(np.ones((1, 1, 1, 3), "float32"))).shape == (1, 3)
    model = kcnn.models.resnet20(input_shape=(None, None, 3), include_top=False)
    assert _np(model(np.ones((1, 5, 7, 3), "float32"))).shape == (1, 2, 2, 64)


# === Argument errors ===


@pytest.mark.parametrize(
    "name, options, message",
    [
        (
            "resnet18",
            {"variant": "keras"},
            # one variant check serves every builder (ModelSpec.variant)
            "`resnet18`: unknown variant 'keras'; allowed: 'torchvision', 'cifar'",
        ),
        ("resnet34", {"variant": "keras"}, "allowed: 'torchvision', 'cifar'"),
        (
            "resnet50",
            {"variant": "caffe"},
            "`resnet50`: unknown variant 'caffe'; allowed: 'torchvision', 'keras', 'cifar'",
        ),
        (
            "resnet20",
            {"shortcut": "B"},
            "`resnet20`: unknown variant 'B'; allowed: 'zero_pad', 'projection'",
        ),
        ("wide_resnet", {"depth": 27}, r"`wide_resnet`: `depth` must be 6N \+ 4 with N >= 1"),
        ("wide_resnet", {"depth": 4}, "received depth=4"),
        (
            "wide_resnet",
            {"width": 0},
            "`wide_resnet`: `width` must be a positive integer; received width=0",
        ),
        ("wide_resnet", {"width": 2.5}, "`width` must be a positive integer"),
        (
            "wide_resnet",
            {"depth": 10, "dropout_rate": 1.0},
            r"`dropout_rate` must be a number in \[0, 1\)",
        ),
        (
            "resnet50",
            {"input_shape": (32, 32)},
            "`resnet50`: `input_shape` must be a tuple of three positive integers",
        ),
        (
            "resnet20",
            {"include_top": True, "pooling": "avg"},
            "only applies with `include_top=False`",
        ),
        ("resnet20", {"weights": "imagenet"}, "has no published pretrained weights"),
        (
            "resnet20",
            {"zero_init_residual": 1},
            "`resnet20`: `zero_init_residual` must be True or False",
        ),
    ],
)
def test_bad_arguments(name, options, message):
    with pytest.raises(ValueError, match=message):
        kcnn.models.get(name, **options)


# === Saving ===


@pytest.mark.parametrize(
    "name, options",
    [
        ("resnet20", {"input_shape": (16, 16, 3)}),
        ("wide_resnet", {"depth": 10, "width": 2, "dropout_rate": 0.3}),
    ],
)
def test_keras_round_trip_is_identical(name, options, tmp_path):
    model = kcnn.models.get(name, **options)
    model.set_weights(
        [w + RNG.uniform(0.0, 0.1, w.shape).astype("float32") for w in model.get_weights()]
    )
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = kcnn.load_model(path)
    x = RNG.uniform(-1, 1, size=(2, *model.inputs[0].shape[1:])).astype("float32")
    np.testing.assert_array_equal(_np(model(x)), _np(loaded(x)))
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]


def test_mixed_float16_output_is_float32(mixed_float16):
    model = kcnn.models.wide_resnet(depth=10, width=1, dropout_rate=0.3, input_shape=(8, 8, 3))
    out = model(np.ones((1, 8, 8, 3), "float32"))
    assert keras.backend.standardize_dtype(out.dtype) == "float32"
    assert (
        keras.backend.standardize_dtype(model.get_layer("conv2_block1").compute_dtype) == "float16"
    )


# === Equivalence with keras.applications (weights copied by name) ===


def _randomise(model):
    """Non-trivial weights: keep the kernels, draw biases, BN scales and BN statistics."""
    for weight in model.weights:
        name, shape = weight.name, weight.shape
        if name in ("gamma", "moving_variance"):
            value = RNG.uniform(0.5, 1.5, shape)
        elif name in ("beta", "moving_mean", "bias"):
            value = RNG.normal(0, 0.1, shape)
        else:
            continue
        weight.assign(value.astype("float32"))


def test_resnet50_keras_variant_equals_keras_applications():
    reference = keras.applications.ResNet50(weights=None, input_shape=(32, 32, 3))
    ours = build("resnet50", variant="keras")
    assert counts(ours) == counts(reference)
    _randomise(reference)
    copied = keras_h5.copy_from_model(reference, ours)
    assert copied == sum(1 for layer in reference.layers if layer.weights)
    x = RNG.uniform(-1, 1, size=(2, 32, 32, 3)).astype("float32")
    # the last block's output (keras.applications' conv5_block3_out) and the class probabilities
    ref_outputs = keras.Model(
        reference.inputs, [reference.get_layer("conv5_block3_out").output, reference.output]
    )
    our_outputs = keras.Model(ours.inputs, [ours.get_layer("conv5_block3").output, ours.output])
    for want, got in zip(ref_outputs(x, training=False), our_outputs(x, training=False)):
        want, got = _np(want), _np(got)
        assert np.abs(want).max() > 1e-4  # not a degenerate comparison
        assert np.abs(want - got).max() < 1e-4
