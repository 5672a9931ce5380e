"""kcnn.analysis.profile: the sources' worked examples, published MAC totals, and parameter totals."""

import ast
import pathlib

import keras
import pytest

import kcnn
from kcnn.analysis import UncountableLayerError, profile, register_rule
from kcnn.analysis import rules as rules_module


def _model(*layers, shape=(28, 28, 192)):
    x = image = keras.Input(shape)
    for layer in layers:
        x = layer(x)
    return keras.Model(image, x)


def _row(prof, name):
    return next(r for r in prof.rows if r.name == name)


# --- the sources' worked examples ------------------------------------------------------------


def test_inception_5x5_example():
    direct = profile(_model(keras.layers.Conv2D(32, 5, padding="same")))
    assert direct.totals.macs == 120_422_400

    bottleneck = profile(
        _model(
            keras.layers.Conv2D(16, 1, name="reduce"),
            keras.layers.Conv2D(32, 5, padding="same", name="conv"),
        )
    )
    assert _row(bottleneck, "reduce").macs_by_kind["conv"] == 2_408_448
    assert _row(bottleneck, "conv").macs_by_kind["conv"] == 10_035_200
    assert bottleneck.totals.macs == 12_443_648


def test_kcnn_inception_module_rows_are_nested():
    from kcnn.layers.inception import InceptionModule

    prof = profile(_model(InceptionModule(64, 96, 128, 16, 32, 32, name="inception3a")))
    names = [r.name for r in prof.rows]
    assert names[0] == "inception3a" and prof.rows[0].group
    assert "inception3a/1x1" in names and "inception3a/5x5" in names
    assert _row(prof, "inception3a/5x5").macs_by_kind["conv"] == 28 * 28 * 32 * 25 * 16
    assert prof.rows[0].output_shape == (None, 28, 28, 256)
    assert prof.rows[0].receptive_field == 5  # the 5x5 branch
    assert prof.totals.params == 163_696  # GoogLeNet Table 1, inception (3a), with biases


@pytest.mark.parametrize("convs, expected", [(3, 7), (2, 5), (1, 3)])
def test_stacked_3x3_receptive_field(convs, expected):
    prof = profile(
        _model(
            *[keras.layers.Conv2D(8, 3, padding="same") for _ in range(convs)], shape=(32, 32, 3)
        )
    )
    assert prof.rows[-1].receptive_field == expected
    assert prof.rows[-1].jump == 1


def test_receptive_field_at_merges_takes_the_largest_input():
    image = keras.Input((32, 32, 3))
    a = keras.layers.Conv2D(8, 3, strides=2, name="a")(image)  # RF 3, jump 2
    b = keras.layers.Conv2D(8, 5, padding="same", name="b")(a)  # RF 3 + 4*2 = 11
    c = keras.layers.Conv2D(8, 1, name="c")(a)  # RF 3
    merged = keras.layers.Add(name="add")([b, c])
    head = keras.layers.Dense(4, name="aux")(keras.layers.GlobalAveragePooling2D(name="gap")(c))
    prof = profile(keras.Model(image, [merged, head]))
    assert _row(prof, "b").receptive_field == 11
    assert (_row(prof, "add").receptive_field, _row(prof, "add").jump) == (11, 2)
    assert _row(prof, "add").macs_by_kind == {"addition": 15 * 15 * 8}
    assert _row(prof, "gap").receptive_field is None and _row(prof, "aux").jump is None


def test_vgg16_conv5_3_receptive_field_and_jump():
    row = _row(profile(kcnn.models.get("vgg16", include_top=False)), "block5_conv3")
    assert (row.receptive_field, row.jump) == (196, 16)
    keras.backend.clear_session()


# --- published multiply-add totals (torchvision `_ops` are MACs), at the default inputs -----------

# (kcnn name, builder options, published MACs, where the figure comes from)
PUBLISHED = [
    ("alexnet", {"variant": "torchvision"}, 0.714e9, "torchvision _ops 0.714"),
    (
        "alexnet",
        {"variant": "paper"},
        724e6,
        "the paper's layer table, two towers",
    ),
    ("vgg16", {}, 15.47e9, "torchvision _ops 15.47"),
    (
        "googlenet",
        {"variant": "torchvision", "aux_logits": False},
        1.50e9,
        "torchvision _ops 1.498",
    ),
    ("resnet50", {}, 4.09e9, "torchvision _ops 4.089 (v1.5)"),
    ("densenet121", {}, 2.83e9, "torchvision _ops 2.834"),
    ("inception_v3", {"aux_logits": False}, 5.71e9, "torchvision _ops 5.713"),
    ("resnet20", {}, 40.6e6, "He et al. option A, computed"),
    ("lenet5", {"variant": "original"}, 326_520, "LeCun 1998 weight connections"),
]


@pytest.mark.parametrize(
    "name, options, expected, source",
    PUBLISHED,
    ids=[f"{p[0]}-{p[1].get('variant', 'default')}" for p in PUBLISHED],
)
def test_macs_match_published_figures(name, options, expected, source):
    model = kcnn.models.get(name, **options)
    prof = profile(model)
    assert prof.totals.macs == pytest.approx(expected, rel=0.02), source
    assert prof.totals.params == model.count_params()
    keras.backend.clear_session()


# --- behaviour --------------------------------------------------------------------------------


class _Mystery(keras.layers.Layer):
    def call(self, x):
        return x * 2.0


class _OwnConv(keras.layers.Conv2D):
    def call(self, x):
        return super().call(x) * 2.0


class _PlainConv(keras.layers.Conv2D):
    pass


def test_unknown_layer_type_is_a_helpful_error():
    with pytest.raises(UncountableLayerError, match=r"cannot count _Mystery .*Known: .*Conv2D"):
        profile(_model(keras.layers.Conv2D(4, 3), _Mystery(), shape=(8, 8, 3)))
    # a subclass that changes call() is not counted by its parent's rule ...
    with pytest.raises(ValueError, match="cannot count _OwnConv"):
        profile(_model(_OwnConv(4, 3), shape=(8, 8, 3)))
    # ... one that does not is
    assert profile(_model(_PlainConv(4, 3), shape=(8, 8, 3))).totals.macs == 6 * 6 * 4 * 27


def test_register_rule_counts_a_custom_layer():
    register_rule(
        _Mystery,
        lambda layer, inputs, output: rules_module.Cost({"activation": 0}, rules_module.KEEP),
    )
    try:
        assert profile(_model(_Mystery(), shape=(8, 8, 3))).totals.macs == 0
    finally:
        del rules_module.RULES[_Mystery]


def test_input_shape_override_and_unknown_sizes():
    model = _model(
        keras.layers.Conv2D(8, 3, padding="same"),
        keras.layers.GlobalAveragePooling2D(),
        shape=(None, None, 3),
    )
    with pytest.raises(ValueError, match="input_shape"):
        profile(model)
    small, large = profile(model, input_shape=(16, 16, 3)), profile(model, input_shape=(32, 32, 3))
    assert small.totals.macs == 16 * 16 * 8 * 27 and large.totals.macs == 4 * small.totals.macs
    assert small.rows[0].output_shape == (None, 16, 16, 8)


def test_shared_layer_and_nested_model():
    conv = keras.layers.Conv2D(4, 3, padding="same", name="shared")
    inner = keras.Sequential(
        [keras.Input((8, 8, 4)), keras.layers.Conv2D(4, 1, name="pw")], name="inner"
    )
    image = keras.Input((8, 8, 4))
    y = inner(conv(conv(image)))
    prof = profile(keras.Model(image, y))
    assert [r.name for r in prof.rows] == ["shared", "shared", "inner", "inner/pw"]
    assert prof.rows[0].trainable == 148 and prof.rows[1].trainable == 0  # counted once
    # ... but its MACs twice, once per call
    assert prof.rows[1].macs_by_kind["conv"] == prof.rows[0].macs_by_kind["conv"]
    assert prof.rows[3].receptive_field == 5 and prof.rows[2].group


def test_cheap_ops_are_kept_apart_and_the_table_prints():
    model = _model(
        keras.layers.Conv2D(8, 3, use_bias=False, name="conv"),
        keras.layers.BatchNormalization(name="bn"),
        keras.layers.ReLU(name="relu"),
        keras.layers.MaxPooling2D(2, name="pool"),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dropout(0.5, name="drop"),
        keras.layers.Dense(10, activation="softmax", name="fc"),
        shape=(10, 10, 3),
    )
    prof = profile(model)
    t = prof.totals
    assert t.macs == 8 * 8 * 8 * 27 + 4 * 4 * 8 * 10
    assert t.cheap_macs == {
        "pooling": 4 * 4 * 8 * 4,
        "normalization": 8 * 8 * 8,
        "activation": 8 * 8 * 8 + 10,
        "addition": 0,
        "concatenation": 0,
    }
    assert (t.trainable, t.non_trainable) == (model.count_params() - 16, 16)
    text = str(prof)
    assert "conv (Conv2D)" in text and f"{t.macs:,}" in text and "global" in text


def test_analysis_does_not_import_tensorflow():
    for path in pathlib.Path(kcnn.analysis.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                assert not any(n.split(".")[0] == "tensorflow" for n in names), path
