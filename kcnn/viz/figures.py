"""Small drawing helpers shared by the kcnn.viz pictures: tiling arrays into a grid, new figures.

Figures are `matplotlib.figure.Figure` objects made without pyplot, so nothing global changes and
they show inline in notebooks; `save(figure, path)` writes a PNG.
"""

import math

import numpy as np


def new_figure(width, height):
    """A matplotlib Figure of `width` x `height` inches (no pyplot state)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def check_output(path, option="--out"):
    """Raise ValueError unless a picture can be written at `path`: a `.png` name in a folder
    that exists and can be written (the folder is not created, so a mistyped path is refused
    before any drawing)."""
    from kcnn.runs import check_writable

    if not str(path).lower().endswith(".png"):
        raise ValueError(f"{option} must name a .png file; received {str(path)!r}")
    check_writable(path, option=option)


def save(figure, path, dpi=100):
    """Write `figure` to `path` (PNG); return `path`.

    Raises:
        ValueError: naming `path` when it cannot be written (see `check_output`).
    """
    from kcnn.runs import check_writable

    check_writable(path)
    try:
        figure.savefig(path, dpi=dpi)
    except OSError as error:
        raise ValueError(f"cannot write {path} ({error.strerror or error})") from None
    return path


def mosaic(tiles, columns=None, pad=1, fill=1.0):
    """Tile an array (n, h, w[, c]) into one image, `columns` wide, `pad` pixels of `fill` between.

    Returns:
        (grid, columns): the grid array (rows * (h + pad) - pad, columns * (w + pad) - pad[, c]).
    """
    tiles = np.asarray(tiles)
    n, h, w = tiles.shape[:3]
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    grid = np.full(
        (rows * (h + pad) - pad, columns * (w + pad) - pad, *tiles.shape[3:]), fill, tiles.dtype
    )
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        grid[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = tile
    return grid, columns


def image_for_display(picture):
    """A 0..255 picture (H, W, C) as what imshow wants: (H, W) grey or (H, W, 3) on 0..1."""
    picture = np.clip(np.asarray(picture, dtype="float32") / 255.0, 0, 1)
    return picture[..., 0] if picture.shape[-1] == 1 else picture


def shape_text(shape):
    """(None, 28, 28, 64) -> '28x28x64'."""
    return "x".join(str(d) for d in shape[1:])
