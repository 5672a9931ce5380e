"""Data sources: the digits set and its fixed split, split slicing, synthetic data, unknown names,
metadata offline, and the fast, clear error for a data set that is not there."""

import time

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
import kcnn.data
from kcnn.data import sources

pytestmark = pytest.mark.tf_only


def test_kcnn_init_does_not_import_the_data_package():
    """`import kcnn` must not pull in TensorFlow's data stack (checked statically: a subprocess
    import costs seconds)."""
    import ast
    import pathlib

    import kcnn

    tree = ast.parse(pathlib.Path(kcnn.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            imported |= {f"{node.module}.{a.name}" for a in node.names} | {node.module}
        elif isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
    assert not {"kcnn.data", "tensorflow_datasets"} & imported


def test_digits_are_the_real_scikit_learn_images():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images, labels, _ = sources.digits_arrays()
    assert images.shape == (1797, 8, 8, 1) and images.dtype == np.uint8
    assert bunch.images.min() == 0 and bunch.images.max() == 16  # the originals are 0..16
    np.testing.assert_array_equal(images[..., 0], np.round(bunch.images * 255 / 16))
    assert images.mean() == pytest.approx(bunch.images.mean() * 255 / 16, rel=1e-3)
    np.testing.assert_array_equal(np.bincount(labels), np.bincount(bunch.target))
    assert sorted(set(labels.tolist())) == list(range(10))


def test_digits_split_is_fixed_disjoint_and_complete():
    _, labels, split = sources.digits_arrays()
    train, test = split["train"], split["test"]
    assert (len(train), len(test)) == (1437, 360)
    assert not set(train) & set(test) and len(set(train) | set(test)) == 1797
    np.testing.assert_array_equal(test[:6], [4, 5, 6, 9, 14, 17])  # pinned: the split never moves
    assert int(test.sum()) == 310906
    assert len(set(labels[test].tolist())) == 10


def test_digits_load_and_slices():
    ds, info = kcnn.data.load("digits", "test", 100, shuffle=False, normalize=False)
    images = np.concatenate([x.numpy() for x, _ in ds])
    assert info.num_examples == 360 and info.num_classes == 10 and info.image_shape == (8, 8, 1)
    assert images.shape == (360, 8, 8, 1) and images.min() == 0 and images.max() == 255
    _, a = kcnn.data.load("digits", "train[:10%]", 32)
    _, b = kcnn.data.load("digits", "train[10%:]", 32)
    assert (a.num_examples, b.num_examples) == (144, 1293)


@pytest.mark.parametrize(
    "split, expected",
    [("train", ("train", 0, 1000)), ("train[:90%]", ("train", 0, 900)),
     ("train[90%:]", ("train", 900, 1000)), ("test[10:20]", ("test", 10, 20)),
     ("train[-100:]", ("train", 900, 1000)), ("train[:33.3%]", ("train", 0, 333))],
)
def test_slice_split(split, expected):
    assert sources.slice_split(split, {"train": 1000, "test": 100}) == expected


@pytest.mark.parametrize("split", ["validation", "train[::2]", "train+test", "train[a:b]"])
def test_bad_split_lists_the_splits(split):
    with pytest.raises(ValueError, match=r"Unknown split .*'test', 'train'"):
        sources.slice_split(split, {"train": 10, "test": 10})


def test_synthetic_is_deterministic_and_takes_any_shape():
    kwargs = {"image_size": (12, 20), "channels": 1, "num_classes": 7, "num_examples": 70,
              "shuffle": False}
    ds1, info = kcnn.data.load("synthetic", "train", 35, **kwargs)
    ds2, _ = kcnn.data.load("synthetic", "train", 35, **kwargs)
    assert info.image_shape == (12, 20, 1) and info.num_classes == 7 and info.num_examples == 70
    for (x1, y1), (x2, y2) in zip(ds1, ds2):
        np.testing.assert_array_equal(x1.numpy(), x2.numpy())
        np.testing.assert_array_equal(y1.numpy(), y2.numpy())
    assert set(np.concatenate([y.numpy() for _, y in ds1]).tolist()) == set(range(7))
    _, test = kcnn.data.load("synthetic", "test", 8, num_examples=70)
    assert test.num_examples == 17


def test_synthetic_options_belong_to_synthetic_only():
    with pytest.raises(ValueError, match="synthetic"):
        kcnn.data.load("digits", "train", 8, num_classes=3)


def test_names_and_info_work_offline():
    assert {"cifar10", "cifar100", "mnist", "fashion_mnist", "digits", "synthetic"} <= set(
        kcnn.data.names())
    cifar = kcnn.data.info("cifar10")
    assert (cifar.num_classes, cifar.image_shape) == (10, (32, 32, 3))
    assert kcnn.data.info("mnist").image_shape == (28, 28, 1)
    assert kcnn.data.info("cifar100").num_classes == 100
    assert kcnn.data.info("digits") == kcnn.data.DatasetInfo(
        "digits", 10, (8, 8, 1), tuple("0123456789"), 1437)


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(ValueError, match=r"Unknown data set 'cifar11'.*cifar10.*digits.*synthetic"):
        kcnn.data.load("cifar11", "train", 8)
    with pytest.raises(ValueError, match="Unknown data set"):
        kcnn.data.info("no_such_set")


def test_offline_error_is_fast_and_says_what_to_do(tmp_path):
    start = time.perf_counter()
    with pytest.raises(kcnn.data.DatasetNotAvailableError) as caught:
        kcnn.data.load("cifar10", "train", 8, data_dir=str(tmp_path), download=False)
    assert time.perf_counter() - start < 5
    message = str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert "'cifar10'" in message and str(tmp_path) in message
    assert "connected machine" in message and "data_dir" in message and '"digits"' in message


def test_mean_std_is_computed_from_the_training_split_when_no_constants_are_known():
    ds, _ = kcnn.data.load("digits", "train", 500, shuffle=False)  # no published constants
    x = np.concatenate([x.numpy() for x, _ in ds])
    assert abs(x.mean()) < 1e-4 and x.std() == pytest.approx(1, abs=1e-4)
