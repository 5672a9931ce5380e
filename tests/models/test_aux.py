"""AuxiliaryOutputsModel: all heads in training, the main head otherwise; one compiled loss becomes
main + aux_loss_weight * aux losses; metrics on the main head; saving; a real fit step with aux heads.
Backend-neutral (the JAX lane runs it too)."""

import keras
import numpy as np
import pytest

import kcnn
from kcnn.models import AuxiliaryOutputsModel, googlenet

RNG = np.random.default_rng(0)
X = RNG.normal(size=(8, 6, 6, 3)).astype("float32")
Y = RNG.integers(0, 4, size=(8,))


def _toy(aux_loss_weight=0.3, activation="softmax"):
    image = keras.Input((6, 6, 3), name="image")
    features = keras.layers.Conv2D(5, 3, name="conv")(image)
    main = keras.layers.Dense(4, activation=activation, name="predictions")(
        keras.layers.GlobalAveragePooling2D(name="avg_pool")(features)
    )
    aux = keras.layers.Dense(4, activation=activation, name="aux1")(keras.layers.Flatten(name="flatten")(features))
    return AuxiliaryOutputsModel(image, [main, aux], name="toy", aux_loss_weight=aux_loss_weight)


def _np(x):
    return keras.ops.convert_to_numpy(x)


def test_outputs_by_mode():
    model = _toy()
    train = model(X, training=True)
    assert isinstance(train, list) and [t.shape for t in train] == [(8, 4), (8, 4)]
    assert model(X).shape == (8, 4)
    assert model(X, training=False).shape == (8, 4)
    np.testing.assert_allclose(_np(model(X)), _np(train[0]), rtol=1e-6)
    assert len(model.outputs) == 2  # the graph (and summary) keeps every head


def test_loss_is_main_plus_weighted_aux():
    model = _toy(aux_loss_weight=0.5)
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])
    main, aux = model(X, training=True)
    loss = keras.losses.SparseCategoricalCrossentropy()
    expected = float(_np(loss(Y, main))) + 0.5 * float(_np(loss(Y, aux)))
    assert float(_np(model.compute_loss(X, Y, [main, aux]))) == pytest.approx(expected, rel=1e-5)
    # evaluation (main output only) is the plain loss
    assert float(_np(model.compute_loss(X, Y, main))) == pytest.approx(float(_np(loss(Y, main))), rel=1e-5)


def test_fit_evaluate_predict_and_save(tmp_path):
    model = _toy()
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])
    history = model.fit(X, Y, batch_size=4, epochs=1, verbose=0)
    assert set(history.history) == {"loss", "accuracy"}
    result = model.evaluate(X, Y, verbose=0, return_dict=True)
    assert set(result) == {"loss", "accuracy"}
    loss = keras.losses.SparseCategoricalCrossentropy()
    assert result["loss"] == pytest.approx(float(_np(loss(Y, model(X)))), rel=1e-4)
    predictions = model.predict(X, verbose=0)
    assert predictions.shape == (8, 4)

    path = tmp_path / "toy.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)  # no custom_objects: registered under "kcnn"
    assert type(loaded) is AuxiliaryOutputsModel and loaded.aux_loss_weight == 0.3
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), predictions)
    loaded.fit(X, Y, batch_size=8, epochs=1, verbose=0)  # the compiled state comes back too


def test_config_carries_the_weight():
    model = _toy(aux_loss_weight=0.4)
    config = model.get_config()
    assert config["aux_loss_weight"] == 0.4
    clone = AuxiliaryOutputsModel.from_config(config)
    assert clone.aux_loss_weight == 0.4 and len(clone.outputs) == 2


def test_main_model_shares_weights():
    model = _toy()
    main = model.main_model()
    assert len(main.outputs) == 1 and main.output_shape == (None, 4)
    np.testing.assert_array_equal(_np(main(X)), _np(model(X)))
    assert {id(w) for w in main.weights} <= {id(w) for w in model.weights}


@pytest.mark.parametrize(
    "outputs, kwargs, message",
    [
        ("single", {}, "at least one auxiliary output"),
        ("pair", {"aux_loss_weight": -1}, "`aux_loss_weight`"),
    ],
)
def test_bad_arguments(outputs, kwargs, message):
    image = keras.Input((4,))
    out = keras.layers.Dense(2)(image)
    with pytest.raises(ValueError, match=message):
        AuxiliaryOutputsModel(image, out if outputs == "single" else [out, out], **kwargs)


@pytest.mark.slow
def test_googlenet_fit_step_with_aux_heads():
    # torchvision's form at 32x32 is the cheapest real network with two side heads (its stem
    # divides by 8); eager mode because tracing the full graph costs a minute on a small CPU (the
    # toy model above covers compiled training).
    model = googlenet(variant="torchvision", aux_logits=True, num_classes=3, input_shape=(32, 32, 3))
    model.compile(
        optimizer=keras.optimizers.SGD(0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=["accuracy"],
        run_eagerly=True,
    )
    x = RNG.normal(size=(2, 32, 32, 3)).astype("float32")
    y = np.array([0, 2])
    before = [_np(w) for w in model.get_layer("aux1").trainable_weights]
    history = model.fit(x, y, batch_size=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    after = [_np(w) for w in model.get_layer("aux1").trainable_weights]
    assert any(not np.array_equal(a, b) for a, b in zip(before, after))  # the side head trained
    assert model.predict(x, verbose=0).shape == (2, 3)
    assert kcnn.models.spec("googlenet").builder is googlenet
