"""A fixture shared by tests/models/test_pretrained.py (both lanes) and tests/weights (TensorFlow
lane): `cached_resnet18 = pytest.fixture(_pretrained.cached_resnet18)`."""

import keras
import numpy as np

import kcnn
from kcnn.weights import download, loader


def cached_resnet18(tmp_path, monkeypatch):
    """A cache holding 'converted' ResNet-18 weights (a random kcnn model's); no network, no
    torch."""
    monkeypatch.setenv("KCNN_HOME", str(tmp_path / "kcnn_home"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))

    def no_download(*args, **kwargs):
        raise AssertionError("the cached weights must not be downloaded")

    monkeypatch.setattr(download, "fetch", no_download)
    monkeypatch.setattr(download.importlib.util, "find_spec", lambda name, *a: None)
    source = kcnn.models.resnet18(classifier_activation=None)
    for weight in source.weights:  # BN statistics away from their defaults
        if weight.name in ("moving_mean", "beta"):
            weight.assign(np.random.default_rng(0).normal(0, 0.1, weight.shape))
    path = download.converted_path(kcnn.models.spec("resnet18").variant().weights[0])
    download.os.makedirs(download.os.path.dirname(path))
    loader.save_arrays(path, {w.path: keras.ops.convert_to_numpy(w) for w in source.weights})
    return source
