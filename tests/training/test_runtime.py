"""Runtime decisions that need no training: the oneDNN hint for CPU runs."""

import pytest

from kcnn.training import runtime


def _runtime(backend="tensorflow", gpus=0):
    return runtime.Runtime(
        backend=backend,
        device="CPU",
        gpus=gpus,
        precision="float32",
        jit_compile=False,
        distribute="none",
        replicas=1,
    )


def test_onednn_hint_when_tensorflow_started_without_it(monkeypatch):
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    hint = runtime.onednn_hint(_runtime())
    assert "import kcnn first" in hint and "TF_ENABLE_ONEDNN_OPTS=1" in hint


@pytest.mark.parametrize(
    "setting, backend, gpus",
    [("1", "tensorflow", 0), ("0", "tensorflow", 0), (None, "tensorflow", 1), (None, "jax", 0)],
    ids=["asked-on", "asked-off", "gpu", "jax"],
)
def test_no_onednn_hint_when_asked_for_or_irrelevant(monkeypatch, setting, backend, gpus):
    if setting is None:
        monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    else:
        monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", setting)
    assert runtime.onednn_hint(_runtime(backend, gpus)) is None
