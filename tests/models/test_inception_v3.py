"""Inception v3: exact counts of the keras and torchvision variants, names, minimum inputs, heads,
and the weight copy by order from keras.applications.InceptionV3 (identical outputs)."""

import re

import keras
import numpy as np
import pytest
from _declared import declared

from kcnn.layers import CompositeLayer
from kcnn.models import inception_v3
from kcnn.models._aux import AuxiliaryOutputsModel


def _trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


@pytest.mark.slow
def test_keras_variant_count():
    model = inception_v3(variant="keras")  # keras.applications.InceptionV3(weights=None)
    counts = (_trainable(model), model.count_params())
    assert counts == (declared("inception_v3", "keras"), 23_851_784)
    assert model.input_shape == (None, 299, 299, 3) and model.output_shape == (None, 1000)
    assert "dropout" not in [layer.name for layer in model.layers]


def test_torchvision_variant_counts_with_and_without_aux():
    model = inception_v3(variant="torchvision", aux_logits=True)
    assert isinstance(model, AuxiliaryOutputsModel)
    assert [o.shape for o in model.outputs] == [(None, 1000), (None, 1000)]
    assert model.get_layer("aux").input.shape == (None, 17, 17, 768)  # after mixed7 (Mixed_6e)
    assert (_trainable(model), model.count_params()) == (27_161_264, 27_197_488)  # torchvision's
    main = model.main_model()  # the same layers without the side head: aux_logits=False
    counts = (_trainable(main), main.count_params())
    assert counts == (declared("inception_v3", "torchvision"), 23_869_000)
    assert model.get_layer("dropout").rate == 0.5


def test_names_and_notop_count_at_75():
    model = inception_v3(include_top=False, input_shape=(75, 75, 3))
    names = [layer.name for layer in model.layers]
    stem = ["conv_1a_3x3", "conv_2a_3x3", "conv_2b_3x3", "pool_3a", "conv_3b_1x1", "conv_4a_3x3", "pool_5a"]
    assert [n for n in names if n in stem] == stem
    assert [n for n in names if n.startswith("mixed")] == [f"mixed{i}" for i in range(11)]
    assert model.output_shape == (None, 1, 1, 2048)
    assert (_trainable(model), model.count_params()) == (21_768_352, 21_802_784)  # keras.applications InceptionV3(include_top=False)
    assert not model.get_layer("conv_1a_3x3_bn").scale  # keras.applications: no gamma


@pytest.mark.slow
def test_small_classifier_count_under_mixed_float16(mixed_float16):
    model = inception_v3(num_classes=10, input_shape=(75, 75, 3))  # spec: InceptionV3(75x75, 10)
    assert (_trainable(model), model.count_params()) == (21_788_842, 21_823_274)
    assert model.get_layer("mixed0").compute_dtype == "float16"
    out = model(np.zeros((1, 75, 75, 3), "float32"))
    assert out.shape == (1, 10) and keras.backend.standardize_dtype(out.dtype) == "float32"


def test_input_too_small():
    with pytest.raises(ValueError, match="at least 75x75"):
        inception_v3(input_shape=(74, 74, 3))
    with pytest.raises(ValueError, match="at least 299x299"):
        inception_v3(variant="torchvision", aux_logits=True, input_shape=(298, 298, 3))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"variant": "tf"}, "unknown variant"),
        ({"aux_logits": True, "include_top": False}, "needs include_top=True"),
        ({"dropout": -0.1}, "`dropout`"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        inception_v3(**kwargs)


def _auto_number(layer):
    found = re.search(r"_(\d+)$", layer.name)
    return int(found.group(1)) if found else 0


def _kcnn_weighted_layers(model):
    """Conv and BN layers in creation order: the stem, then each block's sublayers path by path."""
    found = []
    for layer in model.layers:
        if isinstance(layer, CompositeLayer):
            for path in layer.paths(layer.input.shape):
                found += [sub for sub, _ in path if sub.weights]
        elif layer.weights:
            found.append(layer)
    return found


@pytest.mark.slow
def test_weight_copy_by_order_from_keras_applications():
    shape = (75, 75, 3)
    reference = keras.applications.InceptionV3(weights=None, include_top=False, input_shape=shape, pooling="avg")
    model = inception_v3(variant="keras", include_top=False, input_shape=shape, pooling="avg")
    assert model.output_shape == reference.output_shape == (None, 2048)
    rng = np.random.default_rng(0)
    # keras.applications' layers are auto-named in creation order (conv2d, conv2d_1, ...)
    ref_layers = [
        sorted((x for x in reference.layers if isinstance(x, kind)), key=_auto_number)
        for kind in (keras.layers.Conv2D, keras.layers.BatchNormalization)
    ]
    ours = _kcnn_weighted_layers(model)
    our_layers = [[x for x in ours if isinstance(x, kind)] for kind in (keras.layers.Conv2D, keras.layers.BatchNormalization)]
    assert [len(x) for x in ref_layers] == [len(x) for x in our_layers] == [94, 94]
    for source, target in zip(ref_layers[0] + ref_layers[1], our_layers[0] + our_layers[1]):
        weights = source.get_weights()
        if isinstance(source, keras.layers.BatchNormalization):  # non-trivial statistics
            weights = [
                rng.uniform(0.5, 1.5, w.shape).astype("float32") if i == 2 else rng.normal(0, 0.1, w.shape).astype("float32")
                for i, w in enumerate(weights)
            ]
            source.set_weights(weights)
        assert [w.shape for w in weights] == [tuple(w.shape) for w in target.weights], source.name
        target.set_weights(weights)
    x = rng.uniform(-1, 1, size=(2, *shape)).astype("float32")
    expected = keras.ops.convert_to_numpy(reference(x, training=False))
    got = keras.ops.convert_to_numpy(model(x, training=False))
    assert np.abs(expected - got).max() < 1e-4
