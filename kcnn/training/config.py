"""`TrainConfig`: every setting of a training run, typed, validated and saved as JSON.

A field left at `None` is filled from the recipe (see `recipes.py`) when the config is resolved;
the resolved config is what `train()` prints at the start and saves to `run_dir/config.json`,
so a run can be repeated or resumed with exactly the same settings.
"""

import dataclasses
import math
import os
import time

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULES = ("constant", "step", "plateau", "cosine", "one-cycle", "lecun1998")
PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
JIT_COMPILE = ("auto", "on", "off")
DISTRIBUTE = ("auto", "none", "mirrored")
FREEZE = (None, "backbone")
INTERPOLATIONS = ("bilinear", "nearest", "bicubic", "area")  # kcnn.data.folder.INTERPOLATIONS

# Fields a recipe fills when the user leaves them at None.
RECIPE_FIELDS = (
    "epochs",
    "batch_size",
    "optimizer",
    "lr",
    "momentum",
    "weight_decay",
    "weight_decay_kind",
    "schedule",
    "warmup_epochs",
    "label_smoothing",
    "augment",
)


@dataclasses.dataclass
class TrainConfig:
    """The settings of one training run.

    Attributes:
        model: a registered model name (`kcnn.models.names()`).
        dataset: a data set name (`kcnn.data.names()`).
        recipe: a recipe name (`kcnn.training.RECIPES`); it fills every field below left at None.
        epochs: number of epochs (>= 1).
        batch_size: global batch size (>= 1), split across replicas under a strategy.
        optimizer: one of OPTIMIZERS.
        lr: the base (peak) learning rate.
        momentum: SGD / RMSprop momentum.
        weight_decay: the weight decay factor; how it is applied is `weight_decay_kind`.
        weight_decay_kind: "coupled" (L2 added to the gradient, as torch.optim.SGD),
            "coupled-kernels" (the same on kernels only) or "decoupled" (Keras' optimizer
            `weight_decay`); see `kcnn.training.recipes`.
        schedule: one of SCHEDULES; "plateau" divides the learning rate by 10 when the validation
            accuracy stops improving, "step" divides it by 10 at 50% and 75% of training.
        warmup_epochs: linear warm-up length in epochs (may be fractional).
        label_smoothing: label smoothing for the cross-entropy (0 = off).
        augment: a training augmentation preset (`kcnn.data.augment.names()`), presets joined
            with "+" (e.g. "cifar+mixup"), or "none".
        precision: "auto" (mixed_float16 on GPUs of compute capability >= 7.0; on the CPU
            mixed_bfloat16 for the families measured faster in it on CPUs with AVX512_BF16 or
            AMX-BF16, see `runtime.choose_precision`; else float32), "float32", "mixed_float16"
            or "mixed_bfloat16".
        jit_compile: "auto" (XLA on GPU, off on CPU), "on" or "off".
        distribute: "auto" (MirroredStrategy over >1 local GPU), "none" or "mirrored".
        seed: random seed (keras.utils.set_random_seed); None picks one and records it.
        deterministic: turn on TensorFlow op determinism and the data's deterministic mode.
        validation_split: fraction of the training split held out for validation (0 = none).
        image_size: resize images to this height = width (None: the data's own size when the
            model accepts it, else the model's default input size).
        interpolation: how images are resized ("bilinear", "nearest", "bicubic", "area"; Keras'
            Resizing layer, which the saved model also puts in front of the network).
        crop_to_aspect_ratio: crop the centre to the target's aspect ratio before resizing
            (True) or stretch (False); None: crop when starting from pretrained weights.
        test_split: image folders without a test/ folder: the share of each class kept for the
            test split (validation_split plays the same part for validation).
        weights: starting weights: a name the builder's `weights=` takes ("imagenet", ...)
            or a `.weights.h5` file; a classifier for another number of classes starts fresh.
        init: a finished run directory whose network the run starts from (new classifier when
            the classes differ).
        freeze: None, or "backbone": train the classifier only (BatchNormalization in
            inference mode).
        head_epochs: the finetune recipe: epochs of its first stage (classifier only) before the
            whole network trains at a tenth of the learning rate (None: half the epochs).
        model_options: extra keyword arguments for the model builder (variant, aux_logits, ...).
        data_dir: a folder of the data set's original files, or a tensorflow-datasets data
            directory (see `kcnn.data.load`); stored absolute.
        steps_per_epoch: cap on training steps per epoch (None = one pass over the data).
        run_dir: where every artifact goes (None: runs/MODEL-DATASET-TIMESTAMP).
        resume: continue the run in `run_dir` with the settings saved in its config.json.
        verbose: Keras progress output: 0 silent, 1 progress bar, 2 one line per epoch
            (None: 1 on a terminal, else 2).
    """

    model: str = "lenet5"
    dataset: str = "digits"
    recipe: str | None = None
    epochs: int | None = None
    batch_size: int | None = None
    optimizer: str | None = None
    lr: float | None = None
    momentum: float | None = None
    weight_decay: float | None = None
    weight_decay_kind: str | None = None
    schedule: str | None = None
    warmup_epochs: float | None = None
    label_smoothing: float | None = None
    augment: str | None = None
    precision: str = "auto"
    jit_compile: str = "auto"
    distribute: str = "auto"
    seed: int | None = None
    deterministic: bool = False
    validation_split: float = 0.1
    image_size: int | None = None
    interpolation: str = "bilinear"
    crop_to_aspect_ratio: bool | None = None
    test_split: float = 0.2
    weights: str | None = None
    init: str | None = None
    freeze: str | None = None
    head_epochs: int | None = None
    model_options: dict = dataclasses.field(default_factory=dict)
    data_dir: str | None = None
    steps_per_epoch: int | None = None
    run_dir: str | None = None
    resume: bool = False
    verbose: int | None = None

    @classmethod
    def from_kwargs(cls, config=None, **kwargs):
        """A TrainConfig from another one, a dict, or keyword arguments (later ones win).

        Unknown keys raise a ValueError that lists the valid ones.
        """
        if isinstance(config, TrainConfig):
            values = dataclasses.asdict(config)
        elif config is None:
            values = {}
        elif isinstance(config, dict):
            values = dict(config)
        else:
            raise ValueError(f"expected a TrainConfig or a dict, got {type(config).__name__}")
        values.update(kwargs)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"unknown training setting(s) {', '.join(unknown)}; valid: {', '.join(sorted(known))}"
            )
        return cls(**values)

    def to_dict(self):
        return dataclasses.asdict(self)

    def to_json(self, path):
        """Write the config as indented JSON (atomically: see `rundir.replacing`)."""
        from kcnn.training.rundir import write_json

        write_json(path, self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, path):
        """The config a run saved in `path` (read by `kcnn.runs`: a damaged file is named)."""
        from kcnn import runs

        return cls.from_kwargs(runs.read_json(path))

    @classmethod
    def from_run(cls, run_dir):
        """The config of a run directory (its config.json, read by `kcnn.runs.read_config`)."""
        from kcnn import runs

        return cls.from_kwargs(runs.read_config(run_dir))

    def validate(self):
        """Check every value that can be checked without TensorFlow; raise ValueError if bad."""
        from kcnn.training.recipes import RECIPES, WEIGHT_DECAY_KINDS

        def choose(field, value, allowed):
            if value is not None and value not in allowed:
                raise ValueError(f"unknown {field} {value!r}; choose from: {', '.join(allowed)}")

        choose("recipe", self.recipe, tuple(RECIPES))
        choose("optimizer", self.optimizer, OPTIMIZERS)
        choose("schedule", self.schedule, SCHEDULES)
        choose("weight_decay_kind", self.weight_decay_kind, WEIGHT_DECAY_KINDS)
        choose("precision", self.precision, PRECISIONS)
        choose("jit_compile", self.jit_compile, JIT_COMPILE)
        choose("distribute", self.distribute, DISTRIBUTE)
        choose("freeze", self.freeze, FREEZE[1:])
        choose("interpolation", self.interpolation, INTERPOLATIONS)
        for field in ("epochs", "batch_size", "steps_per_epoch", "image_size", "head_epochs"):
            value = getattr(self, field)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{field} must be an integer >= 1, got {value!r}")
        for field in ("lr", "momentum", "weight_decay", "warmup_epochs", "label_smoothing",
                      "validation_split", "test_split"):
            value = getattr(self, field)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not math.isfinite(value) or value < 0):
                raise ValueError(f"{field} must be a finite number >= 0, got {value!r}")
        if self.lr is not None and self.lr == 0:
            raise ValueError("lr must be > 0")
        if self.momentum is not None and self.momentum > 1:
            raise ValueError(f"momentum must be in [0, 1], got {self.momentum}")
        if self.label_smoothing is not None and self.label_smoothing >= 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if self.epochs is not None and self.warmup_epochs is not None and self.warmup_epochs > self.epochs:
            raise ValueError(
                f"warmup_epochs ({self.warmup_epochs}) is longer than the run ({self.epochs} epochs)"
            )
        if not 0 <= self.validation_split < 1:
            raise ValueError(f"validation_split must be in [0, 1), got {self.validation_split}")
        if not 0 <= self.test_split < 1 or self.validation_split + self.test_split >= 1:
            raise ValueError(f"test_split must be in [0, 1) and leave images for training with "
                             f"validation_split {self.validation_split}; got {self.test_split}")
        if self.recipe == "finetune" and self.freeze:
            raise ValueError("the finetune recipe freezes the backbone itself in its first "
                             "stage; leave out --freeze")
        if self.head_epochs is not None and self.recipe != "finetune":
            raise ValueError("head_epochs is a setting of the finetune recipe (--recipe finetune)")
        if self.head_epochs is not None and self.epochs is not None and \
                self.head_epochs >= self.epochs:
            raise ValueError(f"head_epochs ({self.head_epochs}) must be fewer than the epochs "
                             f"({self.epochs}), leaving epochs for the second stage")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)
                                      or not 0 <= self.seed < 2**32):
            raise ValueError(f"seed must be an integer in [0, 2**32), got {self.seed!r}")
        if self.run_dir is not None and not str(self.run_dir).strip():
            raise ValueError("run_dir is empty; name a directory, or leave it out for "
                             "runs/MODEL-DATASET-TIMESTAMP")
        if self.verbose not in (None, 0, 1, 2):
            raise ValueError(f"verbose must be 0, 1 or 2, got {self.verbose!r}")
        if not isinstance(self.model_options, dict):
            raise ValueError("model_options must be a dict of builder keyword arguments")  # noqa: TRY004
        return self

    def resolved(self):
        """A validated copy with every recipe field, the seed and the run directory filled in."""
        from kcnn.data.sources import is_folder
        from kcnn.training.recipes import DEFAULT_RECIPE, RECIPES

        self.validate()
        values = self.to_dict()
        recipe = RECIPES[self.recipe or DEFAULT_RECIPE]
        values["recipe"] = recipe.name
        for field in RECIPE_FIELDS:
            if values[field] is None:
                values[field] = getattr(recipe, field)
        if values["augment"] in (None, ""):
            values["augment"] = "none"
        if values["crop_to_aspect_ratio"] is None:  # pretrained weights: keep the aspect ratio
            values["crop_to_aspect_ratio"] = bool(self.weights) and not \
                str(self.weights).endswith(".weights.h5")
        if values["recipe"] == "finetune" and values["head_epochs"] is None:
            values["head_epochs"] = max(1, values["epochs"] // 2)
        if values["seed"] is None:
            values["seed"] = int.from_bytes(os.urandom(4), "little") % (2**31)
        if values["data_dir"]:  # absolute: `kcnn evaluate RUN` works from any directory
            values["data_dir"] = os.path.abspath(os.path.expanduser(values["data_dir"]))
        if is_folder(self.dataset):
            values["dataset"] = os.path.abspath(self.dataset)
        if values["run_dir"] is None:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            values["run_dir"] = os.path.join("runs", f"{self.model}-{self.dataset}-{stamp}")
        return TrainConfig(**values).validate()
