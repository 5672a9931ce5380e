"""Feature maps: the activations of any layer (inside a kcnn block too) for one image.

The values are the layer's real output in the model's forward pass (read by
`kcnn.viz.walk.capture`); the picture scales each channel to its own min..max.
"""

import dataclasses
import math

import numpy as np

from kcnn.viz import figures, walk
from kcnn.viz.receptive import profile_rows


@dataclasses.dataclass
class FeatureMaps:
    """The arrays behind the feature-map picture.

    Attributes:
        layer: the layer's name.
        maps: the layer's output for the image, (height, width, channels).
        receptive_field, jump: from kcnn.analysis (None if it cannot count the model).
    """

    layer: str
    maps: np.ndarray
    receptive_field: object = None
    jump: object = None


def layer_output(model, batch, layer):
    """The output of `layer` (a name, `block/sub` inside a block) for `batch`, as NumPy."""
    import keras

    with walk.capture(model, [layer]) as record:
        model(batch, training=False)
    if layer not in record.outputs:
        raise ValueError(f"layer {layer!r} did not run in the forward pass of {model.name!r}")
    return np.asarray(keras.ops.convert_to_numpy(record.outputs[layer]))


def feature_maps(model, batch, layer):
    """`FeatureMaps` of `layer` for the first image of `batch` (the model's input)."""
    output = layer_output(model, batch, layer)
    walk.require_spatial(layer, output.shape, "feature maps")
    row = profile_rows(model).get(layer)
    return FeatureMaps(layer, output[0], row.receptive_field if row else None,
                       row.jump if row else None)


def plot_feature_maps(result, max_channels=None, picture=None, title=None):
    """A grid of the first `max_channels` channels of `result` (a `FeatureMaps`), each scaled to
    its own min..max; with `picture` (the input on 0..255) shown first. By default as many
    channels as fill an 8x8 grid."""
    height, width, channels = result.maps.shape
    if max_channels is None:
        max_channels = 64 - (picture is not None)
    shown = min(channels, max_channels)
    panels = shown + (picture is not None)
    columns = min(8, panels)
    rows = math.ceil(panels / columns)
    figure = figures.new_figure(1.3 * columns + 0.4, 1.3 * rows + 0.8)
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    start = 0
    if picture is not None:
        image = figures.image_for_display(picture)
        axes[0].imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=1)
        axes[0].set_title("input", fontsize=7)
        start = 1
    for i in range(shown):
        channel = result.maps[..., i]
        flat = bool(channel.max() == channel.min())
        axes[start + i].imshow(channel, cmap="viridis", interpolation="nearest",
                               vmin=channel.min() if flat else None,
                               vmax=channel.min() + 1 if flat else None)
        value = f" (all {channel.min():.3g})" if flat else ""
        axes[start + i].set_title(f"ch {i}{value}", fontsize=7)
    for ax in axes:
        ax.set_axis_off()
    field = ""
    if result.receptive_field is not None:
        field = f", receptive field {_text(result.receptive_field)} px, jump {_text(result.jump)}"
    more = f" (first {shown} of {channels} channels)" if shown < channels else ""
    figure.suptitle(
        f"{title or result.layer}: {height}x{width}x{channels}{field}{more}\n"
        "each channel scaled to its own min..max (dark..yellow); a constant channel is dark",
        fontsize=9,
    )
    return figure


def _text(value):
    return "x".join(str(v) for v in value) if isinstance(value, tuple) else str(value)
