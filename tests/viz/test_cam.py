"""Grad-CAM finds the object: a patch at a random position decides the class, the rest is noise."""

import io

import keras
import numpy as np
import pytest
from PIL import Image

import kcnn
from kcnn.viz import cam

SIZE, PATCH = 32, 8


def synthetic(count, rng):
    """Images of noise with one 8x8 patch of horizontal (class 0) or vertical (class 1) stripes."""
    images = rng.uniform(0, 1, (count, SIZE, SIZE, 1)).astype("float32")
    labels = rng.integers(0, 2, count)
    corners = rng.integers(0, SIZE - PATCH + 1, (count, 2))
    stripes = (np.arange(PATCH) % 2).astype("float32")
    for image, label, (r, c) in zip(images, labels, corners):
        patch = np.repeat(stripes[:, None], PATCH, 1) if label == 0 else np.repeat(
            stripes[None, :], PATCH, 0)
        image[r: r + PATCH, c: c + PATCH, 0] = patch
    return images, labels, corners


def train(seed):
    """A small CNN trained on 512 synthetic images (seeded)."""
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x, y, _ = synthetic(512, rng)
    model = keras.Sequential([
        keras.Input((SIZE, SIZE, 1)),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1"),
        keras.layers.MaxPooling2D(name="pool1"),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2"),
        keras.layers.GlobalAveragePooling2D(name="gap"),
        keras.layers.Dense(2, activation="softmax", name="predictions"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=32, epochs=8, verbose=0)
    return model


def share_inside(model, x, y, corners):
    """The share of images whose Grad-CAM peak lies in the patch."""
    inside = 0
    for image, label, (r, c) in zip(x, y, corners):
        result = cam.grad_cam(model, image[None], class_index=int(label))
        assert result.layer == "conv2" and result.heatmap.shape == (SIZE, SIZE)
        pr, pc = np.unravel_index(np.argmax(result.heatmap), result.heatmap.shape)
        inside += r <= pr < r + PATCH and c <= pc < c + PATCH
    return inside / len(x)


@pytest.fixture(scope="module")
def trained():
    return train(0)


def test_grad_cam_peak_lies_in_the_deciding_patch(trained):
    x, y, corners = synthetic(60, np.random.default_rng(1))
    accuracy = np.mean(np.argmax(trained.predict(x, verbose=0), -1) == y)
    assert accuracy >= 0.95
    share = share_inside(trained, x, y, corners)
    assert share >= 0.9, share


def test_scores_are_taken_before_the_softmax(trained):
    x = np.random.default_rng(2).uniform(size=(1, SIZE, SIZE, 1)).astype("float32")
    layer = trained.get_layer("predictions")
    with cam.scores_before_softmax(trained):
        logits = keras.ops.convert_to_numpy(trained(x))
    assert layer.activation is keras.activations.softmax
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras.ops.softmax(logits)),
                               trained(x), atol=1e-6)


def test_constant_image_gives_a_finite_map(trained):
    result = cam.grad_cam(trained, np.full((1, SIZE, SIZE, 1), 0.5, "float32"))
    assert np.isfinite(result.heatmap).all() and np.isfinite(result.coarse).all()
    assert result.heatmap.min() >= 0 and result.heatmap.max() <= 1


def test_kcnn_blocks_and_bad_layers():
    keras.utils.set_random_seed(3)
    model = kcnn.models.resnet20(input_shape=(16, 16, 3), num_classes=3)
    x = np.random.default_rng(3).uniform(size=(1, 16, 16, 3)).astype("float32")
    result = cam.grad_cam(model, x, class_index=2)
    assert result.layer == "conv4_block3" and result.coarse.shape == (4, 4)
    assert result.weights.shape == (64,)
    inner = cam.grad_cam(model, x, layer="conv4_block2/2_conv")
    assert inner.coarse.shape == (4, 4)
    with pytest.raises(ValueError, match=r"'avg_pool' has output shape.*Grad-CAM needs"):
        cam.grad_cam(model, x, layer="avg_pool")
    with pytest.raises(ValueError, match=r"class index 3 is outside 0\.\.2"):
        cam.grad_cam(model, x, class_index=3)


def test_plot(trained):
    x, _, _ = synthetic(1, np.random.default_rng(4))
    figure = cam.plot_cam(cam.grad_cam(trained, x), x[0] * 255, class_names=["rows", "columns"])
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    assert Image.open(buffer).size == (700, 390)
