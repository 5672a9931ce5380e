"""The tf.data chain: cache uint8, shuffle, batch, augment whole batches in parallel, normalise,
prefetch. `load()` is the public entry point (re-exported as `kcnn.data.load`).

Order and why:
    source (decoded uint8)  ->  cache()            CIFAR-10 train is 154 MB as uint8, 614 MB as float
    -> shuffle(seeded)      ->  batch()            everything after this works on whole batches
    -> map(prepare + augment, AUTOTUNE)            cast, resize, channels, Keras augmentation layers
    -> map(normalise, AUTOTUNE) -> prefetch(AUTOTUNE)
No Python runs per example in the hot path: every step is a TensorFlow graph op on a batch.
"""

import json
import os

import numpy as np

from kcnn.data import augment as augment_lib
from kcnn.data import sources

NORMALIZATIONS = ("mean_std", "per_image", "zca", "unit", None)
MAX_FIT_EXAMPLES = 50_000  # statistics and ZCA are fitted on at most this many training images
MAX_ZCA_DIM = 4096  # H*W*C limit for ZCA (its matrix is dim x dim)
ZCA_EPSILON = 1e-3  # added to the covariance eigenvalues (pixels on the 0..1 scale)
MAX_SHUFFLE_BUFFER = 50_000
MAX_CACHE_BYTES = 2 * 1024**3  # a split of float images larger than this is read again each epoch
_FITTED = {}  # in-memory cache of fitted statistics: key -> arrays


def load(name, split, batch_size, *, data_dir=None, augment=None, normalize=True, image_size=None,
         channels=None, shuffle=True, cache=True, seed=None, drop_remainder=None, download=True,
         deterministic=False, num_classes=None, num_examples=None, interpolation="bilinear",
         crop_to_aspect_ratio=False, validation_fraction=None, test_fraction=None):
    """A batched, prefetched `tf.data.Dataset` of (float32 images, labels) and its `DatasetInfo`.

    Args:
        name: a tensorflow-datasets image classification name ("cifar10", "mnist", ...),
            "digits" (scikit-learn's real 8x8 digits, offline, fixed 1,437/360 train/test split),
            "synthetic" (generated, not real data), or the path of an image folder
            (`photos/<class>/<images>`, see `kcnn.data.folder`). `kcnn.data.names()` lists the
            known names.
        split: "train", "test", or a slice such as "train[:90%]", "train[90%:]", "train[:1000]"
            (tfds syntax; the same percent and absolute slices work for digits and synthetic).
            Image folders have "train", "validation" and "test".
        batch_size: images per batch.
        data_dir: where the data set is: a tfds data directory (default: tfds' own,
            ~/tensorflow_datasets or $TFDS_DATA_DIR), or, for mnist, fashion_mnist, kmnist,
            cifar10 and cifar100, a folder of their original files (see `kcnn.data.files`).
            Search order: the set prepared by tfds, the original files in data_dir, Keras'
            cache ($KERAS_HOME/datasets, default ~/.keras/datasets), then a tfds download.
        augment: None, a preset name (`kcnn.data.augment.names()`), or a list of preset names
            and Keras preprocessing layers. Applied as given: pass it for the training split only;
            evaluation data should be loaded with augment=None.
        normalize: True or "mean_std" (per-channel mean/std: published constants for cifar10,
            cifar100, mnist and fashion_mnist, otherwise computed once from the training split and
            cached), "per_image" (per-image standardisation), "zca" (ZCA whitening fitted on the
            training split), "unit" (x / 255), or False/None (raw 0..255 floats).
        image_size: int or (height, width) to resize to (bilinear). Required for variable-size sets.
        channels: 1 or 3, converting RGB <-> grayscale (e.g. MNIST as 3 channels for AlexNet).
            For "synthetic", image_size and channels set the generated shape (default 32x32x3).
        shuffle: shuffle examples (seeded by `seed`) and, for tfds, the files.
        cache: cache the decoded uint8 images in memory after the first pass.
        seed: seed for shuffling and augmentation. The shuffle order then repeats from run to
            run; the augmentation repeats only with deterministic=True.
        drop_remainder: drop the last incomplete batch; None means "when shuffling" (training)
            and the split holds at least one full batch.
        download: let tfds download a data set found nowhere. Either way a data set that is
            not there and cannot be fetched raises `DatasetNotAvailableError` within seconds,
            naming every place looked in; offline, tfds is not started at all.
        deterministic: same seed, same batches, every run: the augmentation map runs serially
            (seeded Keras layers are not reproducible under a parallel map), which costs about
            half the pipeline's throughput. seed defaults to 0 in this mode.
        num_classes, num_examples: "synthetic" only: class count (10) and training-split size
            (2,048; the "test" split has a quarter of it).
        interpolation, crop_to_aspect_ratio: image folders: how images are resized to
            `image_size` (Keras' Resizing layer: "bilinear", "nearest", "bicubic", "area"; crop
            the centre to the target's aspect ratio first, or stretch).
        validation_fraction, test_fraction: image folders without val/ or test/ folders: the
            share of each class held out (default 0.1 and 0.2; a stable split, see
            `kcnn.data.folder`).

    Returns:
        (dataset, info): elements are (float32 images (B, H, W, C), labels); labels are int32
        class indices, or float32 one-hot soft targets when mixup or cutmix is on
        (`info.soft_labels`).
    """
    import tensorflow as tf

    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int; got {batch_size!r}")
    if channels not in (None, 1, 3):
        raise ValueError(f"channels must be 1, 3 or None; got {channels!r}")
    mode = _normalization_mode(normalize)
    size = sources.image_size_pair(image_size) if image_size is not None else None
    if deterministic and seed is None:
        seed = 0

    raw = sources.load_raw(name, split, data_dir=data_dir, download=download,
                           shuffle_files=shuffle, seed=seed, image_size=size, channels=channels,
                           num_classes=num_classes, num_examples=num_examples,
                           folder={"interpolation": interpolation,
                                   "crop_to_aspect_ratio": crop_to_aspect_ratio,
                                   "validation_fraction": validation_fraction,
                                   "test_fraction": test_fraction})
    native = raw.image_shape
    if size is None and (native[0] is None or native[1] is None):
        raise ValueError(f"{name!r} has images of varying size; give image_size=")
    shape = (*(size or native[:2]), channels or native[2])
    layers = augment_lib.build(augment, shape, seed)
    soft = any(augment_lib.mixes_labels(layer) for layer in layers)
    normalizer = _normalizer(mode, name, data_dir, raw, shape)

    ds = raw.dataset
    if native[0] is None or native[1] is None:  # variable size: resize each image before caching
        ds = ds.map(lambda x, y: (_to_uint8(tf.image.resize(x, size)), y),
                    num_parallel_calls=tf.data.AUTOTUNE)
        native = (*size, native[2])
    if cache and (raw.cache_bytes is None or raw.cache_bytes <= MAX_CACHE_BYTES):
        ds = ds.cache()
    if shuffle:
        buffer = min(raw.num_examples or 10_000, MAX_SHUFFLE_BUFFER)
        ds = ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    if drop_remainder is None:  # training drops a last partial batch, never the only one
        drop_remainder = shuffle and (raw.num_examples or batch_size) >= batch_size
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)

    def prepare(images, labels):
        x = _convert(tf.cast(images, tf.float32), native, shape)
        if soft:
            labels = tf.one_hot(labels, raw.num_classes, dtype=tf.float32)
        for layer in layers:
            if augment_lib.mixes_labels(layer):
                out = layer({"images": x, "labels": labels}, training=True)
                x, labels = out["images"], out["labels"]
            else:
                x = layer(x, training=True)
            x = tf.cast(x, tf.float32)
        return tf.ensure_shape(x, (None, *shape)), labels

    ds = ds.map(prepare, num_parallel_calls=None if deterministic else tf.data.AUTOTUNE)
    if normalizer is not None:
        ds = ds.map(lambda x, y: (normalizer(x), y), num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.prefetch(tf.data.AUTOTUNE)

    mean, std = _mean_std(name, data_dir, raw, shape) if mode == "mean_std" else (None, None)
    info = sources.DatasetInfo(name=str(name), num_classes=raw.num_classes, image_shape=shape,
                               class_names=raw.class_names, num_examples=raw.num_examples,
                               soft_labels=soft, files=raw.files,
                               mean=None if mean is None else tuple(map(float, mean)),
                               std=None if std is None else tuple(map(float, std)))
    return ds, info


# ---------------------------------------------------------------------------------------------
# helpers


def _normalization_mode(normalize):
    if normalize is True:
        return "mean_std"
    if normalize is False:
        return None
    if normalize not in NORMALIZATIONS:
        raise ValueError(
            f"Unknown normalize {normalize!r}; use True/'mean_std', 'per_image', 'zca', 'unit' "
            f"or False/None"
        )
    return normalize


def _to_uint8(x):
    import tensorflow as tf

    return tf.cast(tf.clip_by_value(tf.round(x), 0, 255), tf.uint8)


def _convert(x, native, shape):
    """Resize (bilinear) and convert channels of a float batch from `native` to `shape`."""
    import tensorflow as tf

    if tuple(native[:2]) != tuple(shape[:2]):
        x = tf.image.resize(x, shape[:2])
    if native[2] == 1 and shape[2] == 3:
        x = tf.image.grayscale_to_rgb(x)
    elif native[2] == 3 and shape[2] == 1:
        x = tf.image.rgb_to_grayscale(x)
    elif native[2] != shape[2]:
        raise ValueError(f"cannot convert {native[2]} channels to {shape[2]}")
    return x


def _normalizer(mode, name, data_dir, raw, shape):
    """A batch function for the chosen normalisation, fitting statistics first where needed."""
    import tensorflow as tf

    if mode is None:
        return None
    if mode == "unit":
        return lambda x: x * (1.0 / 255.0)
    if mode == "per_image":
        return tf.image.per_image_standardization
    if mode == "mean_std":
        mean, std = _mean_std(name, data_dir, raw, shape)
        scale = tf.constant(1.0 / (255.0 * std), tf.float32)
        shift = tf.constant(-mean / std, tf.float32)
        return lambda x: x * scale + shift
    mean, whiten = _zca(name, data_dir, raw, shape)
    mean, whiten = tf.constant(mean, tf.float32), tf.constant(whiten, tf.float32)
    dim = int(np.prod(shape))

    def zca(x):
        flat = tf.reshape(x, (-1, dim)) * (1.0 / 255.0) - mean
        return tf.reshape(tf.matmul(flat, whiten), tf.shape(x))

    return zca


def _fit_batches(raw, shape, batch=1024):
    """The training split as float batches on 0..1, resized/converted to `shape`, capped."""
    import tensorflow as tf

    train = raw.train()
    native = train.image_shape
    ds = train.dataset.take(MAX_FIT_EXAMPLES)
    if native[0] is None or native[1] is None:
        ds = ds.map(lambda x, y: (tf.image.resize(x, shape[:2]), y))
        native = (*shape[:2], native[2])
    ds = ds.batch(batch).map(
        lambda x, y: _convert(tf.cast(x, tf.float32), native, shape) / 255.0,
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return ds.prefetch(2)


def _mean_std(name, data_dir, raw, shape):
    """Per-channel (mean, std) on the 0..1 scale, for the delivered channel count."""
    channels = shape[2]
    known = sources.DATASETS.get(name)
    if known is not None and known.mean is not None:
        mean, std = np.array(known.mean), np.array(known.std)
        if len(mean) == channels:
            return mean, std
        if len(mean) == 1 and channels == 3:
            return np.repeat(mean, 3), np.repeat(std, 3)
    key = ("mean_std", name, data_dir, raw.stats_file, raw.num_classes, raw.image_shape, channels)
    if key in _FITTED:
        return _FITTED[key]
    path = os.path.join(raw.stats_file, f"kcnn_mean_std_{channels}c.json") if raw.stats_file else None
    if path and os.path.exists(path):
        with open(path) as f:
            saved = json.load(f)
        _FITTED[key] = np.array(saved["mean"]), np.array(saved["std"])
        return _FITTED[key]
    total, total_sq, count = np.zeros(channels), np.zeros(channels), 0
    native = raw.image_shape
    fit_shape = (*(shape[:2] if None in native[:2] else native[:2]), channels)  # no upsizing
    for x in _fit_batches(raw, fit_shape).as_numpy_iterator():
        x = x.astype(np.float64).reshape(-1, channels)
        total += x.sum(0)
        total_sq += (x * x).sum(0)
        count += len(x)
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean * mean, 1e-12))
    _FITTED[key] = mean, std
    if path:
        try:
            with open(path, "w") as f:
                json.dump({"mean": mean.tolist(), "std": std.tolist()}, f)
        except OSError:  # a read-only data directory: the in-memory cache still holds it
            pass
    return mean, std


def _zca(name, data_dir, raw, shape):
    """(mean, whitening matrix) of ZCA fitted on the training split at the delivered shape."""
    dim = int(np.prod(shape))
    if dim > MAX_ZCA_DIM:
        raise ValueError(
            f"ZCA whitening needs a {dim}x{dim} matrix for images of shape {shape}; kcnn allows "
            f"up to {MAX_ZCA_DIM} values per image (e.g. 32x32x3). Use 'mean_std' or 'per_image'."
        )
    key = ("zca", name, data_dir, raw.stats_file, raw.num_classes, raw.image_shape, tuple(shape))
    if key not in _FITTED:
        total, gram, count = np.zeros(dim), np.zeros((dim, dim)), 0
        for x in _fit_batches(raw, shape).as_numpy_iterator():
            x = x.reshape(len(x), dim)
            total += x.sum(0, dtype=np.float64)
            gram += (x.T @ x).astype(np.float64)
            count += len(x)
        mean = total / count
        cov = gram / count - np.outer(mean, mean)
        eigval, eigvec = np.linalg.eigh(cov)
        whiten = (eigvec / np.sqrt(np.maximum(eigval, 0) + ZCA_EPSILON)) @ eigvec.T
        _FITTED[key] = mean.astype(np.float32), whiten.astype(np.float32)
    return _FITTED[key]
