"""`kcnn train` with no arguments (the README's main job), `kcnn evaluate`, and the error paths."""

import json

import numpy as np
import pytest

import kcnn.training
from kcnn import cli

pytestmark = pytest.mark.tf_only


@pytest.fixture(scope="module")
def default_run(tmp_path_factory, kcnn_cli):
    """`kcnn train` with no arguments at all, run once for this file's tests in an empty directory:
    (completed process, run directory)."""
    cwd = tmp_path_factory.mktemp("noargs")
    proc = kcnn_cli(["train"], cwd=cwd)
    runs = sorted((cwd / "runs").glob("lenet5-digits-*")) if (cwd / "runs").exists() else []
    return proc, (runs[0] if runs else None)


def test_no_argument_run_trains_lenet5_on_digits_to_95_percent(default_run):
    proc, run_dir = default_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert run_dir is not None
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["model"] == "lenet5" and metrics["dataset"] == "digits"
    assert metrics["test_accuracy"] >= 0.95, metrics["test_accuracy"]
    assert metrics["test_examples"] == 360
    lines = proc.stdout.splitlines()
    assert any(ln.startswith("kcnn train: lenet5 on digits: test accuracy") for ln in lines)
    assert any(ln.startswith(f"kcnn train: artifacts in runs/{run_dir.name}") for ln in lines)
    assert "Traceback" not in proc.stderr


def test_evaluate_command_prints_members_and_ensemble(default_run, capsys):
    _, run_dir = default_run
    assert cli.main(["evaluate", str(run_dir), str(run_dir)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "digits test split, 360 images"
    ensemble = [ln for ln in out if ln.startswith("ensemble of 2")]
    assert len(ensemble) == 1 and ensemble[0].count("%") == 2  # accuracy and top-5
    assert out[1].split() == ["run", "model", "accuracy", "top-5", "loss"]
    assert [ln.split()[0] for ln in out if ln[:1].isdigit()] == [str(d) for d in range(10)]


def test_evaluate_reports_each_member_and_the_softmax_ensemble(tmp_path, default_run):
    _, first = default_run
    assert first is not None, "the no-argument run did not finish"
    second = kcnn.training.train(epochs=2, seed=5, verbose=0, run_dir=str(tmp_path / "b"))
    result = kcnn.training.evaluate([first, second.run_dir])
    assert result["dataset"] == "digits" and result["test_examples"] == 360
    members = result["members"]
    assert [m["model"] for m in members] == ["lenet5", "lenet5"]
    first_metrics = json.loads((first / "metrics.json").read_text())
    assert members[0]["accuracy"] == pytest.approx(first_metrics["test_accuracy"])
    assert members[1]["accuracy"] == pytest.approx(second.metrics["test_accuracy"])
    assert 0.5 < result["ensemble"]["accuracy"] <= 1
    # The ensemble averages softmax outputs, so (cross-entropy being convex) its loss is at
    # most the members' mean loss.
    assert result["ensemble"]["loss"] <= np.mean([m["loss"] for m in members]) + 1e-6


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "lenet7"], "Unknown model 'lenet7'"),
        (["--dataset", "imagenet_nope"], "Unknown data set 'imagenet_nope'"),
        (["--optimizer", "adagrad"], "unknown optimizer 'adagrad'; choose from: sgd"),
        (["--schedule", "linear"], "unknown schedule 'linear'; choose from: constant"),
        (["--epochs", "0"], "epochs must be an integer >= 1"),
        (["--batch-size", "0"], "batch_size must be an integer >= 1"),
        (["--image-size", "8"], "lenet5 needs inputs of at least 16x16"),
        (["--augment", "sparkle"], "unknown augment 'sparkle'"),
        (["--precision", "float8"], "unknown precision 'float8'"),
        (["--epochs", "three"], "argument --epochs: invalid int value"),
        (["--resume"], "resume needs the run directory"),
    ],
)
def test_bad_input_is_one_line_and_exit_status_2(args, message, capsys, tmp_path):
    try:
        status = cli.main(["train", "--run-dir", str(tmp_path / "r"), *args]
                          if "--resume" not in args else ["train", *args])
    except SystemExit as exit:  # argparse's own errors
        status = exit.code
    err = capsys.readouterr().err
    assert status == 2
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert not (tmp_path / "r").exists()  # nothing written for a bad command


def test_evaluate_rejects_a_directory_that_is_not_a_run(tmp_path, capsys):
    assert cli.main(["evaluate", str(tmp_path)]) == 2
    assert "is not a finished kcnn run" in capsys.readouterr().err
