"""The training run, in stages that read top to bottom:

    plan      resolve the settings and check everything that can fail on bad input
    data      the train, validation and test tf.data pipelines
    model     the network: fresh, pretrained (--weights) or from a run (--init)
    fit       one stage, or two for --recipe finetune (classifier, then everything)
    report    the saved raw-image model, test scores, metrics.json and the plots

Run directory after a run:
    config.json            the resolved settings (written first; `--resume` reads it back)
    log.csv                one row per epoch: loss, accuracy, val_*, learning_rate, images/s
    tensorboard/           TensorBoard logs (scalars, graph, steps per second; no profiler)
    best.keras             the model with the best validation accuracy (raw images in, see deploy)
    model.keras            the model at the end of training (raw images in, see deploy)
    classes.json           the class names, in label order
    metrics.json           test accuracy, top-5, loss and per-class precision/recall, epochs,
                           stages, starting weights, times, images/s, parameters, device,
                           precision, XLA, seed, versions
    curves.png             loss and accuracy per epoch
    confusion_matrix.png   test-set confusion matrix
    backup/                the state of an unfinished run (deleted once every file above is written)
    .lock                  the process id of the trainer using the directory (one at a time)

Every file is written to a temporary name in the directory and renamed when complete (see
`rundir`), so a kill at any point leaves a run that the same command (or `--resume`) finishes.
"""

import dataclasses
import hashlib
import math
import os
import shutil
import sys
import tempfile
import time
import warnings

import keras
import numpy as np

from kcnn import runs
from kcnn.data.pipeline import MAX_CACHE_BYTES
from kcnn.training import deploy, evaluation, recipes, report, rundir, runtime, transfer
from kcnn.training.callbacks import (
    Backup,
    Checkpoint,
    LearningRateLogger,
    StopOnNaN,
    Throughput,
    _jsonable,
    _rate,
    discard_backup,
    read_state,
    restore_backup,
    save_model,
    truncate_csv,
)
from kcnn.training.config import TrainConfig

# Settings that may differ when a run is continued (everything else must match the saved run).
RESUME_MAY_CHANGE = ("epochs", "verbose", "resume", "steps_per_epoch")
FINETUNE_LR_FACTOR = 0.1  # the finetune recipe's second stage trains at lr / 10
# The most one batch of float32 model inputs may take: the image cache's limit, so a size that
# cannot fit is refused before allocation.
MAX_BATCH_BYTES = MAX_CACHE_BYTES


@dataclasses.dataclass
class RunResult:
    """What `train()` returns.

    Attributes:
        run_dir: the run directory.
        metrics: the contents of metrics.json.
        history: per-epoch logs of the whole run (from log.csv, resumed epochs included).
        config: the resolved TrainConfig.
        model: the trained network (compiled; normalised, resized images in).
        saved_model: the model as saved to model.keras (raw images in, see `deploy`).
        test_probabilities: the saved model's softmax outputs on the test split, in order.
        test_files: image folders: the test split's files, in the same order.
    """

    run_dir: str
    metrics: dict
    history: dict
    config: TrainConfig
    model: object = None
    saved_model: object = None
    test_probabilities: object = None
    test_files: tuple = ()

    @property
    def test_accuracy(self):
        return self.metrics["test_accuracy"]


@dataclasses.dataclass
class Plan:
    """Everything decided before the run starts (nothing written yet)."""

    config: TrainConfig
    data_info: object
    input_shape: tuple
    image_size: int | None
    verbose: int
    say: object
    started: float


@dataclasses.dataclass
class Data:
    """The run's pipelines: train (and validation) normalised, test raw for the saved model."""

    train: object
    val: object
    test: object
    train_info: object
    test_info: object
    one_hot: bool
    steps_per_epoch: int


@dataclasses.dataclass
class Trained:
    """What the fit leaves for the report."""

    network: object
    fresh: list  # layers that started fresh when starting from weights
    stages: list
    initial_epoch: int  # the epoch a resumed run continued after (0: a new run)
    throughput: object = None
    best_val_accuracy: float | None = None
    train_time_s: float = 0.0
    xla: bool = False


@dataclasses.dataclass
class TrainingStage:
    """One model.fit over epochs [first, stop): what trains and at which learning rate."""

    name: str  # "all" or "head"
    first: int
    stop: int
    lr: float
    trainable_parameters: int = 0


# ----------------------------------------------------------------------------- plan


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
        unfinished = os.path.exists(os.path.join(asked.run_dir, "backup", "training_metadata.json"))
        if not unfinished and os.path.exists(os.path.join(asked.run_dir, "metrics.json")):
            raise ValueError(f"nothing to resume: {asked.run_dir} holds a finished run")
        defaults = TrainConfig()
        changed = {
            f.name: getattr(asked, f.name)
            for f in dataclasses.fields(TrainConfig)
            if getattr(asked, f.name) != getattr(defaults, f.name)
            and f.name not in ("run_dir", "resume")
        }
        for name, value in changed.items():
            if name not in RESUME_MAY_CHANGE and value != getattr(saved, name):
                raise ValueError(
                    f"cannot change {name} when resuming (saved: {getattr(saved, name)!r}); "
                    f"only {', '.join(n for n in RESUME_MAY_CHANGE if n != 'resume')} may change"
                )
        return check_epochs(dataclasses.replace(saved, **changed, run_dir=asked.run_dir,
                                                resume=True).validate())

    resolved = adopt_init(asked.resolved())
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
            return check_epochs(dataclasses.replace(
                saved, epochs=resolved.epochs, verbose=resolved.verbose,
                steps_per_epoch=resolved.steps_per_epoch))
        if os.path.exists(os.path.join(resolved.run_dir, "metrics.json")):
            raise ValueError(
                f"{resolved.run_dir} already holds a finished run; choose another --run-dir"
            )
    return resolved


def check_epochs(config):
    """Refuse to continue a run with fewer epochs than it has already trained; returns config."""
    trained = read_state(os.path.join(config.run_dir, "backup")).get("epoch", 0)
    if config.epochs < trained:
        raise ValueError(f"{config.run_dir} has already trained {trained} epochs; --epochs must "
                         f"be at least {trained} to continue it")
    return config


def input_plan(config, data_info):
    """(input_shape, image_size to ask the data layer for or None) for this model and data."""
    import kcnn

    spec = kcnn.models.spec(config.model).resolve(**config.model_options)  # the variant's sizes
    height, width, channels = data_info.image_shape
    native = height if height is not None and height == width else None
    if config.image_size is not None:
        size = config.image_size
        if size < spec.min_input:
            raise ValueError(
                f"{config.model} needs inputs of at least {spec.min_input}x{spec.min_input}; "
                f"image_size {size} is too small"
            )
    elif native is not None and native >= spec.min_input and \
            builds_on(config, (native, native, channels)):
        size = native
    else:  # no fixed size, too small, or a fixed-size classifier (LeNet-5: 32x32) wants another
        size = spec.default_input[0]
    return (size, size, channels), (None if size == native else size)


def builds_on(config, input_shape):
    """True when the model builds on `input_shape`: some classifier heads take one size only."""
    import kcnn

    default = kcnn.models.spec(config.model).resolve(**config.model_options).default_input
    if tuple(input_shape[:2]) == tuple(default[:2]):
        return True
    try:
        kcnn.models.build(config.model, input_shape=tuple(input_shape), **config.model_options)
    except ValueError:
        return False
    return True


def augment_presets(augment):
    """The data layer's augment argument for a config value: None, or a list of preset names
    ("cifar+mixup" combines presets)."""
    return None if augment in (None, "", "none") else augment.split("+")


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


def adopt_init(config):
    """With --init RUN_DIR: the run's model, builder options and (unless given) input size."""
    if not config.init:
        return config
    transfer.check_start(config)
    saved = TrainConfig.from_run(config.init)
    image_size = config.image_size
    metrics_path = os.path.join(config.init, "metrics.json")
    if image_size is None and os.path.exists(metrics_path):
        image_size = runs.read_json(metrics_path)["input_shape"][0]
    return dataclasses.replace(config, model=saved.model, model_options=saved.model_options,
                               image_size=image_size)


def make_plan(config, started):
    """The Plan of a resolved config. Everything that can fail on bad input fails here, before
    any run directory is written."""
    import kcnn
    import kcnn.data

    verbose = config.verbose if config.verbose is not None else (1 if sys.stdout.isatty() else 2)
    kcnn.models.spec(config.model)
    transfer.check_start(config)
    with warnings.catch_warnings():  # skipped image files: said at the start of the run
        warnings.simplefilter("ignore")
        data_info = kcnn.data.info(config.dataset, data_dir=config.data_dir,
                                   **folder_fractions(config))
    for preset in augment_presets(config.augment) or ():
        if preset not in kcnn.data.augment.names():
            raise ValueError(
                f"unknown augment {preset!r}; choose from: none, "
                f"{', '.join(kcnn.data.augment.names())} (combine with +, e.g. cifar+mixup)"
            )
    input_shape, image_size = input_plan(config, data_info)
    check_batch_bytes(input_shape, config.batch_size, data_info.num_examples)
    say = print if verbose else (lambda *a, **k: None)
    return Plan(config, data_info, input_shape, image_size, verbose, say, started)


def check_batch_bytes(input_shape, batch_size, num_examples=None):
    """Refuse a batch of float32 inputs larger than MAX_BATCH_BYTES, naming the size to lower
    (a batch holds at most the training split's `num_examples` images)."""
    batch = min(batch_size, num_examples or batch_size)
    height, width, channels = input_shape
    image_bytes = height * width * channels * 4
    if batch * image_bytes <= MAX_BATCH_BYTES:
        return
    shape = f"{height}x{width}x{channels}"
    largest = math.isqrt(MAX_BATCH_BYTES // (batch * channels * 4))  # the side that fits
    fits = MAX_BATCH_BYTES // image_bytes  # the batch that fits
    lower = (f"lower --batch-size to at most {fits} or --image-size to at most {largest}"
             if fits >= 1 else f"lower --image-size to at most {largest}")
    images = f"{batch} image{'s' if batch > 1 else ''}"
    raise ValueError(
        f"a batch of {images} of {shape} takes {batch * image_bytes / 1024**3:.1f} GiB as "
        f"float32, more than the {MAX_BATCH_BYTES / 1024**3:.0f} GiB allowed; {lower}"
    )


def check_activation_bytes(network, plan, rt):
    """On the CPU, refuse a batch whose layer outputs alone (what training keeps for the
    backward pass: less than it needs in all) exceed this machine's memory, naming the size to
    lower. Skipped on GPUs and for networks whose layers have no symbolic outputs."""
    if rt.gpus or not hasattr(os, "sysconf"):
        return
    try:
        outputs = [keras.tree.flatten(layer.output) for layer in network.layers]
    except (AttributeError, ValueError):  # a subclassed network: no symbolic outputs
        return
    values = sum(math.prod(t.shape[1:]) for found in outputs for t in found
                 if None not in tuple(t.shape[1:]))
    per_image = values * (2 if rt.precision.startswith("mixed") else 4)
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    batch = min(plan.config.batch_size, plan.data_info.num_examples or plan.config.batch_size)
    if batch * per_image <= memory:
        return
    fits, side = memory // per_image, plan.input_shape[0]
    lower = (f"lower --batch-size to at most {fits} or --image-size" if fits >= 1 else
             f"lower --image-size to below {math.isqrt(side * side * memory // per_image)}")
    raise ValueError(
        f"{plan.config.model} at {side}x{side} keeps {_bytes(batch * per_image)} of layer "
        f"outputs for a batch of {batch}, more than this machine's {_bytes(memory)} of memory; "
        f"{lower}"
    )


def _bytes(count):
    return f"{count / 1024**3:.1f} GiB" if count >= 1024**3 else f"{count / 1024**2:.0f} MiB"


def folder_fractions(config):
    """The folder split's fractions for an image folder data set, else {}."""
    from kcnn.data.sources import is_folder

    if not is_folder(config.dataset):
        return {}
    return {"validation_fraction": config.validation_split, "test_fraction": config.test_split}


def pretrained_preprocessing(config):
    """True when the network carries its pretrained weights' own preprocessing (then the data is
    not normalised by kcnn)."""
    return bool(config.weights) and not transfer.is_weights_file(config.weights)


# ----------------------------------------------------------------------------- data


def load_data(plan, processes=1):
    """The Data of a run: train (augmented) and validation normalised for the network, test raw
    (0..255) for the saved model with its preprocessing."""
    import kcnn.data
    from kcnn.data.sources import is_folder

    config = plan.config
    common = {"data_dir": config.data_dir, "image_size": plan.image_size, "seed": config.seed,
              "deterministic": config.deterministic, "interpolation": config.interpolation,
              "crop_to_aspect_ratio": config.crop_to_aspect_ratio,
              "normalize": not pretrained_preprocessing(config), **folder_fractions(config)}
    if is_folder(config.dataset):
        from kcnn.data.folder import scan

        held_out = scan(config.dataset, **folder_fractions(config)).splits["validation"]
        train_split, val_split = "train", "validation" if held_out else None
    elif config.validation_split > 0:
        percent = round(100 * (1 - config.validation_split))
        train_split, val_split = f"train[:{percent}%]", f"train[{percent}%:]"
    else:
        train_split, val_split = "train", None
    train, train_info = kcnn.data.load(config.dataset, train_split, config.batch_size,
                                       augment=augment_presets(config.augment), shuffle=True,
                                       **common)
    val = None
    if val_split:
        val, _ = kcnn.data.load(config.dataset, val_split, config.batch_size, shuffle=False,
                                drop_remainder=processes > 1, **common)
    test, test_info = evaluation.load_test(config, plan.input_shape, config.batch_size)

    one_hot = train_info.soft_labels or config.label_smoothing > 0  # mixup/cutmix: soft labels
    if one_hot:
        train = one_hot_labels(train, train_info.num_classes)
        val = one_hot_labels(val, train_info.num_classes) if val is not None else None
    if config.steps_per_epoch:
        steps_per_epoch = config.steps_per_epoch
        train = train.repeat()
    else:
        steps_per_epoch = count_steps(train)
    return Data(train, val, test, train_info, test_info, one_hot, steps_per_epoch)


# ----------------------------------------------------------------------------- model


def build_model(plan, rt, data):
    """(network, names of its layers that start fresh) in the runtime's scope."""
    with rt.scope():
        return transfer.build_network(plan.config, data.train_info.num_classes,
                                      plan.input_shape)


def compile_model(network, plan, rt, data, lr):
    """Compile for one stage (a change of what is trainable needs a new compile)."""
    config = plan.config
    with rt.scope():
        if data.one_hot:
            loss = keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)
            accuracy = keras.metrics.CategoricalAccuracy(name="accuracy")
        else:
            loss = keras.losses.SparseCategoricalCrossentropy()
            accuracy = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
        network.compile(
            optimizer=recipes.make_optimizer(dataclasses.replace(config, lr=lr),
                                             data.steps_per_epoch),
            loss=loss,
            metrics=[accuracy],
            jit_compile=rt.jit_compile,
        )


def plan_stages(config):
    """The fit stages: the whole network (or its classifier with --freeze backbone), or for the
    finetune recipe the classifier for head_epochs, then everything at lr / 10."""
    if config.recipe == "finetune":
        return [TrainingStage("head", 0, config.head_epochs, config.lr),
                TrainingStage("all", config.head_epochs, config.epochs,
                              config.lr * FINETUNE_LR_FACTOR)]
    name = "head" if config.freeze == "backbone" else "all"
    return [TrainingStage(name, 0, config.epochs, config.lr)]


def set_trainable(network, stage, config):
    """Freeze or unfreeze for a stage; returns its trainable parameter count."""
    if stage.name == "head":
        return transfer.freeze_backbone(network)
    if config.recipe == "finetune":
        return transfer.unfreeze_for_finetune(network)
    return transfer.trainable_parameters(network)


# ----------------------------------------------------------------------------- fit


def make_callbacks(plan, data, stage, *, state, throughput, clock):
    """The callbacks of one stage: (list, ModelCheckpoint)."""
    config, run_dir = plan.config, plan.config.run_dir
    monitor = "val_accuracy" if data.val is not None else "accuracy"
    checkpoint = Checkpoint(
        os.path.join(run_dir, "best.keras"), monitor=monitor, mode="max", save_best_only=True,
        initial_value_threshold=state.get("checkpoint_best"),
    )
    plateau = None
    callbacks = [StopOnNaN(stage.lr), throughput, LearningRateLogger()]
    if config.schedule == "plateau":
        plateau = recipes.plateau_callback(monitor, verbose=1 if plan.verbose else 0)
        callbacks.append(plateau)
    callbacks += [
        checkpoint,
        keras.callbacks.CSVLogger(os.path.join(run_dir, "log.csv"),
                                  append=bool(max(stage.first, state.get("epoch", 0)))),
        keras.callbacks.TensorBoard(
            os.path.join(run_dir, "tensorboard"), profile_batch=0, write_steps_per_second=True
        ),
        Backup(os.path.join(run_dir, "backup"), plateau=plateau, checkpoint=checkpoint,
               clock=clock, first=stage.first),
    ]
    return callbacks, checkpoint


def fit(plan, rt, data, trained):
    """Run every stage not finished yet (a resumed run skips finished ones); fills in
    `trained`'s throughput, best validation accuracy, train time and XLA."""
    config, network = plan.config, trained.network
    backup_dir = os.path.join(config.run_dir, "backup")
    state = read_state(backup_dir)
    session_start = time.perf_counter()
    previous_time = state.get("train_time_s", 0.0)

    def clock():
        return previous_time + time.perf_counter() - session_start

    throughput = Throughput(config.batch_size, data.train_info.num_examples)
    best, xla = state.get("checkpoint_best"), False
    data = dataclasses.replace(data, train=runtime.feed_device(data.train))  # runtime.py says how
    for stage in trained.stages:
        stage.trainable_parameters = set_trainable(network, stage, config)
        if stage.stop <= state.get("epoch", 0):
            if stage.stop == state["epoch"]:  # the backup was taken at this stage's end
                compile_model(network, plan, rt, data, stage.lr)
                restore_backup(network, backup_dir)
                xla = bool(network.jit_compile)
            continue  # finished before the run was interrupted
        compile_model(network, plan, rt, data, stage.lr)
        network._initial_epoch = None  # noqa: SLF001 (Keras' restore sets it; it would win)
        xla = bool(network.jit_compile)  # what runs, not what was asked (Keras may fall back)
        callbacks, checkpoint = make_callbacks(
            plan, data, stage, state={**state, "checkpoint_best": best}, throughput=throughput,
            clock=clock)
        if len(trained.stages) > 1:
            plan.say(f"kcnn train: stage {stage.name}: epochs {stage.first + 1}-{stage.stop}, "
                     f"lr {stage.lr:g}, {stage.trainable_parameters:,} trainable parameters")
        network.fit(
            data.train,
            validation_data=data.val,
            initial_epoch=stage.first,
            epochs=stage.stop,
            steps_per_epoch=data.steps_per_epoch if config.steps_per_epoch else None,
            callbacks=callbacks,
            verbose=plan.verbose,
            shuffle=False,  # the tf.data pipeline shuffles
        )
        best, state = checkpoint.best, {}
    trained.throughput, trained.best_val_accuracy = throughput, _jsonable(best)
    trained.train_time_s, trained.xla = clock(), xla
    return trained


# ----------------------------------------------------------------------------- report


def save_models(plan, data, network):
    """Save model.keras and best.keras with their preprocessing (raw images in) and the class
    names; returns the model with preprocessing."""
    config, run_dir = plan.config, plan.config.run_dir
    info = data.train_info
    options = {"image_size": plan.input_shape[:2], "interpolation": config.interpolation,
               "crop_to_aspect_ratio": config.crop_to_aspect_ratio, "mean": info.mean,
               "std": info.std}
    model = deploy.with_preprocessing(network, **options)
    save_model(model, os.path.join(run_dir, "model.keras"))
    best_path = os.path.join(run_dir, "best.keras")
    if os.path.exists(best_path):
        import kcnn

        best = kcnn.load_model(best_path, compile=False)
        save_model(deploy.with_preprocessing(deploy.network_of(best), **options), best_path)
    deploy.save_class_names(run_dir, info.class_names)
    return model


def collect_metrics(plan, rt, trained, scores):
    """metrics.json's contents: every figure of the run in one place."""
    config, network, throughput = plan.config, trained.network, trained.throughput
    logs = report.read_csv(os.path.join(config.run_dir, "log.csv"))
    # The whole run's epochs (an interrupted run's earlier sessions too); the first is warm-up.
    per_epoch = logs.get("images_per_second") or throughput.per_epoch
    rates = per_epoch[1:] or per_epoch
    losses = logs.get("loss", [])
    return {
        "model": config.model,
        "dataset": config.dataset,
        "test_accuracy": scores["accuracy"],
        "test_loss": scores["loss"],
        "test_top5_accuracy": scores["top5_accuracy"],
        "test_per_class": scores["per_class"],
        "test_examples": scores["examples"],
        "epochs": len(logs.get("epoch", [])),
        "epochs_planned": config.epochs,
        "resumed_from_epoch": trained.initial_epoch,
        "terminated_on_nan": bool(losses) and not math.isfinite(losses[-1]),
        "best_val_accuracy": trained.best_val_accuracy if config.validation_split > 0 else None,
        "starting_weights": transfer.starting_weights(config),
        "fresh_layers": trained.fresh,
        "stages": [dataclasses.asdict(s) for s in trained.stages],
        "wall_time_s": round(time.perf_counter() - plan.started, 3),
        "train_time_s": round(trained.train_time_s, 3),
        "images_per_second": round(float(np.median(rates)), 1) if rates else None,
        "images_per_second_first_epoch": round(per_epoch[0], 1) if per_epoch else None,
        "input_shape": list(plan.input_shape),
        "parameters": int(network.count_params()),
        "trainable_parameters": transfer.trainable_parameters(network),
        "device": rt.device,
        "backend": rt.backend,
        "precision": rt.precision,
        "precision_reason": rt.precision_reason,
        "xla": trained.xla,
        "distribute": rt.distribute,
        "replicas": rt.replicas,
        "processes": rt.processes,
        "onednn": runtime.onednn_setting(),
        "seed": config.seed,
        "deterministic": config.deterministic,
        "recipe": config.recipe,
        "test_model": "final",  # the test figures are model.keras's (last epoch), not best.keras's
        "versions": report.versions(),
        "command": " ".join(sys.argv),
    }


def write_report(plan, rt, data, trained):
    """The saved models, test scores (through the saved model, on raw images), metrics.json and
    the plots. Returns the RunResult."""
    config, run_dir = plan.config, plan.config.run_dir
    model = save_models(plan, data, trained.network)
    if rt.processes > 1:
        # Each process scores the whole test set alone, on its own copy of the saved model
        # (a partial last batch cannot be split over the processes).
        import kcnn

        keras.distribution.set_distribution(None)
        model = kcnn.load_model(os.path.join(run_dir, "model.keras"), compile=False)
    probs, labels = evaluation.predict(model, data.test)
    class_names = data.train_info.class_names
    scores = {**evaluation.scores(probs, labels, class_names), "examples": len(labels)}
    metrics = collect_metrics(plan, rt, trained, scores)
    report.write_metrics(run_dir, metrics)
    logs = report.read_csv(os.path.join(run_dir, "log.csv"))
    report.plot_curves(logs, os.path.join(run_dir, "curves.png"))
    report.plot_confusion(labels, probs.argmax(-1), len(class_names), class_names,
                          os.path.join(run_dir, "confusion_matrix.png"))
    discard_backup(run_dir)  # only now: every final file is complete
    plan.say(
        f"kcnn train: {config.model} on {config.dataset}: test accuracy "
        f"{100 * scores['accuracy']:.2f}% (loss {scores['loss']:.4f}) after {metrics['epochs']} "
        f"epochs, {metrics['wall_time_s']:.1f} s, {_rate(metrics['images_per_second'])} images/s"
    )
    plan.say(
        f"kcnn train: artifacts in {run_dir}: model.keras, best.keras, classes.json, "
        "metrics.json, curves.png, confusion_matrix.png, log.csv, config.json, tensorboard/"
    )
    return RunResult(run_dir=run_dir, metrics=metrics, history=logs, config=config,
                     model=trained.network, saved_model=model, test_probabilities=probs,
                     test_files=data.test_info.files)


# ----------------------------------------------------------------------------- the run


def run(config=None, **kwargs):
    """Train, evaluate on the test split and write the artifacts; see `kcnn.training.train`."""
    the_plan = make_plan(resolve(config, **kwargs), started=time.perf_counter())
    rt = runtime.setup(the_plan.config)
    try:
        return _run(the_plan, rt)
    finally:
        rt.restore()


def _run(plan, rt):
    if rt.process_id == 0:
        run_dir = plan.config.run_dir
        with rundir.locked(run_dir):
            try:
                return _run_here(recheck(plan), rt)
            except OSError as error:  # a full disk, a read-only directory: one line
                if not rundir.concerns(error, run_dir):
                    raise
                raise rundir.describe(error, run_dir) from error
            except Exception as error:
                if not out_of_memory(error):
                    raise
                raise ValueError(
                    f"out of memory training {plan.config.model} on batches of "
                    f"{plan.config.batch_size} at {plan.input_shape[0]}x{plan.input_shape[1]}; "
                    "lower --batch-size or --image-size") from error
    # Another process of a multi-process run: the same steps (saving a model is collective),
    # into a temporary directory that starts from the chief's backup and is removed at the end.
    scratch = scratch_dir(plan.config.run_dir, rt.process_id)
    try:
        backup, log = (os.path.join(plan.config.run_dir, n) for n in ("backup", "log.csv"))
        if os.path.isdir(backup):
            shutil.copytree(backup, os.path.join(scratch, "backup"))
            if os.path.exists(log):
                shutil.copy(log, scratch)
        config = dataclasses.replace(plan.config, run_dir=scratch)
        result = _run_here(dataclasses.replace(plan, config=config), rt)
        return dataclasses.replace(result, run_dir=None)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def scratch_dir(run_dir, process_id):
    """A fresh temporary run directory for process `process_id` of the run in `run_dir`; the same
    name on every start, so a restart replaces what a killed process left behind."""
    key = hashlib.sha1(os.path.abspath(run_dir).encode()).hexdigest()[:12]
    path = os.path.join(tempfile.gettempdir(), f"kcnn-{key}-process{process_id}")
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def out_of_memory(error):
    """True for an allocation failure of TensorFlow or XLA (not a bad input)."""
    text = str(error)
    return type(error).__name__ == "ResourceExhaustedError" or "RESOURCE_EXHAUSTED" in text \
        or "OOM when allocating" in text


def recheck(plan):
    """The plan again, now that the run directory is locked: another trainer may have started
    or finished a run there since it was resolved."""
    config = resolve(plan.config)
    return plan if config == plan.config else make_plan(config, plan.started)


def _run_here(plan, rt):
    data = load_data(plan, rt.processes)
    network, fresh = build_model(plan, rt, data)
    check_activation_bytes(network, plan, rt)
    initial_epoch = read_state(os.path.join(plan.config.run_dir, "backup")).get("epoch", 0)
    trained = Trained(network, fresh, plan_stages(plan.config), initial_epoch)
    start_run_dir(plan, rt, trained)
    fit(plan, rt, data, trained)
    return write_report(plan, rt, data, trained)


def start_run_dir(plan, rt, trained):
    """Write config.json, trim log.csv when resuming, and say what is about to run."""
    config, say = plan.config, plan.say
    fresh, initial_epoch = trained.fresh, trained.initial_epoch
    os.makedirs(config.run_dir, exist_ok=True)
    rundir.remove_partial_files(config.run_dir)  # what a killed run was writing
    restart = not initial_epoch and os.path.exists(os.path.join(config.run_dir, "config.json"))
    config.to_json(os.path.join(config.run_dir, "config.json"))
    if initial_epoch:
        truncate_csv(os.path.join(config.run_dir, "log.csv"), initial_epoch)
    shape = "x".join(str(v) for v in plan.input_shape)
    say(
        f"kcnn train: {config.model} on {config.dataset} {shape}, recipe {config.recipe} "
        f"({config.optimizer} lr {config.lr:g}, {config.schedule}, wd {config.weight_decay:g} "
        f"{config.weight_decay_kind}, batch {config.batch_size}, {config.epochs} epochs, "
        f"augment {config.augment}), {rt.precision} ({rt.precision_reason}), "
        f"XLA {'on' if rt.jit_compile else 'off'}, {rt.replicas} replica(s) on {rt.device}, "
        f"seed {config.seed}"
    )
    if plan.data_info.skipped:
        from kcnn.data.folder import FolderIndex

        index = FolderIndex(config.dataset, plan.data_info.class_names, {},
                            plan.data_info.skipped, False)
        say(f"kcnn train: {index.skipped_message()}")
    start = transfer.starting_weights(config)
    if start != "random":
        say(f"kcnn train: starting from {start}"
            + (f"; new layer(s): {', '.join(fresh)}" if fresh else ""))
    if initial_epoch >= config.epochs:
        say(f"kcnn train: {config.run_dir} finished training ({initial_epoch} epochs) before it "
            "was interrupted; writing its model and report")
    elif initial_epoch:
        say(f"kcnn train: resuming {config.run_dir} after epoch {initial_epoch} of "
            f"{config.epochs}")
    elif restart:
        say(f"kcnn train: {config.run_dir} holds no finished epoch of an earlier attempt; "
            "starting at epoch 1")
    say(f"kcnn train: run directory {config.run_dir}")
    hint = runtime.onednn_hint(rt)
    if hint:
        say(hint)
