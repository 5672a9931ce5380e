"""Shared test set-up: quiet TensorFlow, a fresh Keras state per test, and small helpers."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# What users get: kcnn turns oneDNN on when it is imported before TensorFlow, but this file
# imports Keras (and so TensorFlow) first.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
# The tests run tiny inputs through many differently shaped ops, so XLA's compile time (every op
# shape on the JAX backend, jit_compile=True on TensorFlow) dominates their run time. Without
# LLVM's optimisations the JAX lane runs 2.3x faster (tests/layers/test_residual.py: 53 s -> 23 s).
os.environ.setdefault(
    "XLA_FLAGS", "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
)

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
