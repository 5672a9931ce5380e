"""keras.applications' weight files load into kcnn's keras-compatible networks with equal outputs.

For every keras.applications weight set: build keras.applications' model with random weights
(and non-trivial BN statistics), save it in the legacy HDF5 format its loader reads (the format
of the files it downloads), serve that file through a fake download and build kcnn's model with
`weights="keras"`: the outputs are equal. The top file is used where the test keeps the
classifier, the no-top file with `include_top=False`.
"""

import h5py
import keras
import numpy as np
import pytest
from keras.src.legacy.saving import legacy_h5_format

import kcnn

RNG = np.random.default_rng(0)


def randomise(model):
    """Draw biases, BN scales and statistics away from their defaults (kernels stay random)."""
    for weight in model.weights:
        if weight.name in ("gamma", "moving_variance"):
            weight.assign(RNG.uniform(0.5, 1.5, weight.shape).astype("float32"))
        elif weight.name in ("beta", "moving_mean", "bias"):
            weight.assign(RNG.normal(0, 0.1, weight.shape).astype("float32"))


def save_like_keras_applications(model, path):
    """Keras' legacy HDF5 weights file, what `keras.applications` loads with `load_weights`."""
    with h5py.File(path, "w") as file:
        legacy_h5_format.save_weights_to_hdf5_group(file, model)


def serve_reference(served, tmp_path, reference, weight_set, *, notop):
    url = weight_set.notop_url if notop else weight_set.url
    path = tmp_path / url.rsplit("/", 1)[1]
    randomise(reference)
    save_like_keras_applications(reference, path)
    served[url] = str(path)
    return url


def assert_same_outputs(reference, model, shape):
    x = RNG.uniform(-1, 1, size=(2, *shape)).astype("float32")
    want = keras.ops.convert_to_numpy(reference(x, training=False))
    got = keras.ops.convert_to_numpy(model(x, training=False))
    scale = np.abs(want).max()
    assert scale > 1e-6
    assert np.abs(want - got).max() <= 1e-4 * max(1.0, scale)


CASES = {
    # name: (kcnn builder kwargs, keras.applications constructor, input shape)
    "resnet50": ({"variant": "keras"}, "ResNet50", (224, 224, 3)),
    "resnet101": ({"variant": "keras"}, "ResNet101", (64, 64, 3)),
    "resnet152": ({"variant": "keras"}, "ResNet152", (64, 64, 3)),
    "densenet121": ({}, "DenseNet121", (224, 224, 3)),
    "densenet169": ({}, "DenseNet169", (64, 64, 3)),
    "densenet201": ({}, "DenseNet201", (64, 64, 3)),
    "inception_v3": ({"variant": "keras"}, "InceptionV3", (299, 299, 3)),
    "vgg16": ({}, "VGG16", (64, 64, 3)),
    "vgg19": ({}, "VGG19", (64, 64, 3)),
}
# The classifier's file for the networks at their default input; no-top files at 64x64 otherwise.
TOP = {"resnet50", "densenet121", "inception_v3"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_keras_applications_file_gives_equal_outputs(name, served, tmp_path):
    kwargs, constructor, shape = CASES[name]
    include_top = name in TOP
    options = {} if include_top else {"include_top": False, "pooling": "avg", "input_shape": shape}
    reference = getattr(keras.applications, constructor)(weights=None, **options)
    weight_set = kcnn.models.spec(name).resolve(**kwargs).weight_set("keras")
    url = serve_reference(served, tmp_path, reference, weight_set, notop=not include_top)
    model = kcnn.models.get(name, weights="keras", **kwargs, **options)
    assert served["requested"] == [url]
    assert_same_outputs(reference, model, shape)
    if name == "vgg16":  # a second build reads the cache: no download
        kcnn.models.get(name, weights="keras", **kwargs, **options)
        assert served["requested"] == [url]


@pytest.mark.slow
def test_vgg16_top_file_gives_equal_outputs(served, tmp_path):
    reference = keras.applications.VGG16(weights=None)
    weight_set = kcnn.models.spec("vgg16").variant().weight_set("imagenet")
    assert weight_set.name == "keras"
    serve_reference(served, tmp_path, reference, weight_set, notop=False)
    assert_same_outputs(reference, kcnn.models.vgg16(weights="imagenet"), (224, 224, 3))
