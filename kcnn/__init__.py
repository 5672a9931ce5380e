"""kcnn: the classic CNNs, from LeNet-5 to DenseNet, as faithful, readable, tested Keras 3 code.

Subpackages:
    kcnn.layers    custom layers (LRN, Inception modules, residual, dense and LeNet-5 blocks)
    kcnn.models    one builder per classic network, plus a registry (`kcnn.models.get`)
    kcnn.data      tf.data pipelines over tensorflow-datasets, digits and synthetic data
    kcnn.training  the trainer behind `kcnn train`
    kcnn.analysis  parameters, multiply-adds, receptive fields and shapes per layer

`kcnn.layers` and `kcnn.models` need only Keras, so they run on any Keras backend; the data
pipeline and the trainer use TensorFlow.

`import kcnn` itself is cheap and has no side effects beyond two environment defaults (below): it
does not import Keras, touch file descriptors or list devices. The first use of `kcnn.analysis`,
`kcnn.layers`, `kcnn.models` or `kcnn.load_model` imports those subpackages, which imports Keras
and registers kcnn's layers for `keras.saving.load_model`; `import kcnn.models` does the same.
"""

import importlib
import os
import sys

# Environment TensorFlow reads once, when it is imported; defaults only, a value the user set wins.
# - TF_CPP_MIN_LOG_LEVEL=2 hides TensorFlow's C++ INFO and WARNING lines (errors still show).
# - TF_ENABLE_ONEDNN_OPTS=1: oneDNN kernels make Keras-on-TensorFlow training 2-3x faster on plain
#   AVX2 CPUs, where TensorFlow's own default leaves them off (benchmarks/README.md, CPU study:
#   CIFAR ResNet-20 387 vs 202 images/s, ResNet-50 at 64x64 44.5 vs 15.0 on a 2-core AMD EPYC
#   Zen 3). On CPUs with AVX-512 VNNI/BF16 or AMX TensorFlow turns them on itself. If TensorFlow
#   is already imported (`import keras` before `import kcnn` on the TensorFlow backend) the switch
#   no longer takes effect, so it is left unset: what runs is what is recorded, and `kcnn train`
#   says how to get oneDNN (`kcnn.training.runtime.onednn_hint`).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if "tensorflow" not in sys.modules:
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

__version__ = "0.1.0"

__all__ = ["__version__", "analysis", "layers", "load_model", "models"]

_LAZY = ("analysis", "layers", "load_model", "models")


def __getattr__(name):
    """Import the Keras-backed subpackages on first use (PEP 562), all together as one unit."""
    if name not in _LAZY:
        raise AttributeError(f"module 'kcnn' has no attribute {name!r}")
    for module in ("analysis", "layers", "models"):
        globals()[module] = importlib.import_module(f"kcnn.{module}")
    globals()["load_model"] = importlib.import_module("kcnn._saving").load_model
    return globals()[name]


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
