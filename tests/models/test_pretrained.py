"""Pretrained weights from the cache, on every backend (this file runs on the JAX lane too).

A converted torchvision file in the cache is a plain Keras `.weights.h5`: loading it needs no torch
and no TensorFlow. Here the cache holds the weights of a randomly initialised kcnn ResNet-18 saved
under the name the conversion gives them, and nothing can be downloaded.
"""

import _pretrained
import keras
import numpy as np
import pytest

import kcnn

cached_resnet18 = pytest.fixture(_pretrained.cached_resnet18)


def test_converted_weights_load_without_torch(cached_resnet18):
    model = kcnn.models.resnet18(weights="imagenet", classifier_activation=None)
    x = np.random.default_rng(1).uniform(-1, 1, size=(1, 224, 224, 3)).astype("float32")
    want = keras.ops.convert_to_numpy(cached_resnet18(x, training=False))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model(x, training=False)), want, atol=1e-5
    )
