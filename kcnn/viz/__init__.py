"""Seeing inside the networks: filters, feature maps, Grad-CAM, receptive fields, block diagrams.

Each picture has a function that returns the arrays behind it and one that draws a matplotlib
Figure (no pyplot state; it shows inline in notebooks; `figures.save(fig, "x.png")` writes it):

    >>> from kcnn import viz
    >>> loaded = viz.inputs.load("runs/alexnet-digits")          # or a .keras file, or "resnet20"
    >>> picture, batch = viz.inputs.model_input(loaded, "seven.png")
    >>> viz.filters.plot_filters(loaded.model)                   # (figure, Filters)
    >>> viz.maps.feature_maps(loaded.model, batch, "conv2")      # FeatureMaps(maps=(H, W, C))
    >>> viz.cam.grad_cam(loaded.model, batch)                     # ClassActivationMap(heatmap=...)
    >>> viz.receptive.theoretical_field(loaded.model, "conv3")   # Box(top, left, bottom, right)
    >>> viz.architecture.plot_architecture(kcnn.models.densenet121())

Layer names are kcnn.analysis' (`conv3_block2/2_conv` inside a block). Gradients run on the
TensorFlow, JAX and PyTorch backends. `kcnn show` draws the same pictures from the command line.
"""

from kcnn.viz import (
    architecture,
    cam,
    figures,
    filters,
    inputs,
    maps,
    placement,
    receptive,
    walk,
)

__all__ = [
    "architecture",
    "cam",
    "figures",
    "filters",
    "inputs",
    "maps",
    "placement",
    "receptive",
    "walk",
]
