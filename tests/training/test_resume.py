"""A training subprocess killed mid-run resumes from its backup with `--run-dir DIR --resume`."""

import json
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.tf_only

EPOCHS = 8
KILL_AFTER = 2  # epochs saved by BackupAndRestore before the SIGKILL


def test_killed_run_resumes_from_the_saved_epoch_and_finishes(tmp_path, subprocess_env):
    run_dir = tmp_path / "run"
    command = [sys.executable, "-m", "kcnn", "train", "--epochs", str(EPOCHS), "--seed", "3",
               "--schedule", "plateau", "--run-dir", str(run_dir), "--verbose", "2"]
    meta = run_dir / "backup" / "training_metadata.json"
    first = subprocess.Popen(command, env=subprocess_env(), stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    saved = 0
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and first.poll() is None:
            try:
                saved = json.loads(meta.read_text())["epoch"]
            except (OSError, ValueError, KeyError):
                saved = 0
            if saved >= KILL_AFTER:
                first.send_signal(signal.SIGKILL)
                break
            time.sleep(0.05)
    finally:
        if first.poll() is None:
            first.kill()
        first.wait()
    assert first.returncode == -signal.SIGKILL, f"not killed mid-run: {first.stderr.read()[-2000:]}"
    state = json.loads(meta.read_text())
    assert "plateau" in state and "checkpoint_best" in state  # what BackupAndRestore leaves out
    assert (run_dir / "backup" / state["weights"]).exists()
    saved = state["epoch"]
    assert KILL_AFTER <= saved < EPOCHS

    # The command the trainer prints when interrupted: the run directory and --resume alone.
    resume = [sys.executable, "-m", "kcnn", "train", "--run-dir", str(run_dir), "--resume",
              "--verbose", "2"]
    second = subprocess.run(resume, env=subprocess_env(), capture_output=True, text=True,
                            timeout=240, check=False)
    assert second.returncode == 0, second.stderr[-3000:]
    assert f"resuming {run_dir} after epoch {saved} of {EPOCHS}" in second.stdout
    assert f"Epoch {saved + 1}/{EPOCHS}" in second.stdout and "Epoch 1/" not in second.stdout
    rows = (run_dir / "log.csv").read_text().splitlines()[1:]
    assert [int(r.split(",")[0]) for r in rows] == list(range(EPOCHS))  # each epoch once
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["epochs"] == EPOCHS and metrics["resumed_from_epoch"] == saved
    assert not (run_dir / "backup").exists()
