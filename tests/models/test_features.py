"""Declared feature stages and `kcnn.models.features`, for every family and each of its variants:
the declared strides and channels are the real outputs', and the extractor's outputs are the full
model's intermediate tensors (same layers, same weights)."""

import keras
import numpy as np
import pytest

import kcnn
from kcnn.analysis import profile

# One network per family, every variant of it; (name, selector value, input size).
HEAVY = ("googlenet", "inception_v3", "densenet121", "densenet_bc")
CASES = [
    pytest.param(name, key, marks=pytest.mark.slow) if name in HEAVY else (name, key)
    for name in ("simple_cnn", "lenet5", "alexnet", "vgg11", "nin", "googlenet")
    + ("inception_v3", "resnet18", "resnet20", "wide_resnet", "densenet121", "densenet_bc")
    for key in kcnn.models.spec(name).variants
]


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _build(name, key):
    spec = kcnn.models.spec(name)
    options = {spec.selector: key} if spec.selector else {}
    size = max(spec.variant(key).min_input, 32)
    if name in ("alexnet", "simple_cnn", "lenet5"):  # a Flatten head: its own size
        size = spec.variant(key).default_input[0]
    return spec, options, (size, size, spec.variant(key).default_input[2])


@pytest.mark.parametrize("name, key", CASES)
def test_declared_stages_are_the_real_outputs(name, key):
    spec, options, shape = _build(name, key)
    model = kcnn.models.get(name, input_shape=shape, num_classes=3, **options)
    extractor = kcnn.models.features(model, **options)
    declared = spec.variant(key).stages
    assert declared and extractor.stages == declared
    jumps = {r.name: r.jump for r in profile(model).rows if r.depth == 0}
    strides = [s.stride for s in declared]
    assert strides == sorted(strides)
    for stage, tensor in zip(declared, extractor.outputs):
        assert tensor.shape[-1] == stage.channels, stage
        assert jumps[stage.name] == stage.stride, (stage, jumps[stage.name])
    assert {id(w) for w in extractor.weights} <= {id(w) for w in model.weights}
    x = np.random.default_rng(0).uniform(-1, 1, size=(2, *shape)).astype("float32")
    # the full model's intermediate tensors, computed on the way to its classifier output
    outputs = [model.get_layer(stage.name).output for stage in declared] + [model.output]
    *want, _ = keras.Model(model.inputs, outputs)(x, training=False)
    for got, expected in zip(extractor(x, training=False), want):
        np.testing.assert_array_equal(_np(got), _np(expected))


def test_features_by_name_and_stage_selection():
    extractor = kcnn.models.features(
        "resnet18", stages=[-3, "conv5_block2"], input_shape=(64, 64, 3)
    )
    assert [tuple(t.shape) for t in extractor.outputs] == [(None, 8, 8, 128), (None, 2, 2, 512)]
    assert [s.stride for s in extractor.stages] == [8, 32]
    assert extractor.name == "resnet18_features"
    message = r"`resnet18`: unknown stage 'conv9'; allowed: .*'conv1_relu'"
    with pytest.raises(ValueError, match=message):
        kcnn.models.features("resnet18", stages=["conv9"], input_shape=(64, 64, 3))


def test_a_configuration_that_differs_from_the_declaration_is_refused():
    with pytest.raises(ValueError, match=r"`wide_resnet`: the model has no layer 'conv2_block4'"):
        kcnn.models.features("wide_resnet", depth=16, width=1)


def test_every_variant_of_every_network_declares_its_stages():
    for name in kcnn.models.names():
        for key, declared in kcnn.models.spec(name).variants.items():
            strides = [s.stride for s in declared.stages]
            assert declared.stages and strides == sorted(strides), (name, key)
            assert all(isinstance(s, kcnn.models.FeatureStage) and s.channels > 0 for s in declared.stages)
