"""Where images come from: tensorflow-datasets by name, scikit-learn's digits, synthetic images.

`DATASETS` is the table of names kcnn knows. Each loader returns a `RawSplit`: an *unbatched*
`tf.data.Dataset` of `(uint8 image (H, W, C), int32 label)` plus what is known about it. Batching,
augmentation and normalisation happen in `kcnn.data.pipeline`.

A name with original files (`kcnn.data.files.ORIGINALS`: mnist, fashion_mnist, kmnist, cifar10,
cifar100) is looked for in this order: prepared by tensorflow-datasets, its original files in
`data_dir`, Keras' cache; only then does tfds download it.

No network is needed to learn that a data set is missing: `tfds.builder(...).is_prepared()` is an
instant check, an offline machine is recognised by a connection attempt of at most 3 s before tfds
is started, and a download that cannot reach the network fails in about a second (tfds' own
retry loop would wait about 205 s; see `_prepare`).
"""

import dataclasses
import glob
import logging
import os
import socket
import sys
import urllib.parse

import numpy as np

from kcnn.data import files
from kcnn.data import folder as folders
from kcnn.data.base import (  # noqa: F401 - public here too
    DatasetInfo,
    DatasetNotAvailableError,
    RawSplit,
    image_size_pair,
    slice_split,
)


@dataclasses.dataclass(frozen=True)
class Source:
    """One row of `DATASETS`.

    Attributes:
        kind: "tfds", "digits" or "synthetic".
        description: one line for docs and error messages.
        mean, std: per-channel pixel mean and standard deviation on the 0..1 scale, for the
            "mean_std" normalisation; None means "compute once from the training split".
    """

    kind: str
    description: str
    mean: tuple | None = None
    std: tuple | None = None


DATASETS = {
    # Published training-split statistics (population std, not the often-copied 0.2023 figures).
    "cifar10": Source("tfds", "CIFAR-10, 32x32x3, 10 classes", (0.4914, 0.4822, 0.4465),
                      (0.2470, 0.2435, 0.2616)),
    "cifar100": Source("tfds", "CIFAR-100, 32x32x3, 100 classes", (0.5071, 0.4865, 0.4409),
                       (0.2673, 0.2564, 0.2762)),
    "mnist": Source("tfds", "MNIST digits, 28x28x1, 10 classes", (0.1307,), (0.3081,)),
    "fashion_mnist": Source("tfds", "Fashion-MNIST, 28x28x1, 10 classes", (0.2860,), (0.3530,)),
    "kmnist": Source("tfds", "Kuzushiji-MNIST, 28x28x1, 10 classes"),
    "emnist/digits": Source("tfds", "EMNIST digits, 28x28x1, 10 classes"),
    "svhn_cropped": Source("tfds", "SVHN cropped digits, 32x32x3, 10 classes"),
    "stl10": Source("tfds", "STL-10, 96x96x3, 10 classes"),
    "eurosat/rgb": Source("tfds", "EuroSAT RGB, 64x64x3, 10 classes"),
    "imagenette": Source("tfds", "Imagenette, variable size (give image_size), 10 classes"),
    "tf_flowers": Source("tfds", "TF Flowers, variable size (give image_size), 5 classes"),
    "oxford_flowers102": Source("tfds", "Oxford Flowers 102, variable size, 102 classes"),
    "food101": Source("tfds", "Food-101, variable size, 101 classes"),
    "imagenet2012": Source("tfds", "ImageNet ILSVRC-2012 (manual download), 1000 classes"),
    "digits": Source("digits", "scikit-learn's 1,797 real 8x8 handwritten digits, no network"),
    "synthetic": Source("synthetic", "generated images of any shape and class count (not real)"),
}

DIGITS_TEST_SIZE = 360  # the fixed split: 1,437 training and 360 test images
SYNTHETIC_DEFAULTS = {"image_shape": (32, 32, 3), "num_classes": 10, "num_examples": 2048}


def names():
    """Names kcnn knows by name; any other tensorflow-datasets image classification name is tried."""
    return sorted(DATASETS)


# ---------------------------------------------------------------------------------------------
# scikit-learn digits


def digits_arrays():
    """All 1,797 digits as uint8 images (N, 8, 8, 1) on 0..255 (x * 255 / 16), labels, and the
    fixed split: `{"train": indices, "test": indices}` from a seeded permutation (seed 0)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:  # pragma: no cover - sklearn is a test dependency
        raise ImportError(
            'the "digits" data set comes from scikit-learn: pip install scikit-learn'
        ) from err
    bunch = load_digits()
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    labels = bunch.target.astype(np.int32)
    order = np.random.RandomState(0).permutation(len(labels))
    split = {"train": np.sort(order[DIGITS_TEST_SIZE:]), "test": np.sort(order[:DIGITS_TEST_SIZE])}
    return images, labels, split


def _load_digits(split):
    import tensorflow as tf

    images, labels, index = digits_arrays()
    sizes = {k: len(v) for k, v in index.items()}
    base, start, stop = slice_split(split, sizes)
    chosen = index[base][start:stop]
    return RawSplit(
        dataset=tf.data.Dataset.from_tensor_slices((images[chosen], labels[chosen])),
        num_classes=10,
        image_shape=(8, 8, 1),
        class_names=tuple(str(i) for i in range(10)),
        num_examples=len(chosen),
        train=lambda: _load_digits("train"),
    )


# ---------------------------------------------------------------------------------------------
# synthetic


def _load_synthetic(split, image_shape, num_classes, num_examples):
    """Deterministic images: a fixed smooth pattern per class plus per-image Gaussian noise.

    Not real data. Learnable (the class patterns differ) so smoke runs show learning. The "train"
    split has `num_examples` images and "test" a quarter as many (at least one); labels cycle
    through the classes. Generated lazily with stateless ops, so any shape costs no NumPy memory.
    """
    import tensorflow as tf

    h, w, c = image_shape
    sizes = {"train": num_examples, "test": max(1, num_examples // 4)}
    base, start, stop = slice_split(split, sizes)
    split_seed = {"train": 1, "test": 2}[base]
    low = np.random.RandomState(1234).normal(size=(num_classes, 4, 4, c)).astype(np.float32)
    patterns = tf.image.resize(low, (h, w), method="bicubic")  # smooth, one per class

    def generate(i):
        label = tf.cast(i % num_classes, tf.int32)
        noise = tf.random.stateless_normal((h, w, c), seed=tf.stack([split_seed, i]))
        image = 128.0 + 48.0 * tf.gather(patterns, label) + 32.0 * noise
        return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8), label

    ds = tf.data.Dataset.range(start, stop).map(generate, num_parallel_calls=tf.data.AUTOTUNE)
    return RawSplit(
        dataset=ds,
        num_classes=num_classes,
        image_shape=(h, w, c),
        class_names=tuple(f"class_{i}" for i in range(num_classes)),
        num_examples=stop - start,
        train=lambda: _load_synthetic("train", image_shape, num_classes, num_examples),
    )


# ---------------------------------------------------------------------------------------------
# tensorflow-datasets


TFDS_HOST = "https://storage.googleapis.com/"  # where tfds fetches most sets from
PROBE_TIMEOUT = 3.0  # seconds to wait for a connection before calling the machine offline


def is_folder(name):
    """True when the data set `name` is a folder of class folders of images. A registered name
    ("mnist") always means the data set, even where a folder of that name is in the working
    directory; write "./mnist" for the folder."""
    return name not in DATASETS and folders.is_folder(name)


def check_name(name):
    """Refuse, in one line, a data set given as a path that is not a folder: a file, or a folder
    that is missing or has moved (tfds would say "Parsing builder name string ... failed")."""
    if isinstance(name, os.PathLike):
        name = os.fspath(name)
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"a data set is a name ({', '.join(names())}) or the path of a folder "
                         f"of class folders of images; got {name!r}")
    if is_folder(name) or name in DATASETS:
        return
    if os.path.lexists(name):
        what = "a broken link" if not os.path.exists(name) else "a file"
        raise ValueError(f"{name} is {what}, not a data set: give a data set name "
                         f"({', '.join(names())}) or a folder of class folders of images")
    pathlike = (os.path.isabs(name) or name.startswith((".", "~")) or name.count("/") > 1
                or (os.sep != "/" and os.sep in name) or any(c.isspace() for c in name)
                or bool(os.path.dirname(name)) and os.path.isdir(os.path.dirname(name)))
    if pathlike:
        raise ValueError(f"no folder {os.path.abspath(os.path.expanduser(name))}: the data set "
                         f"must be a folder of class folders of images that exists (moved or "
                         f"deleted?), or a name: {', '.join(names())}")


def _quiet_variant_folder(record):
    """A logging filter: tfds' "Variant folder ... has no dataset_info.json" (said for every
    data set that is not prepared, which kcnn reports itself) is noise."""
    return not str(record.msg).startswith("Variant folder %s has no")


def _builder(name, data_dir):
    import tensorflow_datasets as tfds

    absl = logging.getLogger("absl")
    if _quiet_variant_folder not in absl.filters:
        absl.addFilter(_quiet_variant_folder)
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except ValueError:  # DatasetNotFoundError, or a string tfds cannot parse as a name
        raise ValueError(
            f"Unknown data set {name!r}. kcnn knows: {', '.join(names())}; any other "
            f"tensorflow-datasets image classification name is tried too (tfds.list_builders()); "
            f"an image folder is given by its path (there is no folder {name!r})."
        ) from None
    features = builder.info.features
    if builder.info.supervised_keys != ("image", "label") or "label" not in features:
        raise ValueError(
            f"{name!r} is not an image classification data set (its supervised keys are "
            f"{builder.info.supervised_keys}); kcnn knows: {', '.join(names())}"
        )
    return builder


def _not_available(name, builder, reason, data_dir=None, notes=None):
    if name in files.ORIGINALS:
        message = files.not_found_message(name, data_dir, notes or [], tfds_dir=builder.data_dir)
        return DatasetNotAvailableError(f"{message} ({reason})")
    return DatasetNotAvailableError(
        f"Data set {name!r} is not prepared in {builder.data_dir} ({reason}). Ways out: "
        f"prepare it on a connected machine (python -c \"import tensorflow_datasets as tfds; "
        f"tfds.builder('{name}').download_and_prepare()\") and copy its directory "
        f"(~/tensorflow_datasets/{name}/) here; point data_dir (or TFDS_DATA_DIR) at a directory "
        f"that holds it; or use the bundled offline data set \"digits\"."
    )


def reachable(url, timeout=PROBE_TIMEOUT):
    """True when a TCP connection to `url`'s host opens within `timeout` seconds."""
    parts = urllib.parse.urlparse(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
    except OSError:
        return False
    return True


def _prepare(name, builder, download, data_dir=None, notes=None):
    """Make sure `builder` has its data, fast: never the ~205 s offline retry hang.

    Offline (the download host does not answer within `PROBE_TIMEOUT`), it fails at once,
    before tfds prints a progress bar or creates a folder. Online, tfds retries every URL ten
    times with exponential back-off (0.2 s * 2**k, about 205 s in all) before giving up; while
    kcnn downloads, it lowers that module constant to 2, so a failing download ends in about a
    second. Under `tfds.testing.mock_data` nothing is probed or downloaded.
    """
    if builder.is_prepared() or _mocked(builder):
        return
    if not download:
        raise _not_available(name, builder, "download=False", data_dir, notes)
    url = files.ORIGINALS[name].urls[0] if name in files.ORIGINALS else TFDS_HOST
    if not reachable(url):
        host = urllib.parse.urlparse(url).hostname
        raise _not_available(name, builder, f"offline: {host} does not answer, so nothing was "
                             "downloaded", data_dir, notes)
    from tensorflow_datasets.core.download import downloader

    saved, downloader.MAX_RETRIES = downloader.MAX_RETRIES, 2
    try:
        builder.download_and_prepare()
    except Exception as err:  # network errors come as many types (requests, OSError, tf errors)
        raise _not_available(name, builder, f"download failed: {type(err).__name__}: {err}",
                             data_dir, notes) from err
    finally:
        downloader.MAX_RETRIES = saved


def _mocked(builder):
    """True under `tfds.testing.mock_data`, whose `download_and_prepare` is a no-op and whose
    `as_dataset` makes random examples: tfds is then used as if the set were prepared.
    `builder` is a tfds builder or a builder class."""
    cls = builder if isinstance(builder, type) else type(builder)
    method = getattr(cls, "download_and_prepare", None)
    return getattr(method, "__module__", "").startswith("tensorflow_datasets.testing")


def _tfds_may_have(name, data_dir):
    """False when tfds surely has not prepared `name` (no `<dir>/<name>/<version>/
    dataset_info.json`, nor tfds mocked): then its original files are read without importing
    tensorflow-datasets, which saves about 1.5 s."""
    tfds = sys.modules.get("tensorflow_datasets")
    if tfds is not None and _mocked(tfds.core.DatasetBuilder):
        return True
    root = data_dir or os.environ.get("TFDS_DATA_DIR") or os.path.join(
        os.path.expanduser("~"), "tensorflow_datasets")
    return bool(glob.glob(os.path.join(glob.escape(os.fspath(root)), name, "*",
                                       "dataset_info.json")))


def _load_tfds(name, split, data_dir, download, shuffle_files, seed):
    import tensorflow as tf

    if name in files.ORIGINALS and not _tfds_may_have(name, data_dir):
        found, _ = files.locate(name, data_dir)
        if found is not None:
            return files.load_raw(found, split)
    import tensorflow_datasets as tfds

    builder = _builder(name, data_dir)
    notes = None
    if not builder.is_prepared() and name in files.ORIGINALS and not _mocked(builder):
        found, notes = files.locate(name, data_dir)  # tfds first, then the original files
        if found is not None:
            return files.load_raw(found, split)
    _prepare(name, builder, download, data_dir, notes)
    sizes = {key: value.num_examples for key, value in builder.info.splits.items()}
    if sizes and all(sizes.values()):
        slice_split(split, sizes)  # the same clear errors as every other source
    read_config = tfds.ReadConfig(shuffle_seed=seed)
    ds = builder.as_dataset(split=split, as_supervised=True, shuffle_files=shuffle_files,
                            read_config=read_config)
    ds = ds.map(lambda x, y: (x, tf.cast(y, tf.int32)), num_parallel_calls=tf.data.AUTOTUNE)
    try:
        num_examples = builder.info.splits[split].num_examples
    except (KeyError, ValueError, TypeError):  # mock_data has no split metadata
        num_examples = None
    label = builder.info.features["label"]
    return RawSplit(
        dataset=ds,
        num_classes=label.num_classes,
        image_shape=tuple(builder.info.features["image"].shape),
        class_names=tuple(label.names),
        num_examples=num_examples,
        train=lambda: _load_tfds(name, "train", data_dir, download, False, None),
        stats_file=str(builder.data_dir) if builder.is_prepared() else None,
    )


def _positive(option, value):
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"{option} must be a positive int; got {value!r}")


def load_raw(name, split, *, data_dir=None, download=True, shuffle_files=False, seed=None,
             image_size=None, channels=None, num_classes=None, num_examples=None, folder=None):
    """The unbatched `RawSplit` for a data set name (or image folder) and split string; uint8
    images except for image folders (float32, already resized; `folder`: their options).

    A name with original files (`kcnn.data.files.ORIGINALS`) is looked for in this order: the
    set prepared by tensorflow-datasets in `data_dir` (or tfds' default), the original files in
    `data_dir`, Keras' cache; then, online and with `download`, tfds downloads it. A leading
    `~` in `data_dir` is expanded, as the shell expands it for `--data-dir`."""
    check_name(name)
    data_dir = os.path.expanduser(data_dir) if data_dir else data_dir
    if is_folder(name):
        return folders.load_raw(name, split, image_size=image_size, channels=channels,
                                **(folder or {}))
    kind = DATASETS[name].kind if name in DATASETS else "tfds"
    if kind != "synthetic" and (num_classes is not None or num_examples is not None):
        raise ValueError("num_classes and num_examples are options of the 'synthetic' data set only")
    if kind == "digits":
        return _load_digits(split)
    if kind == "synthetic":
        _positive("num_classes", num_classes)
        _positive("num_examples", num_examples)
        d = SYNTHETIC_DEFAULTS
        h, w = image_size_pair(image_size) if image_size is not None else d["image_shape"][:2]
        shape = (h, w, channels or d["image_shape"][2])
        return _load_synthetic(split, shape, num_classes or d["num_classes"],
                               num_examples or d["num_examples"])
    return _load_tfds(name, split, data_dir, download, shuffle_files, seed)


def info(name, data_dir=None, **folder):
    """Metadata of a data set without loading its data; works offline (tfds metadata ships with
    the package; the sets in `kcnn.data.files.ORIGINALS` have theirs there). `num_examples` is
    the training split's size when known; `image_shape` is the native shape (None for
    variable-size dimensions). For an image folder, `folder` takes `validation_fraction` and
    `test_fraction`."""
    check_name(name)
    data_dir = os.path.expanduser(data_dir) if data_dir else data_dir
    if is_folder(name):
        return folders.info(name, **folder)
    kind = DATASETS[name].kind if name in DATASETS else "tfds"
    if kind == "digits":
        return DatasetInfo(name, 10, (8, 8, 1), tuple(str(i) for i in range(10)),
                           1797 - DIGITS_TEST_SIZE)
    if kind == "synthetic":
        d = SYNTHETIC_DEFAULTS
        return DatasetInfo(name, d["num_classes"], d["image_shape"],
                           tuple(f"class_{i}" for i in range(d["num_classes"])), d["num_examples"])
    if name in files.ORIGINALS:
        original = files.ORIGINALS[name]
        return DatasetInfo(name, len(original.class_names), original.image_shape,
                           original.class_names, original.sizes["train"])
    builder = _builder(name, data_dir)
    label = builder.info.features["label"]
    try:
        num_examples = builder.info.splits["train"].num_examples
    except (KeyError, ValueError, TypeError):
        num_examples = None
    return DatasetInfo(name, label.num_classes, tuple(builder.info.features["image"].shape),
                       tuple(label.names), num_examples or None)
