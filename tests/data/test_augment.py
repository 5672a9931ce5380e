"""Each augmentation preset does what it says, on batches, per image."""

import keras
import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
import kcnn.data
from kcnn.data import augment

scipy_stats = pytest.importorskip("scipy.stats")

pytestmark = pytest.mark.tf_only


def _apply(preset, images, seed=0):
    x = tf.constant(images, tf.float32)
    for layer in augment.build(preset, images.shape[1:], seed=seed):
        x = layer(x, training=True)
    return np.asarray(x)


def _markers(n=32, size=32, channels=3):
    images = np.zeros((n, size, size, channels), np.float32)
    images[:, size // 2, size // 2, :] = 255.0
    return images


def _marker_positions(images):
    return [tuple(np.argwhere(img[..., 0] == img[..., 0].max())[0]) for img in images]


def test_presets_are_listed():
    assert augment.names() == sorted(
        ["alexnet", "cifar", "cutmix", "cutout", "flip", "mixup", "randaugment", "shift-rotate"])


def test_unknown_preset_lists_the_presets():
    with pytest.raises(ValueError, match=r"Unknown augmentation preset 'cifar10'; presets: alexnet"):
        kcnn.data.load("synthetic", "train", 8, augment="cifar10")
    with pytest.raises(TypeError, match="preset names or layers"):
        augment.build([3], (32, 32, 3))


def test_flip_flips_some_images_and_nothing_else():
    images = np.random.RandomState(0).uniform(0, 255, (64, 8, 8, 3)).astype(np.float32)
    out = _apply("flip", images)
    flipped = [np.array_equal(o, i[:, ::-1]) for o, i in zip(out, images)]
    same = [np.array_equal(o, i) for o, i in zip(out, images)]
    assert all(f or s for f, s in zip(flipped, same))
    assert 10 < sum(flipped) < 54  # per image, not all or none


def test_cifar_crop_keeps_shape_and_moves_content_per_image():
    out = _apply("cifar", _markers())
    assert out.shape == (32, 32, 32, 3)
    positions = _marker_positions(out)
    for y, x in positions:  # centre (16, 16), shifted by at most 4, maybe mirrored to 15
        assert abs(y - 16) <= 4 and -5 <= x - 16 <= 4
    assert len(set(positions)) >= 8  # one offset per image, not one per batch (RandomCrop's)
    assert set(np.unique(out)) <= {0.0, 255.0}  # zero padding, nearest: no blur


def test_cifar_crop_draws_each_of_the_81_windows_equally_often_per_image():
    """100,000 crops of a 10x10 image with one marker: the marker's shift is the crop offset."""
    crop = augment.PadAndCrop(4, seed=0)
    images = tf.constant(_markers(n=10_000, size=10, channels=1))
    counts = np.zeros((9, 9), np.int64)
    first_batch = None
    for _ in range(10):
        out = np.asarray(crop(images))[..., 0]
        assert set(np.unique(out)) == {0.0, 255.0}  # pixels copied, zeros padded: no blur
        b, y, x = np.nonzero(out == 255.0)
        assert np.array_equal(b, np.arange(10_000))  # exactly one marker in every crop
        np.add.at(counts, (y - 5 + 4, x - 5 + 4), 1)  # marker at (5, 5), offsets -4..4
        first_batch = first_batch if first_batch is not None else list(zip(y[:32], x[:32]))
    assert counts.sum() == 100_000
    assert scipy_stats.chisquare(counts.ravel()).pvalue > 0.001
    assert len(set(first_batch)) >= 20  # 32 images of one batch: different windows
    np.testing.assert_array_equal(crop(images, training=False), images)


def test_cifar_crop_flips_half_of_the_images_per_image():
    images = np.random.RandomState(0).uniform(0, 255, (400, 8, 8, 3)).astype(np.float32)
    crop = augment.PadAndCrop(0, flip=True, seed=0)  # no padding: only the flip moves pixels
    out = np.asarray(crop(tf.constant(images)))
    flipped = [np.array_equal(o, i[:, ::-1]) for o, i in zip(out, images)]
    assert all(f or np.array_equal(o, i) for f, o, i in zip(flipped, out, images))
    assert 160 < sum(flipped) < 240  # binomial(400, 1/2): mean 200, sd 10


def test_alexnet_crops_from_a_larger_resize_and_adds_lighting_noise():
    images = np.full((16, 64, 64, 3), 128.0, np.float32)
    images[:, 28:36, 28:36] = 250.0
    out = _apply("alexnet", images)
    assert out.shape == images.shape
    centres = {tuple(np.round(np.argwhere(o[..., 0] > 200).mean(0))) for o in out}
    assert len(centres) >= 4  # the crop moves per image
    background = out[:, 0, 0, :]  # a flat grey pixel: only the colour noise moves it
    assert np.abs(background - 128).max() > 0.5
    assert len({tuple(np.round(b, 3)) for b in background}) == 16  # per-image noise
    with pytest.raises(ValueError, match="RGB"):
        augment.build("alexnet", (64, 64, 1))


def test_pca_lighting_follows_the_principal_components():
    layer = augment.PCALighting(alphastd=0.1, seed=0)
    out = np.asarray(layer(tf.fill((256, 2, 2, 3), 128.0)))
    offsets = out[:, 0, 0] - 128
    # offsets are eigvec @ (alpha * eigval * 255): mostly along the first component
    first = np.array(augment.IMAGENET_EIGVEC)[:, 0]
    cos = np.abs(offsets @ first) / np.linalg.norm(offsets, axis=1)
    assert np.median(cos) > 0.95
    assert np.asarray(layer(tf.fill((1, 2, 2, 3), 7.0), training=False)).max() == 7.0


def test_shift_rotate_moves_content_and_keeps_shape():
    out = _apply("shift-rotate", _markers(16))
    assert out.shape == (16, 32, 32, 3)
    assert len(set(_marker_positions(out))) > 4


def test_cutout_erases_one_rectangle_per_image():
    images = np.full((16, 32, 32, 3), 100.0, np.float32)
    out = _apply("cutout", images)
    changed = np.any(out != 100.0, axis=-1)
    assert changed.any(axis=(1, 2)).mean() > 0.5
    for mask in changed[changed.any(axis=(1, 2))]:
        rows, cols = np.where(mask.any(1))[0], np.where(mask.any(0))[0]
        assert mask[rows.min():rows.max() + 1, cols.min():cols.max() + 1].all()  # a rectangle


def test_randaugment_keeps_shape_and_value_range():
    images = np.random.RandomState(1).uniform(0, 255, (16, 32, 32, 3)).astype(np.float32)
    out = _apply("randaugment", images)
    assert out.shape == images.shape and out.min() >= 0 and out.max() <= 255
    assert not np.array_equal(out, images)


def test_keras_layers_compose_with_presets():
    ds, info = kcnn.data.load(
        "synthetic", "train", 16, num_examples=32, seed=0, normalize=False,
        augment=["flip", keras.layers.RandomContrast(0.5, seed=1)])
    x, _ = next(iter(ds))
    assert x.shape == (16, 32, 32, 3) and info.image_shape == (32, 32, 3)
