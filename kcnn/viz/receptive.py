"""Receptive fields drawn on the input: the theoretical field from `kcnn.analysis` and the
effective field measured by gradients (Luo et al. 2016, "Understanding the Effective Receptive
Field in Deep Convolutional Neural Networks").

The theoretical field of output `p` of a layer covers input pixels `start + p * jump` to
`start + p * jump + receptive_field - 1` along each axis: size and jump from `kcnn.analysis`,
`start` from the padding of every layer on the way (`kcnn.viz.placement`). The box is that
range clipped to the image.
"""

import dataclasses

import numpy as np

from kcnn.viz import figures, grads, placement, walk


def profile_rows(model):
    """`{name: kcnn.analysis Row}` for every layer of `model` (empty if it cannot be profiled)."""
    import kcnn.analysis

    try:
        prof = kcnn.analysis.profile(model)
    except ValueError:
        return {}
    return {row.name: row for row in prof.rows}


def _pair(value):
    return tuple(value) if isinstance(value, tuple) else (value, value)


@dataclasses.dataclass
class Box:
    """A theoretical receptive field on the input image.

    Attributes:
        layer: the layer's name.
        position: the output position (row, column).
        size: the receptive field (height, width) in input pixels, from kcnn.analysis.
        jump: the jump (effective stride) per axis.
        centre: the field's centre (row, column) in input pixels (may be fractional).
        top, left, bottom, right: the field clipped to the image, inclusive pixel indices.
    """

    layer: str
    position: tuple
    size: tuple
    jump: tuple
    centre: tuple
    top: int
    left: int
    bottom: int
    right: int


def theoretical_field(model, layer, position=None):
    """The input region that output `position` of `layer` sees, as a `Box`.

    Args:
        model: a model `kcnn.analysis.profile` can count.
        layer: a layer name (`block/sub` inside a block) with a spatial output.
        position: (row, column) in the layer's output; None = its centre (m // 2 per axis).
    """
    walk.find_layer(model, layer)
    row = profile_rows(model).get(layer)
    if row is None:
        raise ValueError(f"kcnn.analysis cannot place layer {layer!r} of {model.name!r}")
    walk.require_spatial(layer, row.output_shape, "a receptive field")
    if row.receptive_field is None:
        raise ValueError(f"layer {layer!r} sees the whole input (its receptive field is global)")
    size, jump = _pair(row.receptive_field), _pair(row.jump)
    starts = placement.placements(model)[layer]
    if tuple(a[1] for a in starts) != size or tuple(a[2] for a in starts) != jump:
        raise ValueError(f"kcnn.viz.placement disagrees with kcnn.analysis on layer {layer!r}")
    out = row.output_shape[1:3]
    image = tuple(model.input_shape[1:3])
    position = tuple(m // 2 for m in out) if position is None else tuple(position)
    if len(position) != 2 or not all(0 <= p < m for p, m in zip(position, out)):
        raise ValueError(
            f"position {position} is outside the {out[0]}x{out[1]} output of {layer!r}"
        )
    low = [start + p * j for (start, _, j), p in zip(starts, position)]
    high = [v + r - 1 for v, r in zip(low, size)]
    centre = tuple((a + b) / 2 for a, b in zip(low, high))
    top, left = (max(v, 0) for v in low)
    bottom, right = (min(v, n - 1) for v, n in zip(high, image))
    return Box(layer, position, size, jump, centre, top, left, bottom, right)


@dataclasses.dataclass
class EffectiveField:
    """A measured (effective) receptive field.

    Attributes:
        layer, position: as for `Box`.
        gradient: (height, width): the mean over random inputs of |d output / d input|, summed
            over the input channels, where "output" is the sum over channels at `position`.
        centroid: (row, column), the gradient-weighted mean position.
        extent: the side in pixels of the smallest square around the centroid holding
            `mass` of the gradient.
        mass: that fraction (0.95 by default).
    """

    layer: str
    position: tuple
    gradient: np.ndarray
    centroid: tuple
    extent: int
    mass: float


def effective_field(model, layer, position=None, samples=8, seed=0, mass=0.95):
    """Measure the effective receptive field of output `position` of `layer` (Luo et al. 2016).

    The gradient of the chosen output (summed over channels) with respect to the input is taken
    at `samples` standard-normal inputs, made absolute, summed over input channels and averaged.
    """
    shape = tuple(model.input_shape[1:])
    rng = np.random.default_rng(seed)
    inputs = rng.standard_normal((samples, *shape)).astype("float32")
    with walk.capture(model, [layer]) as record:
        model(inputs[:1], training=False)
    out_shape = tuple(record.outputs[layer].shape)
    walk.require_spatial(layer, out_shape, "an effective receptive field")
    position = tuple(m // 2 for m in out_shape[1:3]) if position is None else tuple(position)

    def chosen_output(x):
        import keras

        with walk.capture(model, [layer]) as record:
            model(x, training=False)
        value = keras.ops.sum(record.outputs[layer][:, position[0], position[1], :])
        return value, ()

    _, _, gradient = grads.value_and_grad(chosen_output, inputs)
    field = np.abs(gradient).sum(axis=-1).mean(axis=0)
    return EffectiveField(layer, position, field, *_centroid_and_extent(field, mass), mass)


def _centroid_and_extent(field, mass):
    total = field.sum()
    if not np.isfinite(total) or total <= 0:
        raise ValueError("the gradient is zero everywhere: the layer does not depend on the input")
    rows, cols = np.indices(field.shape)
    cy, cx = (rows * field).sum() / total, (cols * field).sum() / total
    ry, rx = round(float(cy)), round(float(cx))
    for half in range(max(field.shape)):
        window = field[max(ry - half, 0): ry + half + 1, max(rx - half, 0): rx + half + 1]
        if window.sum() >= mass * total:
            return (float(cy), float(cx)), 2 * half + 1
    return (float(cy), float(cx)), 2 * max(field.shape) + 1


def plot_receptive_field(picture, box, effective=None, title=None):
    """The input `picture` (H, W, C on 0..255) with the theoretical `box` drawn on it and, if
    given, the measured effective field as a heat map beside it."""
    from matplotlib.patches import Rectangle

    panels = 2 if effective is not None else 1
    figure = figures.new_figure(4.2 * panels, 4.6)
    axes = figure.subplots(1, panels, squeeze=False)[0]
    shown = figures.image_for_display(picture)
    axes[0].imshow(shown, cmap="gray" if shown.ndim == 2 else None, vmin=0, vmax=1)
    height, width = box.bottom - box.top + 1, box.right - box.left + 1
    axes[0].add_patch(Rectangle((box.left - 0.5, box.top - 0.5), width, height, fill=False,
                                edgecolor="red", linewidth=2))
    axes[0].plot(box.centre[1], box.centre[0], "r+", markersize=10)
    clipped = " (clipped to the image)" if (height, width) != tuple(box.size) else ""
    axes[0].set_title(f"theoretical: {box.size[0]}x{box.size[1]} px{clipped}\n"
                      f"output {box.position}, jump {box.jump[0]}", fontsize=9)
    if effective is not None:
        image = axes[1].imshow(effective.gradient / effective.gradient.max(), cmap="inferno")
        axes[1].add_patch(Rectangle((box.left - 0.5, box.top - 0.5), width, height, fill=False,
                                    edgecolor="cyan", linewidth=1.5, linestyle="--"))
        half = effective.extent / 2
        cy, cx = effective.centroid
        axes[1].add_patch(Rectangle((cx - half, cy - half), effective.extent, effective.extent,
                                    fill=False, edgecolor="white", linewidth=1.5))
        share = int(effective.mass * 100)
        axes[1].set_title(f"effective (random inputs): {share}% of the gradient in "
                          f"{effective.extent}x{effective.extent} px\n(white; dashed: theoretical)",
                          fontsize=9)
        figure.colorbar(image, ax=axes[1], shrink=0.8, label="|d output / d input| (max = 1)")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    figure.suptitle(title or f"receptive field of {box.layer}", fontsize=10)
    return figure
