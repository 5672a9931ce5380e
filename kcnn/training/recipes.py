"""Training recipes from the sources, and the optimizers and learning-rate schedules they use.

A recipe fills every `TrainConfig` field the user leaves at None, including the kind of weight
decay (`WEIGHT_DECAY_KINDS`), which each recipe takes from its source:

    coupled          L2: wd * w is added to the gradient of every parameter, so it goes through
                     the momentum (torch.optim.SGD(weight_decay=wd); Torch's optim.sgd as
                     fb.resnet.torch uses it on all parameters). With momentum m its effect is
                     about 1 / (1 - m) = 10 times that of the same wd decoupled.
    coupled-kernels  the same on convolution and dense kernels only (Caffe's AlexNet prototxt:
                     decay_mult 0 on biases; cuda-convnet decayed weights only).
    decoupled        Keras' optimizer `weight_decay`: w -= lr * wd * w beside the update, outside
                     any momentum (Loshchilov & Hutter's AdamW).

Coupled decay is `kcnn.training.optimizers.SGD`, step for step as PyTorch's (tested by replaying
recorded gradients through both). The schedules follow PyTorch's formulas: "step" is
MultiStepLR(milestones at 50% and 75% of the steps, gamma 0.1), "cosine" is LinearLR(start
factor 0.01) warm-up then CosineAnnealingLR(eta_min 0), "one-cycle" is OneCycleLR(pct_start 0.3,
anneal_strategy "cos", div_factor 25, final_div_factor 1e4, cycle_momentum off), all stepped
once per training step; "plateau" is Keras' ReduceLROnPlateau(factor 0.1, patience 5,
min_delta 1e-4), which equals PyTorch's ReduceLROnPlateau(mode "max", factor 0.1, patience 4,
threshold 1e-4, threshold_mode "abs"): Keras lowers the rate on the patience-th epoch without
improvement, PyTorch after it.
"""

import dataclasses
import math

import keras
from keras import ops

from kcnn.training.optimizers import SGD

WEIGHT_DECAY_KINDS = ("coupled", "coupled-kernels", "decoupled")


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
    weight_decay_kind: str = "coupled"  # see WEIGHT_DECAY_KINDS; the source says which


RECIPES = {
    r.name: r
    for r in (
        # name        optimizer lr    mom  wd     schedule    warm-up batch epochs augment  smoothing
        Recipe("adam", "adam", 1e-3, 0.0, 0.0, "cosine", 0, 32, 20, None, 0.0,
               "Kingma & Ba 2015's Adam at their default rate 1e-3, annealed to 0 by a cosine "
               "(Loshchilov & Hutter 2017), on Keras' default batch of 32; kcnn's default: "
               "LeNet-5 on digits in seconds, on MNIST in minutes (at a constant 1e-3 LeNet-5 "
               "overfits MNIST: its validation loss rises after a few epochs)",
               weight_decay_kind="decoupled"),
        Recipe("adamw", "adamw", 1e-3, 0.0, 0.05, "cosine", 2, 128, 50, None, 0.0,
               "Loshchilov & Hutter 2019 (decoupled weight decay, on all parameters), cosine "
               "with warm-up", weight_decay_kind="decoupled"),
        Recipe("alexnet", "sgd", 0.01, 0.9, 5e-4, "plateau", 0, 128, 90, None, 0.0,
               "Krizhevsky et al. 2012: SGD 0.9, lr 0.01 divided by 10 when validation accuracy "
               "plateaus, weight decay 5e-4 added to the gradient (the paper's update rule) of "
               "the weights, not the biases (cuda-convnet; Caffe's bvlc_alexnet: decay_mult 0), "
               "batch 128 (dropout 0.5 is in the model)", weight_decay_kind="coupled-kernels"),
        Recipe("he-cifar", "sgd", 0.1, 0.9, 1e-4, "step", 0, 128, 164, "cifar", 0.0,
               "He et al. 2016, CIFAR-10: SGD 0.9, lr 0.1 divided by 10 at 50% and 75% of "
               "training (32k/48k of 64k iterations = 164 epochs of 50k images), weight decay "
               "1e-4 as L2 on all parameters (fb.resnet.torch, whose optim.sgd adds it to the "
               "gradient; it also turns on Nesterov, the paper does not say so), batch 128, "
               "4-pixel pad, 32x32 crop and horizontal flip", weight_decay_kind="coupled"),
        Recipe("cosine", "sgd", 0.1, 0.9, 5e-4, "cosine", 5, 128, 200, None, 0.0,
               "Loshchilov & Hutter 2017 (cosine annealing) with Goyal et al. 2017's linear "
               "warm-up; weight decay as torch.optim.SGD's L2 on all parameters (both papers "
               "use coupled L2)", weight_decay_kind="coupled"),
        Recipe("one-cycle", "sgd", 0.1, 0.9, 5e-4, "one-cycle", 0, 128, 30, None, 0.0,
               "Smith & Topin 2019: lr rises from lr/25 to lr over 30% of training, then "
               "anneals to lr/250000, both halves cosine as PyTorch's OneCycleLR; momentum is "
               "not cycled; weight decay as torch.optim.SGD's L2 on all parameters",
               weight_decay_kind="coupled"),
        Recipe("lecun1998", "adam", 5e-4, 0.0, 0.0, "lecun1998", 0, 32, 20, None, 0.0,
               "LeCun et al. 1998, section III-C: 20 passes, global learning rate 0.0005 for "
               "the first 2 passes, 0.0002 for the next 3, 0.0001 for 3, 0.00005 for 4, then "
               "0.00001; the paper scaled it per parameter by stochastic diagonal "
               "Levenberg-Marquardt (a Hessian-diagonal estimate) and updated after every "
               "example, Keras has neither: Adam (a per-parameter step from gradient second "
               "moments) on mini-batches of 32 stands in", weight_decay_kind="decoupled"),
        Recipe("finetune", "adam", 1e-3, 0.0, 0.0, "constant", 0, 32, 10, "flip", 0.0,
               "the Keras transfer-learning guide: the classifier alone on a frozen network "
               "(head_epochs, default half), then the whole network at lr/10 with "
               "BatchNormalization kept in inference mode; for --weights or --init",
               weight_decay_kind="decoupled"),
    )
}
DEFAULT_RECIPE = "adam"

# LeCun et al. 1998, section III-C: (passes, global learning rate) in order, then LECUN1998_LAST.
LECUN1998_RATES = ((2, 5e-4), (3, 2e-4), (3, 1e-4), (4, 5e-5))
LECUN1998_LAST = 1e-5

PLATEAU_PATIENCE = 5  # epochs without a better validation accuracy before lr /= 10


@keras.saving.register_keras_serializable(package="kcnn")
class EpochSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """The learning rate at each step for kcnn's schedules (serialisable with the model).

    Each kind is a PyTorch scheduler stepped once per training step (formulas in the module
    docstring); step s here is the rate after s calls of its `step()`.

    Args:
        kind: "constant", "step" (x0.1 at 50% and 75% of training), "cosine" (to 0),
            "one-cycle" (lr/25 -> lr over 30% of training, or over the warm-up if given, then
            down to lr/250000; both halves cosine) or "lecun1998" (the paper's rates per pass,
            `LECUN1998_RATES`, scaled so that the first is `lr`).
        lr: the base (peak) learning rate.
        total_steps: training steps in the whole run.
        warmup_steps: linear warm-up from lr/100 to lr ("cosine", "step", "constant"), or the
            rising half's length ("one-cycle").
        steps_per_epoch: steps in one pass over the data ("lecun1998" changes rates per pass).
    """

    def __init__(self, kind, lr, total_steps, warmup_steps=0, steps_per_epoch=None):
        self.kind = kind
        self.lr = float(lr)
        self.total_steps = max(int(total_steps), 1)
        self.warmup_steps = max(int(warmup_steps), 0)
        self.steps_per_epoch = None if steps_per_epoch is None else max(int(steps_per_epoch), 1)
        if kind == "lecun1998" and self.steps_per_epoch is None:
            raise ValueError('the "lecun1998" schedule needs steps_per_epoch')

    def milestones(self):
        """The steps at which "step" divides the rate by 10 (MultiStepLR's milestones)."""
        return [math.ceil(0.5 * self.total_steps), math.ceil(0.75 * self.total_steps)]

    def __call__(self, step):
        step = ops.cast(step, "float32")
        if self.kind == "one-cycle":
            return self._one_cycle(step)
        lr, total, warm = self.lr, float(self.total_steps), float(self.warmup_steps)
        if self.kind == "constant":
            main = ops.full_like(step, lr)
        elif self.kind == "step":
            first, second = self.milestones()
            main = ops.where(step < first, lr, ops.where(step < second, lr * 0.1, lr * 0.01))
        elif self.kind == "lecun1998":
            main = self._lecun1998(step)
        elif self.kind == "cosine":
            # lr * (1 + cos(pi t)) / 2 = lr * sin^2(pi (1 - t) / 2), accurate in float32 near 0
            left = ops.clip((total - step) / max(total - warm, 1.0), 0.0, 1.0)
            main = lr * ops.square(ops.sin(0.5 * math.pi * left))
        else:
            raise ValueError(f"unknown schedule kind {self.kind!r}")
        if not self.warmup_steps:
            return main
        rising = lr / 100.0 + (lr - lr / 100.0) * step / warm
        return ops.where(step < warm, rising, main)

    def _lecun1998(self, step):
        # The rate of pass floor(step / steps_per_epoch), relative to the paper's first rate.
        epoch = ops.floor(step / float(self.steps_per_epoch))
        scale = self.lr / LECUN1998_RATES[0][1]
        rate = ops.full_like(step, LECUN1998_LAST * scale)
        end = sum(passes for passes, _ in LECUN1998_RATES)
        for passes, value in reversed(LECUN1998_RATES):
            rate = ops.where(epoch < end, value * scale, rate)
            end -= passes
        return rate

    def _one_cycle(self, step):
        # OneCycleLR: the rising phase ends at step pct_start * total - 1, the falling one at
        # total - 1; in each, lr = to + (from - to) * (1 + cos(pi * pct)) / 2, written here
        # with sin^2 from the nearer end so that float32 keeps the small rates exact.
        peak, total = self.lr, float(self.total_steps)
        start = peak / 25.0
        end = start / 1e4
        up_end = (float(self.warmup_steps) if self.warmup_steps else 0.3 * total) - 1.0
        rising_done = ops.clip(step / max(up_end, 1e-9), 0.0, 1.0)
        rising = start + (peak - start) * ops.square(ops.sin(0.5 * math.pi * rising_done))
        falling_left = ops.clip((total - 1.0 - step) / max(total - 1.0 - up_end, 1.0), 0.0, 1.0)
        falling = end + (peak - end) * ops.square(ops.sin(0.5 * math.pi * falling_left))
        return ops.where(step <= up_end, rising, falling)

    def get_config(self):
        return {
            "kind": self.kind,
            "lr": self.lr,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "steps_per_epoch": self.steps_per_epoch,
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
        steps_per_epoch=steps_per_epoch,
    )


def plateau_callback(monitor, verbose=0):
    """kcnn's "plateau" schedule: Keras' ReduceLROnPlateau dividing the learning rate by 10
    after PLATEAU_PATIENCE epochs without a better `monitor` (maximised; see the module
    docstring for its PyTorch equivalent)."""
    return keras.callbacks.ReduceLROnPlateau(
        monitor=monitor, mode="max", factor=0.1, patience=PLATEAU_PATIENCE, verbose=verbose
    )


def make_optimizer(config, steps_per_epoch):
    """The Keras optimizer the config names, with its schedule and its kind of weight decay.

    SGD with "coupled" or "coupled-kernels" decay is `kcnn.training.optimizers.SGD` (PyTorch's
    update); "decoupled" decay, and every other optimizer, is Keras' own with `weight_decay`.
    """
    lr = learning_rate(config, steps_per_epoch)
    kind = config.weight_decay_kind or "decoupled"
    if kind not in WEIGHT_DECAY_KINDS:
        raise ValueError(
            f"unknown weight_decay_kind {kind!r}; choose from: {', '.join(WEIGHT_DECAY_KINDS)}"
        )
    if kind != "decoupled" and config.optimizer != "sgd":
        raise ValueError(
            f"weight_decay_kind {kind!r} (L2 through the momentum) is implemented for sgd only; "
            f"use weight_decay_kind 'decoupled' with {config.optimizer}"
        )
    wd = config.weight_decay or None
    if config.optimizer == "sgd" and kind != "decoupled":
        return SGD(lr, momentum=config.momentum, l2_decay=config.weight_decay or 0.0,
                   decayed="kernels" if kind == "coupled-kernels" else "all")
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
