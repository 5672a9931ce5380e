"""DenseNet family: the declared counts, names, variants, input limits, mixed precision, saving, and
the weight-copy equivalence with keras.applications.DenseNet121."""

import keras
import numpy as np
import pytest
from _declared import declared

import kcnn
from kcnn.models import densenet

# Trainable and Keras total at the default input (torchvision and keras.applications), and the
# trainable / total without the top (keras.applications' include_top=False; it has no
# DenseNet-161).
IMAGENET_COUNTS = {
    "densenet121": ((declared("densenet121", "imagenet"), 8_062_504), (6_953_856, 7_037_504)),
    "densenet161": ((declared("densenet161", "imagenet"), 28_900_936), None),
    "densenet169": ((declared("densenet169", "imagenet"), 14_307_880), (12_484_480, 12_642_880)),
    "densenet201": ((declared("densenet201", "imagenet"), 20_242_984), (18_092_928, 18_321_984)),
}


def _counts(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights), model.count_params()


def _trainable(layer):
    return sum(int(np.prod(w.shape)) for w in layer.trainable_weights)


def _numpy(x):
    return keras.ops.convert_to_numpy(x)


@pytest.fixture(scope="module")
def densenet121():
    return kcnn.models.densenet121()


@pytest.mark.slow
@pytest.mark.parametrize("name", list(IMAGENET_COUNTS))
def test_imagenet_parameter_counts(name, densenet121):
    model = densenet121 if name == "densenet121" else kcnn.models.get(name)
    with_top, without_top = IMAGENET_COUNTS[name]
    assert _counts(model) == with_top
    head = model.get_layer("predictions").count_params()  # (F + 1) * 1000, no BN statistics
    if without_top is not None:
        assert (with_top[0] - head, with_top[1] - head) == without_top


def test_densenet121_names_and_per_block_counts(densenet121):
    names = [layer.name for layer in densenet121.layers]
    assert names == [
        "image", "conv1_pad", "conv1_conv", "conv1_bn", "conv1_relu", "pool1_pad", "pool1",
        "conv2", "pool2", "conv3", "pool3", "conv4", "pool4", "conv5",
        "bn", "relu", "avg_pool", "predictions",
    ]  # fmt: skip
    # per-block T of DenseNet-121
    parts = {"conv2": 335_040, "pool2": 33_280, "conv3": 919_680, "pool3": 132_096, "conv4": 2_837_760,
             "pool4": 526_336, "conv5": 2_158_080, "bn": 2_048, "predictions": 1_025_000}  # fmt: skip
    assert {n: _trainable(densenet121.get_layer(n)) for n in parts} == parts
    assert (
        _trainable(densenet121.get_layer("conv1_conv"))
        + _trainable(densenet121.get_layer("conv1_bn"))
        == 9_536
    )
    assert [densenet121.get_layer(f"conv{i}").num_layers for i in (2, 3, 4, 5)] == [6, 12, 24, 16]
    assert densenet121.output.shape == (None, 1000)
    assert densenet121.get_layer("conv5").output.shape == (None, 7, 7, 1024)


def test_densenet161_config_row():
    assert densenet.DENSENET_CONFIGS["densenet161"] == densenet.DenseNetConfig(
        growth_rate=48, block_sizes=(6, 12, 36, 24), init_features=96
    )


def test_cifar_variant_follows_the_source_notes():
    model = kcnn.models.densenet121(variant="cifar", num_classes=10)
    names = [layer.name for layer in model.layers]
    assert names[:3] == ["image", "conv1_conv", "conv2"]  # no BN after the stem, no max-pool
    assert (
        model.get_layer("conv1_conv").kernel_size == (3, 3)
        and model.get_layer("conv1_conv").filters == 64
    )
    assert {model.get_layer(f"conv{i}").concat_order for i in (2, 3, 4, 5)} == {"prepend"}
    assert model.get_layer("conv5").output.shape == (None, 4, 4, 1024)
    assert model.output.shape == (None, 10)
    assert _counts(model) == (6_956_298, 6_956_298 + 83_520)  # the CIFAR variant, 10 classes


@pytest.mark.slow
def test_densenet_bc_counts_and_channel_path():
    # DenseNet-BC-100-12 channels 24 -> 216 -> 108 -> 300 -> 150 -> 342 on 32/16/8 maps
    model = kcnn.models.densenet_bc()
    assert _counts(model) == (declared("densenet_bc"), 793_150)  # paper: 0.8M
    shapes = [
        model.get_layer(n).output.shape[1:]
        for n in ("conv1_conv", "conv2", "pool2", "conv3", "pool3", "conv4")
    ]
    assert shapes == [
        (32, 32, 24),
        (32, 32, 216),
        (16, 16, 108),
        (16, 16, 300),
        (8, 8, 150),
        (8, 8, 342),
    ]
    assert (
        model.get_layer("conv2").num_layers == 16
        and model.get_layer("conv2").concat_order == "append"
    )


@pytest.mark.parametrize(
    "pooling, expected", [(None, (None, 2, 2, 18)), ("avg", (None, 18)), ("max", (None, 18))]
)
def test_include_top_false_pooling(pooling, expected):
    # a small DenseNet-BC (16 -> 24 -> 12 -> 20 -> 10 -> 18 channels) keeps this cheap
    model = kcnn.models.densenet_bc(
        depth=10, growth_rate=8, input_shape=(8, 8, 3), include_top=False, pooling=pooling
    )
    assert model.output.shape == expected
    assert model.layers[-1].name == {None: "relu", "avg": "avg_pool", "max": "max_pool"}[pooling]


def test_smallest_inputs():
    # 29 for the ImageNet stem (keras.applications enforces 32), 8 for the CIFAR variant's
    # three transitions, 4 for DenseNet-BC's two
    smallest = kcnn.models.densenet121(input_shape=(29, 29, 3), include_top=False)
    assert smallest.output.shape == (None, 1, 1, 1024) and smallest.layers[-1].name == "relu"
    for build, too_small in [
        (lambda s: kcnn.models.densenet121(input_shape=s), 28),
        (lambda s: kcnn.models.densenet161(input_shape=s), 28),
        (lambda s: kcnn.models.densenet121(variant="cifar", input_shape=s), 7),
        (lambda s: kcnn.models.densenet_bc(depth=10, input_shape=s), 3),
    ]:
        with pytest.raises(ValueError, match=f"at least {too_small + 1}x{too_small + 1}"):
            build((too_small, too_small, 3))
    assert (
        kcnn.models.spec("densenet121").min_input == 29
        and kcnn.models.spec("densenet_bc").min_input == 4
    )


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: kcnn.models.densenet121(variant="torch"),
            "`densenet121`: unknown variant 'torch'",
        ),
        (
            lambda: kcnn.models.densenet_bc(depth=99),
            "`depth` must be 6n \\+ 4 with n >= 1.*received depth=99",
        ),
        (lambda: kcnn.models.densenet_bc(depth=4), "received depth=4"),
        (
            lambda: kcnn.models.densenet_bc(growth_rate=0),
            "`growth_rate` must be a positive integer",
        ),
        (lambda: kcnn.models.densenet_bc(compression=0), "`compression` must be a number in"),
        (
            lambda: kcnn.models.densenet201(weights="imagenet.bin"),
            "no weights 'imagenet.bin'; available",
        ),
    ],
)
def test_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.slow
def test_mixed_float16_output_is_float32(mixed_float16):
    model = kcnn.models.densenet_bc(depth=10, growth_rate=4, input_shape=(8, 8, 3))
    assert model.get_layer("conv2").compute_dtype == "float16"
    out = model(np.zeros((1, 8, 8, 3), "float32"))
    assert keras.backend.standardize_dtype(out.dtype) == "float32"


def test_save_and_load(tmp_path):
    model = kcnn.models.densenet_bc(
        depth=16, growth_rate=4, dropout_rate=0.2, input_shape=(8, 8, 3)
    )
    model.set_weights([w + 0.1 for w in model.get_weights()])
    model.save(tmp_path / "densenet_bc.keras")
    loaded = kcnn.load_model(tmp_path / "densenet_bc.keras")
    x = np.random.default_rng(1).normal(size=(2, 8, 8, 3)).astype("float32")
    np.testing.assert_array_equal(_numpy(model(x)), _numpy(loaded(x)))
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]


def _keras_applications_path(path):
    """kcnn's `conv2/block1_1_conv/kernel` is keras.applications' `conv2_block1_1_conv/kernel`."""
    layers, _, variable = path.rpartition("/")
    return f"{layers.replace('/', '_')}/{variable}"


@pytest.mark.slow
def test_keras_applications_densenet121_weights_copy_by_name():
    kwargs = {"input_shape": (32, 32, 3), "classifier_activation": None}
    ours = kcnn.models.densenet121(num_classes=10, **kwargs)
    reference = keras.applications.DenseNet121(weights=None, classes=10, **kwargs)
    assert _counts(ours) == _counts(reference) == (6_964_106, 7_047_754)  # keras.applications DenseNet121, 10 classes
    by_name = {w.path: w for w in reference.weights}
    assert len(by_name) == len(reference.weights)
    rng = np.random.default_rng(0)
    for path, w in by_name.items():  # BN statistics and affine terms away from their defaults
        if "/" in path and path.split("/")[-1] in (
            "gamma",
            "beta",
            "moving_mean",
            "moving_variance",
        ):
            low = 0.5 if path.endswith(("gamma", "moving_variance")) else -0.2
            w.assign(rng.uniform(low, low + 0.7, w.shape).astype("float32"))
    ours_by_name = {_keras_applications_path(w.path): w for w in ours.weights}
    assert set(ours_by_name) == set(by_name)
    for path, w in ours_by_name.items():
        w.assign(by_name[path].value)
    x = rng.normal(size=(2, 32, 32, 3)).astype("float32")
    logits, expected = _numpy(ours(x)), _numpy(reference(x))
    assert np.abs(expected).max() > 1e-2  # a comparison of non-trivial outputs
    assert np.abs(logits - expected).max() < 1e-4
    features = keras.Model(ours.inputs, ours.get_layer("relu").output)
    reference_features = keras.Model(reference.inputs, reference.get_layer("relu").output)
    assert np.abs(_numpy(features(x)) - _numpy(reference_features(x))).max() < 1e-4
