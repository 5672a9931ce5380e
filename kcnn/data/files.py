"""Data sets read from their original distribution files, for machines where tensorflow-datasets
has not prepared them (offline cluster nodes: download the files elsewhere, point at them).

Formats:
- IDX, gzipped or not (`train-images-idx3-ubyte[.gz]`, `train-labels-idx1-ubyte[.gz]`,
  `t10k-images-idx3-ubyte[.gz]`, `t10k-labels-idx1-ubyte[.gz]`): mnist, fashion_mnist, kmnist.
- The CIFAR "python version": the folder `cifar-10-batches-py/` (`data_batch_1`..`5`,
  `test_batch`, `batches.meta`) or `cifar-100-python/` (`train`, `test`, `meta`), or the
  `.tar.gz` archive holding it, read in memory (nothing is extracted). The pickled batches are
  read by an unpickler that builds only dicts, lists, strings, numbers and NumPy arrays.
- Keras' own download cache, `$KERAS_HOME/datasets/` (default `~/.keras/datasets/`):
  `mnist.npz`, `fashion-mnist/` (IDX), `cifar-10-batches-py/`, `cifar-100-python/` (also inside
  the `*-target/` or `*_extracted/` folders newer Keras versions extract into).

Where: `locate(name, data_dir)` looks in `data_dir` itself, then in its subfolder named after the
set (e.g. `data_dir/fashion-mnist/`, torchvision's `data_dir/FashionMNIST/raw/`), then in Keras'
cache. It reads only; nothing is written anywhere.
"""

import dataclasses
import gzip
import io
import os
import pickle
import tarfile
import zlib

import numpy as np

from kcnn.data.base import RawSplit, slice_split

IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IDX_UBYTE = 0x08  # the IDX type code of unsigned bytes


@dataclasses.dataclass(frozen=True)
class Original:
    """How a data set is distributed in its original files.

    Attributes:
        kind: "idx", "cifar10" or "cifar100".
        folders: subfolders of `data_dir` that may hold the files (besides `data_dir` itself).
        keras: paths under `$KERAS_HOME/datasets/` where `keras.datasets` caches them.
        urls: the official download addresses.
        class_names: the class names, as tensorflow-datasets gives them.
        image_shape: (height, width, channels).
        sizes: {"train": n, "test": n}, the published split sizes.
        train_label_counts: the published per-class counts of the training split, when known.
    """

    kind: str
    folders: tuple
    keras: tuple
    urls: tuple
    class_names: tuple
    image_shape: tuple
    sizes: dict
    train_label_counts: tuple | None = None


_CIFAR10_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                  "truck")
_DIGITS = tuple(str(i) for i in range(10))
# CIFAR-100's fine labels in label order (its meta file's fine_label_names).
_CIFAR100_NAMES = tuple((
    "apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle "
    "bowl boy bridge bus butterfly camel can castle caterpillar cattle "
    "chair chimpanzee clock cloud cockroach couch crab crocodile cup dinosaur "
    "dolphin elephant flatfish forest fox girl hamster house kangaroo keyboard "
    "lamp lawn_mower leopard lion lizard lobster man maple_tree motorcycle mountain "
    "mouse mushroom oak_tree orange orchid otter palm_tree pear pickup_truck pine_tree "
    "plain plate poppy porcupine possum rabbit raccoon ray road rocket "
    "rose sea seal shark shrew skunk skyscraper snail snake spider "
    "squirrel streetcar sunflower sweet_pepper table tank telephone television tiger tractor "
    "train trout tulip turtle wardrobe whale willow_tree wolf woman worm"
).split())

ORIGINALS = {
    "mnist": Original(
        kind="idx", folders=("mnist", "MNIST/raw"), keras=("mnist.npz",),
        urls=("https://storage.googleapis.com/cvdf-datasets/mnist/",
              "http://yann.lecun.com/exdb/mnist/"),
        class_names=_DIGITS, image_shape=(28, 28, 1), sizes={"train": 60000, "test": 10000},
        train_label_counts=(5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949)),
    "fashion_mnist": Original(
        kind="idx", folders=("fashion_mnist", "fashion-mnist", "FashionMNIST/raw"),
        keras=("fashion-mnist",),
        urls=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                     "Sneaker", "Bag", "Ankle boot"),
        image_shape=(28, 28, 1), sizes={"train": 60000, "test": 10000},
        train_label_counts=(6000,) * 10),
    "kmnist": Original(
        kind="idx", folders=("kmnist", "KMNIST/raw"), keras=(),
        urls=("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
        class_names=("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
        image_shape=(28, 28, 1), sizes={"train": 60000, "test": 10000},
        train_label_counts=(6000,) * 10),
    "cifar10": Original(
        kind="cifar10", folders=("cifar-10-batches-py", "cifar-10-python.tar.gz"),
        keras=("cifar-10-batches-py", "cifar-10-batches-py-target/cifar-10-batches-py",
               "cifar-10-batches-py_extracted/cifar-10-batches-py"),
        urls=("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
        class_names=_CIFAR10_NAMES, image_shape=(32, 32, 3), sizes={"train": 50000, "test": 10000},
        train_label_counts=(5000,) * 10),
    "cifar100": Original(
        kind="cifar100", folders=("cifar-100-python", "cifar-100-python.tar.gz"),
        keras=("cifar-100-python", "cifar-100-python-target/cifar-100-python",
               "cifar-100-python_extracted/cifar-100-python"),
        urls=("https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",),
        class_names=_CIFAR100_NAMES, image_shape=(32, 32, 3), sizes={"train": 50000, "test": 10000},
        train_label_counts=(500,) * 100),
}
_CIFAR_MEMBERS = {
    "cifar10": ("cifar-10-batches-py", {"train": tuple(f"data_batch_{i}" for i in range(1, 6)),
                                        "test": ("test_batch",)}, "batches.meta"),
    "cifar100": ("cifar-100-python", {"train": ("train",), "test": ("test",)}, "meta"),
}


def keras_cache():
    """Keras' dataset cache folder: `$KERAS_HOME/datasets`, default `~/.keras/datasets`."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(home, "datasets")


def expected_files(name):
    """The file names `name`'s original distribution consists of, for messages."""
    kind = ORIGINALS[name].kind
    if kind == "idx":
        return [f"{stem}.gz" for pair in IDX_FILES.values() for stem in pair]
    folder, batches, meta = _CIFAR_MEMBERS[kind]
    members = [m for split in batches.values() for m in split] + [meta]
    archive = next(f for f in ORIGINALS[name].folders if f.endswith(".tar.gz"))
    return [archive, f"or the folder {folder}/ it holds ({', '.join(members)})"]


# ---------------------------------------------------------------------------------------------
# finding the files


@dataclasses.dataclass(frozen=True)
class Found:
    """Where a data set's original files are: `path` is a folder of IDX files, an `.npz`, a
    CIFAR folder or a CIFAR `.tar.gz`; `form` says which ("idx", "npz", "cifar", "cifar-tar")."""

    name: str
    path: str
    form: str


def _idx_path(folder, stem):
    for candidate in (f"{stem}.gz", stem):
        path = os.path.join(folder, candidate)
        if os.path.isfile(path):
            return path
    return None


def _check_idx_folder(name, folder):
    """A Found for a folder holding all four IDX files, else a reason (None: nothing there)."""
    if not os.path.isdir(folder):
        return None
    stems = [stem for pair in IDX_FILES.values() for stem in pair]
    present = [stem for stem in stems if _idx_path(folder, stem)]
    if len(present) == len(stems):
        return Found(name, folder, "idx")
    if present:
        missing = ", ".join(f"{s}.gz" for s in stems if s not in present)
        return f"{folder} has {len(present)} of the 4 IDX files but lacks {missing}"
    return None


def _check_cifar(name, path):
    """A Found for a CIFAR folder or archive, else a reason (None: nothing there)."""
    folder, batches, meta = _CIFAR_MEMBERS[ORIGINALS[name].kind]
    if path.endswith(".tar.gz"):
        return Found(name, path, "cifar-tar") if os.path.isfile(path) else None
    if not os.path.isdir(path):
        return None
    needed = [m for split in batches.values() for m in split] + [meta]
    present = [m for m in needed if os.path.isfile(os.path.join(path, m))]
    if len(present) == len(needed):
        return Found(name, path, "cifar")
    if present:
        missing = ", ".join(m for m in needed if m not in present)
        return f"{path} has {len(present)} of the {folder} files but lacks {missing}"
    return None


def _candidates(name, data_dir):
    """(path, checker) pairs in search order: `data_dir`, its subfolders, Keras' cache."""
    original = ORIGINALS[name]
    check = _check_idx_folder if original.kind == "idx" else _check_cifar
    out = []
    if data_dir:
        data_dir = os.fspath(data_dir)
        out.append((data_dir, check))
        out += [(os.path.join(data_dir, *sub.split("/")), check) for sub in original.folders]
    cache = keras_cache()
    for sub in original.keras:
        path = os.path.join(cache, *sub.split("/"))
        if sub.endswith(".npz"):
            out.append((path, lambda n, p: Found(n, p, "npz") if os.path.isfile(p) else None))
        else:
            out.append((path, check))
    return out


def locate(name, data_dir=None):
    """(Found or None, [what was looked at and why it did not do]) for `name`'s original files.

    Looks in `data_dir`, its subfolders named after the set, then Keras' cache (`keras_cache()`).
    """
    if name not in ORIGINALS:
        return None, []
    notes = []
    for path, check in _candidates(name, data_dir):
        result = check(name, path)
        if isinstance(result, Found):
            return result, notes
        notes.append(result or path)
    return None, notes


def not_found_message(name, data_dir, notes, tfds_dir=None):
    """The one-line error for a set found nowhere: every place looked in, the expected files and
    the official URLs."""
    original = ORIGINALS[name]
    places = ([f"tensorflow-datasets in {tfds_dir} (not prepared)"] if tfds_dir else []) + notes
    given = (" Point --data-dir (data_dir=) at the folder that holds them." if data_dir else
             " No --data-dir (data_dir=) was given: point it at the folder that holds them.")
    return (f"Data set {name!r} was not found. Looked in: {'; '.join(places)}. Expected its "
            f"original files: {', '.join(expected_files(name))}, from "
            f"{' or '.join(original.urls)}.{given} Or prepare it with tensorflow-datasets on a "
            f"connected machine and copy ~/tensorflow_datasets/{name}/ here; or use the bundled "
            f"offline data set \"digits\".")


# ---------------------------------------------------------------------------------------------
# reading the files

_ARRAYS = {}  # (path, form, files' sizes and times) -> {"train": (images, labels), "test": ...}


def _read(path, opener=open):
    """All bytes of a file, naming it in the error when it is truncated or unreadable."""
    try:
        with opener(path, "rb") as f:
            return f.read()
    except (EOFError, gzip.BadGzipFile, OSError, zlib.error) as error:
        raise ValueError(f"{path}: unreadable or truncated file ({error})") from None


def parse_idx(data, path, dims):
    """The uint8 array of an IDX file's bytes (`dims`: 1 for labels, 3 for images).

    Raises:
        ValueError: naming `path` when the header is not an unsigned-byte IDX header of `dims`
            dimensions or the data is shorter or longer than the header says.
    """
    if len(data) < 4 + 4 * dims or data[:2] != b"\0\0" or data[2] != _IDX_UBYTE or data[3] != dims:
        raise ValueError(f"{path}: not an IDX file of {dims}-dimensional unsigned bytes (its "
                         f"header is {data[:4].hex() or 'empty'}; expected 000008{dims:02x})")
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims))
    body = memoryview(data)[4 + 4 * dims:]
    expected = int(np.prod(shape))
    if len(body) != expected:
        raise ValueError(f"{path}: truncated or padded IDX file: its header says "
                         f"{'x'.join(map(str, shape))} = {expected} bytes of data, it holds "
                         f"{len(body)}")
    return np.frombuffer(body, np.uint8).reshape(shape)


def _read_idx(folder):
    out = {}
    for split, (images_stem, labels_stem) in IDX_FILES.items():
        arrays = []
        for stem, dims in ((images_stem, 3), (labels_stem, 1)):
            path = _idx_path(folder, stem)
            data = _read(path, gzip.open if path.endswith(".gz") else open)
            arrays.append(parse_idx(data, path, dims))
        images, labels = arrays
        if len(images) != len(labels):
            raise ValueError(f"{folder}: {images_stem} holds {len(images)} images but "
                             f"{labels_stem} {len(labels)} labels")
        out[split] = images[..., None], labels
    return out


def _read_npz(path):
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    except KeyError as error:
        raise ValueError(f"{path}: not Keras' mnist.npz (no array {error})") from None
    except (OSError, ValueError, EOFError) as error:
        raise ValueError(f"{path}: unreadable or truncated file ({error})") from None
    out = {}
    for split in ("train", "test"):
        images, labels = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if images.ndim != 3 or images.dtype != np.uint8 or len(images) != len(labels):
            raise ValueError(f"{path}: x_{split} must be uint8 (N, H, W) with one label each; "
                             f"got {images.dtype} {images.shape} and {labels.shape} labels")
        out[split] = images[..., None], labels.astype(np.uint8)
    return out


class _ArrayUnpickler(pickle.Unpickler):
    """Builds only plain containers and NumPy arrays: a pickle asking for anything else (which
    could run code) is refused."""

    _ALLOWED = {("numpy.core.multiarray", "_reconstruct"),
                ("numpy._core.multiarray", "_reconstruct"), ("numpy", "ndarray"),
                ("numpy", "dtype"), ("numpy.core.numeric", "_frombuffer"),
                ("numpy._core.numeric", "_frombuffer"), ("_codecs", "encode")}

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refused to build {module}.{name}")
        if int(np.__version__.split(".")[0]) >= 2:
            module = module.replace("numpy.core.", "numpy._core.")
        return super().find_class(module, name)


def _unpickle(data, where):
    try:
        batch = _ArrayUnpickler(io.BytesIO(data), encoding="bytes").load()
    except Exception as error:  # noqa: BLE001 - a broken pickle raises many types
        raise ValueError(f"{where}: not a CIFAR python-version batch ({type(error).__name__}: "
                         f"{error})") from None
    if not isinstance(batch, dict):
        raise ValueError(f"{where}: not a CIFAR python-version batch (a {type(batch).__name__})")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}


def _read_cifar(found):
    kind = ORIGINALS[found.name].kind
    folder, batches, meta = _CIFAR_MEMBERS[kind]
    label_key = "labels" if kind == "cifar10" else "fine_labels"
    if found.form == "cifar-tar":
        try:
            with tarfile.open(found.path, "r:gz") as archive:
                members = {}
                for member in [m for split in batches.values() for m in split] + [meta]:
                    try:
                        handle = archive.extractfile(f"{folder}/{member}")
                    except KeyError:
                        raise ValueError(f"{found.path}: no {folder}/{member} in the archive; "
                                         f"expected {', '.join(expected_files(found.name))}") \
                            from None
                    members[member] = handle.read()
        except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
            raise ValueError(f"{found.path}: unreadable or truncated archive ({error})") from None
        where = lambda m: f"{found.path}:{folder}/{m}"  # noqa: E731
    else:
        members = {m: _read(os.path.join(found.path, m))
                   for m in [m for split in batches.values() for m in split] + [meta]}
        where = lambda m: os.path.join(found.path, m)  # noqa: E731
    out = {}
    for split, names in batches.items():
        images, labels = [], []
        for member in names:
            batch = _unpickle(members[member], where(member))
            data, labs = batch.get("data"), batch.get(label_key)
            if not isinstance(data, np.ndarray) or labs is None or data.ndim != 2 or \
                    data.shape[1] != 3072 or len(data) != len(labs):
                raise ValueError(f"{where(member)}: not a CIFAR python-version batch (expected "
                                 f"'data' of N x 3072 bytes and N '{label_key}')")
            images.append(data.astype(np.uint8, copy=False).reshape(-1, 3, 32, 32)
                          .transpose(0, 2, 3, 1))
            labels.append(np.asarray(labs, np.int64))
        out[split] = np.concatenate(images), np.concatenate(labels)
    names_key = "label_names" if kind == "cifar10" else "fine_label_names"
    names = _unpickle(members[meta], where(meta)).get(names_key)
    if not names:
        raise ValueError(f"{where(meta)}: no '{names_key}' in the CIFAR meta file")
    out["class_names"] = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)
    return out


def read(found):
    """{"train": (uint8 images (N, H, W, C), labels), "test": ...} of a `Found`, checked: image
    shape, label range and, for sets of known counts, that the files are this set's. Kept in
    memory for the process (keyed by the files' paths, sizes and modification times)."""
    key = (found.path, found.form, _signature(found.path))
    if key not in _ARRAYS:
        reader = {"idx": _read_idx, "npz": _read_npz, "cifar": _read_cifar,
                  "cifar-tar": _read_cifar}[found.form]
        arrays = reader(found.path if found.form in ("idx", "npz") else found)
        _check(found, arrays)
        _ARRAYS.clear()  # one set at a time: MNIST is 55 MB, CIFAR-10 184 MB
        _ARRAYS[key] = arrays
    return _ARRAYS[key]


def _signature(path):
    """(name, size, modification time) of `path` or of each file in the folder `path`: a file
    replaced in place is read again."""
    paths = [path] if os.path.isfile(path) else sorted(
        os.path.join(path, n) for n in os.listdir(path) if os.path.isfile(os.path.join(path, n)))
    return tuple((p, os.stat(p).st_size, os.stat(p).st_mtime_ns) for p in paths)


def _check(found, arrays):
    original = ORIGINALS[found.name]
    num_classes = len(original.class_names)
    for split in ("train", "test"):
        images, labels = arrays[split]
        if images.shape[1:] != original.image_shape:
            raise ValueError(f"{found.path}: {found.name} images are "
                             f"{'x'.join(map(str, original.image_shape))}; the {split} files "
                             f"hold {'x'.join(map(str, images.shape[1:]))}")
        if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(f"{found.path}: {found.name} has {num_classes} classes; the {split} "
                             f"labels run from {labels.min()} to {labels.max()}")
    counts = tuple(np.bincount(arrays["train"][1], minlength=num_classes).tolist())
    for other, spec in ORIGINALS.items():
        if other != found.name and spec.image_shape == original.image_shape and \
                spec.train_label_counts == counts != original.train_label_counts:
            raise ValueError(f"{found.path}: these are {other}'s files (their training labels "
                             f"have its published class counts), not {found.name}'s")


def load_raw(found, split):
    """The `RawSplit` of `split` ("train", "test" or a tfds-style slice) of a `Found`."""
    import tensorflow as tf

    arrays = read(found)
    original = ORIGINALS[found.name]
    sizes = {name: len(arrays[name][1]) for name in ("train", "test")}
    base, start, stop = slice_split(split, sizes)
    images, labels = arrays[base]
    class_names = arrays.get("class_names") or original.class_names
    return RawSplit(
        dataset=tf.data.Dataset.from_tensor_slices(
            (images[start:stop], labels[start:stop].astype(np.int32))),
        num_classes=len(class_names),
        image_shape=original.image_shape,
        class_names=class_names,
        num_examples=stop - start,
        train=lambda: load_raw(found, "train"),
        source=found.path,
    )
