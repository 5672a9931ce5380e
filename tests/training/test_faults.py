"""Faults during a run: a kill at every write point, a second trainer, a diverging loss, a full or
read-only disk, a run directory that is a file, sizes too large to allocate. Each ends in one
clear line (CLI: exit status 2), and a run is never lost: the same call finishes it.

A kill is simulated in the process by raising `Killed` (a BaseException, as KeyboardInterrupt)
from inside the write; the slow `test_a_sigkill_at_each_write_point_...` kills a real
`kcnn train` with SIGKILL at the same points.
"""

import errno
import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import kcnn
import kcnn.training
from kcnn.cli import main
from kcnn.training import callbacks, deploy, loop, report, rundir

pytestmark = pytest.mark.tf_only

EPOCHS = 3
SETTINGS = {"model": "lenet5", "dataset": "digits", "epochs": EPOCHS, "steps_per_epoch": 4,
            "batch_size": 32, "seed": 0, "verbose": 0}


class Killed(BaseException):
    """Stands for SIGKILL: nothing of the trainer's catches it."""


def train(run_dir, **changes):
    return kcnn.training.train(**{**SETTINGS, "run_dir": str(run_dir), **changes})


def in_report(model):
    """True for the saved raw-image model (preprocessing in front), which only the final save
    writes; the checkpoint during training saves the bare network."""
    return deploy.network_of(model) is not model


def kill_in_save(monkeypatch, name, when=lambda model: True):
    """Kill the process inside model.save of `name` (after part of the file is written) the
    first time `when(model)` holds."""
    save = keras.Model.save

    def dying_save(model, path, *args, **kwargs):
        if os.path.basename(str(path)).startswith((name, f".{name}")) and when(model):
            with open(path, "wb") as f:
                f.write(b"PK\x03\x04 half a zip file")
            raise Killed(name)
        return save(model, path, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "save", dying_save)


def after_first_backup(run_dir):
    meta = run_dir / "backup" / "training_metadata.json"
    return lambda model: meta.exists() and not in_report(model)


def kill_on_call(monkeypatch, owner, name, call=1):
    """Kill the process when `owner.name` is called for the `call`-th time."""
    original, calls = getattr(owner, name), []

    def dying(*args, **kwargs):
        calls.append(1)
        if len(calls) == call:
            raise Killed(name)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, dying)


KILL_POINTS = {
    # during the first epoch's backup: nothing finished yet, the rerun starts again (and says so)
    "first backup": (lambda mp, run: kill_on_call(mp, callbacks.Backup, "_save_model", 1), 0),
    # after epoch 2's log.csv row, before its backup
    "epoch 2 backup": (lambda mp, run: kill_on_call(mp, callbacks.Backup, "_save_model", 2), 1),
    # best.keras written by the checkpoint after a backup exists
    "checkpoint": (lambda mp, run: kill_in_save(mp, "best.keras", after_first_backup(run)), None),
    "final model.keras": (lambda mp, run: kill_in_save(mp, "model.keras", in_report), EPOCHS),
    "final best.keras": (lambda mp, run: kill_in_save(mp, "best.keras", in_report), EPOCHS),
    "metrics.json": (lambda mp, run: kill_on_call(mp, report, "write_metrics"), EPOCHS),
    "confusion matrix": (lambda mp, run: kill_on_call(mp, report, "plot_confusion"), EPOCHS),
    "backup removal": (lambda mp, run: kill_on_call(mp, loop, "discard_backup"), EPOCHS),
}


def assert_complete(run_dir, resumed_from=None):
    """The run directory as an uninterrupted run leaves it."""
    metrics = json.loads((run_dir / "metrics.json").read_text())
    rows = (run_dir / "log.csv").read_text().splitlines()[1:]
    assert [int(r.split(",")[0]) for r in rows] == list(range(EPOCHS))  # each epoch once
    assert metrics["epochs"] == EPOCHS
    if resumed_from is not None:
        assert metrics["resumed_from_epoch"] == resumed_from
    for name in ("model.keras", "best.keras"):
        model = kcnn.load_model(run_dir / name, compile=False)
        assert all(np.isfinite(w).all() for w in model.get_weights()), name
    assert json.loads((run_dir / "classes.json").read_text()) == [str(i) for i in range(10)]
    left = sorted(p.name for p in run_dir.iterdir() if p.name not in (
        "config.json", "log.csv", "metrics.json", "model.keras", "best.keras", "classes.json",
        "curves.png", "confusion_matrix.png", "tensorboard"))
    assert left == []  # no backup/, no temporary files


FAST = ("epoch 2 backup", "final model.keras", "backup removal")  # the default lane's share


@pytest.mark.parametrize("point", [
    pytest.param(p, marks=() if p in FAST else pytest.mark.slow) for p in KILL_POINTS])
def test_a_kill_at_any_write_point_loses_nothing_and_the_same_call_finishes(
        tmp_path, monkeypatch, capsys, point):
    run_dir = tmp_path / "run"
    inject, resumed_from = KILL_POINTS[point]
    with monkeypatch.context() as patch:
        inject(patch, run_dir)
        with pytest.raises(Killed):
            train(run_dir, verbose=2)
    for name in ("model.keras", "best.keras"):  # a final name is never half written
        if (run_dir / name).exists():
            kcnn.load_model(run_dir / name, compile=False)
    capsys.readouterr()
    result = train(run_dir, verbose=2)
    said = capsys.readouterr().out
    if resumed_from is None:  # the checkpoint's epoch depends on when accuracy improves
        resumed_from = result.metrics["resumed_from_epoch"]
        assert resumed_from >= 1
    assert_complete(run_dir, resumed_from)
    if resumed_from == EPOCHS:
        assert "finished training (3 epochs) before it was interrupted" in said
        assert "Epoch " not in said  # nothing trained again
    elif resumed_from:
        assert f"resuming {run_dir} after epoch {resumed_from} of {EPOCHS}" in said
        assert "Epoch 1/" not in said
    else:
        assert "holds no finished epoch of an earlier attempt; starting at epoch 1" in said


def test_resume_after_a_kill_in_the_final_save_finishes_the_run(tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    with monkeypatch.context() as patch:
        kill_in_save(patch, "model.keras", in_report)
        with pytest.raises(Killed):
            train(run_dir)
    assert not (run_dir / "model.keras").exists()
    result = kcnn.training.train(run_dir=str(run_dir), resume=True, verbose=0)
    assert result.metrics["resumed_from_epoch"] == EPOCHS
    assert_complete(run_dir, EPOCHS)
    with pytest.raises(ValueError, match="nothing to resume: .* holds a finished run"):
        kcnn.training.train(run_dir=str(run_dir), resume=True, verbose=0)


def test_a_kill_between_the_finetune_stages_continues_with_the_second(tmp_path, monkeypatch):
    # Stage 1 (classifier, lr) ends after epoch 1; the kill comes in stage 2's first backup.
    # The rerun restores stage 1's backup with stage 1's optimizer, then trains stage 2 anew.
    run_dir = tmp_path / "run"
    finetune = {"recipe": "finetune", "head_epochs": 1, "augment": "none"}
    with monkeypatch.context() as patch:
        kill_on_call(patch, callbacks.Backup, "_save_model", 2)
        with pytest.raises(Killed):
            train(run_dir, **finetune)
    meta = json.loads((run_dir / "backup" / "training_metadata.json").read_text())
    assert meta["epoch"] == 1  # the end of stage 1
    result = train(run_dir, **finetune)
    assert_complete(run_dir, 1)
    assert result.history["learning_rate"] == pytest.approx([1e-3, 1e-4, 1e-4])
    assert [s["name"] for s in result.metrics["stages"]] == ["head", "all"]


def test_a_backup_left_half_written_is_ignored(tmp_path, monkeypatch):
    # A kill inside save_weights leaves a temporary file; the previous epoch's backup holds.
    run_dir = tmp_path / "run"
    save_weights, calls = keras.Model.save_weights, []

    def dying(model, path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 2:
            with open(path, "wb") as f:
                f.write(b"\x89HDF half")
            raise Killed
        return save_weights(model, path, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(keras.Model, "save_weights", dying)
        with pytest.raises(Killed):
            train(run_dir)
    meta = json.loads((run_dir / "backup" / "training_metadata.json").read_text())
    assert meta["epoch"] == 1 and meta["weights"] == "epoch-1.weights.h5"
    assert train(run_dir).metrics["resumed_from_epoch"] == 1
    assert_complete(run_dir, 1)


# ----------------------------------------------------------------------------- one trainer


def hold_lock(run_dir, pid="4242"):
    run_dir.mkdir(parents=True, exist_ok=True)
    handle = open(run_dir / ".lock", "w")  # noqa: SIM115 (held until the test closes it)
    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    handle.write(pid)
    handle.flush()
    return handle


def test_a_second_trainer_is_refused_in_one_line_naming_the_directory(tmp_path, capsys):
    run_dir = tmp_path / "run"
    handle = hold_lock(run_dir)
    try:
        assert main(["train", "--run-dir", str(run_dir), "--epochs", "1"]) == 2
        with pytest.raises(ValueError, match=r"is in use by another kcnn train \(process 4242\)"):
            train(run_dir)
    finally:
        handle.close()
    err = capsys.readouterr().err.strip()
    assert err == (f"kcnn train: error: {run_dir} is in use by another kcnn train (process "
                   "4242); wait for it to end or choose another --run-dir")
    assert sorted(p.name for p in run_dir.iterdir()) == [".lock"]  # nothing else written


def test_a_lock_left_by_a_dead_trainer_is_taken_over(tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / ".lock").write_text("999999\n")  # no process holds it any more
    seen = []
    monkeypatch.setattr(loop, "_run_here", lambda plan, rt: seen.append(
        (run_dir / ".lock").read_text()))
    train(run_dir, epochs=1)
    assert seen == [f"{os.getpid()}\n"]  # taken over, with this process's id
    assert not (run_dir / ".lock").exists()  # and removed at the end


def test_a_lock_file_its_finishing_holder_removes_is_not_the_one_taken(tmp_path, monkeypatch):
    # The holder removes .lock on the way out just after this trainer opened it: the flock on
    # the removed file would lock nothing another trainer can see, so the new file is taken.
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / ".lock").write_text("1\n")
    real_open, opened = os.open, []

    def open_as_the_holder_leaves(path, flags, *args):
        handle = real_open(path, flags, *args)
        if str(path).endswith(".lock") and not opened:
            opened.append(handle)
            os.remove(path)
        return handle

    monkeypatch.setattr(os, "open", open_as_the_holder_leaves)
    with rundir.locked(str(run_dir)):
        assert (run_dir / ".lock").read_text() == f"{os.getpid()}\n"
        with pytest.raises(rundir.RunDirBusy):  # and it excludes the next trainer
            with rundir.locked(str(run_dir)):
                pass
    assert not (run_dir / ".lock").exists()


def test_a_run_finished_by_another_trainer_while_waiting_is_not_overwritten(
        tmp_path, monkeypatch):
    # The directory is empty when the run is resolved; another trainer finishes a run there
    # before the lock is taken: the second look under the lock refuses.
    run_dir = tmp_path / "run"
    locked = rundir.locked

    def finished_meanwhile(path):
        run_dir.mkdir()
        loop.resolve(**SETTINGS, run_dir=str(run_dir)).to_json(run_dir / "config.json")
        (run_dir / "metrics.json").write_text("{}")
        return locked(path)

    monkeypatch.setattr(rundir, "locked", finished_meanwhile)
    with pytest.raises(ValueError, match="already holds a finished run; choose another"):
        train(run_dir)
    assert (run_dir / "metrics.json").read_text() == "{}"
    assert not (run_dir / "log.csv").exists()


# ----------------------------------------------------------------------------- divergence


class PoisonWeights(keras.callbacks.Callback):
    """Sets the output layer's bias to NaN when epoch `epoch` (from 0) begins."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            bias = self.model.trainable_weights[-1]
            bias.assign(np.full(bias.shape, np.nan, bias.dtype))


def poison_at_epoch(monkeypatch, epoch):
    """Make every training stage's callbacks end with PoisonWeights(epoch)."""
    make_callbacks = loop.make_callbacks

    def poisoned(*args, **kwargs):
        found, checkpoint = make_callbacks(*args, **kwargs)
        return [*found, PoisonWeights(epoch=epoch)], checkpoint

    monkeypatch.setattr(loop, "make_callbacks", poisoned)


def test_a_non_finite_loss_stops_the_run_in_one_line_and_saves_no_model(
        tmp_path, monkeypatch, capsys):
    # A huge --lr does not diverge the same way on every CPU (tanh saturates, and whether an
    # overflow meets inf - inf depends on the kernels), so the NaN is put in on purpose.
    poison_at_epoch(monkeypatch, 0)
    run_dir = tmp_path / "run"
    assert main(["train", "--run-dir", str(run_dir), "--lr", "0.25", "--epochs", "2",
                 "--steps-per-epoch", "3", "--verbose", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "kcnn train: error: the loss became NaN in epoch 1; lower --lr (now 0.25)"
    assert not (run_dir / "model.keras").exists() and not (run_dir / "best.keras").exists()
    assert not (run_dir / "metrics.json").exists()


def test_a_loss_that_becomes_nan_later_keeps_the_last_good_model(tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    poison_at_epoch(monkeypatch, 1)
    with pytest.raises(ValueError, match=r"^the loss became NaN in epoch 2; lower --lr \(now "):
        train(run_dir)
    assert not (run_dir / "model.keras").exists()
    best = kcnn.load_model(run_dir / "best.keras", compile=False)  # epoch 1's model
    assert all(np.isfinite(w).all() for w in best.get_weights())
    assert json.loads((run_dir / "backup" / "training_metadata.json").read_text())["epoch"] == 1
    assert len((run_dir / "log.csv").read_text().splitlines()) == 2  # header and epoch 1


# ----------------------------------------------------------------------------- file system


def test_a_full_disk_in_the_final_save_ends_in_one_line_and_keeps_best_keras(
        tmp_path, monkeypatch, capsys):
    run_dir = tmp_path / "run"
    save = keras.Model.save
    kept = {}

    def full_disk(model, path, *args, **kwargs):
        if in_report(model) and "best.keras" in os.path.basename(str(path)):
            kept["best"] = (run_dir / "best.keras").read_bytes()
            with open(path, "wb") as f:
                f.write(b"PK\x03\x04 cut short")
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return save(model, path, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "save", full_disk)
    assert main(["train", "--run-dir", str(run_dir), "--epochs", "1", "--steps-per-epoch", "3",
                 "--verbose", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"kcnn train: error: cannot write to the run directory {run_dir}: the disk "
                   f"is full ({run_dir / 'best.keras'}); the run so far is kept: fix this and "
                   "run the same command again")
    assert (run_dir / "best.keras").read_bytes() == kept["best"]  # whole, not truncated
    assert not [p for p in os.listdir(run_dir) if ".partial" in p]
    assert (run_dir / "backup").is_dir()  # the run can still be finished
    monkeypatch.setattr(keras.Model, "save", save)
    assert main(["train", "--run-dir", str(run_dir), "--epochs", "1", "--steps-per-epoch", "3",
                 "--verbose", "0"]) == 0
    assert json.loads((run_dir / "metrics.json").read_text())["resumed_from_epoch"] == 1


def test_a_read_only_run_directory_ends_in_one_line(tmp_path, monkeypatch, capsys):
    # Root ignores file modes, so the read-only file system is simulated: creating any file in
    # the run directory fails as it would there.
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    real_open = os.open

    def read_only(path, flags, *args, **kwargs):
        if str(path).startswith(str(run_dir)) and flags & (os.O_CREAT | os.O_WRONLY | os.O_RDWR):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", read_only)
    assert main(["train", "--run-dir", str(run_dir), "--epochs", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"kcnn train: error: cannot write to the run directory {run_dir}: the file "
                   f"system is read-only ({run_dir / '.lock'}); the run so far is kept: fix "
                   "this and run the same command again")


@pytest.mark.parametrize("where, message", [
    ("file", "the run directory {run_dir} is a file; choose a directory (--run-dir DIR)"),
    ("under a file", "cannot write to the run directory {run_dir}: a part of the path is a "
                     "file, not a directory ({run_dir}); the run so far is kept: fix this and "
                     "run the same command again"),
    ("empty", "run_dir is empty; name a directory, or leave it out for "
              "runs/MODEL-DATASET-TIMESTAMP"),
])
def test_a_run_directory_that_cannot_be_one_ends_in_one_line(tmp_path, capsys, where, message):
    (tmp_path / "file").write_text("not a directory")
    run_dir = {"file": tmp_path / "file", "under a file": tmp_path / "file" / "run",
               "empty": ""}[where]
    assert main(["train", "--run-dir", str(run_dir), "--epochs", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "kcnn train: error: " + message.format(run_dir=run_dir)
    assert (tmp_path / "file").read_text() == "not a directory"


# ----------------------------------------------------------------------------- sizes


def test_images_per_second_counts_the_images_seen_not_steps_times_batch(tmp_path, monkeypatch):
    made = []

    def recording(*args, **kwargs):
        made.append(callbacks.Throughput(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(loop, "Throughput", recording)
    result = train(tmp_path / "run", epochs=2, batch_size=100_000_000, steps_per_epoch=None,
                   validation_split=0)
    examples = kcnn.data.info("digits").num_examples
    assert made[0].images == [examples, examples]  # one batch holds the whole split
    rates = report.read_csv(tmp_path / "run" / "log.csv")["images_per_second"]
    assert result.metrics["images_per_second"] == round(rates[1], 1)


def test_throughput_counts_the_short_last_batch_of_each_pass():
    meter = callbacks.Throughput(batch_size=32, num_examples=100)  # passes of 32, 32, 32, 4
    assert [meter.images_in(0, n) for n in (1, 3, 4, 5, 8)] == [32, 96, 100, 132, 200]
    assert meter.images_in(3, 2) == 4 + 32 and meter.images_in(6, 3) == 32 + 4 + 32
    assert callbacks.Throughput(batch_size=32).images_in(2, 3) == 96  # size unknown: full batches


@pytest.mark.parametrize("settings, message", [
    ({"image_size": 20000}, "a batch of 32 images of 20000x20000x1 takes 47.7 GiB as float32, "
     "more than the 2 GiB allowed; lower --batch-size to at most 1 or --image-size to at most "
     "4096"),
    ({"image_size": 30000, "batch_size": 1}, "a batch of 1 image of 30000x30000x1 takes 3.4 "
     "GiB as float32, more than the 2 GiB allowed; lower --image-size to at most 23170"),
    ({"dataset": "synthetic", "image_size": 1024, "batch_size": 1024}, "a batch of 1024 images "
     "of 1024x1024x3 takes 12.0 GiB as float32, more than the 2 GiB allowed; lower "
     "--batch-size to at most 170 or --image-size to at most 418"),
])
def test_inputs_too_large_to_allocate_are_refused_before_training(tmp_path, settings, message):
    config = loop.resolve(run_dir=str(tmp_path / "run"), **settings)
    with pytest.raises(ValueError) as raised:
        loop.make_plan(config, started=0.0)
    assert str(raised.value) == message
    assert not (tmp_path / "run").exists()


def test_a_batch_larger_than_the_data_is_not_refused(tmp_path):
    config = loop.resolve(run_dir=str(tmp_path / "run"), batch_size=100_000_000)
    assert loop.make_plan(config, started=0.0).input_shape == (32, 32, 1)


# ----------------------------------------------------------------------------- real kills

KILLER = textwrap.dedent(
    """
    import os, signal, sys
    import keras
    from kcnn.cli import main
    from kcnn.training import callbacks, deploy, loop, report

    point, run_dir = sys.argv[1], sys.argv[2]
    calls = []

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    def half_then_die(path):
        with open(path, "wb") as f:
            f.write(b"PK\\x03\\x04 half a zip file")
            f.flush()
        die()

    save, backup = keras.Model.save, callbacks.Backup._save_model

    def dying_save(model, path, *args, **kwargs):
        name, final = os.path.basename(str(path)), deploy.network_of(model) is not model
        backed_up = os.path.exists(os.path.join(run_dir, "backup", "training_metadata.json"))
        if (point == "checkpoint" and ".best.keras" in name and backed_up and not final
                or point == "final model.keras" and ".model.keras" in name):
            half_then_die(path)
        return save(model, path, *args, **kwargs)

    def dying_backup(self):
        calls.append(1)
        if point == "epoch 2 backup" and len(calls) == 2:
            die()
        return backup(self)

    keras.Model.save, callbacks.Backup._save_model = dying_save, dying_backup
    if point == "metrics.json":
        report.write_metrics = lambda *a, **k: die()
    if point == "backup removal":
        loop.discard_backup = lambda *a, **k: die()
    sys.exit(main(sys.argv[3:]))
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("point", ["epoch 2 backup", "checkpoint", "final model.keras",
                                   "metrics.json", "backup removal"])
def test_a_sigkill_at_each_write_point_is_finished_by_the_same_command(
        tmp_path, subprocess_env, kcnn_cli, point):
    run_dir = tmp_path / "run"
    args = ["train", "--epochs", str(EPOCHS), "--steps-per-epoch", "4", "--batch-size", "32",
            "--seed", "0", "--run-dir", str(run_dir), "--verbose", "2"]
    killed = subprocess.run([sys.executable, "-c", KILLER, point, str(run_dir), *args],
                            env=subprocess_env(), capture_output=True, text=True, timeout=240,
                            check=False)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    again = kcnn_cli(args)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Epoch 1/" not in again.stdout  # never silently from the start
    assert_complete(run_dir)


def test_a_network_whose_layer_outputs_exceed_the_memory_is_refused_before_training(
        tmp_path, monkeypatch):
    # The machine is given 64 MiB; LeNet-5 keeps about 50 kB of layer outputs per 32x32x3
    # image (the inputs alone, 24 MiB a batch, pass the 2 GiB rule).
    pages = {"SC_PAGE_SIZE": 4096, "SC_PHYS_PAGES": 64 * 1024**2 // 4096}
    sysconf = os.sysconf
    monkeypatch.setattr(os, "sysconf", lambda name: pages.get(name) or sysconf(name))
    with pytest.raises(ValueError) as raised:
        train(tmp_path / "run", dataset="synthetic", batch_size=2048, precision="float32")
    found = re.fullmatch(r"lenet5 at 32x32 keeps \d+ MiB of layer outputs for a batch of "
                         r"2048, more than this machine's 64 MiB of memory; lower --batch-size "
                         r"to at most (\d+) or --image-size", str(raised.value))
    assert found and 1000 < int(found.group(1)) < 2048, str(raised.value)
    assert not (tmp_path / "run" / "log.csv").exists()


def test_running_out_of_memory_in_training_ends_in_one_line(tmp_path, monkeypatch, capsys):
    import tensorflow as tf

    def exhausted(*args, **kwargs):
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor with "
                                               "shape[32,6,19996,19996]")

    monkeypatch.setattr(keras.Model, "fit", exhausted)
    assert main(["train", "--run-dir", str(tmp_path / "run"), "--epochs", "1"]) == 2
    assert capsys.readouterr().err.strip() == (
        "kcnn train: error: out of memory training lenet5 on batches of 32 at 32x32; lower "
        "--batch-size or --image-size")
