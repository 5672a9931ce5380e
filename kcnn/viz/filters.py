"""Convolution kernels as pictures: the first layer's filters as small images (AlexNet's Figure 3),
a deeper layer's as one grey tile per (filter, input channel).

Each filter is normalised on its own to 0..1: `(w - min) / (max - min)` over all its weights
(every input channel together, so the colours of a filter stay comparable); a constant filter
shows as 0.5. The grid holds exactly these values.
"""

import dataclasses

import numpy as np

from kcnn.viz import figures, walk


@dataclasses.dataclass
class Filters:
    """The arrays behind the filter picture.

    Attributes:
        layer: the layer's name.
        kernel: the raw kernel (kh, kw, in_channels, filters), as Keras stores it.
        tiles: one normalised tile per filter, (filters, kh, kw, in_channels) on 0..1.
        grid: the picture: colour (or grey) filters side by side for 1 or 3 input channels;
            otherwise rows of filters by columns of input channels (the first `max_filters`
            and `max_channels` of them).
    """

    layer: str
    kernel: np.ndarray
    tiles: np.ndarray
    grid: np.ndarray


def first_conv(model):
    """The name of the model's first layer with a 4-D kernel (its first 2-D convolution)."""
    for name, layer in walk.named_layers(model).items():
        if _kernel(layer) is not None:
            return name
    raise ValueError(f"model {model.name!r} has no 2-D convolution")


def _kernel(layer):
    kernel = getattr(layer, "kernel", None)
    if kernel is None or len(kernel.shape) != 4:
        return None
    import keras

    return np.asarray(keras.ops.convert_to_numpy(kernel), dtype="float32")


def normalise_per_filter(kernel):
    """(kh, kw, cin, cout) -> (cout, kh, kw, cin), each filter scaled to 0..1 on its own."""
    tiles = np.moveaxis(np.asarray(kernel, dtype="float32"), -1, 0)
    low = tiles.min(axis=(1, 2, 3), keepdims=True)
    span = tiles.max(axis=(1, 2, 3), keepdims=True) - low
    return np.where(span > 0, (tiles - low) / np.where(span > 0, span, 1), 0.5).astype("float32")


def filters(model, layer=None, max_filters=16, max_channels=16):
    """The kernels of `layer` (default: the first convolution) as normalised tiles and a grid."""
    name = layer or first_conv(model)
    kernel = _kernel(walk.find_layer(model, name))
    if kernel is None:
        raise ValueError(f"layer {name!r} has no 2-D convolution kernel to show")
    tiles = normalise_per_filter(kernel)
    if tiles.shape[-1] in (1, 3):
        grid, _ = figures.mosaic(tiles, pad=1, fill=1.0)
    else:
        chosen = tiles[:max_filters, :, :, :max_channels]
        per_channel = np.moveaxis(chosen, -1, 1)  # (filters, channels, kh, kw)
        rows, columns = per_channel.shape[:2]
        grid, _ = figures.mosaic(per_channel.reshape(rows * columns, *per_channel.shape[2:]),
                                 columns=columns, pad=1, fill=1.0)
    return Filters(name, kernel, tiles, grid)


def plot_filters(model, layer=None, title=None, **kwargs):
    """A figure of `filters(model, layer)`; returns `(figure, Filters)`."""
    result = filters(model, layer, **kwargs)
    kh, kw, cin, cout = result.kernel.shape
    grid = result.grid
    if grid.ndim == 3 and grid.shape[-1] == 1:
        grid = grid[..., 0]
    size = 6.0
    figure = figures.new_figure(size, size * grid.shape[0] / grid.shape[1] + 0.6)
    axes = figure.add_subplot()
    axes.imshow(grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    axes.set_axis_off()
    if cin in (1, 3):
        what = f"{cout} filters of {kh}x{kw}x{cin}"
    else:
        shown_f = min(cout, kwargs.get("max_filters", 16))
        shown_c = min(cin, kwargs.get("max_channels", 16))
        what = (f"{kh}x{kw} kernels\nrows: filters (first {shown_f} of {cout}); "
                f"columns: input channels (first {shown_c} of {cin})")
    axes.set_title(f"{title or result.layer}: {what}\n"
                   "each filter scaled to its own min..max (black..white)", fontsize=9)
    return figure, result
