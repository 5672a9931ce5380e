"""The training run: data, model, compile, fit with callbacks, test evaluation, artifacts.

Run directory after a run:
    config.json            the resolved settings (written first; `--resume` reads it back)
    log.csv                one row per epoch: loss, accuracy, val_*, learning_rate, images/s
    tensorboard/           TensorBoard logs (scalars, graph, steps per second; no profiler)
    best.keras             the model with the best validation accuracy so far
    model.keras            the model at the end of training
    metrics.json           test accuracy and loss, epochs, times, images/s, parameters, device,
                           precision, XLA, seed, versions
    curves.png             loss and accuracy per epoch
    confusion_matrix.png   test-set confusion matrix
    backup/                BackupAndRestore's state while a run is unfinished (deleted at the end)
"""

import dataclasses
import json
import math
import os
import sys
import time

import keras
import numpy as np

from kcnn.training import recipes, report, runtime
from kcnn.training.config import TrainConfig

# Settings that may differ when a run is continued (everything else must match the saved run).
RESUME_MAY_CHANGE = ("epochs", "verbose", "resume", "steps_per_epoch")


@dataclasses.dataclass
class RunResult:
    """What `train()` returns.

    Attributes:
        run_dir: the run directory.
        metrics: the contents of metrics.json.
        history: per-epoch logs of the whole run (from log.csv, resumed epochs included).
        config: the resolved TrainConfig.
        model: the trained keras.Model.
    """

    run_dir: str
    metrics: dict
    history: dict
    config: TrainConfig
    model: object = None

    @property
    def test_accuracy(self):
        return self.metrics["test_accuracy"]


# ----------------------------------------------------------------------------- callbacks


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
    """BackupAndRestore plus what it does not restore (keras-team/keras-hub#204): the
    ReduceLROnPlateau counters, the learning rate, ModelCheckpoint's best value and the
    training time so far, kept in backup/kcnn_state.json next to Keras' own files.

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


# ----------------------------------------------------------------------------- set-up


def resolve(config=None, **kwargs):
    """The resolved config to run, handling `resume` and an existing run directory.

    Raises ValueError for bad settings, a resume without a saved run, or a run directory that
    holds a different or finished run.
    """
    asked = TrainConfig.from_kwargs(config, **kwargs).validate()
    if asked.resume:
        if not asked.run_dir:
            raise ValueError("resume needs the run directory (--run-dir DIR) of the run to continue")
        saved_path = os.path.join(asked.run_dir, "config.json")
        if not os.path.exists(saved_path):
            raise ValueError(f"nothing to resume: {saved_path} does not exist")
        saved = TrainConfig.from_json(saved_path)
        defaults = TrainConfig()
        changed = {
            f.name: getattr(asked, f.name)
            for f in dataclasses.fields(TrainConfig)
            if getattr(asked, f.name) != getattr(defaults, f.name) and f.name != "run_dir"
        }
        for name, value in changed.items():
            if name not in RESUME_MAY_CHANGE and value != getattr(saved, name):
                raise ValueError(
                    f"cannot change {name} when resuming (saved: {getattr(saved, name)!r}); "
                    f"only {', '.join(n for n in RESUME_MAY_CHANGE if n != 'resume')} may change"
                )
        return dataclasses.replace(saved, **changed, run_dir=asked.run_dir, resume=True).validate()

    resolved = asked.resolved()
    saved_path = os.path.join(resolved.run_dir, "config.json")
    if os.path.exists(saved_path):
        if os.path.exists(os.path.join(resolved.run_dir, "backup", "training_metadata.json")):
            # An unfinished run in the same directory: continue it if the settings agree.
            saved = TrainConfig.from_json(saved_path)
            ignore = set(RESUME_MAY_CHANGE) | ({"seed"} if asked.seed is None else set())
            differ = [
                f.name
                for f in dataclasses.fields(TrainConfig)
                if f.name not in ignore and getattr(saved, f.name) != getattr(resolved, f.name)
            ]
            if differ:
                raise ValueError(
                    f"{resolved.run_dir} holds an unfinished run with other settings "
                    f"({', '.join(differ)}); continue it with --resume or choose another --run-dir"
                )
            return dataclasses.replace(saved, epochs=resolved.epochs, verbose=resolved.verbose,
                                       steps_per_epoch=resolved.steps_per_epoch)
        if os.path.exists(os.path.join(resolved.run_dir, "metrics.json")):
            raise ValueError(
                f"{resolved.run_dir} already holds a finished run; choose another --run-dir"
            )
    return resolved


def input_plan(config, data_info):
    """(input_shape, image_size to ask the data layer for or None) for this model and data."""
    import kcnn

    spec = kcnn.models.spec(config.model)
    height, width, channels = data_info.image_shape
    native = height if height is not None and height == width else None
    if config.image_size is not None:
        size = config.image_size
        if size < spec.min_input:
            raise ValueError(
                f"{config.model} needs inputs of at least {spec.min_input}x{spec.min_input}; "
                f"image_size {size} is too small"
            )
    elif native is not None and native >= spec.min_input:
        size = native
    else:
        size = spec.default_input[0]
    return (size, size, channels), (None if size == native else size)


def augment_presets(augment):
    """The data layer's augment argument for a config value: None, or a list of preset names
    ("cifar+mixup" combines presets)."""
    return None if augment in (None, "", "none") else augment.split("+")


def load_data(config, data_info, image_size):
    """(train, validation or None, test, train DatasetInfo) for the run."""
    import kcnn.data

    common = {"data_dir": config.data_dir, "image_size": image_size, "seed": config.seed,
              "deterministic": config.deterministic}
    augment = augment_presets(config.augment)
    if config.validation_split > 0:
        percent = round(100 * (1 - config.validation_split))
        train_split, val_split = f"train[:{percent}%]", f"train[{percent}%:]"
    else:
        train_split, val_split = "train", None
    train, train_info = kcnn.data.load(config.dataset, train_split, config.batch_size,
                                       augment=augment, shuffle=True, **common)
    val = None
    if val_split:
        val, _ = kcnn.data.load(config.dataset, val_split, config.batch_size, shuffle=False,
                                **common)
    test, _ = kcnn.data.load(config.dataset, "test", config.batch_size, shuffle=False, **common)
    return train, val, test, train_info


def one_hot_labels(dataset, num_classes):
    """Map integer labels to one-hot float labels (for label smoothing / soft-label losses)."""
    import tensorflow as tf

    def convert(x, y):
        if y.shape.rank == 1:
            y = tf.one_hot(tf.cast(y, tf.int32), num_classes)
        return x, y

    return dataset.map(convert, num_parallel_calls=tf.data.AUTOTUNE)


def count_steps(dataset):
    """Batches in one pass over `dataset` (from its cardinality, or by counting)."""
    import tensorflow as tf

    steps = int(dataset.cardinality())
    if steps >= 0:
        return steps
    if steps == tf.data.INFINITE_CARDINALITY:
        raise ValueError("the training data set is infinite; set steps_per_epoch")
    return sum(1 for _ in dataset)


def build_model(config, num_classes, input_shape):
    """The registered model, with the builder's own errors turned into ValueErrors."""
    import kcnn

    try:
        return kcnn.models.get(
            config.model, num_classes=num_classes, input_shape=input_shape, **config.model_options
        )
    except TypeError as error:  # an unknown builder option
        raise ValueError(f"{config.model}: {error}") from None


def predict(model, dataset):
    """(softmax outputs, integer labels) over an unshuffled dataset, in order."""
    probs = model.predict(dataset.map(lambda x, y: x), verbose=0)
    labels = np.concatenate([np.asarray(y) for _, y in dataset.as_numpy_iterator()])
    if labels.ndim == 2:  # one-hot
        labels = labels.argmax(-1)
    return np.asarray(probs, dtype="float32"), labels.astype("int64")


def score(probs, labels):
    """(accuracy, mean cross-entropy) of softmax outputs."""
    accuracy = float(np.mean(probs.argmax(-1) == labels))
    picked = probs[np.arange(len(labels)), labels]
    loss = float(np.mean(-np.log(np.clip(picked, 1e-7, 1.0))))
    return accuracy, loss


# ----------------------------------------------------------------------------- the run


def run(config=None, **kwargs):
    """Train, evaluate on the test split and write the artifacts; see `kcnn.training.train`."""
    import kcnn.data

    started = time.perf_counter()
    config = resolve(config, **kwargs)
    verbose = config.verbose if config.verbose is not None else (1 if sys.stdout.isatty() else 2)
    say = print if verbose else (lambda *a, **k: None)

    # Everything that can fail on bad input fails here, before any run directory is written.
    kcnn.models.spec(config.model)
    data_info = kcnn.data.info(config.dataset, data_dir=config.data_dir)
    for preset in augment_presets(config.augment) or ():
        if preset not in kcnn.data.augment.names():
            raise ValueError(
                f"unknown augment {preset!r}; choose from: none, "
                f"{', '.join(kcnn.data.augment.names())} (combine with +, e.g. cifar+mixup)"
            )
    input_shape, image_size = input_plan(config, data_info)

    rt = runtime.setup(config)
    try:
        return _run(config, rt, data_info, input_shape, image_size, verbose, say, started)
    finally:
        rt.restore()


def _run(config, rt, data_info, input_shape, image_size, verbose, say, started):
    run_dir = config.run_dir
    backup_dir = os.path.join(run_dir, "backup")
    state = read_state(backup_dir)
    train_ds, val_ds, test_ds, train_info = load_data(config, data_info, image_size)
    with rt.scope():
        model = build_model(config, data_info.num_classes, input_shape)
    one_hot = train_info.soft_labels or config.label_smoothing > 0  # mixup/cutmix: soft labels
    if one_hot:
        train_ds = one_hot_labels(train_ds, data_info.num_classes)
        val_ds = one_hot_labels(val_ds, data_info.num_classes) if val_ds is not None else None
    if config.steps_per_epoch:
        steps_per_epoch = config.steps_per_epoch
        train_ds = train_ds.repeat()
    else:
        steps_per_epoch = count_steps(train_ds)

    with rt.scope():
        if one_hot:
            loss = keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)
            accuracy = keras.metrics.CategoricalAccuracy(name="accuracy")
        else:
            loss = keras.losses.SparseCategoricalCrossentropy()
            accuracy = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
        model.compile(
            optimizer=recipes.make_optimizer(config, steps_per_epoch),
            loss=loss,
            metrics=[accuracy],
            jit_compile=rt.jit_compile,
        )
    xla = bool(model.jit_compile)  # what runs, not what was asked (Keras may fall back)

    os.makedirs(run_dir, exist_ok=True)
    config.to_json(os.path.join(run_dir, "config.json"))
    monitor = "val_accuracy" if val_ds is not None else "accuracy"
    initial_epoch = state.get("epoch", 0)
    csv_path = os.path.join(run_dir, "log.csv")
    if initial_epoch:
        truncate_csv(csv_path, initial_epoch)
    say(
        f"kcnn train: {config.model} on {config.dataset} {input_shape[0]}x{input_shape[1]}x"
        f"{input_shape[2]}, recipe {config.recipe} ({config.optimizer} lr {config.lr:g}, "
        f"{config.schedule}, wd {config.weight_decay:g}, batch {config.batch_size}, "
        f"{config.epochs} epochs, augment {config.augment}), "
        f"{rt.precision} ({rt.precision_reason}), "
        f"XLA {'on' if xla else 'off'}, {rt.replicas} replica(s) on {rt.device}, "
        f"seed {config.seed}"
    )
    if initial_epoch:
        say(f"kcnn train: resuming {run_dir} after epoch {initial_epoch} of {config.epochs}")
    say(f"kcnn train: run directory {run_dir}")
    hint = runtime.onednn_hint(rt)
    if hint:
        say(hint)

    session_start = time.perf_counter()
    previous_time = state.get("train_time_s", 0.0)
    throughput = Throughput(config.batch_size)
    checkpoint = keras.callbacks.ModelCheckpoint(
        os.path.join(run_dir, "best.keras"), monitor=monitor, mode="max", save_best_only=True,
        initial_value_threshold=state.get("checkpoint_best"),
    )
    plateau = None
    callbacks = [throughput, LearningRateLogger()]
    if config.schedule == "plateau":
        plateau = keras.callbacks.ReduceLROnPlateau(
            monitor=monitor, mode="max", factor=0.1, patience=recipes.PLATEAU_PATIENCE,
            verbose=1 if verbose else 0,
        )
        callbacks.append(plateau)
    callbacks += [
        keras.callbacks.TerminateOnNaN(),
        checkpoint,
        keras.callbacks.CSVLogger(csv_path, append=bool(initial_epoch)),
        keras.callbacks.TensorBoard(
            os.path.join(run_dir, "tensorboard"), profile_batch=0, write_steps_per_second=True
        ),
        Backup(backup_dir, plateau=plateau, checkpoint=checkpoint,
               clock=lambda: previous_time + time.perf_counter() - session_start),
    ]

    history = model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=config.epochs,
        steps_per_epoch=steps_per_epoch if config.steps_per_epoch else None,
        callbacks=callbacks,
        verbose=verbose,
        shuffle=False,  # the tf.data pipeline shuffles
    )
    train_time = previous_time + time.perf_counter() - session_start
    model.save(os.path.join(run_dir, "model.keras"))

    probs, labels = predict(model, test_ds)
    test_accuracy, test_loss = score(probs, labels)
    logs = report.read_csv(csv_path)
    rates = throughput.per_epoch[1:] or throughput.per_epoch
    losses = history.history.get("loss", [])
    metrics = {
        "model": config.model,
        "dataset": config.dataset,
        "test_accuracy": test_accuracy,
        "test_loss": test_loss,
        "test_examples": len(labels),
        "epochs": len(logs.get("epoch", [])),
        "epochs_planned": config.epochs,
        "resumed_from_epoch": initial_epoch,
        "terminated_on_nan": bool(losses) and not math.isfinite(losses[-1]),
        "best_val_accuracy": _jsonable(checkpoint.best) if val_ds is not None else None,
        "wall_time_s": round(time.perf_counter() - started, 3),
        "train_time_s": round(train_time, 3),
        "images_per_second": round(float(np.median(rates)), 1) if rates else None,
        "images_per_second_first_epoch": round(throughput.per_epoch[0], 1)
        if throughput.per_epoch else None,
        "input_shape": list(input_shape),
        "parameters": int(model.count_params()),
        "trainable_parameters": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
        "device": rt.device,
        "backend": rt.backend,
        "precision": rt.precision,
        "precision_reason": rt.precision_reason,
        "xla": xla,
        "distribute": rt.distribute,
        "replicas": rt.replicas,
        "onednn": runtime.onednn_setting(),
        "seed": config.seed,
        "deterministic": config.deterministic,
        "recipe": config.recipe,
        "versions": report.versions(),
        "command": " ".join(sys.argv),
    }
    report.write_metrics(run_dir, metrics)
    report.plot_curves(logs, os.path.join(run_dir, "curves.png"))
    report.plot_confusion(
        labels, probs.argmax(-1), data_info.num_classes, getattr(data_info, "class_names", None),
        os.path.join(run_dir, "confusion_matrix.png"),
    )
    say(
        f"kcnn train: {config.model} on {config.dataset}: test accuracy "
        f"{100 * test_accuracy:.2f}% (loss {test_loss:.4f}) after {metrics['epochs']} epochs, "
        f"{metrics['wall_time_s']:.1f} s, {_rate(metrics['images_per_second'])} images/s"
    )
    say(
        f"kcnn train: artifacts in {run_dir}: model.keras, best.keras, metrics.json, "
        "curves.png, confusion_matrix.png, log.csv, config.json, tensorboard/"
    )
    return RunResult(run_dir=run_dir, metrics=metrics, history=logs, config=config, model=model)


class LearningRateLogger(keras.callbacks.Callback):
    """Adds the learning rate at the end of each epoch to the logs (log.csv, TensorBoard)."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or "learning_rate" in logs:
            return
        lr = self.model.optimizer.learning_rate  # a schedule is evaluated at the current step
        logs["learning_rate"] = float(np.asarray(lr.numpy() if hasattr(lr, "numpy") else lr))


# ----------------------------------------------------------------------------- evaluation


def evaluate(run_dirs, batch_size=256, data_dir=None):
    """Test accuracy of each run's saved model and of their ensemble (the mean of the softmax
    outputs, as in the AlexNet paper's ensemble of CNNs).

    Each run's test split is read from its config.json (same data set, resized to the model's
    own input), so models trained at different input sizes can be ensembled.

    Returns:
        {"dataset", "test_examples", "members": [{"run_dir", "model", "accuracy", "loss"}],
         "ensemble": {"accuracy", "loss"}}
    """
    import kcnn
    import kcnn.data

    if isinstance(run_dirs, (str, os.PathLike)):
        run_dirs = [run_dirs]
    if not run_dirs:
        raise ValueError("give at least one run directory")
    configs = []
    for run_dir in run_dirs:
        for name in ("config.json", "model.keras"):
            if not os.path.exists(os.path.join(run_dir, name)):
                raise ValueError(f"{run_dir} is not a finished kcnn run (no {name})")
        configs.append(TrainConfig.from_json(os.path.join(run_dir, "config.json")))
    datasets = sorted({c.dataset for c in configs})
    if len(datasets) > 1:
        raise ValueError(f"the runs were trained on different data sets: {', '.join(datasets)}")
    dataset = datasets[0]
    data_info = kcnn.data.info(dataset, data_dir=data_dir or configs[0].data_dir)

    members, all_probs, labels = [], [], None
    for run_dir, config in zip(run_dirs, configs):
        model = kcnn.load_model(os.path.join(run_dir, "model.keras"), compile=False)
        size = model.input_shape[1]
        native = data_info.image_shape[0]
        test, _ = kcnn.data.load(
            dataset, "test", batch_size, data_dir=data_dir or config.data_dir, shuffle=False,
            image_size=None if size == native else size, seed=config.seed,
        )
        probs, these_labels = predict(model, test)
        if labels is not None and not np.array_equal(labels, these_labels):
            raise ValueError(f"{run_dir}: its test split differs from the first run's")
        labels = these_labels
        accuracy, loss = score(probs, labels)
        members.append({"run_dir": str(run_dir), "model": config.model, "accuracy": accuracy,
                        "loss": loss})
        all_probs.append(probs)
    accuracy, loss = score(np.mean(all_probs, axis=0), labels)
    return {
        "dataset": dataset,
        "test_examples": len(labels),
        "members": members,
        "ensemble": {"accuracy": accuracy, "loss": loss},
    }
