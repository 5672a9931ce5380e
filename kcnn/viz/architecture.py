"""The network as a diagram of its blocks, from `kcnn.analysis.profile`.

`stages(model)` groups the model's own layers (a kcnn block counts as one layer, its inside is
summed) into stages: consecutive layers whose names share the first word (`conv2_block1`,
`conv2_block2`, ... -> `conv2`; `conv1_pad`, `conv1_conv`, `conv1_bn`, `conv1_relu` -> `conv1`).
Each stage gets its output shape, parameters, conv + dense MACs and receptive field, and
`plot_architecture` draws one box per stage with a bar for its share of the MACs. DenseNet-121
becomes 13 boxes (keras.utils.plot_model draws its 427 layers one by one).
"""

import collections
import dataclasses
import re

from kcnn.viz import figures

_SHORT = {"BatchNormalization": "BN", "Activation": "act", "ZeroPadding2D": "pad",
          "MaxPooling2D": "maxpool", "AveragePooling2D": "avgpool",
          "GlobalAveragePooling2D": "global avgpool", "GlobalMaxPooling2D": "global maxpool",
          "LocalResponseNormalization": "LRN"}


@dataclasses.dataclass
class DiagramBox:
    """One box of the diagram.

    Attributes:
        name: the stage's name (the shared first word of its layers' names).
        layers: the names of the model's own layers in it, in order.
        types: `{type: count}` of those layers.
        output_shape: the last layer's output shape.
        params: parameters, trainable and not, of every layer inside.
        macs: conv + dense multiply-accumulates per image.
        leaves: the number of layers inside once blocks are opened.
        receptive_field, jump: after the stage (None: global).
    """

    name: str
    layers: list
    types: dict
    output_shape: tuple
    params: int
    macs: int
    leaves: int
    receptive_field: object
    jump: object

    @property
    def summary(self):
        """The layer types as one short line: '3 x ResidualBlock', 'pad + Conv2D + BN + act'."""
        if len(self.types) == 1:
            (kind, count), = self.types.items()
            return f"{count} x {_SHORT.get(kind, kind)}" if count > 1 else _SHORT.get(kind, kind)
        return " + ".join(_SHORT.get(kind, kind) for kind in self.types)


def _stem(name):
    return re.split(r"[_/]", name, maxsplit=1)[0]


def stages(model):
    """The model's stages (see the module docstring), in forward order."""
    import kcnn.analysis

    prof = kcnn.analysis.profile(model)
    groups, current = [], None
    for row in prof.rows:
        if row.depth == 0:
            if current is None or _stem(row.name) != current["name"]:
                current = {"name": _stem(row.name), "rows": []}
                groups.append(current)
            current["rows"].append((row, []))
        else:
            current["rows"][-1][1].append(row)
    result = []
    for group in groups:
        tops = [r for r, _ in group["rows"]]
        leaves = [r for r, inner in group["rows"] for r in (inner or [r]) if not r.group]
        heavy = sum(r.macs_by_kind.get("conv", 0) + r.macs_by_kind.get("dense", 0) for r in leaves)
        last = tops[-1]
        result.append(DiagramBox(
            name=group["name"] if len(tops) > 1 else tops[0].name, layers=[r.name for r in tops],
            types=dict(collections.Counter(r.type for r in tops)),
            output_shape=last.output_shape,
            params=sum(r.trainable + r.non_trainable for r in leaves),
            macs=heavy, leaves=len(leaves),
            receptive_field=last.receptive_field, jump=last.jump,
        ))
    return result


def _shape(shape):
    if isinstance(shape, list):
        shape = shape[0]
    return figures.shape_text(shape)


def _field(stage, image_size):
    if stage.receptive_field is None:
        return "global"
    value = stage.receptive_field
    text = "x".join(map(str, value)) if isinstance(value, tuple) else str(value)
    biggest = max(value) if isinstance(value, tuple) else value
    return f"{text} (> the {image_size}-px input)" if biggest > image_size else text


def plot_architecture(model, title=None):
    """One box per stage, top to bottom, with output shape, parameters, MACs and receptive field,
    and a bar for the stage's share of the MACs. Returns `(figure, stages)`."""
    from matplotlib.patches import FancyBboxPatch

    from kcnn.analysis.profile import human

    found = stages(model)
    total_macs = max(sum(s.macs for s in found), 1)
    total_params = sum(s.params for s in found)
    rows = len(found)
    image_size = max(d for d in model.input_shape[1:3] if d is not None)
    figure = figures.new_figure(9.0, 0.55 * rows + 1.2)
    axes = figure.add_subplot()
    axes.set_xlim(0, 10)
    axes.set_ylim(-rows - 0.2, 0.9)
    axes.set_axis_off()
    for i, stage in enumerate(found):
        y = -i - 0.5
        box = FancyBboxPatch((0.05, y - 0.36), 5.6, 0.72, boxstyle="round,pad=0.02",
                             facecolor="#dbe9f6" if stage.macs else "#eeeeee", edgecolor="#4a6f94")
        axes.add_patch(box)
        inside = f"  ({stage.leaves} layers)" if stage.leaves > len(stage.layers) else ""
        axes.text(0.15, y + 0.12, f"{stage.name}: {stage.summary}{inside}", fontsize=8,
                  va="center", weight="bold")
        axes.text(0.15, y - 0.17,
                  f"out {_shape(stage.output_shape)}   params {human(stage.params)}   "
                  f"RF {_field(stage, image_size)}", fontsize=7.5, va="center", family="monospace")
        share = stage.macs / total_macs
        axes.barh(y, 3.6 * share, left=6.0, height=0.5, color="#e07b39")
        axes.text(6.05 + 3.6 * share, y, f" {human(stage.macs)} MACs ({100 * share:.0f}%)",
                  fontsize=7, va="center")
        if i:
            axes.annotate("", xy=(2.8, y + 0.37), xytext=(2.8, y + 0.63),
                          arrowprops={"arrowstyle": "->", "color": "#4a6f94"})
    axes.text(0.05, 0.45,
              title or f"{model.name}: {rows} stages, {human(total_params)} parameters, "
              f"{human(total_macs)} MACs per image (conv + dense)", fontsize=10, weight="bold")
    axes.text(6.0, 0.05, "share of the MACs", fontsize=8, color="#a04a10")
    return figure, found
