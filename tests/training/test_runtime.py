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


# --- --precision auto: from the CPU's flags, never its name --------------------------------

ZEN3 = frozenset({"fpu", "avx", "avx2", "fma"})  # AVX2 only
ZEN4 = ZEN3 | {"avx512f", "avx512_vnni", "avx512_bf16"}
SAPPHIRE_RAPIDS = ZEN4 | {"amx_tile", "amx_bf16", "amx_int8"}


@pytest.fixture
def bfloat16_faster_for_resnets(monkeypatch):
    monkeypatch.setattr(runtime, "BFLOAT16_FASTER_ON_CPU", {"resnet": "measured 1.9x"})


def test_auto_picks_bfloat16_on_a_bfloat16_cpu_for_a_measured_family(bfloat16_faster_for_resnets):
    for flags, names in ((ZEN4, "AVX512_BF16"), (SAPPHIRE_RAPIDS, "AMX-BF16/AVX512_BF16")):
        precision, reason = runtime.choose_precision(
            "auto", [], family="resnet", flags=flags, backend="tensorflow"
        )
        assert precision == "mixed_bfloat16"
        assert reason == f"auto: CPU with {names}, measured 1.9x"


def test_auto_keeps_float32_without_bfloat16_instructions(bfloat16_faster_for_resnets):
    precision, reason = runtime.choose_precision(
        "auto", [], family="resnet", flags=ZEN3, backend="tensorflow"
    )
    assert precision == "float32"
    assert "no bfloat16 instructions" in reason


def test_auto_keeps_float32_for_a_family_not_measured_faster(bfloat16_faster_for_resnets):
    precision, reason = runtime.choose_precision(
        "auto", [], family="lenet", flags=ZEN4, backend="tensorflow"
    )
    assert (precision, reason) == (
        "float32", "auto: CPU with AVX512_BF16, but bfloat16 not measured faster for lenet networks"
    )


def test_auto_keeps_float32_on_jax_where_bfloat16_was_not_measured(bfloat16_faster_for_resnets):
    assert runtime.choose_precision(
        "auto", [], family="resnet", flags=ZEN4, backend="jax"
    )[0] == "float32"


@pytest.mark.parametrize("asked", ["float32", "mixed_float16", "mixed_bfloat16"])
def test_an_asked_precision_always_wins(bfloat16_faster_for_resnets, asked):
    for flags in (ZEN3, ZEN4):
        assert runtime.choose_precision(
            asked, [], family="resnet", flags=flags, backend="tensorflow"
        ) == (asked, f"--precision {asked}")


def test_auto_on_gpus_by_compute_capability():
    assert runtime.choose_precision("auto", [("A100", (8, 0))], flags=ZEN4)[0] == "mixed_float16"
    assert runtime.choose_precision("auto", [("P100", (6, 0))], flags=ZEN4)[0] == "float32"


def test_the_precision_table_names_registered_families():
    import kcnn.models

    families = {kcnn.models.spec(name).family for name in kcnn.models.names()}
    assert set(runtime.BFLOAT16_FASTER_ON_CPU) <= families
