"""The trainer's callbacks: images per second, the learning rate in the logs, and a
BackupAndRestore that also restores the state Keras' own leaves out; plus the helpers that read
that state back and trim log.csv when a run resumes."""

import json
import math
import os
import time

import keras
import numpy as np


class Throughput(keras.callbacks.Callback):
    """Training images per second each epoch (validation excluded), added to the epoch's logs
    so that the progress line, log.csv and TensorBoard all show it."""

    def __init__(self, batch_size):
        super().__init__()
        self.batch_size = batch_size
        self.per_epoch = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start, self._stop, self._steps = time.perf_counter(), None, 0

    def on_train_batch_end(self, batch, logs=None):
        self._steps = batch + 1

    def on_test_begin(self, logs=None):
        if self._stop is None:
            self._stop = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = (self._stop or time.perf_counter()) - self._start
        rate = self._steps * self.batch_size / max(seconds, 1e-9)
        self.per_epoch.append(rate)
        if logs is not None:
            logs["images_per_second"] = rate


class Backup(keras.callbacks.BackupAndRestore):
    """BackupAndRestore plus what it does not restore: the ReduceLROnPlateau counters, the
    learning rate, ModelCheckpoint's best value and the training time so far, kept in
    backup/kcnn_state.json next to Keras' own files. (Keras' BackupAndRestore saves the model's
    weights, with the optimizer's variables, and the epoch number only: see its docstring and
    `_save_model` in keras/src/callbacks/backup_and_restore.py.)

    Place it after the callbacks whose state it saves (and after CSVLogger), so a backup
    always describes a finished epoch.
    """

    STATE = "kcnn_state.json"

    def __init__(self, backup_dir, plateau=None, checkpoint=None, clock=None):
        super().__init__(backup_dir, save_freq="epoch", double_checkpoint=True)
        self.plateau, self.checkpoint, self.clock = plateau, checkpoint, clock
        self.restored = read_state(backup_dir)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)  # weights, optimizer variables, epoch
        state = self.restored
        if not state:
            return
        if self.plateau is not None and state.get("plateau"):
            for key, value in state["plateau"].items():
                setattr(self.plateau, key, value)
        if state.get("learning_rate") is not None and isinstance(
            self.model.optimizer.learning_rate, keras.Variable
        ):
            self.model.optimizer.learning_rate = state["learning_rate"]
        if self.checkpoint is not None and state.get("checkpoint_best") is not None:
            self.checkpoint.best = state["checkpoint_best"]

    def _save_model(self):
        super()._save_model()
        state = {"epoch": self._current_epoch, "train_time_s": self.clock()}
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
        path = os.path.join(self.backup_dir, self.STATE)
        with open(path + ".tmp", "w") as f:
            json.dump(state, f)
        os.replace(path + ".tmp", path)


def _rate(value):
    return "?" if value is None else f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def _jsonable(value):
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def read_state(backup_dir):
    """The saved epoch and kcnn state of an unfinished run ({} if there is none)."""
    meta = os.path.join(backup_dir, "training_metadata.json")
    if not os.path.exists(meta):
        return {}
    with open(meta) as f:
        state = {"epoch": json.load(f)["epoch"]}
    path = os.path.join(backup_dir, Backup.STATE)
    if os.path.exists(path):
        with open(path) as f:
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
    kept = [lines[0]] + [ln for ln in lines[1:] if ln and int(ln.split(",")[column]) < epochs]
    with open(path, "w") as f:
        f.write("\n".join(kept) + "\n")


class LearningRateLogger(keras.callbacks.Callback):
    """Adds the learning rate at the end of each epoch to the logs (log.csv, TensorBoard)."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or "learning_rate" in logs:
            return
        lr = self.model.optimizer.learning_rate  # a schedule is evaluated at the current step
        logs["learning_rate"] = float(np.asarray(lr.numpy() if hasattr(lr, "numpy") else lr))
