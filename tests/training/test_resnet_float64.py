"""kcnn's resnet20 trains, step for step, as a plain PyTorch ResNet-20 under the he-cifar recipe.

Both networks run in float64 from identical weights on the same digit images (upscaled to
32x32x3, fixed order, no augmentation), BatchNorm in training mode, for five steps of the
he-cifar optimizer (SGD 0.9, lr 0.1, coupled L2 1e-4 on all parameters). In float64 the rounding
is far below the tolerance, so losses and weights must agree to 1e-6 relative at every step; a
decoupled weight decay (Keras' SGD `weight_decay`) must not.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import keras
from sklearn.datasets import load_digits

import kcnn.models
from kcnn.training import recipes
from kcnn.training.config import TrainConfig

pytestmark = pytest.mark.tf_only

STEPS, BATCH = 5, 16
F = torch.nn.functional


class TorchBlock(torch.nn.Module):
    """He et al.'s basic block with the option-A shortcut: subsample, zero-pad the channels
    (half before, half after), as kcnn's ZeroPadShortcut."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(cout)
        self.conv2 = torch.nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(cout)
        self.stride, self.extra = stride, cout - cin

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x[:, :, :: self.stride, :: self.stride]
        if self.extra:
            half = self.extra // 2
            shortcut = F.pad(shortcut, (0, 0, 0, 0, half, self.extra - half))
        return F.relu(out + shortcut)


class TorchResNet20(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(16)
        blocks, cin = [], 16
        for stage, width in enumerate((16, 32, 64)):
            for b in range(3):
                blocks.append(TorchBlock(cin, width, 2 if stage and not b else 1))
                cin = width
        self.blocks = torch.nn.Sequential(*blocks)
        self.fc = torch.nn.Linear(64, 10)

    def forward(self, x):
        x = self.blocks(F.relu(self.bn1(self.conv1(x))))
        return self.fc(x.mean((2, 3)))


def _to_torch(w):
    """A Keras weight in PyTorch's layout (conv HWIO -> OIHW, dense IO -> OI)."""
    if w.ndim == 4:
        return w.transpose(3, 2, 0, 1)
    return w.T if w.ndim == 2 else w


@pytest.fixture(scope="module")
def batches():
    x, y = load_digits(return_X_y=True)
    x = x.reshape(-1, 8, 8, 1).repeat(4, 1).repeat(4, 2).repeat(3, 3) / 16.0  # 32x32x3
    x = (x - x.mean()) / x.std()
    return [(x[i * BATCH:(i + 1) * BATCH], y[i * BATCH:(i + 1) * BATCH]) for i in range(STEPS)]


@pytest.fixture
def float64():
    policy, floatx = keras.config.dtype_policy(), keras.config.floatx()
    keras.config.set_dtype_policy("float64")
    keras.config.set_floatx("float64")  # Keras casts NumPy inputs to floatx
    yield
    keras.config.set_dtype_policy(policy)
    keras.config.set_floatx(floatx)


def _kcnn_run(batches, optimizer):
    """(losses, trainable weights after each step) of kcnn's resnet20, and its initial weights."""
    keras.utils.set_random_seed(0)
    model = kcnn.models.get("resnet20", classifier_activation=None)
    assert {w.dtype for w in model.weights} == {"float64"}
    initial = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    model.compile(optimizer=optimizer, jit_compile=False,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    losses, weights = [], []
    for x, y in batches:
        losses.append(float(model.train_on_batch(x, y)))
        weights.append([keras.ops.convert_to_numpy(w) for w in model.trainable_weights])
    return losses, weights, initial


def _torch_run(batches, initial, config, lr):
    net = TorchResNet20().double()
    params = list(net.parameters())
    assert [tuple(p.shape) for p in params] == [_to_torch(w).shape for w in initial]
    with torch.no_grad():
        for p, w in zip(params, initial):
            p.copy_(torch.from_numpy(np.ascontiguousarray(_to_torch(w))))
    opt = torch.optim.SGD(params, lr=lr, momentum=config.momentum,
                          weight_decay=config.weight_decay)
    losses, weights = [], []
    net.train()
    for x, y in batches:
        opt.zero_grad()
        loss = F.cross_entropy(net(torch.from_numpy(x.transpose(0, 3, 1, 2))), torch.from_numpy(y))
        loss.backward()
        opt.step()
        losses.append(loss.item())
        weights.append([p.detach().numpy().copy() for p in params])
    return losses, weights


def _gaps(kcnn_run, torch_run):
    """Per step: (relative loss gap, largest relative weight gap over the tensors)."""
    (k_losses, k_weights), (t_losses, t_weights) = kcnn_run, torch_run
    loss_gap = np.abs(np.subtract(k_losses, t_losses)) / np.abs(t_losses)
    weight_gap = [
        max(np.abs(_to_torch(a) - b).max() / np.abs(b).max() for a, b in zip(ka, ta))
        for ka, ta in zip(k_weights, t_weights)
    ]
    return loss_gap, np.array(weight_gap)


@pytest.mark.slow
def test_resnet20_he_cifar_steps_match_pytorch_in_float64(batches, float64):
    config = TrainConfig(recipe="he-cifar", run_dir="unused", seed=0).resolved()
    optimizer = recipes.make_optimizer(config, steps_per_epoch=390)
    lr = float(keras.ops.convert_to_numpy(optimizer.learning_rate))  # 0.1 as float32
    k_losses, k_weights, initial = _kcnn_run(batches, optimizer)
    reference = _torch_run(batches, initial, config, lr)
    loss_gap, weight_gap = _gaps((k_losses, k_weights), reference)
    assert loss_gap.max() < 1e-6 and weight_gap.max() < 1e-6, (loss_gap, weight_gap)

    decoupled = keras.optimizers.SGD(lr, momentum=config.momentum,
                                     weight_decay=config.weight_decay)
    k_losses, k_weights, _ = _kcnn_run(batches, decoupled)
    _, weight_gap = _gaps((k_losses, k_weights), reference)
    assert weight_gap.max() > 1e-4, weight_gap  # 100 times the tolerance
