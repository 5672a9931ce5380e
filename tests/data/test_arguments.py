"""`kcnn.data.load` arguments: a table of splits and sizes (refused as tensorflow-datasets refuses
them), data sets given as paths that are not folders, the offline miss of a downloadable set, the
run's data paths stored absolute, and kcnn.data free of import cycles."""

import gzip
import time

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
import kcnn.data
from kcnn import cli
from kcnn.data import files

pytestmark = pytest.mark.tf_only


@pytest.fixture(autouse=True)
def _offline_and_isolated(offline_home):
    return offline_home


# name, split, extra options, the number of examples or the error expected
CASES = [
    ("digits", "train", {}, 1437),
    ("digits", "test", {}, 360),
    ("digits", "train[:90%]", {}, 1293),
    ("digits", "train[90%:]", {}, 144),
    ("digits", "train[-100:]", {}, 100),
    ("digits", "train[:100%]", {}, 1437),
    ("digits", "train[-100%:]", {}, 1437),
    ("digits", "test[10:20]", {}, 10),
    ("digits", "train[:150%]", {}, r"percent bounds must lie in \[-100%, 100%\]; got 150%"),
    ("digits", "train[-101%:]", {}, r"percent bounds must lie in \[-100%, 100%\]"),
    ("digits", "train[50%:10%]", {}, r"selects no examples \(from 718 to 144"),
    ("digits", "train[:0]", {}, "selects no examples"),
    ("digits", "train[5:5]", {}, "selects no examples"),
    ("digits", "train[:0%]", {}, "selects no examples"),
    ("digits", "train[:5000]", {}, r"has 1437 examples, so absolute bounds must lie in "
                                   r"\[-1437, 1437\]; got 5000"),
    ("digits", "train[-5000:]", {}, "absolute bounds must lie in"),
    ("digits", "train[1..2:]", {}, "is not a number of examples or a percentage"),
    ("digits", "validation", {}, r"Unknown split 'validation'; use one of \['test', 'train'\]"),
    ("digits", "train[::2]", {}, "Unknown split"),
    ("synthetic", "train", {"num_examples": 40}, 40),
    ("synthetic", "test", {"num_examples": 40}, 10),
    ("synthetic", "train[:25%]", {"num_examples": 40}, 10),
    ("synthetic", "train", {"num_examples": 0}, "num_examples must be a positive int; got 0"),
    ("synthetic", "train", {"num_examples": -7}, "num_examples must be a positive int; got -7"),
    ("synthetic", "train", {"num_examples": 2.5}, "num_examples must be a positive int"),
    ("synthetic", "train", {"num_examples": True}, "num_examples must be a positive int"),
    ("synthetic", "train", {"num_classes": 0}, "num_classes must be a positive int; got 0"),
    ("synthetic", "train", {"num_examples": 4, "num_classes": 2}, 4),
    ("synthetic", "train", {"image_size": 0}, "image_size must be a positive int"),
    ("synthetic", "train", {"image_size": (8, 8, 8)}, "image_size must be a positive int"),
    ("digits", "train", {"num_examples": 10}, "options of the 'synthetic' data set only"),
]


@pytest.mark.parametrize("name, split, options, expected", CASES,
                         ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CASES])
def test_load_splits_and_sizes(name, split, options, expected):
    if isinstance(expected, int):
        ds, info = kcnn.data.load(name, split, 64, shuffle=False, **options)
        assert info.num_examples == expected
        assert sum(len(y) for _, y in ds) == expected
    else:
        with pytest.raises(ValueError, match=expected):
            kcnn.data.load(name, split, 64, **options)


@pytest.mark.parametrize("batch_size", [0, -1, 2.0, True, "8"])
def test_batch_size_must_be_a_positive_int(batch_size):
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        kcnn.data.load("digits", "train", batch_size)


def test_a_percent_slice_of_files_is_refused_as_for_tfds(tmp_path):
    for split, (images, labels) in files.IDX_FILES.items():
        n = 20 if split == "train" else 5
        for stem, shape in ((images, (n, 28, 28)), (labels, (n,))):
            header = bytes([0, 0, 8, len(shape)]) + b"".join(d.to_bytes(4, "big") for d in shape)
            pixels = bytes(int(np.prod(shape)))
            (tmp_path / f"{stem}.gz").write_bytes(gzip.compress(header + pixels))
    with pytest.raises(ValueError, match="percent bounds must lie"):
        kcnn.data.load("mnist", "train[:150%]", 8, data_dir=str(tmp_path))
    _, info = kcnn.data.load("mnist", "train[:50%]", 8, data_dir=str(tmp_path))
    assert info.num_examples == 10


# ------------------------------------------------------------------------- data sets as paths


def test_a_dataset_path_that_is_a_file_missing_or_moved_is_named(tmp_path, monkeypatch):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    with pytest.raises(ValueError, match=r"notes\.txt is a file, not a data set"):
        kcnn.data.load(str(a_file), "train", 8)
    with pytest.raises(ValueError, match=r"notes\.txt is a file"):
        kcnn.data.info(str(a_file))
    missing = tmp_path / "gone" / "photos"
    with pytest.raises(ValueError, match=f"no folder {missing}: .*moved or deleted"):
        kcnn.data.info(str(missing))
    (tmp_path / "photos").mkdir()
    monkeypatch.chdir(tmp_path / "home")  # a relative folder seen from elsewhere: moved
    for name in ("../nowhere/photos", "./photos", "my photos"):
        with pytest.raises(ValueError, match=r"no folder .*photos") as caught:
            kcnn.data.load(name, "train", 8)
        assert "Parsing builder name" not in str(caught.value)


@pytest.mark.parametrize("kind", ["file", "missing"])
def test_cli_dataset_path_errors_are_one_line(tmp_path, capsys, kind):
    path = tmp_path / "data.csv"
    if kind == "file":
        path.write_text("a,b\n")
    status = cli.main(["train", "--dataset", str(path), "--run-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert str(path) in err and "Parsing builder name" not in err
    assert not (tmp_path / "r").exists()


def test_cli_offline_miss_is_one_line_at_once_and_writes_nothing(tmp_path, capsys, monkeypatch,
                                                                  _offline_and_isolated):
    import tensorflow_datasets as tfds

    def no_download(self, *args, **kwargs):
        raise AssertionError("tfds was asked to download")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", no_download)
    before = sorted(p.name for p in _offline_and_isolated.iterdir())
    start = time.perf_counter()
    status = cli.main(["train", "--dataset", "cifar10", "--run-dir", str(tmp_path / "r")])
    elapsed = time.perf_counter() - start
    captured = capsys.readouterr()
    assert status == 2 and elapsed < 10
    assert len(captured.err.strip().splitlines()) == 1, captured.err
    assert "Data set 'cifar10' was not found" in captured.err and "offline" in captured.err
    assert "Dl Completed" not in captured.err + captured.out  # no tfds progress bars
    assert sorted(p.name for p in _offline_and_isolated.iterdir()) == before
    assert not (tmp_path / "r").exists()


def test_the_run_stores_its_data_paths_absolute(tmp_path, monkeypatch):
    from kcnn.training.config import TrainConfig

    (tmp_path / "photos").mkdir()
    (tmp_path / "idx").mkdir()
    monkeypatch.chdir(tmp_path)
    config = TrainConfig(dataset="photos", data_dir="idx", run_dir="r").resolved()
    assert config.dataset == str(tmp_path / "photos")
    assert config.data_dir == str(tmp_path / "idx")
    assert TrainConfig(dataset="mnist").resolved().dataset == "mnist"


def test_train_and_evaluate_from_original_files_then_from_another_directory(tmp_path, capsys,
                                                                           monkeypatch):
    """`kcnn train --dataset mnist --data-dir D` on small IDX files, and `kcnn evaluate RUN`
    from another working directory finds them again (config.json holds D absolute)."""
    import json

    rng = np.random.default_rng(0)
    data = tmp_path / "work" / "idx"
    data.mkdir(parents=True)
    for split, (images, labels) in files.IDX_FILES.items():
        n = 40 if split == "train" else 20
        y = np.arange(n) % 10
        x = (rng.integers(0, 60, (n, 28, 28)) + 19 * y[:, None, None]).astype(np.uint8)
        for stem, array in ((images, x), (labels, y.astype(np.uint8))):
            header = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big")
                                                            for d in array.shape)
            (data / f"{stem}.gz").write_bytes(gzip.compress(header + array.tobytes()))
    monkeypatch.chdir(tmp_path / "work")
    status = cli.main(["train", "--dataset", "mnist", "--data-dir", "idx", "--epochs", "1",
                       "--image-size", "32", "--batch-size", "16", "--run-dir", "run",
                       "--seed", "1", "--verbose", "0"])
    assert status == 0, capsys.readouterr().err
    config = json.loads((tmp_path / "work" / "run" / "config.json").read_text())
    assert config["data_dir"] == str(data)
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert cli.main(["evaluate", str(tmp_path / "work" / "run"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["test_examples"] == 20 and result["dataset"] == "mnist"
