"""Runtime decisions that need no training: the oneDNN hint for CPU runs."""

import json
import os
import subprocess
import sys

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


# --- --precision auto: from the CPU's kind (its flags, never its name) and the model's family ---

ZEN3 = frozenset({"fpu", "avx", "avx2", "fma"})  # AVX2 only
ZEN4 = ZEN3 | {"avx512f", "avx512_vnni", "avx512_bf16"}  # AVX512_BF16 without AMX
SAPPHIRE_RAPIDS = ZEN4 | {"amx_tile", "amx_bf16", "amx_int8"}  # AMX-BF16
REPO = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir)


def _auto(flags, family, backend="tensorflow"):
    return runtime.choose_precision("auto", [], family=family, flags=flags, backend=backend)


def test_cpu_kind_from_flags():
    assert runtime.cpu_kind(SAPPHIRE_RAPIDS) == "amx_bf16"
    assert runtime.cpu_kind(ZEN4) == "avx512_bf16"
    assert runtime.cpu_kind(ZEN3) is None
    assert runtime.cpu_kind(frozenset()) is None


@pytest.mark.parametrize(
    "flags, family, precision, words",
    [
        (SAPPHIRE_RAPIDS, "lenet", "mixed_bfloat16",
         ("AMX-BF16 CPU", "lenet5 at 1.12x", "precision-speed-amx-2026-12-04.json")),
        (SAPPHIRE_RAPIDS, "resnet", "mixed_bfloat16",
         ("AMX-BF16 CPU", "resnet20 at 1.23x", "precision-speed-amx-2026-12-04.json")),
        (ZEN4, "lenet", "mixed_bfloat16",
         ("AVX512_BF16 without AMX CPU", "lenet5 at 1.23x", "precision-speed-2026-11-29.json")),
        (ZEN4, "resnet", "mixed_bfloat16",
         ("AVX512_BF16 without AMX CPU", "resnet20 at 1.51x", "precision-speed-2026-11-29.json")),
        (SAPPHIRE_RAPIDS, "vgg", "float32", ("AMX-BF16 CPU", "not measured for vgg")),
        (ZEN4, "densenet", "float32", ("AVX512_BF16 without AMX CPU", "not measured")),
        (ZEN3, "lenet", "float32", ("no bfloat16 instructions",)),
        (ZEN3, "resnet", "float32", ("no bfloat16 instructions",)),
    ],
    ids=["amx-lenet", "amx-resnet", "avx512bf16-lenet", "avx512bf16-resnet", "amx-vgg",
         "avx512bf16-densenet", "avx2-lenet", "avx2-resnet"],
)
def test_auto_precision_by_cpu_kind_and_family(flags, family, precision, words):
    chosen, reason = _auto(flags, family)
    assert chosen == precision
    assert reason.startswith("auto: ")
    for word in words:
        assert word in reason, (word, reason)


def _measurement(**changes):
    fields = {"speedups": {"lenet5": 1.3}, "same_accuracy": True, "cpu": "test CPU",
              "command": "python benchmarks/precision_speed.py", "results": ("speed.json",)}
    return runtime.Bfloat16Measurement(**{**fields, **changes})


@pytest.mark.parametrize(
    "measurement, precision, words",
    [
        (_measurement(), "mixed_bfloat16", "lenet5 at 1.30x float32's speed at the same accuracy"),
        (_measurement(speedups={"lenet5": 0.8}), "float32",
         "not faster: it trained lenet5 at 0.80x"),
        (_measurement(speedups={"lenet5": 1.02}), "float32", "not faster"),  # within the noise
        (_measurement(speedups={"a": 1.5, "b": 0.9}), "float32", "b at 0.90x"),  # slowest counts
        (_measurement(same_accuracy=False), "float32", "less accurately"),
    ],
    ids=["faster", "slower", "within-noise", "one-model-slower", "less-accurate"],
)
def test_auto_keeps_float32_where_bfloat16_is_slower_or_less_accurate(
    monkeypatch, measurement, precision, words
):
    monkeypatch.setattr(runtime, "BFLOAT16_ON_CPU", {("amx_bf16", "lenet"): measurement})
    chosen, reason = _auto(SAPPHIRE_RAPIDS, "lenet")
    assert chosen == precision and words in reason, reason
    assert "test CPU: speed.json" in reason
    # the table is per CPU kind: the AVX512_BF16-only kind has no entry here
    assert _auto(ZEN4, "lenet") == (
        "float32",
        "auto: AVX512_BF16 without AMX CPU, bfloat16 not measured for lenet networks on it",
    )


def test_auto_keeps_float32_on_jax_where_bfloat16_was_not_measured():
    assert _auto(SAPPHIRE_RAPIDS, "resnet", backend="jax")[0] == "float32"


@pytest.mark.parametrize("asked", ["float32", "mixed_float16", "mixed_bfloat16"])
def test_an_asked_precision_always_wins(asked):
    for flags in (ZEN3, ZEN4, SAPPHIRE_RAPIDS):
        assert runtime.choose_precision(
            asked, [], family="resnet", flags=flags, backend="tensorflow"
        ) == (asked, f"--precision {asked}")


def test_auto_on_gpus_by_compute_capability():
    assert runtime.choose_precision("auto", [("A100", (8, 0))], flags=ZEN4)[0] == "mixed_float16"
    assert runtime.choose_precision("auto", [("P100", (6, 0))], flags=ZEN4)[0] == "float32"


@pytest.mark.parametrize("key", sorted(runtime.BFLOAT16_ON_CPU), ids=lambda k: "-".join(k))
def test_every_table_entry_is_its_result_files(key):
    """Each entry's figures are the medians in its speed result file, measured on a CPU of the
    entry's kind with the entry's command; its accuracy files exist."""
    import kcnn.models

    kind, family = key
    entry = runtime.BFLOAT16_ON_CPU[key]
    assert family in {kcnn.models.spec(name).family for name in kcnn.models.names()}
    assert entry.command.startswith("python benchmarks/precision_speed.py ")
    assert entry.command.endswith(f"--json {entry.results[0]}")
    for path in entry.results:
        assert os.path.exists(os.path.join(REPO, path)), path
    with open(os.path.join(REPO, entry.results[0])) as f:
        report = json.load(f)
    assert entry.command == "python " + report["environment"]["command"]
    flags = report["environment"]["cpu"]["flags"]
    recorded = {"amx_bf16" for _ in [0] if flags.get("AMX-BF16")} | {
        "avx512_bf16" for _ in [0] if flags.get("AVX512_BF16")}
    assert runtime.cpu_kind(recorded) == kind
    ratios = {r["model"]: r["ratio"] for r in report["results"]}
    for model, speedup in entry.speedups.items():
        assert speedup == round(ratios[model.split()[0]], 2), model


@pytest.mark.tf_only
def test_the_precision_reason_reaches_the_start_up_line_and_metrics(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(runtime, "cpu_flags", lambda: SAPPHIRE_RAPIDS)
    monkeypatch.setattr(runtime, "gpu_details", lambda: [])
    import kcnn.training

    result = kcnn.training.train(model="lenet5", dataset="synthetic", image_size=32, epochs=1,
                                 steps_per_epoch=2, batch_size=8, seed=0, verbose=2,
                                 validation_split=0, run_dir=str(tmp_path / "run"))
    reason = _auto(SAPPHIRE_RAPIDS, "lenet")[1]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert (metrics["precision"], metrics["precision_reason"]) == ("mixed_bfloat16", reason)
    assert result.metrics["precision_reason"] == reason
    assert f"mixed_bfloat16 ({reason})" in capsys.readouterr().out


# --- keeping an accelerator fed -----------------------------------------------------------------


@pytest.mark.tf_only
def test_feed_device_ends_the_training_pipeline_in_a_prefetch():
    import tensorflow as tf

    dataset = tf.data.Dataset.range(10).batch(4).map(lambda x: x * 2).repeat(2)
    fed = runtime.feed_device(dataset)
    assert type(fed).__name__ == "_PrefetchDataset" and fed._input_dataset is dataset
    assert [b.tolist() for b in fed.as_numpy_iterator()] == [
        b.tolist() for b in dataset.as_numpy_iterator()]  # same batches, same order
    assert fed.cardinality() == dataset.cardinality() == 6
    assert runtime.feed_device(None) is None


@pytest.mark.tf_only
def test_the_trainer_fits_on_the_fed_pipeline(monkeypatch, tmp_path):
    fed = []
    real = runtime.feed_device
    monkeypatch.setattr(runtime, "feed_device", lambda d: fed.append(d) or real(d))
    import kcnn.training

    kcnn.training.train(model="lenet5", dataset="synthetic", image_size=32, epochs=1,
                        steps_per_epoch=1, batch_size=4, seed=0, verbose=0, validation_split=0,
                        precision="float32", run_dir=str(tmp_path / "run"))
    assert len(fed) == 1


JAX_LOOKAHEAD = """
import jax, keras, numpy as np, tensorflow as tf
from keras.src.backend.jax import trainer
from kcnn.training import runtime

assert runtime.keras_puts_batches_ahead()
jax.default_backend = lambda: "gpu"  # Keras looks ahead on accelerators only; this is a CPU
put, seen = [], []
real_put = trainer._distribute_data

def spy(data, layouts=None):
    out = real_put(data, layouts)
    put.append((int(np.asarray(data[0])[0, 0]), all(isinstance(a, jax.Array) for a in out)))
    return out

trainer._distribute_data = spy

class Watch(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.before = len(put)  # Keras' build before the epoch takes a first batch of its own

    def on_train_batch_begin(self, batch, logs=None):
        seen.append(len(put) - self.before)  # batches put on the device when the step starts

x = tf.data.Dataset.range(5).map(
    lambda i: (tf.fill([2, 3], tf.cast(i, "float32")), tf.fill([2], i % 2)))
model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
model.compile("sgd", "sparse_categorical_crossentropy")
model.fit(runtime.feed_device(x), epochs=1, verbose=0, shuffle=False, callbacks=[Watch()])
epoch = put[len(put) - 5:]
print(put, seen)
assert [n for n, _ in epoch] == [0, 1, 2, 3, 4] and all(ok for _, ok in put)
assert seen == [0, 2, 3, 4, 5]  # from the second step on, the next batch was put before it started
"""


def test_on_jax_keras_puts_the_next_batch_on_the_device_before_the_step(tmp_path):
    """Keras' own mechanism, which `feed_device` relies on: a Keras upgrade that drops it fails
    here. On the CPU Keras skips the look-ahead (no copy), so the test reports a GPU to it."""
    result = subprocess.run([sys.executable, "-c", JAX_LOOKAHEAD], capture_output=True, text=True,
                            timeout=300, env={**os.environ, "KERAS_BACKEND": "jax",
                                              "TF_CPP_MIN_LOG_LEVEL": "2"}, check=False)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
