"""The benchmark scripts run end to end on tiny settings and report what they measured.

Speed targets live in benchmarks/README.md, never here: these tests check that the scripts work
(flags, JSON, tables, the JAX path with mixed precision) so that a GPU session can trust them.
"""

import json
import os
import subprocess
import sys

import pytest
from _scripts import load_script  # tests/ is on pytest's pythonpath

BENCHMARKS = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "benchmarks")


def _script(name):
    return load_script(f"benchmarks/{name}.py")


QUICK = "--warmup 1 --steps 1 --repeats 1"


def _report(tmp_path, script, arguments):
    """Run `script`'s main with `arguments` (a string) and `--json`; return the parsed report."""
    out = tmp_path / f"{script}.json"
    assert _script(script).main([*arguments.split(), "--json", str(out)]) == 0
    return json.loads(out.read_text())


def test_throughput_times_fit_and_keras_applications_side_by_side(tmp_path, capsys):
    report = _report(
        tmp_path, "throughput", f"--models vgg16 --input-size 32 --batch-size 2 {QUICK}"
    )
    assert [(r["model"], r["mode"]) for r in report["results"]] == [
        ("vgg16", "train"),
        ("vgg16", "infer"),
    ]
    train, infer = report["results"]
    assert train["kcnn_method"] == "fit, tf.data, prefetched"
    for key in ("kcnn_images_per_s", "device_images_per_s", "host_train_on_batch_images_per_s",
                "keras_applications_images_per_s"):
        assert train[key] > 0, key
    assert train["not_measured"] == {"torch": "no PyTorch reference for vgg16"}
    for row in (train, infer):
        assert row["ratio"] == pytest.approx(
            row["kcnn_images_per_s"] / row["keras_applications_images_per_s"]
        )
    environment = report["environment"]
    assert environment["backend"] == "tensorflow"
    assert environment["device"] == {"platform": "cpu", "kinds": [], "count": 1}
    assert environment["cpu"]["bfloat16_kind"] in ("amx_bf16", "avx512_bf16", None)
    assert environment["versions"]["keras"] == environment["keras"]
    out = capsys.readouterr().out
    assert out.startswith(environment["label"] + "; Keras ")
    assert "| vgg16 | train | 32x32x3 | 2 |" in out and "train_on_batch, host arrays" in out


def test_throughput_times_pytorch_in_the_same_run(tmp_path):
    pytest.importorskip("torch")
    report = _report(tmp_path, "throughput",
                     f"--models resnet20 --batch-size 2 --mode train --torch eager {QUICK}")
    (row,) = report["results"]
    assert row["torch_eager_images_per_s"] > 0 and "torch_compile_images_per_s" not in row
    assert row["kcnn_to_torch_eager"] == pytest.approx(
        row["kcnn_images_per_s"] / row["torch_eager_images_per_s"])
    assert row["torch_options"].startswith("channels_last, float32, ")
    assert report["environment"]["versions"]["torch"]


def test_throughput_records_a_pytorch_run_that_fails_and_raises_for_kcnn():
    throughput = _script("throughput")

    def broken(steps):
        raise RuntimeError("inductor: no C++ compiler\nmore")

    seconds, errors = throughput.measure_runs(
        {"kcnn": lambda steps: 0.5, "torch_compile": broken}, warmup=1, steps=1, repeats=2)
    assert seconds == {"kcnn": 0.5}
    assert errors == {"torch_compile": "RuntimeError: inductor: no C++ compiler\nmore"}
    with pytest.raises(RuntimeError):
        throughput.measure_runs({"kcnn": broken}, warmup=1, steps=1, repeats=1)


def test_throughput_feeds_a_generator_where_tensorflow_is_missing(monkeypatch):
    """The JAX-only GPU machine has no TensorFlow: fit then reads host numpy batches."""
    import numpy as np

    monkeypatch.setitem(sys.modules, "tensorflow", None)  # import tensorflow raises ImportError
    images, labels = np.zeros((2, 4, 4, 3), "float32"), np.zeros(2, "int64")
    data, source = _script("throughput").synthetic_batches(images, labels)
    assert source == "generator of host numpy batches"
    batch = next(data)
    assert batch[0] is images and batch[1] is labels


@pytest.mark.parametrize("precision", ["mixed_float16", "mixed_bfloat16"])
def test_throughput_runs_on_jax_with_mixed_precision(tmp_path, precision):
    """The GPU machine has JAX and no TensorFlow: the script's path there, run on the CPU."""
    out = tmp_path / "jax.json"
    command = [
        sys.executable,
        os.path.join(BENCHMARKS, "throughput.py"),
        "--models",
        "simple_cnn",
        "--batch-size",
        "4",
        "--precision",
        precision,
        "--jit-compile",
        "on",
        "--no-reference",
        "--torch",
        "off",
        *QUICK.split(),
        "--json",
        str(out),
    ]
    result = subprocess.run(
        command,
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "KERAS_BACKEND": "jax"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["environment"]["backend"] == "jax"
    assert report["environment"]["precision"] == precision
    assert report["environment"]["device"]["platform"] == "cpu"
    assert {r["mode"] for r in report["results"]} == {"train", "infer"}
    assert report["results"][0]["kcnn_method"] == "fit, tf.data, prefetched"
    assert all(r["kcnn_images_per_s"] > 0 for r in report["results"])


def test_cpu_study_spawns_each_configuration_with_its_environment_and_compares_them(
        tmp_path, monkeypatch):
    """The fast twin of the test below: the child processes answer from a table."""
    study, calls = _script("cpu_study"), []

    def child(arguments, env):
        calls.append((arguments, env))
        if arguments[0] == "--peak-child":
            return {"float32": 1e11, "bfloat16": 2e11, "load_average": 0.5}
        rate = {"default": 100.0, "onednn-off": 40.0}[arguments[2]]
        return {"images_per_s": rate, "flops_per_image": 6 * 40_551_040, "load_average": 0.5}

    monkeypatch.setattr(study, "_child", child)
    out = tmp_path / "study.json"
    assert study.main(["--workloads", "resnet20", "--configs", "default", "onednn-off",
                       "--rounds", "2", "--json", str(out)]) == 0
    results = json.loads(out.read_text())["results"]
    assert [(r["config"], r["ratio_to_default"]) for r in results] == [
        ("default", 1.0), ("onednn-off", 0.4)]
    assert results[0]["fraction_of_peak"] == pytest.approx(100.0 * 6 * 40_551_040 / 1e11)
    runs = [(arguments[1:3], env["TF_ENABLE_ONEDNN_OPTS"]) for arguments, env in calls
            if arguments[0] == "--child"]
    assert runs == [(["resnet20", "default"], "1"), (["resnet20", "onednn-off"], "0")] * 2
    assert [arguments[0] for arguments, _ in calls].count("--peak-child") == 2  # before, after


@pytest.mark.slow
def test_cpu_study_measures_each_configuration_in_its_own_process(tmp_path):
    arguments = (f"--workloads resnet20 --configs default keras-batchnorm --rounds 1 {QUICK} "
                 "--peak-size 256 --peak-repeats 1")
    report = _report(tmp_path, "cpu_study", arguments)
    results = report["results"]
    assert [r["config"] for r in results] == ["default", "keras-batchnorm"]
    assert all(r["error"] is None and r["images_per_s"] > 0 for r in results)
    assert results[0]["ratio_to_default"] == 1.0
    # 3 x forward MACs x 2 per image: ResNet-20's 40,551,040 MACs (kcnn.analysis)
    assert all(r["training_flops_per_image"] == 6 * 40_551_040 for r in results)
    peak = report["peak_gemm"]["flops_per_s"]["float32"]
    for r in results:
        assert r["achieved_flops_per_s"] == pytest.approx(
            r["images_per_s"] * r["training_flops_per_image"])
        assert r["fraction_of_peak"] == pytest.approx(r["achieved_flops_per_s"] / peak)
    assert isinstance(report["environment"]["cpu"]["flags"]["AVX2"], bool)
    assert all(len(r["load_averages"]) == 1 for r in results)


def test_cpu_study_skips_configurations_a_workload_cannot_run():
    study = _script("cpu_study")
    # keras.applications has no ResNet-20
    assert not study.applies("resnet20", "app-channels-first")
    assert study.applies("resnet50", "app-channels-first")


def test_pipeline_reports_images_per_second(tmp_path):
    arguments = "--presets cifar --examples 512 --batch-size 128 --passes 1"
    report = _report(tmp_path, "pipeline", arguments)
    assert [(r["preset"], r["deterministic"]) for r in report["results"]] == [("cifar", False)]
    assert report["results"][0]["images_per_s"] > 0


def test_keras_batchnorm_reference_really_runs_keras_code():
    """`--keras-batchnorm` times what the fused kernel buys: the copy must not use it."""
    import keras

    import kcnn

    model = kcnn.models.resnet20()
    assert "FusedBatchNormV3" in _training_ops(model)
    assert "FusedBatchNormV3" not in _training_ops(
        _script("throughput").with_keras_batchnorm(keras, model)
    )


def _training_ops(model):
    import tensorflow as tf

    step = tf.function(lambda x: model(x, training=True))
    graph = step.get_concrete_function(tf.TensorSpec((2, 32, 32, 3))).graph
    return {op.type for op in graph.get_operations()}


def test_graph_ops_finds_vgg16_dropouts_and_identical_inference_graphs(capsys):
    """kcnn's VGG16 keeps the paper's two dropouts, which keras.applications leaves out."""
    assert (
        _script("graph_ops").main(["--models", "vgg16", "--input-size", "32", "--batch-size", "2"])
        == 0
    )
    training, inference = capsys.readouterr().out.strip().splitlines()
    assert training.startswith("vgg16 training step:")
    assert "StatelessRandomUniformV2 2 vs 0" in training
    assert (
        inference == "vgg16 inference: kcnn 162 operations, keras.applications 162; differing: none"
    )


@pytest.mark.slow
def test_batchnorm_rounding_is_zero_without_the_fused_kernel(tmp_path):
    """The figure behind the README's "equal up to float32 rounding in training"."""
    report = _report(tmp_path, "batchnorm_rounding",
                     "--model resnet50 --input-size 64 --batch-size 2")  # 2x2 at the end
    rows = {(r["a"], r["b"]): r for r in report["results"]}
    assert rows[("kcnn_keras_batchnorm", "keras_applications")]["max_relative"] == 0.0
    for pair in (("kcnn", "keras_applications"), ("kcnn", "float64"),
                 ("keras_applications", "float64")):
        assert 0.0 < rows[pair]["max_relative"] < 1e-2


def test_machine_names_the_cpu_and_versions():
    machine = _script("machine")
    described = machine.describe()
    assert set(described["cpu"]["flags"]) == set(machine.SIMD_FLAGS.values())
    assert described["versions"]["keras"] and described["versions"]["tensorflow"]
    cpu = {"model_name": "X", "family": 25, "model": 17, "cores": 2,
           "flags": {name: name in ("AVX2", "AVX-512F", "AVX512_BF16")
                     for name in machine.SIMD_FLAGS.values()}}
    assert machine.label(cpu) == (
        "X (family 25 model 17, 2 cores; AVX2, AVX-512F, AVX512_BF16, no AMX)"
    )
    cpu["flags"] = {name: name == "AVX2" for name in machine.SIMD_FLAGS.values()}
    assert machine.label(cpu) == "X (family 25 model 17, 2 cores; AVX2, no AVX-512, no AMX)"
    from kcnn.training import runtime

    assert described["cpu"]["bfloat16_kind"] == runtime.cpu_kind(runtime.cpu_flags())


def test_machine_records_each_nvidia_gpu_and_its_driver(monkeypatch):
    machine = _script("machine")

    class Done:
        stdout = "NVIDIA H200, 570.86.15, 143771 MiB\nNVIDIA H200, 570.86.15, 143771 MiB\n"

    monkeypatch.setattr(machine.subprocess, "run", lambda *a, **k: Done())
    assert machine.nvidia_gpus() == 2 * [
        {"name": "NVIDIA H200", "driver": "570.86.15", "memory": "143771 MiB"}]

    def missing(*a, **k):
        raise FileNotFoundError("nvidia-smi")

    monkeypatch.setattr(machine.subprocess, "run", missing)
    assert machine.nvidia_gpus() == []


def test_precision_speed_times_both_precisions_in_one_process(tmp_path):
    report = _report(tmp_path, "precision_speed",
                     "--models lenet5 --warmup 1 --steps 1 --repeats 2")
    (row,) = report["results"]
    assert row["model"] == "lenet5" and len(row["load_averages"]) == 2
    assert row["ratio"] == pytest.approx(
        row["mixed_bfloat16_images_per_s"] / row["float32_images_per_s"])
    assert report["environment"]["cpu"]["cores"] >= 1


def test_precision_accuracy_summarizes_seeds_per_task_and_precision():
    study = _script("precision_accuracy")
    runs = [{"task": "t", "precision": p, "seed": s, "test_accuracy": a, "test_loss": 0.1}
            for p, s, a in (("float32", 1, 0.9), ("float32", 2, 0.8), ("mixed_bfloat16", 1, 0.85),
                            ("mixed_bfloat16", 2, 0.85))]
    rows = study.summarize(runs)
    assert [(r["precision"], r["seeds"]) for r in rows] == [("float32", 2), ("mixed_bfloat16", 2)]
    assert rows[0]["accuracy_mean"] == pytest.approx(0.85)
    assert rows[0]["accuracy_std"] == pytest.approx(0.0707, abs=1e-4)
    assert (rows[0]["accuracy_min"], rows[0]["accuracy_max"]) == (0.8, 0.9)
    assert rows[1]["accuracy_std"] == 0.0


def test_profile_step_counts_operations_not_runtime_events():
    pattern = _script("profile_step").OP_EVENT
    assert pattern.match("resnet20_1/conv/convolution:_MklNativeConv2D").group(1) == (
        "_MklNativeConv2D")
    for runtime_event in ("ExecutorState::Process", "EagerLocalExecute: __inference_step_1",
                          "one_step_on_data"):
        assert pattern.match(runtime_event) is None


def test_the_prepared_gpu_check_passes_flags_throughput_accepts():
    """benchmarks/gpu_check.sh runs unattended on a GPU lent for minutes: its commands parse."""
    import shlex

    with open(os.path.join(BENCHMARKS, "gpu_check.sh")) as f:
        text = f.read().replace("\\\n", " ")
    assert subprocess.run(["sh", "-n", os.path.join(BENCHMARKS, "gpu_check.sh")]).returncode == 0
    commands = [shlex.split(line.split("||")[0]) for line in text.splitlines()
                if "benchmarks/throughput.py" in line and not line.startswith("#")]
    assert len(commands) == 2
    throughput = _script("throughput")
    for words in commands:
        args = throughput.parse_args(words[words.index("benchmarks/throughput.py") + 1:])
        assert (args.precision, args.jit_compile, args.torch) == ("mixed_bfloat16", "on", "both")
    assert {tuple(c[c.index("--models") + 1:c.index("--models") + 2]) for c in commands} == {
        ("resnet50",), ("resnet20",)}
