"""Each weight set's preprocessing, inside the model and as a function, equals its source's own.

keras.applications: each network module's `preprocess_input`. torchvision: `transforms.functional
.normalize` on the 0-1 image, and for GoogLeNet and Inception v3 then the network's own
`transform_input` step, which torchvision switches on for their weights.
"""

import _torchvision
import keras
import numpy as np
import pytest
import torch

import kcnn
from kcnn.weights import preprocessing
from kcnn.weights.sets import IMAGENET_MEAN, IMAGENET_STD

RAW = np.random.default_rng(0).uniform(0, 255, size=(2, 5, 7, 3)).astype("float32")
KERAS_FUNCTIONS = {
    "vgg16": keras.applications.vgg16.preprocess_input,
    "vgg19": keras.applications.vgg19.preprocess_input,
    "resnet": keras.applications.resnet.preprocess_input,
    "densenet": keras.applications.densenet.preprocess_input,
    "inception_v3": keras.applications.inception_v3.preprocess_input,
}


def every_weight_set():
    for name in kcnn.models.names():
        for key, weight_set in kcnn.models.spec(name).weight_sets():
            yield pytest.param(name, weight_set, id=f"{name}-{key}-{weight_set.name}")


def keras_reference(name):
    family = (
        "resnet"
        if name.startswith("resnet")
        else "densenet"
        if name.startswith("densenet")
        else name
    )
    return KERAS_FUNCTIONS[family](RAW.copy())


def torchvision_reference(name):
    _torchvision.import_torchvision_models()  # registers the package for the transforms import
    from torchvision.transforms import functional

    x = functional.normalize(
        torch.from_numpy(RAW.transpose(0, 3, 1, 2).copy()) / 255.0, IMAGENET_MEAN, IMAGENET_STD
    )
    if name in ("googlenet", "inception_v3"):  # torchvision builds these with transform_input=True
        models = _torchvision.import_torchvision_models()
        builder = models.googlenet if name == "googlenet" else models.inception_v3
        net = builder(weights=None, transform_input=True, aux_logits=False, init_weights=False)
        x = net._transform_input(x)
    return x.numpy().transpose(0, 2, 3, 1)


@pytest.mark.parametrize("name, weight_set", list(every_weight_set()))
def test_preprocessing_equals_the_sources(name, weight_set):
    want = keras_reference(name) if weight_set.source == "keras" else torchvision_reference(name)
    image = keras.Input(shape=RAW.shape[1:])
    inside = keras.Model(
        image, preprocessing.raw_input(weight_set.preprocessing, RAW.shape[1:], image)
    )
    np.testing.assert_allclose(keras.ops.convert_to_numpy(inside(RAW)), want, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(
        preprocessing.preprocess(RAW, weight_set.preprocessing), want, rtol=1e-5, atol=1e-4
    )


def test_preprocessing_layers_save_and_load(tmp_path):
    image = keras.Input(shape=(4, 4, 3))
    model = keras.Model(image, preprocessing.raw_input("caffe", (4, 4, 3), image))
    path = str(tmp_path / "p.keras")
    model.save(path)
    again = keras.saving.load_model(path)
    np.testing.assert_array_equal(
        again.predict(RAW[:, :4, :4], verbose=0), model.predict(RAW[:, :4, :4], verbose=0)
    )


def test_preprocess_function_follows_the_weights():
    np.testing.assert_allclose(
        kcnn.models.preprocess(RAW, "vgg16"), keras_reference("vgg16"), atol=1e-4
    )
    np.testing.assert_allclose(
        kcnn.models.preprocess(RAW, "densenet121", weights="torchvision"),
        torchvision_reference("densenet121"),
        atol=1e-4,
    )
    with pytest.raises(ValueError, match="3 channels"):
        kcnn.models.preprocess(RAW[..., :1], "vgg16")


def test_decode_predictions_names_the_classes():
    names = kcnn.weights.imagenet.class_names()
    assert len(names) == 1000 and names[0] == "tench" and names[999] == "toilet tissue"
    scores = np.zeros((2, 1000), "float32")
    scores[0, [1, 207, 3]] = [0.2, 0.7, 0.1]
    scores[1, 999] = 1.0
    decoded = kcnn.models.decode_predictions(scores, top=2)
    assert decoded[0] == [
        (207, "golden retriever", pytest.approx(0.7)),
        (1, "goldfish", pytest.approx(0.2)),
    ]
    assert decoded[1][0] == (999, "toilet tissue", 1.0)
    with pytest.raises(ValueError, match=r"\(batch, 1000\)"):
        kcnn.models.decode_predictions(scores[:, :10])
