"""VGG-11/13/16/19 with and without batch norm: counts, keras.applications'
names, the weight-copy equivalence with keras.applications.VGG16/VGG19, input limits, mixed
precision and saving.

The 133M-144M-parameter ImageNet models are only counted: they are built inside a StatelessScope
that leaves the weights uninitialised (the variables have their shapes but no values), which takes
a fraction of a second. Forward passes use 32x32 inputs."""

import re

import keras
import numpy as np
import pytest
from _declared import declared

import kcnn
from kcnn.models import vgg

AUTO_NAME = re.compile(
    r"^(conv2d|dense|max_pooling2d|batch_normalization|activation|flatten|dropout|input_layer)_\d+$"
)
RNG = np.random.default_rng(0)

# (T: the declaration's, Keras total) at 224x224x3, 1000 classes.
COUNTS = {
    ("vgg11", False): (declared("vgg11", False), declared("vgg11", False)),
    ("vgg13", False): (declared("vgg13", False), declared("vgg13", False)),
    ("vgg16", False): (declared("vgg16", False), declared("vgg16", False)),
    ("vgg19", False): (declared("vgg19", False), declared("vgg19", False)),
    ("vgg11", True): (declared("vgg11", True), 132_874_344),
    ("vgg13", True): (declared("vgg13", True), 133_059_624),
    ("vgg16", True): (declared("vgg16", True), 138_374_440),
    ("vgg19", True): (declared("vgg19", True), 143_689_256),
}


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _counts(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights), model.count_params()


def _unbuilt_weights(name, **kwargs):
    """Build `name(**kwargs)` with shapes only; then drop Keras' list of uninitialised variables
    (a later StatelessScope would otherwise initialise them)."""
    with keras.StatelessScope(initialize_variables=False):
        model = kcnn.models.get(name, **kwargs)
    keras.utils.clear_session(free_memory=False)
    return model


# === Counts and names ===


@pytest.mark.parametrize("name, batch_norm", list(COUNTS))
def test_imagenet_counts(name, batch_norm):
    model = _unbuilt_weights(name, batch_norm=batch_norm)
    assert _counts(model) == COUNTS[name, batch_norm]
    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(bns) == (sum(vgg.VGG_CONFIGS[name]) if batch_norm else 0)
    assert model.output.shape == (None, 1000) and model.get_layer("block5_pool").output.shape == (
        None,
        7,
        7,
        512,
    )


@pytest.mark.parametrize(
    "name, kwargs, counts",
    [
        ("vgg16", dict(num_classes=10, input_shape=(32, 32, 3)), (33_638_218, 33_638_218)),
        ("vgg16", dict(include_top=False), (14_714_688, 14_714_688)),
        ("vgg19", dict(include_top=False), (20_024_384, 20_024_384)),
    ],
)
def test_counts_that_keras_applications_gives(name, kwargs, counts):
    assert _counts(_unbuilt_weights(name, **kwargs)) == counts


def test_vgg16_per_layer_counts():
    model = _unbuilt_weights("vgg16")
    convs = [
        layer.count_params() for layer in model.layers if isinstance(layer, keras.layers.Conv2D)
    ]
    assert (
        convs
        == [1_792, 36_928, 73_856, 147_584, 295_168, 590_080, 590_080, 1_180_160] + [2_359_808] * 5
    )
    heads = [model.get_layer(n).count_params() for n in ("fc1", "fc2", "predictions")]
    assert heads == [102_764_544, 16_781_312, 4_097_000]


def test_names_are_keras_applications_plus_dropout():
    model = _unbuilt_weights("vgg16")
    names = [layer.name for layer in model.layers]
    expected = ["image"]
    for block, convs in enumerate((2, 2, 3, 3, 3), start=1):
        expected += [f"block{block}_conv{i}" for i in range(1, convs + 1)] + [f"block{block}_pool"]
    expected += ["flatten", "fc1", "fc1_dropout", "fc2", "fc2_dropout", "predictions"]
    assert names == expected
    assert {model.get_layer(n).rate for n in ("fc1_dropout", "fc2_dropout")} == {0.5}


def test_batch_norm_names_and_order():
    model = _unbuilt_weights("vgg11", batch_norm=True)
    names = [layer.name for layer in model.layers]
    assert names[:6] == [
        "image",
        "block1_conv1",
        "block1_bn1",
        "block1_relu1",
        "block1_pool",
        "block2_conv1",
    ]
    conv, bn = model.get_layer("block3_conv2"), model.get_layer("block3_bn2")
    assert (
        conv.use_bias and conv.activation is keras.activations.linear
    )  # torchvision's vgg_bn keeps the bias
    assert (bn.epsilon, bn.momentum) == (1e-5, 0.9)  # torch's eps and momentum 0.1


@pytest.mark.parametrize("name", list(vgg.VGG_CONFIGS))
def test_names_are_explicit(name):
    with keras.StatelessScope(initialize_variables=False):
        first, second = (kcnn.models.get(name, batch_norm=True) for _ in range(2))
    keras.utils.clear_session(free_memory=False)
    assert [layer.name for layer in first.layers] == [layer.name for layer in second.layers]
    assert not any(AUTO_NAME.match(layer.name) for layer in second.layers)


# === keras.applications equivalence ===


@pytest.mark.parametrize("name, reference", [("vgg16", "VGG16"), ("vgg19", "VGG19")])
def test_keras_applications_weights_copy_by_name(name, reference):
    ka = getattr(keras.applications, reference)(weights=None, input_shape=(32, 32, 3), classes=10)
    model = kcnn.models.get(name, num_classes=10, input_shape=(32, 32, 3))
    copied = 0
    for layer in ka.layers:
        if layer.weights:
            model.get_layer(layer.name).set_weights(layer.get_weights())
            copied += 1
    assert copied == len([layer for layer in model.layers if layer.weights])
    x = RNG.uniform(0, 255, size=(2, 32, 32, 3)).astype("float32")
    expected, out = _np(ka(x, training=False)), _np(model(x, training=False))
    assert np.abs(out - expected).max() < 1e-4
    features = keras.Model(model.input, model.get_layer("block5_pool").output)
    ka_features = keras.Model(ka.input, ka.get_layer("block5_pool").output)
    assert np.abs(_np(features(x)) - _np(ka_features(x))).max() < 1e-4 * max(
        1.0, np.abs(_np(ka_features(x))).max()
    )


# === Inputs, pooling, errors ===


@pytest.mark.parametrize(
    "pooling, shape", [(None, (None, 1, 1, 512)), ("avg", (None, 512)), ("max", (None, 512))]
)
def test_feature_extractor_at_32x32(pooling, shape):
    model = kcnn.models.vgg11(include_top=False, pooling=pooling, input_shape=(32, 32, 3))
    assert model.output.shape == shape
    assert (
        model.layers[-1].name
        == {None: "block5_pool", "avg": "avg_pool", "max": "max_pool"}[pooling]
    )


def test_variable_size_feature_extractor():
    model = _unbuilt_weights("vgg13", include_top=False, input_shape=(None, None, 3))
    assert model.output.shape == (None, None, None, 512)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            dict(input_shape=(31, 31, 3)),
            r"`vgg16`: input size must be at least 32x32; received input_shape=\(31, 31, 3\)",
        ),
        (
            dict(input_shape=(None, None, 3)),
            "`vgg16`: with include_top=True the Flatten head needs a known input size",
        ),
        (dict(num_classes=0), "`vgg16`: `num_classes` must be a positive integer; received 0"),
        (dict(pooling="max"), "`vgg16`: `pooling='max'` only applies with `include_top=False`"),
        (dict(dropout=-0.1), r"`vgg16`: `dropout` must be a number in \[0, 1\)"),
        (
            dict(input_shape=(32, 32)),
            "`vgg16`: `input_shape` must be a tuple of three positive integers",
        ),
    ],
)
def test_bad_arguments_name_the_network(kwargs, message):
    with pytest.raises(ValueError, match=message):
        kcnn.models.vgg16(**kwargs)


# === Precision and saving ===


def test_mixed_float16_output_is_float32(mixed_float16):
    model = kcnn.models.vgg11(batch_norm=True, num_classes=10, input_shape=(32, 32, 3))
    out = model(RNG.uniform(size=(2, 32, 32, 3)).astype("float32"))
    assert model.get_layer("block1_conv1").compute_dtype == "float16"
    assert {w.dtype for w in model.weights} == {"float32"}
    assert keras.backend.standardize_dtype(out.dtype) == "float32"


def test_save_and_load_identical(tmp_path):
    model = kcnn.models.vgg11(batch_norm=True, include_top=False, input_shape=(32, 32, 3))
    # non-default BN statistics, so that they are checked too
    model.set_weights(
        [w + RNG.uniform(0.1, 0.5, w.shape).astype("float32") for w in model.get_weights()]
    )
    path = tmp_path / "vgg11_bn.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = RNG.uniform(size=(2, 32, 32, 3)).astype("float32")
    np.testing.assert_array_equal(_np(model(x)), _np(loaded(x)))
