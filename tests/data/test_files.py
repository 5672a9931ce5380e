"""Data sets read from their original files (kcnn.data.files): IDX (gzipped or not), the CIFAR
python version (folder or .tar.gz), Keras' cache (mnist.npz, fashion-mnist/, cifar-10-batches-py/),
the search order, the single error of a miss, truncated files, and slicing. Every file is written
here, in its real format, small."""

import gzip
import io
import os
import pickle
import tarfile

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
import kcnn.data
from kcnn.data import files, sources

pytestmark = pytest.mark.tf_only

SIZES = {"train": 30, "test": 10}


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """An empty Keras cache, tfds data directory and home; no network."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("KERAS_HOME", str(home / ".keras"))
    monkeypatch.setenv("TFDS_DATA_DIR", str(home / "tensorflow_datasets"))
    monkeypatch.setattr(sources, "reachable", lambda url, timeout=None: False)
    files._ARRAYS.clear()
    yield home


def idx_bytes(array):
    """The IDX encoding of a uint8 array (magic 0x0000 08 ndim, big-endian sizes, data)."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def make_arrays(shape=(28, 28), seed=0, num_classes=10):
    rng = np.random.default_rng(seed)
    out = {}
    for split, n in SIZES.items():
        out[split] = (rng.integers(0, 256, (n, *shape), dtype=np.uint8),
                      (np.arange(n) % num_classes).astype(np.uint8))
    return out


def write_idx(folder, arrays, gz=True):
    folder.mkdir(parents=True, exist_ok=True)
    for split, (images_stem, labels_stem) in files.IDX_FILES.items():
        for stem, array in ((images_stem, arrays[split][0]), (labels_stem, arrays[split][1])):
            data = idx_bytes(array)
            if gz:
                (folder / f"{stem}.gz").write_bytes(gzip.compress(data))
            else:
                (folder / stem).write_bytes(data)
    return folder


def read_all(name, split, data_dir, **kwargs):
    ds, info = kcnn.data.load(name, split, 7, data_dir=data_dir, shuffle=False, normalize=False,
                              **kwargs)
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds])
    return np.concatenate(xs), np.concatenate(ys), info


@pytest.mark.parametrize("gz", [True, False])
def test_idx_files_give_the_exact_images_labels_and_class_names(tmp_path, gz):
    arrays = make_arrays()
    folder = write_idx(tmp_path / "data", arrays, gz=gz)
    x, y, info = read_all("fashion_mnist", "train", str(folder))
    np.testing.assert_array_equal(x[..., 0], arrays["train"][0])
    np.testing.assert_array_equal(y, arrays["train"][1])
    assert info.num_examples == 30 and info.image_shape == (28, 28, 1)
    assert info.class_names[0] == "T-shirt/top" and info.class_names[9] == "Ankle boot"
    x, y, info = read_all("fashion_mnist", "test", str(folder))
    np.testing.assert_array_equal(x[..., 0], arrays["test"][0])
    assert info.num_examples == 10
