"""The records every data source shares: `DatasetInfo` (what a trainer sees), `RawSplit` (what a
source hands the pipeline), `DatasetNotAvailableError`, and tfds-style split strings.

Sources (`kcnn.data.sources`, `kcnn.data.files`, `kcnn.data.folder`) import this module and never
one another's internals in a circle: base <- files, folder <- sources <- pipeline.
"""

import dataclasses
import re


class DatasetNotAvailableError(ValueError):
    """A data set is neither prepared by tensorflow-datasets nor found as its original files,
    and cannot be downloaded."""


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What a trainer needs to size a model, as the pipeline delivers the data.

    Attributes:
        name: the data set's name, e.g. "cifar10".
        num_classes: number of classes.
        image_shape: (height, width, channels) of the delivered images, after `image_size` and
            `channels`. A dimension is None only from `info()` for a variable-size data set.
        class_names: one name per class (tfds says '0'..'9' for some sets until they are prepared).
        num_examples: examples in the loaded split, or None when unknown (e.g. under
            `tfds.testing.mock_data`, whose split metadata is empty).
        soft_labels: True when labels are float one-hot (soft) targets, i.e. mixup or cutmix is on.
        skipped: image folders: ((path, reason), ...) for each file that is not a readable image.
        files: image folders: the loaded split's files, in the data set's order (unshuffled).
        mean, std: the per-channel "mean_std" normalisation applied (0..1 scale), else None.
    """

    name: str
    num_classes: int
    image_shape: tuple
    class_names: tuple
    num_examples: int | None = None
    soft_labels: bool = False
    skipped: tuple = ()
    files: tuple = ()
    mean: tuple | None = None
    std: tuple | None = None


@dataclasses.dataclass
class RawSplit:
    """An unbatched split of uint8 images and int32 labels, and what is known about it."""

    dataset: object  # tf.data.Dataset of (uint8 (H, W, C), int32 ())
    num_classes: int
    image_shape: tuple  # native shape; (None, None, C) for variable-size sets
    class_names: tuple
    num_examples: int | None
    train: object  # callable -> RawSplit of the full training split (for statistics)
    stats_file: str | None = None  # where fitted statistics may be cached on disk
    cache_bytes: int | None = None  # memory a cache of the split would take, when not uint8
    files: tuple = ()  # image folders: the split's files, in order
    source: str | None = None  # original files: the folder or file the split was read from


# ---------------------------------------------------------------------------------------------
# Split strings: "train", "test", "train[:90%]", "train[90%:]", "train[100:200]"

_SPLIT = re.compile(r"^\s*(\w+)\s*(?:\[\s*(-?[\d.]*%?)\s*:\s*(-?[\d.]*%?)\s*\])?\s*$")
_NUMBER = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)%$|^-?\d+$")


def slice_split(split, sizes):
    """(split name, start, stop) for a tfds-style split string over splits of known `sizes`.

    As tensorflow-datasets: percent bounds must lie in [-100%, 100%] and are rounded to the
    closest example; absolute bounds must lie within the split (negative ones count from its
    end); a slice that selects no example is refused.

    Raises:
        ValueError: an unknown split name, a malformed slice, a bound out of range, or an empty
            selection, each saying what is allowed.
    """
    match = _SPLIT.match(split) if isinstance(split, str) else None
    if not match or match.group(1) not in sizes:
        raise ValueError(
            f"Unknown split {split!r}; use one of {sorted(sizes)}, optionally sliced like "
            f"'train[:90%]', 'train[90%:]' or 'train[100:200]'"
        )
    name, lo, hi = match.groups()
    n = sizes[name]

    def bound(text, default):
        if not text:
            return default
        if not _NUMBER.match(text):
            raise ValueError(f"Unknown split {split!r}: {text!r} is not a number of examples or "
                             "a percentage (e.g. 'train[:90%]' or 'train[100:200]')")
        if text.endswith("%"):
            percent = float(text[:-1])
            if not -100 <= percent <= 100:
                raise ValueError(f"split {split!r}: percent bounds must lie in [-100%, 100%]; "
                                 f"got {text}")
            value = round(percent * n / 100)
        else:
            value = int(text)
            if not -n <= value <= n:
                raise ValueError(f"split {split!r}: the {name} split has {n} examples, so "
                                 f"absolute bounds must lie in [-{n}, {n}]; got {value}")
        return value + n if value < 0 else value

    start, stop = bound(lo, 0), bound(hi, n)
    if stop <= start:
        raise ValueError(f"split {split!r} selects no examples (from {start} to {stop} of the "
                         f"{n} in {name}); give a slice whose end lies after its start")
    return name, start, stop


def image_size_pair(image_size):
    """(height, width) from an int or a pair; a ValueError for anything else."""
    def positive(value):
        return isinstance(value, int) and not isinstance(value, bool) and value > 0

    pair = (image_size, image_size) if positive(image_size) else image_size
    if not isinstance(pair, (tuple, list)) or len(pair) != 2 or not all(map(positive, pair)):
        raise ValueError("image_size must be a positive int or (height, width); got "
                         f"{image_size!r}")
    return tuple(pair)
