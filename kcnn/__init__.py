"""kcnn: the classic CNNs, from LeNet-5 to DenseNet, as faithful, readable, tested Keras 3 code.

Subpackages:
    kcnn.layers    custom layers (LRN, Inception modules, residual, dense and LeNet-5 blocks)
    kcnn.models    one builder per classic network, plus a registry (`kcnn.models.get`)
    kcnn.data      tf.data pipelines over tensorflow-datasets, digits and synthetic data
    kcnn.training  the trainer behind `kcnn train`
    kcnn.analysis  parameters, multiply-adds, receptive fields and shapes per layer

`kcnn.layers` and `kcnn.models` need only Keras, so they run on any Keras backend; the data
pipeline and the trainer use TensorFlow.
"""

from kcnn import _logging

_logging.configure_tensorflow_environment()

__version__ = "0.1.0"

_logging.import_keras_quietly()

from kcnn import analysis, layers, models
from kcnn._saving import load_model

__all__ = ["__version__", "analysis", "layers", "load_model", "models"]
