"""SGD with momentum and coupled L2 weight decay, step for step as `torch.optim.SGD`.

Keras' optimizers take `weight_decay` *decoupled*: `w -= lr * wd * w` beside the update, outside
the momentum. The sources of kcnn's SGD recipes (Caffe's AlexNet, Torch's fb.resnet.torch,
PyTorch's `torch.optim.SGD(momentum=m, weight_decay=wd)`) add `wd * w` to the gradient instead
(coupled L2), so the decay runs through the momentum and weighs about 1 / (1 - m) times as much.
`SGD` here is that update, with PyTorch's arithmetic and defaults (dampening 0):

    d = g + wd * w              (only on the decayed variables)
    buf = m * buf + d           (buf starts at 0, so the first step gives buf = d, as PyTorch's
                                 copy of d on its first step does when dampening is 0)
    w = w - lr * buf            (nesterov: w = w - lr * (d + m * buf))

The learning rate multiplies the whole buffer at each step (PyTorch), not each gradient as it
enters the velocity (Keras' SGD, the AlexNet paper's formula); the two differ only after the
learning rate changes.
"""

import keras
from keras import ops

DECAYED = ("all", "kernels")


@keras.saving.register_keras_serializable(package="kcnn")
class SGD(keras.optimizers.Optimizer):
    """SGD with momentum and coupled L2 weight decay, as `torch.optim.SGD`.

    Args:
        learning_rate: a float or a `keras.optimizers.schedules.LearningRateSchedule`.
        momentum: momentum factor m in [0, 1].
        nesterov: Nesterov momentum (PyTorch's form).
        l2_decay: the coupled weight decay wd (PyTorch's `weight_decay`): `wd * w` is added to
            the gradient of each decayed variable before the momentum.
        decayed: which variables get `l2_decay`: "all" (PyTorch's default, fb.resnet.torch) or
            "kernels" (convolution and dense kernels only, not biases or normalisation
            parameters: Caffe prototxts with `decay_mult: 0` on biases). A kernel is a variable
            of two or more dimensions.
        name: the optimizer's name.
        **kwargs: the other keyword arguments of `keras.optimizers.Optimizer` (clipnorm,
            use_ema, ...), except its decoupled `weight_decay`.
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, l2_decay=0.0,
                 decayed="all", name="sgd_l2", **kwargs):
        if kwargs.get("weight_decay") is not None:
            raise ValueError(
                "kcnn.training.optimizers.SGD applies coupled L2 decay: pass l2_decay, not the "
                "decoupled weight_decay (use keras.optimizers.SGD for that)"
            )
        kwargs.pop("weight_decay", None)
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        if not 0.0 <= float(momentum) <= 1.0:
            raise ValueError(f"momentum must be in [0, 1], got {momentum!r}")
        if float(l2_decay) < 0:
            raise ValueError(f"l2_decay must be >= 0, got {l2_decay!r}")
        if decayed not in DECAYED:
            raise ValueError(f"decayed must be one of {', '.join(DECAYED)}, got {decayed!r}")
        if nesterov and not momentum:
            raise ValueError("nesterov needs a momentum > 0 (as in torch.optim.SGD)")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.l2_decay = float(l2_decay)
        self.decayed = decayed

    def build(self, variables):
        """Create one momentum buffer per variable (none without momentum)."""
        if self.built:
            return
        super().build(variables)
        self.momentums = []
        if self.momentum:
            self.momentums = self.add_optimizer_variables(variables, "momentum")

    def is_decayed(self, variable):
        """True if `l2_decay` applies to `variable` (see `decayed`)."""
        return self.l2_decay > 0 and (self.decayed == "all" or len(variable.shape) >= 2)

    def update_step(self, gradient, variable, learning_rate):
        """One PyTorch SGD step on one variable."""
        lr = ops.cast(learning_rate, variable.dtype)
        d = ops.cast(gradient, variable.dtype)
        if self.is_decayed(variable):
            d = ops.add(d, ops.multiply(variable, ops.cast(self.l2_decay, variable.dtype)))
        if self.momentum:
            buf = self.momentums[self._get_variable_index(variable)]
            m = ops.cast(self.momentum, variable.dtype)
            self.assign(buf, ops.add(ops.multiply(buf, m), d))
            d = ops.add(d, ops.multiply(buf, m)) if self.nesterov else buf
        self.assign_sub(variable, ops.multiply(d, lr))

    def get_config(self):
        config = super().get_config()
        config.pop("weight_decay", None)
        config.update(
            momentum=self.momentum, nesterov=self.nesterov, l2_decay=self.l2_decay,
            decayed=self.decayed,
        )
        return config
