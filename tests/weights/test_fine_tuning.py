"""Fine-tuning from pretrained weights and the in-model preprocessing, with cached weights."""

import _pretrained
import keras
import numpy as np
import pytest

import kcnn
from kcnn.weights import preprocessing

cached_resnet18 = pytest.fixture(_pretrained.cached_resnet18)


def test_fine_tuning_keeps_the_backbone_and_a_fresh_head(cached_resnet18):
    with pytest.warns(UserWarning, match="everything but the classifier: predictions") as caught:
        model = kcnn.models.resnet18(weights="imagenet", num_classes=10, input_shape=(64, 64, 3))
    assert sum("everything but the classifier" in str(w.message) for w in caught) == 1
    source = {w.path: keras.ops.convert_to_numpy(w) for w in cached_resnet18.weights}
    head = [w for w in model.weights if w.path.startswith("predictions/")]
    assert [tuple(w.shape) for w in head] == [(512, 10), (10,)]
    backbone = [w for w in model.weights if not w.path.startswith("predictions/")]
    assert len(backbone) == len(source) - 2
    for w in backbone:
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(w), source[w.path])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(2).uniform(0, 1, size=(4, 64, 64, 3)).astype("float32")
    history = model.fit(x, np.arange(4) % 10, epochs=1, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_include_preprocessing_takes_raw_images(cached_resnet18):
    raw = np.random.default_rng(3).uniform(0, 255, size=(1, 64, 64, 3)).astype("float32")
    plain = kcnn.models.resnet18(
        weights="imagenet", input_shape=(64, 64, 3), classifier_activation=None
    )
    expected = plain(preprocessing.preprocess(raw, "torch"), training=False)
    small = kcnn.models.resnet18(
        weights="imagenet",
        include_preprocessing=True,
        input_shape=(64, 64, 3),
        classifier_activation=None,
    )
    assert [layer.name for layer in small.layers[:2]] == ["image", "preprocess"]
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(small(raw, training=False)),
        keras.ops.convert_to_numpy(expected),
        rtol=1e-4,
        atol=1e-4,
    )


def test_another_head_builds_one_model_only(cached_resnet18, monkeypatch):
    """The weights load into the model asked for, by name; no reference model is built."""
    import kcnn.models.resnet as family

    built = []
    make = family._imagenet_resnet
    monkeypatch.setattr(family, "_imagenet_resnet", lambda *a, **k: built.append(a) or make(*a, **k))
    with pytest.warns(UserWarning, match="predictions left as initialised"):
        kcnn.models.resnet18(weights="imagenet", num_classes=10, input_shape=(32, 32, 3))
    assert len(built) == 1
