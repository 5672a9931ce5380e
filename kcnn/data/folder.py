"""Image folders as data sets: `photos/<class>/<image>`, optionally under `train/`, `val/` (or
`validation/`) and `test/`.

- Class names are the class folders' names in Python's `sorted()` order (case-sensitive code point
  order, as `keras.utils.image_dataset_from_directory`); label i is `class_names[i]`.
- Without split folders, each class's images are split by a stable hash of their path relative to
  the class folder: the same files give the same split on every run and every machine, and adding
  a file never moves another one. Split folders that are missing (say `val/`) are carved from
  `train/` the same way.
- Every file is decoded once up front, in parallel; a file that is not a JPEG, PNG, BMP or GIF
  image, or that cannot be decoded, is skipped and reported (`FolderIndex.skipped`, a warning).
- Images are read with Pillow (GIF: the first frame) and converted to RGB or greyscale (alpha is
  dropped, palettes expanded), then resized by Keras' `Resizing` layer, the same layer that the
  saved model puts in front of the network, so training and the saved model see the same pixels.
"""

import concurrent.futures
import dataclasses
import hashlib
import os
import warnings

import numpy as np

from kcnn.data.base import DatasetInfo, RawSplit, slice_split

IMAGE_FORMATS = ("JPEG", "PNG", "BMP", "GIF")
SPLIT_FOLDERS = {"train": ("train",), "validation": ("val", "validation"), "test": ("test",)}
INTERPOLATIONS = ("bilinear", "nearest", "bicubic", "area")
DEFAULT_FRACTIONS = {"validation": 0.1, "test": 0.2}
REPORTED_PATHS = 5  # skipped files named in the message; all of them are in FolderIndex.skipped
_VALIDITY = {}  # (path, size, mtime_ns) -> None or the reason the file is unreadable
_WARNED = set()  # skipped-file messages already given in this process (one warning each)


@dataclasses.dataclass(frozen=True)
class FolderIndex:
    """The files of an image folder, split and labelled.

    Attributes:
        root: the folder.
        class_names: the class folders' names, sorted; label i is class_names[i].
        splits: {"train" | "validation" | "test": ((path, label), ...)} in (label, path) order.
        skipped: ((path, reason), ...) for every file that is not a readable image.
        split_folders: True when the folder has train/ (and maybe val/, test/) subfolders.
    """

    root: str
    class_names: tuple
    splits: dict
    skipped: tuple
    split_folders: bool

    def skipped_message(self):
        """One line: how many files were skipped and the first few paths with the reason."""
        if not self.skipped:
            return ""
        shown = "; ".join(f"{path} ({reason})" for path, reason in self.skipped[:REPORTED_PATHS])
        more = len(self.skipped) - REPORTED_PATHS
        return (f"skipped {len(self.skipped)} unreadable file(s) in {self.root}: {shown}"
                + (f"; and {more} more" if more > 0 else ""))


def is_folder(name):
    """True when `name` names a directory (a data set given as a folder, not a name)."""
    return isinstance(name, (str, os.PathLike)) and os.path.isdir(name)


def _sixteen_bit(image):
    """A 16-bit greyscale image (Pillow mode "I;16*", or "I" as PNG decoders give it) as uint8
    (H, W, 1), scaled by keeping the high byte (v >> 8, so 65535 -> 255), as Pillow itself does
    for 16-bit RGB and RGBA PNGs: never clipped at 255."""
    pixels = np.asarray(image)
    if pixels.size and (pixels.min() < 0 or pixels.max() > 65535):
        raise ValueError(f"{image.mode} pixels run from {pixels.min()} to {pixels.max()}; "
                         "expected 16-bit values 0..65535")
    return (pixels.astype(np.uint32) >> 8).astype(np.uint8)[..., None]


GREY_MODES = ("1", "L", "LA", "I", "F")  # Pillow's greyscale modes, besides "I;16*"


def read_image(path, channels=3):
    """A decoded image as a uint8 array (H, W, channels): JPEG, PNG, BMP or GIF (first frame);
    greyscale, RGB, RGBA (alpha dropped) and palette images become `channels` (1 or 3; None: 1
    for greyscale images, 3 for the others). 16-bit images are scaled to 8 bits (the high byte
    of each value); 1-bit images become 0 and 255.

    Raises:
        ValueError: naming the file when it is missing, not one of those formats, or unreadable.
    """
    from PIL import Image, UnidentifiedImageError

    if channels not in (None, 1, 3):
        raise ValueError(f"channels must be 1, 3 or None; got {channels!r}")
    try:
        with Image.open(path) as image:
            if image.format not in IMAGE_FORMATS:
                raise ValueError(f"{image.format} is not one of {', '.join(IMAGE_FORMATS)}")
            image.seek(0)  # a GIF's first frame
            if channels is None:
                grey = image.mode in GREY_MODES or image.mode.startswith("I;16")
                channels = 1 if grey else 3
            if image.mode == "I" or image.mode.startswith("I;16"):
                grey = _sixteen_bit(image)
                return grey if channels == 1 else np.repeat(grey, 3, axis=-1)
            if channels == 1:
                return np.asarray(image.convert("L"))[..., None]
            return np.asarray(image.convert("RGB"))
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
    except UnidentifiedImageError:
        raise ValueError(f"{path}: not a JPEG, PNG, BMP or GIF image") from None
    except Exception as error:  # noqa: BLE001 - Pillow raises many types for broken data
        raise ValueError(f"{path}: unreadable image ({error or type(error).__name__})") from None


def _problem(path):
    """None if `path` is a readable image, else why not (cached by size and modification time)."""
    stat = os.stat(path)
    key = (path, stat.st_size, stat.st_mtime_ns)
    if key not in _VALIDITY:
        if stat.st_size == 0:
            _VALIDITY[key] = "empty file"
        else:
            try:
                read_image(path)
                _VALIDITY[key] = None
            except ValueError as error:
                _VALIDITY[key] = str(error).removeprefix(f"{path}: ")
    return _VALIDITY[key]


def _visible(names):
    return sorted(n for n in names if not n.startswith("."))


def _subfolders(path):
    return [n for n in _visible(os.listdir(path)) if os.path.isdir(os.path.join(path, n))]


def _files(folder):
    """Every visible file under `folder`, recursively, in sorted order."""
    found = []
    for here, dirs, names in os.walk(folder):
        dirs[:] = _visible(dirs)
        found += [os.path.join(here, n) for n in _visible(names)]
    return sorted(found)


def _hash_order(paths, class_folder):
    """`paths` ordered by a hash of their path inside the class folder (stable across machines)."""
    def key(path):
        relative = os.path.relpath(path, class_folder).replace(os.sep, "/")
        return hashlib.sha1(relative.encode()).hexdigest()

    return sorted(paths, key=key)


def _carve(paths, class_folder, fractions):
    """{split: paths} taking round(n * fraction) of each class for each split in `fractions`,
    the rest for "train" (at least one image stays there)."""
    ordered = _hash_order(paths, class_folder)
    out, start = {}, 0
    for split, fraction in fractions.items():
        count = min(round(len(ordered) * fraction), max(0, len(ordered) - 1 - start))
        out[split] = ordered[start:start + count]
        start += count
    out["train"] = ordered[start:]
    return out


def _check_fractions(fractions):
    for split, value in fractions.items():
        if not isinstance(value, (int, float)) or not 0 <= value < 1:
            raise ValueError(f"{split} fraction must be in [0, 1); got {value!r}")
    if sum(fractions.values()) >= 1:
        raise ValueError(f"the validation and test fractions add up to {sum(fractions.values())}"
                         "; they must leave images for training")


def scan(root, *, validation_fraction=None, test_fraction=None):
    """Index an image folder: classes, split files and skipped files (see the module docstring).

    Args:
        root: the folder.
        validation_fraction, test_fraction: the share of each class kept for validation and
            test when the folder has no such split folder (default 0.1 and 0.2).

    Raises:
        ValueError: the folder does not exist, has no class folders, a single class, an empty
            class folder, a class without a readable image, or no images at all.
    """
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise ValueError(f"{root} is not a folder")
    fractions = {
        "validation": DEFAULT_FRACTIONS["validation"] if validation_fraction is None
        else validation_fraction,
        "test": DEFAULT_FRACTIONS["test"] if test_fraction is None else test_fraction,
    }
    _check_fractions(fractions)
    subfolders = _subfolders(root)
    named = {split: [n for n in subfolders if n in names] for split, names in SPLIT_FOLDERS.items()}
    split_folders = any(named.values())
    if split_folders:
        if not named["train"]:
            found = ", ".join(n + "/" for names in named.values() for n in names)
            raise ValueError(f"{root} has {found} but no train/ folder; give train/ (and "
                             "optionally val/ and test/)")
        if len(named["validation"]) > 1:
            raise ValueError(f"{root} has both val/ and validation/; keep one")
        bases = {split: os.path.join(root, names[0]) for split, names in named.items() if names}
    else:
        bases = {"train": root}

    class_names = tuple(_subfolders(bases["train"]))
    where = bases["train"]
    if not class_names:
        raise ValueError(f"no class folders in {where}: expected {where}/<class name>/<images> "
                         "(JPEG, PNG, BMP or GIF)")
    for split, base in bases.items():
        extra = sorted(set(_subfolders(base)) - set(class_names))
        if extra:
            raise ValueError(f"{base} has class folder(s) {', '.join(extra)} that {where} lacks; "
                             f"the classes are {', '.join(class_names)}")

    listed = {(split, label): _files(os.path.join(base, name))
              for split, base in bases.items() for label, name in enumerate(class_names)
              if os.path.isdir(os.path.join(base, name))}
    every = [path for paths in listed.values() for path in paths]
    if not every:
        raise ValueError(f"no images in {root} (class folders {', '.join(class_names)} are empty)")
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        problems = dict(zip(every, pool.map(_problem, every)))
    skipped = tuple((path, problems[path]) for path in every if problems[path])

    for label, name in enumerate(class_names):
        files = listed[("train", label)]
        if not files:
            raise ValueError(f"empty class folder {os.path.join(where, name)}: every class needs "
                             "at least one image")
        if all(problems[path] for path in files):
            raise ValueError(f"class folder {os.path.join(where, name)} has no readable image "
                             f"({len(files)} unreadable file(s), e.g. {files[0]}: "
                             f"{problems[files[0]]})")
    if len(class_names) < 2:
        raise ValueError(f"{where} has a single class folder ({class_names[0]}); a classifier "
                         "needs at least two")

    missing = {split: fractions[split] for split in ("validation", "test") if split not in bases}
    splits = {split: [] for split in SPLIT_FOLDERS}
    for (split, label), paths in listed.items():
        good = [path for path in paths if not problems[path]]
        if split != "train":
            splits[split] += [(path, label) for path in good]
            continue
        class_folder = os.path.join(bases["train"], class_names[label])
        for part, chosen in _carve(good, class_folder, missing).items():
            splits[part] += [(path, label) for path in chosen]
    splits = {split: tuple(sorted(pairs, key=lambda p: (p[1], p[0])))
              for split, pairs in splits.items()}
    index = FolderIndex(root=root, class_names=class_names, splits=splits, skipped=skipped,
                        split_folders=split_folders)
    if skipped and index.skipped_message() not in _WARNED:
        _WARNED.add(index.skipped_message())
        warnings.warn(index.skipped_message(), stacklevel=2)
    return index


def resizer(image_size, interpolation="bilinear", crop_to_aspect_ratio=False):
    """Keras' Resizing layer used both by the data pipeline and in front of a saved model."""
    import keras

    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"unknown interpolation {interpolation!r}; choose from: "
                         f"{', '.join(INTERPOLATIONS)}")
    height, width = image_size
    return keras.layers.Resizing(height, width, interpolation=interpolation,
                                 crop_to_aspect_ratio=bool(crop_to_aspect_ratio), dtype="float32",
                                 name="resize")


def load_raw(root, split, *, image_size, channels=None, interpolation="bilinear",
             crop_to_aspect_ratio=False, validation_fraction=None, test_fraction=None):
    """A `RawSplit` of float32 images (H, W, C) on 0..255, resized to `image_size`."""
    import tensorflow as tf

    if image_size is None:
        raise ValueError(f"{root} is an image folder of many image sizes; give image_size=")
    channels = channels or 3
    index = scan(root, validation_fraction=validation_fraction, test_fraction=test_fraction)
    sizes = {name: len(pairs) for name, pairs in index.splits.items()}
    base, start, stop = slice_split(split, sizes)
    pairs = index.splits[base][start:stop]
    if not pairs:
        raise ValueError(f"the {base} split of {root} has no images (give it a {base} folder or "
                         "more images per class)")
    paths = [path for path, _ in pairs]
    labels = np.array([label for _, label in pairs], dtype=np.int32)
    resize = resizer(image_size, interpolation, crop_to_aspect_ratio)

    def decode(path):
        image = tf.numpy_function(lambda p: read_image(p.decode(), channels), [path], tf.uint8,
                                  stateful=False)
        image.set_shape((None, None, channels))
        return resize(tf.cast(image, tf.float32))  # as the saved model's float input

    ds = tf.data.Dataset.from_tensor_slices((paths, labels)).map(
        lambda path, label: (decode(path), label), num_parallel_calls=tf.data.AUTOTUNE)
    options = dict(image_size=image_size, channels=channels, interpolation=interpolation,
                   crop_to_aspect_ratio=crop_to_aspect_ratio,
                   validation_fraction=validation_fraction, test_fraction=test_fraction)
    return RawSplit(
        dataset=ds,
        num_classes=len(index.class_names),
        image_shape=(*image_size, channels),
        class_names=index.class_names,
        num_examples=len(pairs),
        train=lambda: load_raw(root, "train", **options),
        cache_bytes=len(pairs) * int(np.prod(image_size)) * channels * 4,
        files=tuple(paths),
    )


def info(root, *, validation_fraction=None, test_fraction=None):
    """`DatasetInfo` of an image folder: its classes, training-split size and skipped files."""
    index = scan(root, validation_fraction=validation_fraction, test_fraction=test_fraction)
    return DatasetInfo(os.fspath(root), len(index.class_names), (None, None, 3),
                               index.class_names, len(index.splits["train"]),
                               skipped=index.skipped)
