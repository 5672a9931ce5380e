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
    hint = runtime.onednn_hint(_runtime(), enabled=False)
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
    assert runtime.onednn_hint(_runtime(backend, gpus), enabled=False) is None


def test_no_onednn_hint_where_tensorflow_turned_it_on_by_itself(monkeypatch):
    """TensorFlow's default is on for CPUs with AVX-512 VNNI/BF16 or AMX: nothing to hint."""
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    assert runtime.onednn_hint(_runtime(), enabled=True) is None


def test_onednn_enabled_is_tensorflows_own_answer():
    from tensorflow.python.util import _pywrap_util_port

    assert runtime.onednn_enabled() is bool(_pywrap_util_port.IsMklEnabled())


def test_cpu_info_reads_the_first_processor(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\n"
        "model name\t: AMD EPYC 9004\nflags\t\t: fpu avx2 avx512f avx512_bf16\n\n"
        "processor\t: 1\ncpu family\t: 99\nflags\t\t: fpu\n"
    )
    info = runtime.cpu_info(str(cpuinfo))
    assert (info["model_name"], info["family"], info["model"]) == ("AMD EPYC 9004", 25, 17)
    assert info["flags"] == {"fpu", "avx2", "avx512f", "avx512_bf16"}
    assert runtime.cpu_info(str(tmp_path / "missing"))["flags"] == frozenset()
