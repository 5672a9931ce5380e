"""kcnn's SGD recipes update the weights exactly as PyTorch's SGD and schedulers do.

A small network is trained on scikit-learn's digits in PyTorch for STEPS steps and its
gradients are recorded. The same gradient sequence, from the same initial weights, is replayed
through kcnn's optimizer and schedule for each recipe, and through `torch.optim.SGD` with the
matching `torch.optim.lr_scheduler`. Replaying fixed gradients keeps the comparison linear (no
chaos): what differs is only the update rule and the rounding.

The float32 noise floor of a case is measured on the case itself with weight decay 0: for the
weights, the larger of (kcnn vs PyTorch, both float32) and (PyTorch float32 vs float64); for the
learning rates, PyTorch's float64 rates rounded to float32. Weights and learning rates must
agree within 10 times that at every step; a decoupled update must not.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import keras
from sklearn.datasets import load_digits

from kcnn.training import optimizers, recipes
from kcnn.training.config import TrainConfig

pytestmark = pytest.mark.tf_only  # kcnn/training is TensorFlow-side; the optimizer is keras.ops

EPOCHS, STEPS_PER_EPOCH = 10, 10
STEPS = EPOCHS * STEPS_PER_EPOCH
# A validation accuracy per epoch that improves, stalls long enough to trigger the plateau
# schedule twice, and improves by less than min_delta once (not an improvement for either).
PLATEAU_METRIC = (0.50, 0.60, 0.70, 0.70, 0.69, 0.70, 0.70, 0.70, 0.70, 0.70)


@pytest.fixture(scope="module")
def recorded():
    """(initial weights, [per-step gradients]) of a small conv net trained on digits."""
    torch.manual_seed(0)
    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x.reshape(-1, 1, 8, 8) / 16.0, dtype=torch.float32)
    y = torch.tensor(y)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(288, 10)
    )
    initial = [p.detach().numpy().copy() for p in net.parameters()]
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    grads = []
    for step in range(STEPS):
        batch = order[(step * 32) % 1760:][:32]
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x[batch]), y[batch]).backward()
        grads.append([p.grad.numpy().copy() for p in net.parameters()])
        opt.step()
    return initial, grads


def _config(recipe, schedule=None, weight_decay=None, warmup_epochs=None):
    return TrainConfig(
        recipe=recipe, schedule=schedule, weight_decay=weight_decay, epochs=EPOCHS,
        warmup_epochs=warmup_epochs, run_dir="unused", seed=0,
    ).resolved()


def _kcnn_replay(config, recorded, optimizer=None):
    """Weights after each step and the learning rate used at each step, through kcnn."""
    initial, grads = recorded
    optimizer = optimizer or recipes.make_optimizer(config, STEPS_PER_EPOCH)
    variables = [keras.Variable(w) for w in initial]
    plateau = None
    if config.schedule == "plateau":
        holder = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
        holder.compile(optimizer=optimizer, loss="mse")
        plateau = recipes.plateau_callback("val_accuracy")
        plateau.set_model(holder)
        plateau.on_train_begin()
    weights, lrs = [], []
    for step, g in enumerate(grads):
        lrs.append(float(keras.ops.convert_to_numpy(optimizer.learning_rate)))
        optimizer.apply([keras.ops.convert_to_tensor(a) for a in g], variables)
        weights.append([keras.ops.convert_to_numpy(v) for v in variables])
        if plateau is not None and (step + 1) % STEPS_PER_EPOCH == 0:
            epoch = step // STEPS_PER_EPOCH
            plateau.on_epoch_end(epoch, {"val_accuracy": PLATEAU_METRIC[epoch]})
    return weights, lrs


def _torch_replay(config, recorded, dtype=torch.float32):
    """The same through torch.optim.SGD(momentum, weight_decay) and PyTorch's scheduler."""
    initial, grads = recorded
    params = [torch.tensor(w, dtype=dtype, requires_grad=True) for w in initial]
    decayed = [p for p in params if config.weight_decay_kind == "coupled" or p.ndim >= 2]
    others = [p for p in params if not any(p is q for q in decayed)]
    groups = [{"params": decayed, "weight_decay": config.weight_decay}]
    if others:
        groups.append({"params": others, "weight_decay": 0.0})
    opt = torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum)
    sched = _torch_scheduler(config, opt)
    weights, lrs = [], []
    for step, g in enumerate(grads):
        lrs.append(opt.param_groups[0]["lr"])
        for p, a in zip(params, g):
            p.grad = torch.tensor(a, dtype=dtype)
        opt.step()
        weights.append([p.detach().numpy().copy() for p in params])
        if config.schedule == "plateau":
            if (step + 1) % STEPS_PER_EPOCH == 0:
                sched.step(PLATEAU_METRIC[step // STEPS_PER_EPOCH])
        elif sched is not None:
            sched.step()
    return weights, lrs


def _torch_scheduler(config, opt, total=STEPS, warm=None):
    """PyTorch's scheduler for kcnn's `config.schedule` over `total` steps."""
    lr_sched = torch.optim.lr_scheduler
    if warm is None:
        warm = round(config.warmup_epochs * STEPS_PER_EPOCH)
    if config.schedule == "constant":
        return None
    if config.schedule == "step":
        milestones = recipes.EpochSchedule("step", config.lr, total).milestones()
        return lr_sched.MultiStepLR(opt, milestones=milestones, gamma=0.1)
    if config.schedule == "cosine":
        cosine = lr_sched.CosineAnnealingLR(opt, T_max=total - warm, eta_min=0.0)
        if not warm:
            return cosine
        linear = lr_sched.LinearLR(opt, start_factor=0.01, end_factor=1.0, total_iters=warm)
        return lr_sched.SequentialLR(opt, [linear, cosine], milestones=[warm])
    if config.schedule == "one-cycle":
        return lr_sched.OneCycleLR(
            opt, max_lr=config.lr, total_steps=total, pct_start=(warm / total) if warm else 0.3,
            anneal_strategy="cos", cycle_momentum=False, div_factor=25.0, final_div_factor=1e4,
        )
    if config.schedule == "plateau":
        return lr_sched.ReduceLROnPlateau(
            opt, mode="max", factor=0.1, patience=recipes.PLATEAU_PATIENCE - 1, threshold=1e-4,
            threshold_mode="abs",
        )
    raise AssertionError(config.schedule)


def _weight_gap(a, b):
    """Per step: the largest weight difference, relative to the largest weight."""
    return np.array([
        max(np.abs(x - y).max() for x, y in zip(wa, wb)) / max(np.abs(y).max() for y in wb)
        for wa, wb in zip(a, b)
    ])


def _lr_gap(a, b):
    return np.abs(np.array(a) - np.array(b)) / np.array(b)


def _noise_floor(config, recorded):
    """(weights, learning rate) float32 noise floors of the case, with weight decay 0, and
    PyTorch's float32 weights without decay."""
    plain = TrainConfig.from_kwargs(config, weight_decay=0.0)
    kcnn_w, _ = _kcnn_replay(plain, recorded)
    torch32_w, _ = _torch_replay(plain, recorded)
    torch64_w, torch64_lr = _torch_replay(plain, recorded, torch.float64)
    weights = max(_weight_gap(kcnn_w, torch32_w).max(), _weight_gap(torch32_w, torch64_w).max())
    lr32 = np.array(torch64_lr, np.float32).astype(np.float64)  # rounding a rate to float32
    return weights, max(_lr_gap(lr32, torch64_lr).max(), 2.0**-24), torch32_w


CASES = [  # (recipe, schedule, warm-up epochs); None: the recipe's own
    ("he-cifar", "constant", None),
    ("he-cifar", None, None),  # step
    ("he-cifar", "cosine", 2),
    ("he-cifar", "one-cycle", None),
    ("he-cifar", "plateau", None),
    ("alexnet", None, None),  # plateau, coupled on kernels only
    ("cosine", None, None),  # 5 warm-up epochs
    ("one-cycle", None, None),
]


@pytest.mark.parametrize(("recipe", "schedule", "warmup"), CASES)
def test_recipe_replays_as_pytorch_sgd_and_scheduler(recorded, recipe, schedule, warmup):
    config = _config(recipe, schedule, warmup_epochs=warmup)
    assert config.weight_decay > 0 and config.weight_decay_kind.startswith("coupled")
    floor_w, floor_lr, undecayed = _noise_floor(config, recorded)
    assert 0 < floor_w < 1e-5 and floor_lr < 1e-6
    kcnn_w, kcnn_lr = _kcnn_replay(config, recorded)
    torch_w, torch_lr = _torch_replay(config, recorded)
    assert _lr_gap(kcnn_lr, torch_lr).max() <= 10 * floor_lr
    gap = _weight_gap(kcnn_w, torch_w)
    assert gap.max() <= 10 * floor_w, (gap.max(), floor_w)
    assert _weight_gap(torch_w, undecayed)[-1] > 100 * floor_w  # the decay shows above the noise


@pytest.mark.parametrize("recipe", ["he-cifar", "alexnet"])
def test_a_decoupled_update_fails_the_replay(recorded, recipe):
    config = _config(recipe, "constant")
    floor_w, _, _ = _noise_floor(config, recorded)
    decoupled = keras.optimizers.SGD(config.lr, momentum=config.momentum,
                                     weight_decay=config.weight_decay)
    gap = _weight_gap(_kcnn_replay(config, recorded, decoupled)[0],
                      _torch_replay(config, recorded)[0])
    assert gap[-1] > 100 * floor_w, (gap[-1], floor_w)


def test_schedules_follow_pytorch_on_odd_lengths():
    """Milestones and phase ends on a run whose length does not divide evenly (101 steps)."""
    for kind, warm in (("step", 0), ("cosine", 7), ("one-cycle", 0), ("one-cycle", 20)):
        schedule = recipes.EpochSchedule(kind, 0.1, total_steps=101, warmup_steps=warm)
        config = TrainConfig(lr=0.1, schedule=kind)
        opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        sched = _torch_scheduler(config, opt, total=101, warm=warm)
        ours = keras.ops.convert_to_numpy(schedule(np.arange(101))).astype(np.float64)
        theirs = []
        for _ in range(101):
            theirs.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        np.testing.assert_allclose(ours, theirs, rtol=4e-7, err_msg=f"{kind}, warm-up {warm}")


def test_optimizer_round_trips_and_refuses_decoupled_decay(tmp_path):
    opt = optimizers.SGD(0.1, momentum=0.9, l2_decay=5e-4, decayed="kernels")
    again = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
    assert type(again) is optimizers.SGD
    assert (again.momentum, again.l2_decay, again.decayed, again.nesterov) == (
        0.9, 5e-4, "kernels", False)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=opt, loss="mse")
    model.fit(np.ones((4, 3)), np.ones((4, 2)), verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.optimizer, optimizers.SGD) and loaded.optimizer.l2_decay == 5e-4
    for a, b in zip(loaded.optimizer.variables, model.optimizer.variables):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    with pytest.raises(ValueError, match="pass l2_decay, not the decoupled weight_decay"):
        optimizers.SGD(0.1, weight_decay=1e-4)
    with pytest.raises(ValueError, match="decayed must be one of all, kernels"):
        optimizers.SGD(0.1, decayed="biases")


def test_recipes_name_their_weight_decay_and_config_records_it():
    kinds = {name: r.weight_decay_kind for name, r in recipes.RECIPES.items()}
    assert kinds["adamw"] == "decoupled" and kinds["alexnet"] == "coupled-kernels"
    assert kinds["he-cifar"] == kinds["cosine"] == kinds["one-cycle"] == "coupled"
    config = _config("he-cifar")
    assert config.to_dict()["weight_decay_kind"] == "coupled"
    assert isinstance(recipes.make_optimizer(config, 10), optimizers.SGD)
    assert type(recipes.make_optimizer(_config("adamw"), 10)) is keras.optimizers.AdamW
    with pytest.raises(ValueError, match="unknown weight_decay_kind 'l2'; choose from: coupled"):
        TrainConfig(weight_decay_kind="l2").validate()
    with pytest.raises(ValueError, match="implemented for sgd only"):
        recipes.make_optimizer(TrainConfig.from_kwargs(_config("adamw"),
                                                       weight_decay_kind="coupled"), 10)
