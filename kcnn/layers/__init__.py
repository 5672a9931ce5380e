"""Custom Keras layers for the classic CNNs, written with `keras.ops` (any Keras backend).

Every layer is registered with `keras.saving.register_keras_serializable(package="kcnn")`, so a
`.keras` file that contains one loads after `import kcnn`, without `custom_objects`.
"""

from kcnn.layers._base import CompositeLayer, Path
from kcnn.layers.batch_norm import BatchNormalization
from kcnn.layers.dense import DenseBlock, TransitionBlock
from kcnn.layers.inception import (
    AuxiliaryClassifier,
    InceptionA,
    InceptionB,
    InceptionC,
    InceptionModule,
    InceptionReductionA,
    InceptionReductionB,
)
from kcnn.layers.lenet import EuclideanRBF, PartialConv2D, Subsampling, scaled_tanh
from kcnn.layers.normalization import LocalResponseNormalization
from kcnn.layers.residual import BottleneckBlock, ResidualBlock, ZeroPadShortcut

__all__ = [
    "AuxiliaryClassifier",
    "BatchNormalization",
    "BottleneckBlock",
    "CompositeLayer",
    "DenseBlock",
    "EuclideanRBF",
    "InceptionA",
    "InceptionB",
    "InceptionC",
    "InceptionModule",
    "InceptionReductionA",
    "InceptionReductionB",
    "LocalResponseNormalization",
    "PartialConv2D",
    "Path",
    "ResidualBlock",
    "Subsampling",
    "TransitionBlock",
    "ZeroPadShortcut",
    "scaled_tanh",
]
