"""Quiet TensorFlow's start-up noise without hiding errors."""

import os


def quiet_tensorflow():
    """Hide TensorFlow's C++ INFO and WARNING start-up lines (errors still show).

    Only sets a default: a user's own `TF_CPP_MIN_LOG_LEVEL` wins. Must run before TensorFlow
    is imported to have an effect on the C++ logger.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
