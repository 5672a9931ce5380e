"""The trainer's callbacks: images per second, the learning rate in the logs, a stop at the
first non-finite loss, a ModelCheckpoint that writes atomically, and a BackupAndRestore that
writes atomically and also restores the state Keras' own leaves out; plus the helpers that read
that state back and trim log.csv when a run resumes."""

import contextlib
import glob
import json
import math
import os
import shutil
import time

import keras
import numpy as np

from kcnn.training.rundir import replacing, write_json, write_text


class Throughput(keras.callbacks.Callback):
    """Training images per second each epoch (validation excluded), added to the epoch's logs
    so that the progress line, log.csv and TensorBoard all show it.

    The images are counted, not estimated as steps x batch size: a training split of
    `num_examples` images batched by `batch_size` gives full batches and then one smaller batch
    (the rest), over and over when the data repeats (`steps_per_epoch`). With `num_examples`
    unknown every step counts as a full batch.
    """

    def __init__(self, batch_size, num_examples=None):
        super().__init__()
        self.batch_size, self.num_examples = batch_size, num_examples
        self.per_epoch, self.images = [], []
        self._step = 0  # steps of the current fit so far (where a repeated pass stands)

    def on_train_begin(self, logs=None):
        self._step = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._start, self._stop, self._steps = time.perf_counter(), None, 0

    def on_train_batch_end(self, batch, logs=None):
        self._steps = batch + 1

    def on_test_begin(self, logs=None):
        if self._stop is None:
            self._stop = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = (self._stop or time.perf_counter()) - self._start
        first, self._step = self._step, self._step + self._steps
        images = self.images_in(first, self._steps)
        rate = images / max(seconds, 1e-9)
        self.per_epoch.append(rate)
        self.images.append(images)
        if logs is not None:
            logs["images_per_second"] = rate

    def images_in(self, first, steps):
        """Images in `steps` steps starting at step `first` of the (repeated) batched data."""
        if not self.num_examples:
            return steps * self.batch_size
        per_pass = -(-self.num_examples // self.batch_size)  # batches in one pass

        def before(step):  # images in the steps before `step`
            return (step // per_pass) * self.num_examples + (step % per_pass) * self.batch_size

        return before(first + steps) - before(first)


class Diverged(ValueError):
    """The training loss became NaN or infinite (raised at the first such batch, before the
    epoch's end saves anything); `epoch` counts from 0."""

    def __init__(self, epoch, loss, lr=None):
        kind = "NaN" if math.isnan(loss) else "infinite"
        now = f" (now {lr:g})" if lr is not None else ""
        super().__init__(f"the loss became {kind} in epoch {epoch + 1}; lower --lr{now}")
        self.epoch, self.loss = epoch, loss


class StopOnNaN(keras.callbacks.Callback):
    """Raise `Diverged` at the first batch whose loss is not finite. Unlike Keras'
    TerminateOnNaN, the epoch then does not end normally, so neither the checkpoint, the backup
    nor log.csv ever receives the diverged model. `lr` (the stage's learning rate) goes into
    the message."""

    def __init__(self, lr=None):
        super().__init__()
        self.lr, self._epoch = lr, 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None:
            loss = float(np.asarray(loss))
            if not math.isfinite(loss):
                raise Diverged(self._epoch, loss, self.lr)


def save_model(model, path):
    """`model.save(path)` through `rundir.replacing`: the old file stays whole until the new one
    is complete on disk."""
    with replacing(path) as tmp:
        model.save(tmp)
    return path


class Checkpoint(keras.callbacks.ModelCheckpoint):
    """ModelCheckpoint (one file, the best so far) that writes through `rundir.replacing`, so a
    kill or a full disk during the save leaves the previous best file whole."""

    def _save_model(self, epoch, batch, logs):
        filepath = self._get_file_path(epoch, batch, logs)
        if self._should_save_model(epoch, batch, logs, filepath):
            save_model(self.model, filepath)


class Backup(keras.callbacks.BackupAndRestore):
    """BackupAndRestore, written atomically, plus what it does not restore: the
    ReduceLROnPlateau counters, the learning rate, ModelCheckpoint's best value and the training
    time so far. (Keras' BackupAndRestore saves the model's weights, with the optimizer's
    variables, and the epoch number only: see its docstring and `_save_model` in
    keras/src/callbacks/backup_and_restore.py.)

    Each epoch's weights go to a new file, backup/epoch-N.weights.h5; then
    backup/training_metadata.json, which names that file and holds the whole state, replaces
    the previous one (the moment the backup moves on), and older weights files are removed.
    A kill at any point leaves one complete backup. The backup is kept when training ends: the
    trainer removes it once the run's final files are written (`discard_backup`).

    `first` is the first epoch of the fit it serves: a backup of epoch `first` or earlier comes
    from an earlier stage (another optimizer), and the network already holds its weights, so it
    is not loaded. Place it after the callbacks whose state it saves (and after CSVLogger), so
    a backup always describes a finished epoch.
    """

    def __init__(self, backup_dir, plateau=None, checkpoint=None, clock=None, first=0):
        super().__init__(backup_dir, save_freq="epoch", delete_checkpoint=False)
        self.plateau, self.checkpoint, self.clock, self.first = plateau, checkpoint, clock, first
        self.restored = read_state(backup_dir)
        if self.restored.get("epoch", 0) <= first:
            self.restored = {}

    def on_train_begin(self, logs=None):
        if not self.restored:
            return
        self._load_model()  # weights, optimizer variables, epoch
        state = self.restored
        if self.plateau is not None and state.get("plateau"):
            for key, value in state["plateau"].items():
                setattr(self.plateau, key, value)
        if state.get("learning_rate") is not None and isinstance(
            self.model.optimizer.learning_rate, keras.Variable
        ):
            self.model.optimizer.learning_rate = state["learning_rate"]
        if self.checkpoint is not None and state.get("checkpoint_best") is not None:
            self.checkpoint.best = state["checkpoint_best"]

    def _load_model(self):
        restore_backup(self.model, self.backup_dir)

    def _save_model(self):
        os.makedirs(self.backup_dir, exist_ok=True)
        weights = f"epoch-{self._current_epoch}.weights.h5"
        with replacing(os.path.join(self.backup_dir, weights)) as tmp:
            self.model.save_weights(tmp)
        state = {"epoch": self._current_epoch, "batch": 0, "weights": weights,
                 "train_time_s": self.clock() if self.clock else 0.0}
        if self.plateau is not None:
            state["plateau"] = {
                "wait": self.plateau.wait,
                "best": _jsonable(self.plateau.best),
                "cooldown_counter": self.plateau.cooldown_counter,
            }
            lr = self.model.optimizer.learning_rate
            state["learning_rate"] = float(np.asarray(lr.numpy() if hasattr(lr, "numpy") else lr))
        if self.checkpoint is not None:
            state["checkpoint_best"] = _jsonable(self.checkpoint.best)
        write_json(os.path.join(self.backup_dir, METADATA), state)
        for old in glob.glob(os.path.join(self.backup_dir, "*.weights.h5*")):
            if os.path.basename(old) != weights:
                with contextlib.suppress(OSError):
                    os.remove(old)


METADATA = "training_metadata.json"  # Keras' name; the kcnn state is kept in it too


def restore_backup(model, backup_dir):
    """Load the backup's weights (and the optimizer's variables, when `model` is compiled)
    into `model`; returns the epoch the backup was taken after (0: no backup)."""
    state = read_state(backup_dir)
    if not state:
        return 0
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    model.load_weights(os.path.join(backup_dir, state.get("weights", "latest.weights.h5")))
    model._initial_epoch = state["epoch"]  # noqa: SLF001 (what Keras' own restore sets)
    return state["epoch"]


def discard_backup(run_dir):
    """Remove run_dir/backup: first renamed away in one step (from then on the run counts as
    finished), then deleted. Call it only once the run's final files are complete."""
    backup, gone = os.path.join(run_dir, "backup"), os.path.join(run_dir, DISCARDED)
    if os.path.isdir(backup):
        shutil.rmtree(gone, ignore_errors=True)
        os.replace(backup, gone)
    shutil.rmtree(gone, ignore_errors=True)


DISCARDED = ".backup.discarded"  # where `discard_backup` moves the backup before deleting it


def _rate(value):
    return "?" if value is None else f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def _jsonable(value):
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def read_state(backup_dir):
    """The saved epoch and kcnn state of an unfinished run ({} if there is none)."""
    meta = os.path.join(backup_dir, METADATA)
    if not os.path.exists(meta):
        return {}
    with open(meta) as f:
        state = json.load(f)
    legacy = os.path.join(backup_dir, "kcnn_state.json")  # written beside it before
    if "weights" not in state and os.path.exists(legacy):
        with open(legacy) as f:
            saved = json.load(f)
        if saved.get("epoch") == state["epoch"]:  # written after the same backup
            state.update(saved)
    return state


def truncate_csv(path, epochs):
    """Keep log.csv's header and its rows for epochs < `epochs` (a killed run may have logged
    an epoch whose backup it never finished)."""
    if not os.path.exists(path):
        return
    with open(path) as f:
        lines = f.read().splitlines()
    if not lines:
        return
    header = lines[0].split(",")
    column = header.index("epoch") if "epoch" in header else 0
    kept = [lines[0]] + [ln for ln in lines[1:] if _epoch_of(ln, column) < epochs]
    write_text(path, "\n".join(kept) + "\n")


def _epoch_of(row, column):
    """The epoch of a log.csv row; a row cut short by a kill counts as no epoch (dropped)."""
    fields = row.split(",")
    try:
        return int(fields[column]) if len(fields) > column else math.inf
    except ValueError:
        return math.inf


class LearningRateLogger(keras.callbacks.Callback):
    """Adds the learning rate at the end of each epoch to the logs (log.csv, TensorBoard)."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or "learning_rate" in logs:
            return
        lr = self.model.optimizer.learning_rate  # a schedule is evaluated at the current step
        logs["learning_rate"] = float(np.asarray(lr.numpy() if hasattr(lr, "numpy") else lr))
