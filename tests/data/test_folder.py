"""Image folders as data sets: classes, the stable stratified split, split folders, image modes
and formats, bad files reported by path, clear errors, and the tf.data pipeline over them."""

import pathlib
import shutil

import numpy as np
import pytest
from _scripts import make_photos  # tests/ is on pytest's pythonpath

tf = pytest.importorskip("tensorflow")
from PIL import Image

import kcnn.data
from kcnn.data import folder

pytestmark = pytest.mark.tf_only


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Two classes of 8 real photo crops each, in every format and mode."""
    root = tmp_path_factory.mktemp("photos") / "photos"
    make_photos(root, per_class=8)
    return root


def copy(src, dst):
    shutil.copytree(src, dst)
    return dst


def test_classes_sorted_and_split_stratified(photos):
    index = folder.scan(photos)
    assert index.class_names == ("china", "flower") and not index.skipped
    for label in (0, 1):  # 8 per class: round(0.8) = 1 validation, round(1.6) = 2 test
        counts = {s: sum(1 for _, y in pairs if y == label) for s, pairs in index.splits.items()}
        assert counts == {"train": 5, "validation": 1, "test": 2}
    every = [p for pairs in index.splits.values() for p, _ in pairs]
    assert len(every) == len(set(every)) == 16


def test_split_is_the_same_anywhere_and_stable_when_files_are_added(photos, tmp_path):
    def relative(index):
        return {s: sorted(str(pathlib.Path(p).relative_to(index.root)) for p, _ in pairs)
                for s, pairs in index.splits.items()}

    first = relative(folder.scan(photos))
    moved = copy(photos, tmp_path / "elsewhere")
    assert relative(folder.scan(moved)) == first
    Image.new("RGB", (30, 30), (9, 9, 9)).save(moved / "china" / "extra.png")
    grown = relative(folder.scan(moved, test_fraction=0.2))
    for split in first:  # the other files keep their split or move only into "train"
        assert set(first[split]) - set(grown[split]) <= set(grown["train"])
    assert relative(folder.scan(photos, validation_fraction=0, test_fraction=0.5))["validation"] == []


def test_split_folders(tmp_path):
    for split, count in (("train", 6), ("val", 2), ("test", 3)):
        for name in ("ant", "bee"):
            (tmp_path / split / name).mkdir(parents=True)
            for i in range(count):
                Image.new("RGB", (20, 20), (i * 30, 0, 0)).save(tmp_path / split / name / f"{i}.png")
    index = folder.scan(tmp_path)
    assert index.split_folders and index.class_names == ("ant", "bee")
    assert {s: len(p) for s, p in index.splits.items()} == {"train": 12, "validation": 4, "test": 6}
    assert all("/val/" in p for p, _ in index.splits["validation"])
    shutil.rmtree(tmp_path / "val")  # carved from train instead: round(6 * 0.1) = 1 per class
    assert {s: len(p) for s, p in folder.scan(tmp_path).splits.items()} == {
        "train": 10, "validation": 2, "test": 6}


def test_every_mode_and_format_becomes_rgb_or_grey(tmp_path):
    rgb = np.random.RandomState(0).randint(0, 256, (12, 10, 3)).astype(np.uint8)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    Image.fromarray(np.dstack([rgb, np.full((12, 10), 7, np.uint8)])).save(tmp_path / "rgba.png")
    Image.fromarray(rgb).save(tmp_path / "rgb.bmp")
    Image.fromarray(rgb[..., 0]).save(tmp_path / "grey.jpg", quality=100)
    frames = [Image.fromarray(rgb).convert("P"), Image.new("P", (10, 12), 3)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    np.testing.assert_array_equal(folder.read_image(tmp_path / "rgba.png"), rgb)  # alpha dropped
    np.testing.assert_array_equal(folder.read_image(tmp_path / "rgb.bmp"), rgb)
    grey = folder.read_image(tmp_path / "grey.jpg")
    assert grey.shape == (12, 10, 3) and np.array_equal(grey[..., 0], grey[..., 2])
    assert folder.read_image(tmp_path / "grey.jpg", channels=1).shape == (12, 10, 1)
    first = np.asarray(frames[0].convert("RGB"))
    np.testing.assert_array_equal(folder.read_image(tmp_path / "anim.gif"), first)


def test_bad_files_are_skipped_and_reported_by_path(photos, tmp_path):
    root = copy(photos, tmp_path / "photos")
    (root / "china" / "empty.jpg").write_bytes(b"")
    (root / "china" / "notes.png").write_text("not an image")
    good = (root / "flower" / "flower_000.jpg").read_bytes()
    (root / "flower" / "cut.jpg").write_bytes(good[: len(good) // 2])
    Image.new("RGB", (8, 8)).save(root / "flower" / "image.tiff")
    with pytest.warns(UserWarning, match="skipped 4 unreadable file"):
        index = folder.scan(root)
    assert sorted(pathlib.Path(p).name for p, _ in index.skipped) == [
        "cut.jpg", "empty.jpg", "image.tiff", "notes.png"]
    reasons = {pathlib.Path(p).name: r for p, r in index.skipped}
    assert reasons["empty.jpg"] == "empty file" and "truncated" in reasons["cut.jpg"].lower()
    assert "TIFF" in reasons["image.tiff"]
    assert sum(len(p) for p in index.splits.values()) == 16  # every good file kept
    message = index.skipped_message()
    assert message.startswith("skipped 4 unreadable file(s)") and str(root / "china" / "empty.jpg") in message


@pytest.mark.parametrize("case, match", [
    ("missing", "is not a folder"),
    ("no_classes", "no class folders"),
    ("no_images", "no images in"),
    ("empty_class", "empty class folder .*bee"),
    ("single_class", "single class folder"),
    ("all_bad", "has no readable image"),
    ("val_without_train", "no train/ folder"),
])
def test_clear_errors_before_any_training(tmp_path, case, match):
    def image(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (9, 9)).save(path)

    root = tmp_path / "data"
    root.mkdir()
    if case == "no_classes":
        image(root / "loose.png")
        (root / "loose.png").rename(root / "x.png")
    elif case == "no_images":
        (root / "ant").mkdir()
        (root / "bee").mkdir()
    elif case == "empty_class":
        image(root / "ant" / "1.png")
        (root / "bee").mkdir()
    elif case == "single_class":
        image(root / "ant" / "1.png")
    elif case == "all_bad":
        image(root / "ant" / "1.png")
        (root / "bee").mkdir()
        (root / "bee" / "1.png").write_text("text")
    elif case == "val_without_train":
        image(root / "val" / "ant" / "1.png")
    target = tmp_path / "nowhere" if case == "missing" else root
    with pytest.raises(ValueError, match=match):
        folder.scan(target)
    with pytest.raises(ValueError, match="unreadable|no such file"):
        folder.read_image(tmp_path / "nowhere.png")


def test_pipeline_reads_resizes_with_keras_resizing_and_labels(photos):
    test, info = kcnn.data.load(str(photos), "test", 3, image_size=(20, 24), normalize=False,
                                shuffle=False, interpolation="bicubic", crop_to_aspect_ratio=True)
    images = np.concatenate([x for x, _ in test.as_numpy_iterator()])
    labels = np.concatenate([y for _, y in test.as_numpy_iterator()])
    assert images.shape == (4, 20, 24, 3) and labels.tolist() == [0, 0, 1, 1]
    assert info.class_names == ("china", "flower") and len(info.files) == 4
    resize = folder.resizer((20, 24), "bicubic", crop_to_aspect_ratio=True)
    for image, path in zip(images, info.files):
        expected = resize(folder.read_image(path).astype("float32"))
        np.testing.assert_array_equal(image, np.asarray(expected))
    train, info = kcnn.data.load(str(photos), "train", 4, image_size=16, augment="flip", seed=1)
    x, _ = next(iter(train))
    assert x.shape == (4, 16, 16, 3) and info.num_examples == 10 and info.mean is not None
    with pytest.raises(ValueError, match="give image_size"):
        kcnn.data.load(str(photos), "train", 4)
    with pytest.raises(ValueError, match="unknown interpolation"):
        kcnn.data.load(str(photos), "train", 4, image_size=16, interpolation="lanczos9")
