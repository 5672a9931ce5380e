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


def test_throughput_times_kcnn_and_keras_applications_side_by_side(tmp_path, capsys):
    report = _report(
        tmp_path, "throughput", f"--models vgg16 --input-size 32 --batch-size 2 {QUICK}"
    )
    assert [(r["model"], r["mode"]) for r in report["results"]] == [
        ("vgg16", "train"),
        ("vgg16", "infer"),
    ]
    for row in report["results"]:
        assert row["kcnn_images_per_s"] > 0 and row["keras_applications_images_per_s"] > 0
        assert row["ratio"] == pytest.approx(
            row["kcnn_images_per_s"] / row["keras_applications_images_per_s"]
        )
    assert report["environment"]["backend"] == "tensorflow"
    assert "| vgg16 | train | 32x32x3 | 2 |" in capsys.readouterr().out


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
    assert {r["mode"] for r in report["results"]} == {"train", "infer"}
    assert all(r["kcnn_images_per_s"] > 0 for r in report["results"])


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
