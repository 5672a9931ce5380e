"""Builders for the classic CNNs, one module per family, and a registry over all of them.

    >>> import kcnn
    >>> model = kcnn.models.vgg16(num_classes=10)
    >>> model = kcnn.models.get("resnet20")
    >>> kcnn.models.names(pattern="resnet*")
"""

from kcnn.models._registry import ModelSpec, families, get, names, spec

__all__ = [
    "ModelSpec",
    "families",
    "get",
    "names",
    "spec",
]
