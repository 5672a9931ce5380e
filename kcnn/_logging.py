"""Quiet TensorFlow's start-up noise without hiding errors."""

import os


def quiet_tensorflow():
    """Hide TensorFlow's C++ INFO and WARNING start-up lines (errors still show).

    Only sets a default: a user's own `TF_CPP_MIN_LOG_LEVEL` wins. Must run before TensorFlow
    is imported to have an effect on the C++ logger.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # oneDNN kernels: 2-4x faster Keras-on-TF training on AVX2 CPUs, where TensorFlow leaves
    # them off by default (CIFAR ResNet-20 186 vs 93 images/s, ResNet-50 at 64x64 31-34 vs 7.8
    # on a 2-core AMD EPYC; spec measured-notes.md). Only read when TensorFlow is first imported.
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
