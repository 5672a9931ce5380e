"""The contract every registered builder keeps, checked over the whole registry.

Family files hold the facts (exact counts, equivalence with keras.applications); this file holds
the shared behaviour, so a newly registered builder is tested without new test code.
"""

import inspect
import math

import keras
import numpy as np
import pytest

import kcnn
import kcnn.analysis
from kcnn.models._common import COMMON_OPTIONS

# Builders whose head is a Flatten into a Dense layer need a fixed input size with the top.
FIXED_HEAD_SIZE = {"alexnet": 227, "simple_cnn": 128}

# The deepest networks take 5-80 s each on the JAX CPU lane (an XLA compilation per op shape);
# they are marked slow, which CI runs on the TensorFlow lane only.
HEAVY_FAMILIES = ("densenet", "googlenet", "inception")
HEAVY_NAMES = (
    "resnet101",
    "resnet152",
    "preact_resnet164",
    "wide_resnet",
    "resnext50_32x4d",
    "wide_resnet50_2",
)
# Built by the code of resnext50_32x4d / wide_resnet50_2 with more blocks (40-65 s each here on
# the TensorFlow lane); their counts and MACs are asserted in test_resnet.py.
DEEPER_TWINS = ("resnext101_32x8d", "resnext101_64x4d", "wide_resnet101_2")
REGISTRY = [
    pytest.param(n, marks=pytest.mark.slow)
    if kcnn.models.spec(n).family in HEAVY_FAMILIES or n in HEAVY_NAMES
    else n
    for n in kcnn.models.names()
    if n not in DEEPER_TWINS
]


def small_shape(name, include_top=True):
    spec = kcnn.models.spec(name)
    size = FIXED_HEAD_SIZE.get(name) if include_top else None
    size = size or max(spec.min_input, 32)
    return (size, size, spec.default_input[2])


def all_layer_names(model):
    """Names of a model's layers and, recursively, of every composite layer's sublayers."""
    return [layer.name for layer in model._flatten_layers(include_self=False, recursive=True)]


@pytest.mark.parametrize("name", REGISTRY)
def test_builder_contract_under_mixed_precision(name, mixed_float16):
    shape = small_shape(name)
    model = kcnn.models.get(name, num_classes=5, input_shape=shape)
    assert isinstance(model, keras.Model)

    batch = np.random.default_rng(0).uniform(-1, 1, size=(2, *shape)).astype("float32")
    output = keras.ops.convert_to_numpy(model(batch, training=False))
    assert output.shape == (2, 5)
    assert output.dtype == np.float32, "the classifier's output must be float32 under mixed precision"
    # A training step's forward pass stays finite in float16. (Inference with untrained BN
    # statistics may not: deep post-activation ResNets then grow past float16's range.)
    training_output = model(batch, training=True)
    if isinstance(training_output, (list, tuple)):  # auxiliary heads: main output first
        training_output = training_output[0]
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(training_output)))

    variables = {v.dtype for v in model.weights}
    assert variables == {"float32"}, f"variables must stay float32, found {variables}"
    # kcnn.analysis accounts for every parameter (exact MACs against published figures are in
    # tests/analysis/test_profile.py and the family files).
    totals = kcnn.analysis.profile(model).totals
    assert totals.params == model.count_params() and totals.macs > 0
    assert totals.trainable == sum(math.prod(w.shape) for w in model.trainable_weights)
    # Explicit names are the same in every build; auto names drift (conv2d -> conv2d_7).
    names = all_layer_names(model)
    with keras.StatelessScope(initialize_variables=False):  # names only: skip the weight values
        again = all_layer_names(kcnn.models.get(name, num_classes=5, input_shape=shape))
    keras.utils.clear_session(free_memory=False)
    assert names == again, f"{name} has auto-generated layer names"


@pytest.mark.parametrize("name", REGISTRY)
def test_feature_extractor_with_average_pooling(name):
    shape = small_shape(name, include_top=False)
    features = kcnn.models.get(name, include_top=False, pooling="avg", input_shape=shape)
    assert len(features.output.shape) == 2
    assert not any(layer.name == "predictions" for layer in features.layers)
    batch = np.zeros((1, *shape), dtype="float32")
    assert keras.ops.convert_to_numpy(features(batch)).shape == (1, features.output.shape[-1])


@pytest.mark.parametrize("name", REGISTRY)
def test_rejects_too_small_input_and_bad_classes(name):
    spec = kcnn.models.spec(name)
    if spec.min_input > 1:
        too_small = (spec.min_input - 1, spec.min_input - 1, spec.default_input[2])
        with pytest.raises(ValueError, match=rf"`{name}`.*at least {spec.min_input}x{spec.min_input}"):
            kcnn.models.get(name, include_top=False, input_shape=too_small)
    with pytest.raises(ValueError, match=rf"`{name}`: `num_classes` must be a positive integer"):
        kcnn.models.get(name, num_classes=0)


COMMON_ARGUMENTS = COMMON_OPTIONS  # the arguments every builder takes


@pytest.mark.parametrize("name", kcnn.models.names())
def test_builder_shows_its_whole_signature(name):
    builder = getattr(kcnn.models, name)
    parameters = inspect.signature(builder).parameters
    assert not any(p.kind is p.VAR_KEYWORD for p in parameters.values()), f"{name} hides **kwargs"
    assert set(COMMON_ARGUMENTS) <= set(parameters), name
    assert all(p.kind is p.KEYWORD_ONLY for p in parameters.values()), name
    doc = inspect.getdoc(builder)
    for parameter in parameters:
        assert f"{parameter}: " in doc, (name, parameter)
    # a plain function: its signature is its code's, not a rewritten or wrapped one
    assert inspect.isfunction(builder) and kcnn.models.spec(name).builder is builder
    assert "__signature__" not in vars(builder) and not hasattr(builder, "__wrapped__"), name
