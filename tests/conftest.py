"""Shared test set-up: quiet TensorFlow, a fresh Keras state per test, and small helpers."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import pytest


@pytest.fixture(autouse=True)
def _restore_dtype_policy():
    """Tests that switch to a mixed-precision policy must not leak it into the next test."""
    policy = keras.config.dtype_policy()
    yield
    keras.config.set_dtype_policy(policy)


@pytest.fixture
def mixed_float16():
    """Run the test body under the `mixed_float16` policy (float16 compute, float32 variables)."""
    keras.config.set_dtype_policy("mixed_float16")
    yield
