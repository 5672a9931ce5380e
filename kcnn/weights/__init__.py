"""Pretrained ImageNet weights: the published sets, their download cache, loading and preprocessing.

The family modules declare each variant's weight sets (`kcnn.weights.sets`); a builder called with
`weights="imagenet"` (or "torchvision", "torchvision_v2", "keras") downloads the file once into the
cache (`kcnn.weights.download.cache_dir()`), checks its hash, converts torchvision's `.pth` once to
a Keras `.weights.h5` (`kcnn.weights.torchvision`) and loads it (`kcnn.weights.loader`).
"""

from kcnn.weights.sets import Preprocessing, WeightSet

__all__ = ["Preprocessing", "WeightSet"]
