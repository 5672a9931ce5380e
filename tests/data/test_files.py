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
def _isolated(offline_home):
    return offline_home


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


def test_a_leading_tilde_in_data_dir_is_the_home_directory(_isolated):
    arrays = make_arrays()
    write_idx(_isolated / "data" / "mnist", arrays)
    x, y, _ = read_all("mnist", "test", "~/data/mnist")
    np.testing.assert_array_equal(y, arrays["test"][1])
    assert kcnn.data.info("mnist", data_dir="~/data/mnist").num_classes == 10


def cifar_batch(images, labels, kind="cifar10"):
    """A batch pickled as the CIFAR python version is: protocol 2, bytes keys, N x 3072 rows of
    channel planes, with the array's class named as NumPy 1 named it (numpy.core.multiarray)."""
    rows = images.transpose(0, 3, 1, 2).reshape(len(images), 3072)
    key = b"labels" if kind == "cifar10" else b"fine_labels"
    batch = {b"batch_label": b"batch", b"data": rows, key: [int(v) for v in labels],
             b"filenames": [b"x.png"] * len(labels)}
    if kind == "cifar100":
        batch[b"coarse_labels"] = [0] * len(labels)
    data = pickle.dumps(batch, protocol=2)
    return data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")


def cifar_members(kind, arrays, names):
    """{member name: bytes} of a CIFAR python-version folder."""
    folder, batches, meta = files._CIFAR_MEMBERS[kind]
    members = {}
    for split, parts in batches.items():
        images, labels = arrays[split]
        for i, member in enumerate(parts):
            chunk = slice(i * len(labels) // len(parts), (i + 1) * len(labels) // len(parts))
            members[member] = cifar_batch(images[chunk], labels[chunk], kind)
    key = b"label_names" if kind == "cifar10" else b"fine_label_names"
    members[meta] = pickle.dumps({key: [n.encode() for n in names]}, protocol=2)
    return folder, members


def write_cifar(where, kind, arrays, names, archive=False):
    folder, members = cifar_members(kind, arrays, names)
    where.mkdir(parents=True, exist_ok=True)
    if archive:
        path = where / next(f for f in files.ORIGINALS[kind].folders if f.endswith(".tar.gz"))
        with tarfile.open(path, "w:gz") as tar:
            for member, data in members.items():
                info = tarfile.TarInfo(f"{folder}/{member}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        return path
    (where / folder).mkdir(exist_ok=True)
    for member, data in members.items():
        (where / folder / member).write_bytes(data)
    return where / folder


@pytest.mark.parametrize("kind", ["cifar10", "cifar100"])
@pytest.mark.parametrize("archive", [False, True])
def test_cifar_python_version_folder_and_archive(tmp_path, kind, archive):
    num_classes = 10 if kind == "cifar10" else 100
    arrays = make_arrays((32, 32, 3), seed=3, num_classes=num_classes)
    names = files.ORIGINALS[kind].class_names
    write_cifar(tmp_path / "data", kind, arrays, names, archive=archive)
    for split in ("train", "test"):
        x, y, info = read_all(kind, split, str(tmp_path / "data"))
        np.testing.assert_array_equal(x, arrays[split][0])  # channel planes -> (H, W, C)
        np.testing.assert_array_equal(y, arrays[split][1])
        assert info.num_examples == SIZES[split] and info.num_classes == num_classes
        assert info.class_names == names
    assert info.class_names[:2] == (("airplane", "automobile") if kind == "cifar10"
                                    else ("apple", "aquarium_fish"))
    assert not list((tmp_path / "data").glob("**/*.json"))  # nothing written next to the data


def test_class_names_come_from_the_cifar_meta_file(tmp_path):
    arrays = make_arrays((32, 32, 3))
    names = tuple(f"kind{i}" for i in range(10))
    write_cifar(tmp_path, "cifar10", arrays, names)
    _, info = kcnn.data.load("cifar10", "test", 4, data_dir=str(tmp_path))
    assert info.class_names == names


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    arrays = make_arrays((32, 32, 3))
    folder = write_cifar(tmp_path, "cifar10", arrays, files.ORIGINALS["cifar10"].class_names)

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    (folder / "data_batch_1").write_bytes(pickle.dumps({b"data": Evil()}, protocol=2))
    with pytest.raises(ValueError, match=r"data_batch_1: not a CIFAR python-version batch "
                                         r"\(UnpicklingError: refused to build \w+\.system\)"):
        kcnn.data.load("cifar10", "test", 4, data_dir=str(tmp_path))


@pytest.mark.parametrize("name, sub", [("mnist", "mnist"), ("mnist", "MNIST/raw"),
                                       ("kmnist", "kmnist"), ("fashion_mnist", "fashion-mnist"),
                                       ("fashion_mnist", "FashionMNIST/raw")])
def test_idx_files_in_a_subfolder_named_after_the_set(tmp_path, name, sub):
    arrays = make_arrays(seed=5)
    write_idx(tmp_path / sub, arrays, gz=sub.endswith("raw") is False)
    x, y, info = read_all(name, "test", str(tmp_path))
    np.testing.assert_array_equal(x[..., 0], arrays["test"][0])
    assert info.class_names == files.ORIGINALS[name].class_names


def test_keras_cache_is_found_without_data_dir_and_honours_keras_home(_isolated):
    cache = _isolated / ".keras" / "datasets"
    cache.mkdir(parents=True)
    arrays = make_arrays(seed=7)
    np.savez(cache / "mnist.npz", **{f"{a}_{s}": arrays[s][i] for s in ("train", "test")
                                     for i, a in enumerate(("x", "y"))})
    x, y, info = read_all("mnist", "train", None)
    np.testing.assert_array_equal(x[..., 0], arrays["train"][0])
    np.testing.assert_array_equal(y, arrays["train"][1])
    write_idx(cache / "fashion-mnist", make_arrays(seed=8))
    x, _, _ = read_all("fashion_mnist", "test", None)
    np.testing.assert_array_equal(x[..., 0], make_arrays(seed=8)["test"][0])
    cifar = make_arrays((32, 32, 3), seed=9)
    write_cifar(cache, "cifar10", cifar, files.ORIGINALS["cifar10"].class_names)
    x, _, _ = read_all("cifar10", "test", None)
    np.testing.assert_array_equal(x, cifar["test"][0])


def test_the_given_directory_comes_before_keras_cache(_isolated, tmp_path):
    write_idx(_isolated / ".keras" / "datasets" / "fashion-mnist", make_arrays(seed=1))
    write_idx(tmp_path / "mine", make_arrays(seed=2))
    x, _, _ = read_all("fashion_mnist", "test", str(tmp_path / "mine"))
    np.testing.assert_array_equal(x[..., 0], make_arrays(seed=2)["test"][0])


def test_a_set_prepared_by_tensorflow_datasets_comes_first(tmp_path, monkeypatch):
    import tensorflow_datasets as tfds

    write_idx(tmp_path, make_arrays())
    assert not sources._tfds_may_have("mnist", str(tmp_path))  # files read without tfds
    (tmp_path / "mnist" / "3.0.1").mkdir(parents=True)  # where tfds keeps a prepared set
    (tmp_path / "mnist" / "3.0.1" / "dataset_info.json").write_text("{}")
    assert sources._tfds_may_have("mnist", str(tmp_path))
    (tmp_path / "mnist" / "3.0.1" / "dataset_info.json").unlink()
    monkeypatch.setattr(sources, "_tfds_may_have", lambda name, data_dir: True)
    prepared = (np.full((3, 28, 28, 1), 7, np.uint8), np.array([1, 2, 3]))
    monkeypatch.setattr(tfds.core.DatasetBuilder, "is_prepared", lambda self: True)
    monkeypatch.setattr(tfds.core.DatasetBuilder, "as_dataset",
                        lambda self, **kwargs: tf.data.Dataset.from_tensor_slices(prepared))
    x, y, _ = read_all("mnist", "train", str(tmp_path))
    np.testing.assert_array_equal(x, prepared[0])  # tfds' data, not the 30 examples of the files
    np.testing.assert_array_equal(y, prepared[1])


def test_slices_and_published_normalisation_as_for_tfds(tmp_path):
    arrays = make_arrays()
    write_idx(tmp_path, arrays)
    x, y, info = read_all("mnist", "train[:90%]", str(tmp_path))
    assert info.num_examples == 27
    np.testing.assert_array_equal(y, arrays["train"][1][:27])
    x, y, info = read_all("mnist", "train[90%:]", str(tmp_path))
    np.testing.assert_array_equal(x[..., 0], arrays["train"][0][27:])
    _, _, info = read_all("mnist", "test[2:5]", str(tmp_path))
    assert info.num_examples == 3
    ds, info = kcnn.data.load("fashion_mnist", "test", 10, data_dir=str(tmp_path), shuffle=False)
    assert (info.mean, info.std) == ((0.2860,), (0.3530,))  # Xiao et al.'s training-set figures
    x = next(iter(ds))[0].numpy()
    expected = (arrays["test"][0][..., None] / 255.0 - 0.2860) / 0.3530
    np.testing.assert_allclose(x, expected, atol=1e-5)


def test_a_miss_fails_at_once_naming_every_place_files_and_urls(_isolated, tmp_path, monkeypatch):
    import time

    import tensorflow_datasets as tfds

    def no_download(self, *args, **kwargs):
        raise AssertionError("tfds was asked to download")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", no_download)
    (tmp_path / "empty").mkdir()
    before = sorted(p.name for p in _isolated.iterdir())
    start = time.perf_counter()
    with pytest.raises(kcnn.data.DatasetNotAvailableError) as caught:
        kcnn.data.load("cifar10", "train", 8, data_dir=str(tmp_path / "empty"))
    assert time.perf_counter() - start < 5
    message = str(caught.value)
    assert "\n" not in message
    for part in ("tensorflow-datasets in", str(tmp_path / "empty"),
                 str(tmp_path / "empty" / "cifar-10-batches-py"),
                 str(tmp_path / "empty" / "cifar-10-python.tar.gz"),
                 str(_isolated / ".keras" / "datasets" / "cifar-10-batches-py"),
                 "cifar-10-python.tar.gz", "data_batch_1", "batches.meta",
                 "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", "offline"):
        assert part in message, part
    assert sorted(p.name for p in _isolated.iterdir()) == before  # no tfds cache folders
    with pytest.raises(kcnn.data.DatasetNotAvailableError, match=r"train-images-idx3-ubyte\.gz.*"
                       r"https://storage\.googleapis\.com/cvdf-datasets/mnist/"):
        kcnn.data.load("mnist", "train", 8, download=False)


def test_part_of_a_set_is_reported_with_the_missing_files(tmp_path):
    write_idx(tmp_path, make_arrays())
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(kcnn.data.DatasetNotAvailableError,
                       match=r"has 3 of the 4 IDX files but lacks t10k-labels-idx1-ubyte\.gz"):
        kcnn.data.load("mnist", "train", 8, data_dir=str(tmp_path))


@pytest.mark.parametrize("damage", ["gz", "raw", "header", "tar"])
def test_a_truncated_file_gives_a_clear_error_naming_it(tmp_path, damage):
    if damage == "tar":
        path = write_cifar(tmp_path, "cifar10", make_arrays((32, 32, 3)),
                           files.ORIGINALS["cifar10"].class_names, archive=True)
        name, match = "cifar10", "unreadable or truncated archive"
    else:
        write_idx(tmp_path, make_arrays(), gz=damage == "gz")
        path = tmp_path / ("train-images-idx3-ubyte" + (".gz" if damage == "gz" else ""))
        name = "mnist"
        match = {"gz": "unreadable or truncated file", "raw": "truncated or padded IDX file",
                 "header": "not an IDX file"}[damage]
    data = path.read_bytes()
    path.write_bytes(data[:3] if damage == "header" else data[: len(data) // 2])
    with pytest.raises(ValueError, match=match) as caught:
        kcnn.data.load(name, "train", 8, data_dir=str(tmp_path))
    assert str(path) in str(caught.value)


def test_another_sets_files_are_named_for_what_they_are(tmp_path):
    """MNIST's files given for Fashion-MNIST: their training labels have MNIST's published class
    counts (LeCun et al.; 5,923 zeros ... 5,949 nines), not Fashion-MNIST's 6,000 each."""
    counts = files.ORIGINALS["mnist"].train_label_counts
    labels = np.repeat(np.arange(10), counts).astype(np.uint8)
    arrays = {"train": (np.zeros((60000, 28, 28), np.uint8), labels),
              "test": (np.zeros((10, 28, 28), np.uint8), np.arange(10, dtype=np.uint8))}
    write_idx(tmp_path, arrays)
    with pytest.raises(ValueError, match=r"these are mnist's files .* not fashion_mnist's"):
        kcnn.data.load("fashion_mnist", "test", 8, data_dir=str(tmp_path))
    _, info = kcnn.data.load("mnist", "test", 8, data_dir=str(tmp_path))
    assert info.num_examples == 10


def test_info_of_a_set_with_original_files_needs_nothing_on_disk():
    info = kcnn.data.info("fashion_mnist")
    assert (info.num_classes, info.image_shape, info.num_examples) == (10, (28, 28, 1), 60000)
    assert info.class_names[6] == "Shirt"
    assert kcnn.data.info("cifar100").class_names[-1] == "worm"


# The real files: an optional check, skipped unless KCNN_DATA_DIR names a folder holding mnist/
# and fashion-mnist/ (for example: KCNN_DATA_DIR=/data pytest -m slow tests/data/test_files.py).
REAL = os.environ.get("KCNN_DATA_DIR")


@pytest.mark.slow
@pytest.mark.skipif(not REAL, reason="set KCNN_DATA_DIR to a folder with mnist/ and fashion-mnist/")
@pytest.mark.parametrize("name, folder, counts", [
    ("mnist", "mnist", (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949)),
    ("fashion_mnist", "fashion-mnist", (6000,) * 10),
])
def test_the_real_files_give_the_published_splits_and_label_counts(name, folder, counts):
    data_dir = os.path.join(REAL, folder)
    test_counts = {"mnist": (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009),
                   "fashion_mnist": (1000,) * 10}[name]
    for split, expected in (("train", counts), ("test", test_counts)):
        ds, info = kcnn.data.load(name, split, 4096, data_dir=data_dir, shuffle=False,
                                  normalize=False)
        labels = np.concatenate([y.numpy() for _, y in ds])
        assert info.num_examples == len(labels) == sum(expected)
        assert tuple(np.bincount(labels, minlength=10).tolist()) == expected


def test_a_file_replaced_in_place_is_read_again(tmp_path):
    arrays = make_arrays()
    write_idx(tmp_path, arrays)
    _, y, _ = read_all("mnist", "test", str(tmp_path))
    np.testing.assert_array_equal(y, arrays["test"][1])
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(arrays["test"][1][::-1].copy())))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # a coarse clock
    _, y, _ = read_all("mnist", "test", str(tmp_path))
    np.testing.assert_array_equal(y, arrays["test"][1][::-1])


def test_a_registered_name_is_the_data_set_even_beside_a_folder_of_that_name(tmp_path,
                                                                            monkeypatch):
    arrays = make_arrays()
    folder = write_idx(tmp_path / "idx", arrays)
    (tmp_path / "work" / "mnist" / "a").mkdir(parents=True)  # a folder named like the set
    monkeypatch.chdir(tmp_path / "work")
    _, y, info = read_all("mnist", "test", str(folder))
    np.testing.assert_array_equal(y, arrays["test"][1])
    assert info.image_shape == (28, 28, 1)
    assert kcnn.data.sources.is_folder("./mnist") and not kcnn.data.sources.is_folder("mnist")
