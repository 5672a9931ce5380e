"""kcnn.analysis reads composite layers only through CompositeLayer's public description.

A block defined here, in the test alone, is counted exactly: a split path (`Path(start=...)`), an
activation after a sublayer (`activation_after`) and one after the merge (`merge_activation`).
"""

import ast
import pathlib

import keras
import numpy as np

import kcnn
from kcnn.analysis import profile
from kcnn.layers import CompositeLayer, Path


class _SplitAddBlock(CompositeLayer):
    """relu(A + B + x): 3x3 conv -> BN -> ReLU, then a 1x3 conv (A) and, from the same point, a
    3x1 conv (B); the input is the third, identity path."""

    merge = "add"
    merge_activation = "relu"

    def __init__(self, channels, **kwargs):
        super().__init__(**kwargs)
        self.channels = channels
        dtype = self.dtype_policy
        self.stem = keras.layers.Conv2D(4, 3, padding="same", name="stem", dtype=dtype)
        self.bn = keras.layers.BatchNormalization(name="bn", dtype=dtype)
        self.wide = keras.layers.Conv2D(channels, (1, 3), padding="same", name="wide", dtype=dtype)
        self.tall = keras.layers.Conv2D(channels, (3, 1), padding="same", name="tall", dtype=dtype)

    def paths(self, input_shape):
        middle = (*input_shape[:-1], 4)
        return [
            [(self.stem, input_shape), (self.bn, middle), (self.wide, middle)],
            Path([(self.tall, middle)], start=(0, 2)),
            [],
        ]

    def activation_after(self, sublayer):
        return "relu" if sublayer is self.bn else None

    def call(self, inputs, training=None):
        x = keras.ops.relu(self.bn(self.stem(inputs), training=training))
        return keras.ops.relu(self.wide(x) + self.tall(x) + inputs)

    def compute_output_shape(self, input_shape):
        return input_shape


def test_a_new_block_is_counted_through_the_public_description():
    image = keras.Input((8, 8, 6))
    model = keras.Model(image, _SplitAddBlock(6, name="block")(image))
    prof = profile(model)
    rows = {r.name: r for r in prof.rows}
    # stem 3*3*6*4 + 4; bn 4 * 4 (2 trainable, 2 statistics); wide and tall 3*4*6 + 6 each
    assert prof.totals.trainable == 220 + 8 + 78 + 78
    assert prof.totals.params == model.count_params() == 220 + 16 + 78 + 78
    # conv: 64 positions * (4 * 54 + 6 * 12 + 6 * 12)
    assert prof.totals.macs == 64 * (4 * 54 + 6 * 12 + 6 * 12) == 23_040
    assert rows["block/bn"].type == "BatchNormalization+relu"
    assert rows["block/bn"].macs_by_kind == {"normalization": 256, "activation": 256}
    assert rows["block/add"].type == "add+relu"
    assert rows["block/add"].macs_by_kind == {"addition": 2 * 384, "activation": 384}
    # B starts after the 3x3 stem: (3 + 2, 3) next to A's (3, 3 + 2); a B read from the block
    # input would leave the rows at 3.
    assert rows["block/tall"].receptive_field == (5, 3)
    assert rows["block/wide"].receptive_field == (3, 5)
    assert rows["block"].receptive_field == 5


def test_the_block_computes_what_it_declares():
    block = _SplitAddBlock(6)
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 6)).astype("float32")
    y = keras.ops.convert_to_numpy(block(x))
    assert y.shape == x.shape and (y >= 0).all() and (y > 0).any()


def _private_names(tree, own):
    """`from M import _x`, `import M._x` and `M._x` for any kcnn module M other than `own`."""
    modules, found = {}, []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module.startswith("kcnn"):
            parts = node.module.split(".")
            found += [node.module for p in parts if p.startswith("_")]
            for alias in node.names:
                if alias.name.startswith("_"):
                    found.append(f"{node.module}.{alias.name}")
                modules[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("kcnn"):
                    found += [alias.name for p in alias.name.split(".") if p.startswith("_")]
                    modules[alias.asname or alias.name.split(".")[0]] = alias.name
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
            and modules[node.value.id] != own
            and node.attr.startswith("_")
        ):
            found.append(f"{modules[node.value.id]}.{node.attr}")
    return found


def test_analysis_uses_no_private_name_of_another_module():
    package = pathlib.Path(kcnn.analysis.__file__).parent
    for path in sorted(package.glob("*.py")):
        own = f"kcnn.analysis.{path.stem}"
        assert _private_names(ast.parse(path.read_text()), own) == [], path.name


def test_the_private_name_check_can_fail():
    source = "from kcnn.layers import _base\nfrom kcnn.analysis import rules\nrules._size(1)\n"
    assert _private_names(ast.parse(source), "kcnn.analysis.profile") == [
        "kcnn.layers._base",
        "kcnn.analysis.rules._size",
    ]
