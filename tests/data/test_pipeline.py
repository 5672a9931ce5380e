"""The tf.data chain with `tfds.testing.mock_data` (the real tfds code path, random pixels):
shapes, dtypes, batch sizes, metadata, normalisation ranges, ZCA, determinism, evaluation data."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
tfds = pytest.importorskip("tensorflow_datasets")
import kcnn.data

pytestmark = pytest.mark.tf_only

CIFAR_MEAN = np.array([0.4914, 0.4822, 0.4465])
CIFAR_STD = np.array([0.2470, 0.2435, 0.2616])


def _all(ds):
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds])
    return np.concatenate(xs), np.concatenate(ys)


@pytest.fixture
def mock50():
    # mock_data ignores slicing and has no split sizes (num_examples is then None).
    with tfds.testing.mock_data(num_examples=50):
        yield


def test_cifar10_shapes_dtypes_batches_and_metadata(mock50):
    ds, info = kcnn.data.load("cifar10", "train[:90%]", 16, shuffle=False, normalize=False)
    assert (info.name, info.num_classes, info.image_shape) == ("cifar10", 10, (32, 32, 3))
    assert info.num_examples is None and not info.soft_labels and len(info.class_names) == 10
    batches = [(x.numpy(), y.numpy()) for x, y in ds]
    assert [len(x) for x, _ in batches] == [16, 16, 16, 2]  # no shuffle: the remainder is kept
    x, y = batches[0]
    assert x.dtype == np.float32 and x.shape == (16, 32, 32, 3) and y.dtype == np.int32
    assert 0 <= x.min() and x.max() <= 255 and np.all(x == np.round(x))
    assert 0 <= y.min() and y.max() < 10
    shuffled, _ = kcnn.data.load("cifar10", "train", 16, seed=0)
    assert [int(x.shape[0]) for x, _ in shuffled] == [16, 16, 16]  # training drops the remainder
    assert shuffled.element_spec[0].shape.as_list() == [16, 32, 32, 3]


def test_mean_std_uses_the_published_constants(mock50):
    raw, _ = _all(kcnn.data.load("cifar10", "test", 25, shuffle=False, normalize=False)[0])
    norm, _ = _all(kcnn.data.load("cifar10", "test", 25, shuffle=False)[0])
    np.testing.assert_allclose(norm, (raw / 255 - CIFAR_MEAN) / CIFAR_STD, atol=1e-4)
    assert norm.min() >= (0 - CIFAR_MEAN.max()) / CIFAR_STD.min() - 1e-4
    assert norm.max() <= (1 - CIFAR_MEAN.min()) / CIFAR_STD.min() + 1e-4


def test_other_normalisations(mock50):
    per_image, _ = _all(kcnn.data.load("cifar10", "test", 25, shuffle=False,
                                       normalize="per_image")[0])
    np.testing.assert_allclose(per_image.mean(axis=(1, 2, 3)), 0, atol=1e-4)
    np.testing.assert_allclose(per_image.std(axis=(1, 2, 3)), 1, atol=1e-3)
    unit, _ = _all(kcnn.data.load("cifar10", "test", 25, shuffle=False, normalize="unit")[0])
    assert 0 <= unit.min() and unit.max() <= 1
    with pytest.raises(ValueError, match="Unknown normalize 'minmax'.*per_image.*zca"):
        kcnn.data.load("cifar10", "test", 25, normalize="minmax")


def test_mnist_resized_to_three_channels(mock50):
    ds, info = kcnn.data.load("mnist", "train", 10, image_size=32, channels=3, shuffle=False)
    x, _ = _all(ds)
    assert info.image_shape == (32, 32, 3) and x.shape == (50, 32, 32, 3)
    np.testing.assert_allclose(x[..., 0], x[..., 2])  # grey copied to R, G and B
    # mean/std constants of MNIST, repeated per channel: normalised 0 and 255 bound the data
    assert x.min() >= (0 - 0.1307) / 0.3081 - 1e-4 and x.max() <= (1 - 0.1307) / 0.3081 + 1e-4


def test_evaluation_data_is_never_augmented(mock50):
    kwargs = {"shuffle": False, "normalize": False}
    raw, labels = _all(kcnn.data.load("cifar10", "test", 50, **kwargs)[0])
    again, _ = _all(kcnn.data.load("cifar10", "test", 50, **kwargs)[0])
    np.testing.assert_array_equal(raw, again)  # no randomness without augment
    trained, trained_labels = _all(kcnn.data.load("cifar10", "test", 50, augment="cifar", seed=1,
                                                  **kwargs)[0])
    assert not np.array_equal(raw, trained)  # augment does change training data
    np.testing.assert_array_equal(labels, trained_labels)  # geometric augmentation: labels untouched


def test_same_seed_same_batches_in_deterministic_mode():
    def batches(seed):
        ds, _ = kcnn.data.load("synthetic", "train", 32, augment=["cifar", "cutout", "mixup"],
                               seed=seed, deterministic=True, num_examples=128)
        return [_all(ds) for _ in range(2)]  # two epochs

    first, second, other = batches(5), batches(5), batches(6)
    for (x1, y1), (x2, y2) in zip(first, second):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(first[0][0], first[1][0])  # each epoch is new
    assert not np.array_equal(first[0][0], other[0][0])  # another seed, other batches


def test_mixup_and_cutmix_give_soft_labels_that_sum_to_one():
    for preset in ("mixup", "cutmix"):
        ds, info = kcnn.data.load("synthetic", "train", 32, augment=["flip", preset], seed=0,
                                  num_examples=64)
        _, y = _all(ds)
        assert info.soft_labels and y.dtype == np.float32 and y.shape == (64, 10)
        np.testing.assert_allclose(y.sum(axis=1), 1, atol=1e-5)
        assert (y.max(axis=1) < 1).any()  # some labels really are mixed


def test_zca_whitened_data_has_identity_covariance():
    ds, info = kcnn.data.load("synthetic", "train", 512, image_size=8, normalize="zca",
                              shuffle=False, num_examples=2048)
    x, _ = _all(ds)
    flat = x.reshape(len(x), -1)
    cov = np.cov(flat, rowvar=False)
    assert info.image_shape == (8, 8, 3)
    np.testing.assert_allclose(flat.mean(axis=0), 0, atol=1e-3)
    np.testing.assert_allclose(np.diag(cov), 1, atol=0.1)
    off = cov - np.diag(np.diag(cov))
    assert np.abs(off).max() < 0.05
    with pytest.raises(ValueError, match="ZCA"):
        kcnn.data.load("synthetic", "train", 8, image_size=64, normalize="zca")
