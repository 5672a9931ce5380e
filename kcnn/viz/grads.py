"""One gradient function for every Keras backend: TensorFlow (tf.GradientTape), JAX (jax.grad),
PyTorch (autograd).

`value_and_grad(fn, x)` runs `fn(x) -> (scalar, aux)` and returns `(scalar, aux, d scalar / d x)`
as NumPy arrays. `fn` calls the model eagerly; the layer outputs it needs are read through
`kcnn.viz.walk.capture`, whose zero offsets make "the gradient with respect to a layer's output"
a gradient with respect to an input of `fn` on every backend.
"""

import keras
import numpy as np


def _numpy(tree):
    return keras.tree.map_structure(lambda t: np.asarray(keras.ops.convert_to_numpy(t)), tree)


def value_and_grad(fn, x):
    """`(value, aux, gradient)` of `fn(x) -> (scalar value, aux)` with respect to the array `x`.

    Args:
        fn: a function of one backend tensor returning a scalar tensor and any auxiliary
            structure of tensors (returned as NumPy arrays).
        x: a NumPy array (float32), the point at which to differentiate.

    Returns:
        (value, aux, gradient) as NumPy arrays; `gradient` has the shape of `x`.
    """
    backend = keras.backend.backend()
    x = np.asarray(x, dtype="float32")
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            value, aux = fn(x)
        grad = tape.gradient(value, x)
        if grad is None:  # the value does not depend on x at all
            grad = tf.zeros_like(x)
        return _numpy((value, aux, grad))
    if backend == "jax":
        import jax

        (value, aux), grad = jax.value_and_grad(fn, has_aux=True)(jax.numpy.asarray(x))
        return _numpy((value, aux, grad))
    if backend == "torch":
        import torch

        x = torch.tensor(x, requires_grad=True)
        value, aux = fn(x)
        (grad,) = torch.autograd.grad(value, x, allow_unused=True)
        grad = torch.zeros_like(x) if grad is None else grad
        detach = keras.tree.map_structure(lambda t: t.detach(), (value, aux, grad))
        return _numpy(detach)
    raise ValueError(f"kcnn.viz needs gradients from the backend; {backend!r} is not supported "
                     "(tensorflow, jax, torch are)")
