"""benchmarks/reproduce.py: named reproductions run `kcnn train` per seed and record JSON.

The fast test runs the script end to end on small MNIST files in the original IDX format that it
writes itself; the slow one runs a shortened reproduction on the real files when KCNN_DATA_DIR
names their folder.
"""

import gzip
import json
import os
import pathlib
import struct

import numpy as np
import pytest
from _scripts import load_script  # tests/ is on pytest's pythonpath


@pytest.fixture(scope="module")
def reproduce():
    return load_script("benchmarks/reproduce.py")


def write_idx(path, array):
    """`array` (uint8) as a gzipped IDX file: magic 0x0000 0x08 ndim, big-endian int32 sizes."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}i", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def write_mnist(folder, *, train=60, test=20):
    """Tiny MNIST-format files: class k is a bright 6x6 square at a position of its own."""
    rng = np.random.default_rng(0)
    os.makedirs(folder, exist_ok=True)
    for prefix, n in (("train", train), ("t10k", test)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 40, size=(n, 28, 28)).astype(np.uint8)
        for i, k in enumerate(labels):
            row, col = divmod(int(k), 5)
            images[i, 2 + 12 * row:8 + 12 * row, 2 + 5 * col:8 + 5 * col] = 255
        write_idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte.gz"), images)
        write_idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte.gz"), labels)
    return folder


def test_a_shortened_reproduction_trains_on_idx_files_and_records_the_run(reproduce, tmp_path,
                                                                          capsys):
    data = write_mnist(str(tmp_path / "mnist"))
    results = tmp_path / "results"
    code = reproduce.main(["lenet5-mnist", "--data-dir", data, "--seeds", "3", "--epochs", "1",
                           "--steps-per-epoch", "2", "--runs-dir", str(tmp_path / "runs"),
                           "--results-dir", str(results)])
    assert code == 0
    (path,) = results.iterdir()
    assert path.name.startswith("reproduce-lenet5-mnist-") and path.suffix == ".json"
    result = json.loads(path.read_text())
    assert result["shortened"] is True and result["seeds"] == [3]
    (run,) = result["runs"]
    assert run["command"] == (f"kcnn train --dataset mnist --data-dir {data} --epochs 1 "
                              "--steps-per-epoch 2 --seed 3")
    assert run["seed"] == 3 and run["epochs"] == 1 and run["test_examples"] == 20
    assert run["test_model"] == "final"
    assert run["input_shape"] == [32, 32, 1]  # LeNet-5's fixed-size head: 28x28 resized
    assert run["recipe"]["recipe"] == "adam" and run["recipe"]["schedule"] == "cosine"
    # the run's own metrics.json says the same
    metrics = json.loads((tmp_path / "runs" / os.path.basename(run["run_dir"]) /
                          "metrics.json").read_text())
    assert metrics["test_accuracy"] == run["test_accuracy"]
    percent = round(100 * run["test_accuracy"], 2)
    assert result["test_accuracy_percent"] == {"median": percent, "mean": percent,
                                               "min": percent, "max": percent}
    assert result["meets_target"] == (percent >= 99.0)
    assert result["machine"]["cpu"]["model_name"] and "keras" in result["machine"]["versions"]
    out = capsys.readouterr().out
    assert f"wrote {path}" in out and "seed 3 on mnist: test accuracy" in out


def test_summary_is_the_median_and_range_in_percent(reproduce):
    assert reproduce.summarise([0.9901, 0.9923, 0.9899]) == {
        "median": 99.01, "mean": 99.08, "min": 98.99, "max": 99.23}
    assert reproduce.summarise([0.5, 0.7])["median"] == 60.0


def test_shortening_replaces_a_reproductions_own_epochs(reproduce):
    resnet = reproduce.REPRODUCTIONS["resnet20-fashion-mnist"]
    arguments = reproduce.train_arguments(resnet, dataset="fashion_mnist", data_dir="D", seed=2,
                                          epochs=1)
    assert arguments.count("--epochs") == 1
    assert arguments[arguments.index("--epochs") + 1] == "1"
    assert arguments[:4] == ["--dataset", "fashion_mnist", "--data-dir", "D"]
    assert arguments[-2:] == ["--seed", "2"]
    # digits is in memory: no --data-dir
    throughput = reproduce.REPRODUCTIONS["throughput-mnist-digits"]
    assert "--data-dir" not in reproduce.train_arguments(throughput, dataset="digits",
                                                         data_dir="D", seed=1)


def test_result_files_are_never_overwritten(reproduce, tmp_path):
    first = reproduce.result_path(str(tmp_path), "lenet5-mnist", "2026-12-04")
    open(first, "w").close()
    second = reproduce.result_path(str(tmp_path), "lenet5-mnist", "2026-12-04")
    assert (os.path.basename(first), os.path.basename(second)) == (
        "reproduce-lenet5-mnist-2026-12-04.json", "reproduce-lenet5-mnist-2026-12-04-2.json")


def test_bad_arguments_exit_2_with_one_line(reproduce, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("KCNN_DATA_DIR", raising=False)
    assert reproduce.main(["lenet5-mnsit", "--data-dir", str(tmp_path)]) == 2
    assert "unknown reproduction(s) lenet5-mnsit; choose from: lenet5-mnist" in \
        capsys.readouterr().err
    assert reproduce.main(["lenet5-mnist"]) == 2
    assert "give --data-dir" in capsys.readouterr().err


@pytest.mark.slow
def test_lenet5_learns_real_mnist_in_one_short_epoch(reproduce, tmp_path):
    data = os.environ.get("KCNN_DATA_DIR")
    if not data:
        pytest.skip("KCNN_DATA_DIR (the folder of the original MNIST files) is not set")
    results = tmp_path / "results"
    assert reproduce.main(["lenet5-mnist", "--data-dir", data, "--seeds", "1", "--epochs", "1",
                           "--steps-per-epoch", "200", "--runs-dir", str(tmp_path / "runs"),
                           "--results-dir", str(results)]) == 0
    (path,) = results.iterdir()
    (run,) = json.loads(path.read_text())["runs"]
    assert run["test_examples"] == 10_000
    assert run["test_accuracy"] > 0.9  # 200 steps of 64 images


def test_table_shows_the_newest_full_result_of_each_reproduction(reproduce, tmp_path):
    def result(date, accuracies, shortened=False):
        runs = [{"command": f"kcnn train --dataset mnist --seed {s}", "epochs": 20,
                 "wall_time_s": 100.0 + s, "precision": "mixed_bfloat16"}
                for s in range(len(accuracies))]
        return {"reproduction": {"name": "lenet5-mnist", "published": 99.05, "source": "paper",
                                 "target": 99.0},
                "shortened": shortened, "seeds": list(range(len(accuracies))), "runs": runs,
                "test_accuracy_percent": reproduce.summarise(accuracies),
                "meets_target": reproduce.summarise(accuracies)["median"] >= 99.0,
                "machine": {"date": date, "label": "CPU X"}}

    files = {"reproduce-lenet5-mnist-2026-12-04.json": result("2026-12-04 19:00 UTC", [0.98] * 3),
             "reproduce-lenet5-mnist-2026-12-04-2.json": result("2026-12-04 20:00 UTC",
                                                                [0.991, 0.993, 0.992]),
             "reproduce-lenet5-mnist-2026-12-04-3.json": result("2026-12-04 21:00 UTC", [0.5],
                                                                shortened=True)}
    for name, content in files.items():
        (tmp_path / name).write_text(json.dumps(content))
    lines = reproduce.table(str(tmp_path)).splitlines()
    assert len(lines) == 3
    assert lines[2] == ("| lenet5-mnist | 99.05% (paper) | 99.20% (99.10-99.30), seeds 0, 1, 2; "
                        "target 99.0%: met | mixed_bfloat16 | 20 | 101 s | CPU X | "
                        "`kcnn train --dataset mnist --seed S` | "
                        "reproduce-lenet5-mnist-2026-12-04-2.json |")


def test_the_readme_table_is_the_one_the_result_files_give(reproduce):
    readme = (pathlib.Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf8")
    begin = "<!-- python benchmarks/reproduce.py --table -->"
    end = "<!-- end of the reproduce.py table -->"
    copy = readme.split(begin, 1)[1].split(end, 1)[0].strip("\n")
    assert copy == reproduce.table(reproduce.RESULTS), (
        f"README.md's results table differs from the result files: paste the output of "
        f"`python benchmarks/reproduce.py --table` between {begin} and {end}")


def test_the_table_shows_the_data_folder_as_dir_and_the_seed_as_s(reproduce):
    command = "kcnn train --dataset mnist --data-dir '/home/me/my data/mnist' --epochs 3 --seed 7"
    assert reproduce.shown_command(command) == (
        "kcnn train --dataset mnist --data-dir DIR --epochs 3 --seed S")
