"""The one contract every kcnn layer passes: the `check_layer` fixture.

    def test_contract(check_layer):
        check_layer(lambda: ResidualBlock(8, strides=2), (8, 8, 4))

`check_layer(make, input_shape)` builds the layer `make()` in a one-layer model on `input_shape`
(no batch axis) and checks, on the layer and a fresh twin:

* config: `from_config(get_config())` gives the same config (and again: idempotent);
* `.keras`: saved with non-default weights (BN statistics included) and loaded in a fresh model,
  the outputs are identical, with the same layer type and config;
* `compute_output_shape` equals the real output's shape (batch axis None);
* `kcnn.analysis.profile` accounts for every parameter; a `CompositeLayer`'s `paths()` list each
  of its sublayers exactly once;
* gradients reach the input and every trainable weight (`no_gradient`: the weight paths, by
  suffix, whose gradient is zero by design, e.g. a conv bias before a BN; `every_element=True`:
  every element of every weight, for a layer with no dead units such as LeNet's tanh maps);
* under `mixed_float16`: variables float32, the output `output_dtype` (float16 unless the layer
  computes its output in float32 on purpose), finite.

Layer test files keep only what is specific to their layer.
"""

import keras
import numpy as np
import pytest

import kcnn
from kcnn.analysis import profile
from kcnn.layers import CompositeLayer


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _gradients(model, x, weight):
    """d(sum(model(x) * weight)) / d(input, each trainable variable), by the backend's autodiff."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(tf.cast(model(x, training=True), "float32") * weight)
        return tape.gradient(loss, [x, *model.trainable_variables])
    if backend == "jax":
        import jax

        trainable = [v.value for v in model.trainable_variables]
        fixed = [v.value for v in model.non_trainable_variables]

        def loss(x, trainable):
            y, _ = model.stateless_call(trainable, fixed, x, training=True)
            return (y.astype("float32") * weight).sum()

        dx, dw = jax.jit(jax.grad(loss, argnums=(0, 1)))(x, trainable)
        return [dx, *dw]
    raise NotImplementedError(f"the layer harness has no gradient for the {backend} backend")


def _check_config(layer):
    config = layer.get_config()
    again = type(layer).from_config(config)
    assert again.get_config() == config
    assert type(again).from_config(again.get_config()).get_config() == config


def _check_paths(layer, input_shape):
    if not isinstance(layer, CompositeLayer):
        return
    listed = [sub for path in layer.paths(input_shape) for sub, _ in path]
    subs = list(layer._flatten_layers(include_self=False, recursive=False))
    assert len(listed) == len({id(s) for s in listed}) == len(subs), layer.name
    assert {id(s) for s in listed} == {id(s) for s in subs}, layer.name


def _check_round_trip(model, x, tmp_path):
    rng = np.random.default_rng(1)
    shifted = [w + rng.uniform(0.1, 0.5, w.shape).astype(w.dtype) for w in model.get_weights()]
    model.set_weights(shifted)
    path = tmp_path / "layer.keras"
    model.save(path)
    loaded = kcnn.load_model(path)
    layer, twin = model.layers[-1], loaded.layers[-1]
    assert type(twin) is type(layer) and twin.get_config() == layer.get_config()
    out = _np(model(x, training=False))
    assert out.shape == (len(x), *model.output_shape[1:])  # the real output's shape
    np.testing.assert_array_equal(out, _np(loaded(x, training=False)))


def _check_gradients(model, x, no_gradient, every_element):
    weight = np.random.default_rng(2).normal(size=model.output_shape[1:]).astype("float32")
    grads = _gradients(model, x, weight)
    assert np.abs(_np(grads[0])).max() > 0, "no gradient reaches the input"
    for variable, grad in zip(model.trainable_variables, grads[1:]):
        if variable.path.endswith(tuple(no_gradient)):
            continue
        reached = _np(grad) != 0
        assert reached.all() if every_element else reached.any(), f"no gradient: {variable.path}"


def _check_float16(make, x, output_dtype):
    keras.config.set_dtype_policy("mixed_float16")
    try:
        layer = make()
        out = layer(x)
    finally:
        keras.config.set_dtype_policy("float32")
    assert {w.dtype for w in layer.weights} <= {"float32"}
    assert keras.backend.standardize_dtype(out.dtype) == output_dtype
    assert np.all(np.isfinite(_np(out)))


@pytest.fixture
def check_layer(tmp_path):
    """`check_layer(make, input_shape, output_dtype=, no_gradient=, every_element=, batch=)`."""

    def check(
        make, input_shape, output_dtype="float16", no_gradient=(), every_element=False, batch=2
    ):
        keras.utils.set_random_seed(0)  # fixed weights: the checks must not depend on test order
        x = np.random.default_rng(0).normal(size=(batch, *input_shape)).astype("float32")
        layer = make()
        _check_config(layer)
        image = keras.Input(input_shape)
        model = keras.Model(image, layer(image))
        assert tuple(layer.compute_output_shape((None, *input_shape))) == model.output_shape
        _check_paths(layer, (None, *input_shape))
        assert profile(model).totals.params == model.count_params()
        _check_gradients(model, x, no_gradient, every_element)
        _check_round_trip(model, x, tmp_path)
        _check_float16(make, x, output_dtype)

    return check
