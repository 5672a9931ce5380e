"""Pretrained ImageNet weights: the published sets, their download cache, loading and preprocessing.

The family modules declare each variant's weight sets (`kcnn.weights.sets`) and the rule table that
places torchvision's tensors. A builder called with `weights="imagenet"` (or "torchvision",
"torchvision_v2", "keras") has the file downloaded once into the cache
(`kcnn.weights.download.cache_dir()`), its hash checked, torchvision's `.pth` converted once to
arrays by kcnn weight path (`kcnn.weights.torchvision`), and the arrays assigned to the built model
by path (`kcnn.weights.loader`). This package knows files, arrays, layers and preprocessing; it
never imports `kcnn.models`, which calls it.
"""

from kcnn.weights.sets import Preprocessing, WeightSet

__all__ = ["Preprocessing", "WeightSet"]
