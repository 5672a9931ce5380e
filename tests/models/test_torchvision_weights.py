"""Converted torchvision weights load and compute torchvision's logits on every backend.

The full equivalence suite (every network with torchvision weights) is
tests/weights/test_torchvision_equivalence.py, on the TensorFlow lane; this ResNet-18 case lives
here so that the JAX lane, which runs tests/layers and tests/models, loads converted weights too.
"""

import _torchvision  # tests/ is on pytest's pythonpath
import keras
import numpy as np
import torch

import kcnn.models
from kcnn.models import load_torchvision_state_dict
from kcnn.weights.torchvision import read_pth


def test_resnet18_converted_weights_give_torchvision_logits(tmp_path):
    reference = _torchvision.random_reference("resnet18")
    path = tmp_path / "resnet18.pth"
    torch.save(reference.state_dict(), path)  # as torchvision publishes its weights
    model = kcnn.models.resnet18(input_shape=(33, 33, 3), classifier_activation=None)
    assert load_torchvision_state_dict(model, read_pth(path), network="resnet18") == []
    images = np.random.default_rng(0).standard_normal((2, 33, 33, 3)).astype("float32")
    expected = _torchvision.torchvision_outputs(reference, images)
    got = keras.ops.convert_to_numpy(model(images, training=False))
    difference = float(np.max(np.abs(got - expected)))
    scale = float(np.max(np.abs(expected)))
    print(
        f"EQUIVALENCE resnet18[]@33 ({keras.backend.backend()}) max_abs={difference:.3g} "
        f"relative={difference / scale:.3g}"
    )
    assert got.shape == expected.shape == (2, 1000)
    assert difference <= 1e-4 * scale
