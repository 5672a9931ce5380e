"""Two JAX processes on loopback train one LeNet-5 together (keras.distribution.DataParallel
over both processes' CPU devices), and a run with one process killed resumes from the backup.

Each process is `kcnn train` with KERAS_DISTRIBUTION_JOB_ADDRESSES / _NUM_PROCESSES /
_PROCESS_ID; the port is picked free at run time, everything stays on 127.0.0.1, every process
runs under a deadline and is killed in a `finally`.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from kcnn.training import runtime
from tests.training.conftest import read_json, subprocess_env

DEADLINE_S = 240


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_pair(run_dir, scratch, *args):
    """Start processes 0 and 1 of one run; returns the two Popen objects."""
    port = free_port()
    command = [sys.executable, "-m", "kcnn", "train", "--run-dir", str(run_dir), "--verbose",
               "2", *args]
    pair = []
    for process_id in (0, 1):
        env = subprocess_env(KERAS_BACKEND="jax", TMPDIR=str(scratch),
                             KERAS_DISTRIBUTION_JOB_ADDRESSES=f"127.0.0.1:{port}",
                             KERAS_DISTRIBUTION_NUM_PROCESSES="2",
                             KERAS_DISTRIBUTION_PROCESS_ID=str(process_id))
        pair.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True))
    return pair


def finish(pair, timeout=DEADLINE_S):
    """Wait for both processes (killing any still running at the deadline); their outputs."""
    outputs = []
    try:
        for p in pair:
            out, _ = p.communicate(timeout=timeout)
            outputs.append(out)
    finally:
        stop(pair)
    return outputs


def stop(pair):
    for p in pair:
        if p.poll() is None:
            p.kill()
        p.wait()


@pytest.mark.parametrize("value", ["two", "0", "-1"])
def test_a_bad_process_count_is_named(monkeypatch, value):
    monkeypatch.setenv("KERAS_DISTRIBUTION_NUM_PROCESSES", value)
    with pytest.raises(ValueError, match=f"NUM_PROCESSES must be a positive whole number, not '{value}'"):
        runtime.process_count()


def test_several_processes_need_the_jax_backend(monkeypatch):
    monkeypatch.setenv("KERAS_DISTRIBUTION_NUM_PROCESSES", "2")
    monkeypatch.setattr(runtime.keras.backend, "backend", lambda: "tensorflow")
    with pytest.raises(ValueError, match="NUM_PROCESSES=2 needs the JAX backend"):
        runtime.process_count()
    monkeypatch.setattr(runtime.keras.backend, "backend", lambda: "jax")
    assert runtime.process_count() == 2
    monkeypatch.setenv("KERAS_DISTRIBUTION_NUM_PROCESSES", "1")
    monkeypatch.setattr(runtime.keras.backend, "backend", lambda: "tensorflow")
    assert runtime.process_count() == 1


def test_several_processes_choose_multi_worker_and_refuse_none():
    assert runtime.choose_distribution("auto", [], processes=2) == "multi-worker"
    assert runtime.choose_distribution("mirrored", [], processes=2) == "multi-worker"
    assert runtime.choose_distribution("auto", [], processes=1) == "none"
    with pytest.raises(ValueError, match="distribute none cannot run on the 2 processes"):
        runtime.choose_distribution("none", [], processes=2)


@pytest.mark.slow
@pytest.mark.tf_only
def test_two_processes_train_together_and_only_the_chief_writes(tmp_path):
    run_dir, scratch = tmp_path / "run", tmp_path / "scratch"
    scratch.mkdir()
    outputs = finish(start_pair(run_dir, scratch, "--epochs", "5", "--seed", "1",
                                "--batch-size", "64"))
    for process_id, out in enumerate(outputs):
        assert "test accuracy" in out, f"process {process_id} failed:\n{out[-3000:]}"
    metrics = read_json(run_dir / "metrics.json")
    assert (metrics["processes"], metrics["replicas"]) == (2, 2)
    assert metrics["distribute"] == "multi-worker" and metrics["epochs"] == 5
    assert metrics["test_accuracy"] >= 0.9  # single process, same batch: 0.93-0.96 (README)
    # Both processes trained the same model: they report the same test scores.
    scores = [line for out in outputs for line in out.splitlines() if "test accuracy" in line]
    assert len({s.split("test accuracy")[1].split(" after")[0] for s in scores}) == 1
    assert not list(scratch.iterdir())  # process 1's temporary run directory is gone
    assert not (run_dir / "backup").exists()
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "best.keras", "classes.json", "config.json", "confusion_matrix.png", "curves.png",
        "log.csv", "metrics.json", "model.keras", "tensorboard"]


@pytest.mark.slow
@pytest.mark.tf_only
def test_killing_one_process_then_restarting_both_resumes_from_the_backup(tmp_path):
    run_dir, scratch = tmp_path / "run", tmp_path / "scratch"
    scratch.mkdir()
    args = ("--epochs", "6", "--seed", "2", "--batch-size", "64")
    meta = run_dir / "backup" / "training_metadata.json"
    pair = start_pair(run_dir, scratch, *args)
    saved = 0
    try:
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline and all(p.poll() is None for p in pair):
            try:
                saved = json.loads(meta.read_text())["epoch"]
            except (OSError, ValueError, KeyError):
                saved = 0
            if saved >= 1:
                pair[1].send_signal(signal.SIGKILL)
                break
            time.sleep(0.05)
        assert pair[1].wait(timeout=30) == -signal.SIGKILL, "process 1 ended before the kill"
    finally:
        stop(pair)  # process 0 cannot go on alone
    assert not (run_dir / "metrics.json").exists()
    backed_up = json.loads(meta.read_text())["epoch"]
    assert 1 <= backed_up < 6

    outputs = finish(start_pair(run_dir, scratch, *args))
    for process_id, out in enumerate(outputs):
        assert "kcnn train: resuming " in out, f"process {process_id}:\n{out[-3000:]}"
        assert "after 6 epochs" in out
    metrics = read_json(run_dir / "metrics.json")
    assert metrics["resumed_from_epoch"] >= backed_up and metrics["epochs"] == 6
    assert metrics["test_accuracy"] >= 0.9
    assert not (run_dir / "backup").exists()
    # The killed process's temporary run directory too (a killed TensorFlow leaves autograph's).
    assert not [p for p in scratch.iterdir() if p.name.startswith("kcnn-")]
    assert os.path.exists(run_dir / "model.keras")
