"""Training recipes from the sources, and the optimizers and learning-rate schedules they use.

A recipe fills every `TrainConfig` field the user leaves at None. Keras' optimizer
`weight_decay` is decoupled (variable -= lr * wd * variable each step, on every weight); for
plain SGD that equals the papers' L2 penalty of wd/2 * |w|^2, with momentum it differs slightly.
"""

import dataclasses
import math

import keras
from keras import ops


@dataclasses.dataclass(frozen=True)
class Recipe:
    """One row of the RECIPES table: the fields it fills in a TrainConfig, and its source."""

    name: str
    optimizer: str
    lr: float
    momentum: float
    weight_decay: float
    schedule: str
    warmup_epochs: float
    batch_size: int
    epochs: int
    augment: str | None
    label_smoothing: float
    source: str


RECIPES = {
    r.name: r
    for r in (
        # name        optimizer lr    mom  wd     schedule    warm-up batch epochs augment  smoothing
        Recipe("adam", "adam", 1e-3, 0.0, 0.0, "constant", 0, 64, 20, None, 0.0,
               "Kingma & Ba 2015 defaults; kcnn's quick default (LeNet-5 on digits in seconds)"),
        Recipe("adamw", "adamw", 1e-3, 0.0, 0.05, "cosine", 2, 128, 50, None, 0.0,
               "Loshchilov & Hutter 2019 (decoupled weight decay), cosine with warm-up"),
        Recipe("alexnet", "sgd", 0.01, 0.9, 5e-4, "plateau", 0, 128, 90, None, 0.0,
               "Krizhevsky et al. 2012: SGD 0.9, lr 0.01 divided by 10 when validation accuracy "
               "plateaus, weight decay 5e-4, batch 128 (dropout 0.5 is in the model)"),
        Recipe("he-cifar", "sgd", 0.1, 0.9, 1e-4, "step", 0, 128, 164, "cifar", 0.0,
               "He et al. 2016, CIFAR-10: SGD 0.9, lr 0.1 divided by 10 at 50% and 75% of "
               "training (32k/48k of 64k iterations = 164 epochs of 50k images), weight decay "
               "1e-4, batch 128, 4-pixel pad, 32x32 crop and horizontal flip"),
        Recipe("cosine", "sgd", 0.1, 0.9, 5e-4, "cosine", 5, 128, 200, None, 0.0,
               "Loshchilov & Hutter 2017 (cosine annealing) with Goyal et al. 2017's linear "
               "warm-up"),
        Recipe("one-cycle", "sgd", 0.1, 0.9, 5e-4, "one-cycle", 0, 128, 30, None, 0.0,
               "Smith & Topin 2019: lr rises from lr/25 to lr over 30% of training, then "
               "anneals (cosine) to lr/250000, as PyTorch's OneCycleLR; momentum is not cycled"),
        Recipe("finetune", "adam", 1e-3, 0.0, 0.0, "constant", 0, 32, 10, "flip", 0.0,
               "the Keras transfer-learning guide: the classifier alone on a frozen network "
               "(head_epochs, default half), then the whole network at lr/10 with "
               "BatchNormalization kept in inference mode; for --weights or --init"),
    )
}
DEFAULT_RECIPE = "adam"

PLATEAU_PATIENCE = 5  # epochs without a better validation accuracy before lr /= 10


@keras.saving.register_keras_serializable(package="kcnn")
class EpochSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """The learning rate at each step for kcnn's schedules (serialisable with the model).

    Args:
        kind: "constant", "step" (x0.1 at 50% and 75% of training), "cosine" (to 0) or
            "one-cycle" (lr/25 -> lr over 30% of training, or over the warm-up if given, then
            cosine down to lr/250000).
        lr: the base (peak) learning rate.
        total_steps: training steps in the whole run.
        warmup_steps: linear warm-up from lr/100 (one-cycle: from lr/25) to lr.
    """

    def __init__(self, kind, lr, total_steps, warmup_steps=0):
        self.kind = kind
        self.lr = float(lr)
        self.total_steps = max(int(total_steps), 1)
        self.warmup_steps = max(int(warmup_steps), 0)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        lr, total = self.lr, float(self.total_steps)
        if self.kind == "one-cycle":
            up = float(self.warmup_steps or max(int(0.3 * self.total_steps), 1))
            start, end = lr / 25.0, lr / 25.0 / 1e4
            rising = start + (lr - start) * step / up
            t = ops.clip((step - up) / max(total - up, 1.0), 0.0, 1.0)
            falling = end + (lr - end) * 0.5 * (1.0 + ops.cos(math.pi * t))
            return ops.where(step < up, rising, falling)
        warm = float(self.warmup_steps)
        if self.kind == "constant":
            main = ops.full_like(step, lr)
        elif self.kind == "step":
            main = ops.where(step < 0.5 * total, lr, ops.where(step < 0.75 * total, lr * 0.1, lr * 0.01))
        elif self.kind == "cosine":
            t = ops.clip((step - warm) / max(total - warm, 1.0), 0.0, 1.0)
            main = 0.5 * lr * (1.0 + ops.cos(math.pi * t))
        else:
            raise ValueError(f"unknown schedule kind {self.kind!r}")
        if not self.warmup_steps:
            return main
        rising = lr / 100.0 + (lr - lr / 100.0) * step / warm
        return ops.where(step < warm, rising, main)

    def get_config(self):
        return {
            "kind": self.kind,
            "lr": self.lr,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
        }


def learning_rate(config, steps_per_epoch):
    """The optimizer's learning rate: a float for "plateau" (ReduceLROnPlateau changes it; a
    float warm-up is not possible there), else an `EpochSchedule`."""
    if config.schedule == "plateau":
        return float(config.lr)
    return EpochSchedule(
        config.schedule,
        config.lr,
        total_steps=config.epochs * steps_per_epoch,
        warmup_steps=round(config.warmup_epochs * steps_per_epoch),
    )


def make_optimizer(config, steps_per_epoch):
    """The Keras optimizer the config names, with its schedule and weight decay."""
    lr = learning_rate(config, steps_per_epoch)
    wd = config.weight_decay or None
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(lr, momentum=config.momentum, weight_decay=wd)
    if config.optimizer == "adam":
        return keras.optimizers.Adam(lr, weight_decay=wd)
    if config.optimizer == "adamw":
        return keras.optimizers.AdamW(lr, weight_decay=config.weight_decay)
    if config.optimizer == "rmsprop":
        # Szegedy et al. 2016 (Inception v3): RMSProp, decay 0.9, epsilon 1.0.
        return keras.optimizers.RMSprop(
            lr, rho=0.9, momentum=config.momentum, epsilon=1.0, weight_decay=wd
        )
    raise ValueError(f"unknown optimizer {config.optimizer!r}")
