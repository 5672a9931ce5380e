"""kcnn's BatchNormalization: the same results as Keras' layer (outputs, gradients, moving
statistics) in every case, TensorFlow's fused kernel where it applies, Keras' code elsewhere."""

import keras
import numpy as np
import pytest

import kcnn
from kcnn.layers import BatchNormalization

RNG = np.random.default_rng(0)


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _pair(shape, **kwargs):
    """Keras' layer and kcnn's, built for `shape` with the same random weights."""
    layers = keras.layers.BatchNormalization(**kwargs), BatchNormalization(**kwargs)
    channels = shape[kwargs.get("axis", -1)]
    for layer in layers:
        layer.build(shape)
    weights = [
        RNG.normal(size=w.shape).astype("float32")
        if "variance" not in w.path
        else RNG.uniform(0.5, 2.0, size=w.shape).astype("float32")
        for w in layers[0].weights
    ]
    assert all(w.shape == (channels,) for w in weights)
    for layer in layers:
        layer.set_weights(weights)
    return layers


SHAPES = [(8, 5, 5, 6), (2, 1, 1, 3), (1, 1, 1, 4), (16, 7)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("training", [True, False])
def test_forward_and_moving_statistics_match_keras(shape, training):
    x = RNG.normal(2.0, 3.0, size=shape).astype("float32")
    reference, ours = _pair(shape, momentum=0.9, epsilon=1e-3)
    np.testing.assert_allclose(
        _np(ours(x, training=training)), _np(reference(x, training=training)), atol=5e-5
    )
    for theirs, mine in zip(reference.weights, ours.weights):
        np.testing.assert_allclose(_np(mine), _np(theirs), rtol=1e-6, atol=1e-6)


@pytest.mark.filterwarnings("ignore:The model does not have any trainable weights")
@pytest.mark.parametrize(
    "center, scale", [(True, True), (False, True), (True, False), (False, False)]
)
def test_training_steps_match_keras(center, scale):
    """Two SGD steps through a one-layer model: gradients and moving statistics agree."""
    shape = (4, 6, 6, 5)
    x = RNG.normal(1.0, 2.0, size=shape).astype("float32")
    target = RNG.normal(size=shape).astype("float32")
    models = []
    for layer in _pair(shape, center=center, scale=scale, momentum=0.5):
        model = keras.Sequential([keras.Input(shape[1:]), layer])
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        models.append(model)
    for _ in range(2):
        losses = [float(model.train_on_batch(x, target)) for model in models]
        assert losses[1] == pytest.approx(losses[0], rel=1e-5)
    for theirs, mine in zip(models[0].weights, models[1].weights):
        np.testing.assert_allclose(_np(mine), _np(theirs), rtol=1e-5, atol=1e-6)


def test_not_trainable_normalizes_with_moving_statistics_when_training():
    shape = (4, 3, 3, 2)
    x = RNG.normal(size=shape).astype("float32")
    reference, ours = _pair(shape)
    reference.trainable = ours.trainable = False
    np.testing.assert_allclose(
        _np(ours(x, training=True)), _np(reference(x, training=True)), atol=1e-5
    )
    np.testing.assert_allclose(_np(ours.moving_mean), _np(reference.moving_mean))


def test_mixed_float16_returns_float16_close_to_keras(mixed_float16):
    shape = (4, 5, 5, 3)
    x = RNG.normal(size=shape).astype("float32")
    reference, ours = _pair(shape)
    for training in (True, False):
        out = ours(x, training=training)
        assert keras.backend.standardize_dtype(out.dtype) == "float16"
        np.testing.assert_allclose(
            _np(out).astype("float32"),
            _np(reference(x, training=training)).astype("float32"),
            atol=1e-2,
        )


def test_layer_contract(check_layer):
    assert keras.saving.get_registered_name(BatchNormalization) == "kcnn>BatchNormalization"
    check_layer(lambda: BatchNormalization(momentum=0.8, epsilon=1e-4, name="bn"), (4, 4, 3))


def test_zoo_uses_it_inside_and_outside_blocks():
    model = kcnn.models.resnet20(num_classes=10)
    norms = [
        layer
        for layer in model._flatten_layers()
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert len(norms) == 19  # the stem's and two per residual block
    assert all(type(layer) is BatchNormalization for layer in norms)


@pytest.mark.tf_only
class TestFusedKernel:
    """The fast path is really taken on TensorFlow when training (and not where it cannot apply)."""

    @staticmethod
    def _ops(layer, shape, training, **call_kwargs):
        import tensorflow as tf

        function = tf.function(lambda x: layer(x, training=training, **call_kwargs))
        graph = function.get_concrete_function(tf.TensorSpec(shape, "float32")).graph
        return {op.type for op in graph.get_operations()}

    def test_fused_when_training_on_4d_channels_last(self):
        _, ours = _pair((2, 3, 3, 4))
        assert "FusedBatchNormV3" in self._ops(ours, (2, 3, 3, 4), True)

    def test_keras_code_in_inference(self):
        reference, ours = _pair((2, 3, 3, 4))
        assert self._ops(ours, (2, 3, 3, 4), False) == self._ops(reference, (2, 3, 3, 4), False)

    @pytest.mark.parametrize(
        "shape, kwargs",
        [((2, 7), {}), ((2, 4, 3, 3), {"axis": 1}), ((2, 3, 3, 4), {"renorm": True})],
        ids=["2d", "channels_first", "renorm"],
    )
    def test_keras_code_where_the_kernel_does_not_apply(self, shape, kwargs):
        reference, ours = _pair(shape, **kwargs)
        assert "FusedBatchNormV3" not in self._ops(ours, shape, True)
        x = RNG.normal(size=shape).astype("float32")
        np.testing.assert_allclose(
            _np(ours(x, training=True)), _np(reference(x, training=True)), atol=1e-5
        )

    def test_xla_training_matches_keras(self):
        shape = (4, 6, 6, 3)
        x = RNG.normal(size=shape).astype("float32")
        target = RNG.normal(size=shape).astype("float32")
        losses = []
        for layer in _pair(shape):
            model = keras.Sequential([keras.Input(shape[1:]), layer])
            model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", jit_compile=True)
            losses.append([float(model.train_on_batch(x, target)) for _ in range(2)])
        np.testing.assert_allclose(losses[1], losses[0], rtol=1e-5)
