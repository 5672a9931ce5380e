"""examples/train_cifar.py runs through the library (--smoke: synthetic data, a few steps)."""

import json

import pytest
from _scripts import load_script  # tests/ is on pytest's pythonpath

pytestmark = pytest.mark.tf_only

def test_train_cifar_smoke_run(tmp_path, capsys):
    example = load_script("examples/train_cifar.py")
    assert example.RECIPE["recipe"] == "he-cifar" and example.RECIPE["dataset"] == "cifar10"
    status = example.main(["--smoke", "--model", "lenet5", "--run-dir", str(tmp_path / "run")])
    assert status == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["recipe"] == "he-cifar" and metrics["dataset"] == "synthetic"
    assert capsys.readouterr().out.splitlines()[-1].startswith("test accuracy ")


def test_train_cifar_bad_model_is_one_line_and_status_2(tmp_path, capsys):
    example = load_script("examples/train_cifar.py")
    status = example.main(["--model", "resnet21", "--run-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert status == 2 and len(err.strip().splitlines()) == 1 and "Unknown model" in err
