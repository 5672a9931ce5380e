"""What makes training fast on a CPU: each setting measured against kcnn's defaults, side by side.

Every configuration trains a workload in its own process (oneDNN, the backend and thread pools are
fixed when TensorFlow or JAX starts), the configurations alternate within every round, and the
report gives each one's median training images/s and its ratio to kcnn's defaults (oneDNN on,
float32, XLA off, TensorFlow's thread pools, the fused BatchNormalization kernel, channels-last).

The machine's peak is measured too: the best of several 4096x4096 matrix multiplies in TensorFlow
in float32 and in bfloat16 (in their own processes, before and after the workloads). Each
workload's achieved FLOP/s (3 x forward MACs x 2 per image, MACs from kcnn.analysis) is reported
as a fraction of the peak of its precision. Every result records the CPU and the load average.

    python benchmarks/cpu_study.py --rounds 2 --json benchmarks/results/cpu-study.json
    python benchmarks/cpu_study.py --workloads resnet20 --configs default xla threads-1

Workloads: the CIFAR ResNet-20 (32x32, batch 128) and ResNet-50 (64x64, batch 32), and
`kcnn train`'s default model, LeNet-5 (32x32x1, batch 64: the default batch when these
settings were chosen; it is 32 now).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import machine  # benchmarks/machine.py: the CPU and versions every result records

WORKLOADS = {  # name: (kcnn model, keras.applications class or None, input size, batch size)
    "resnet20": ("resnet20", None, 32, 128),
    "resnet50": ("resnet50", "ResNet50", 64, 32),
    "lenet5": ("lenet5", None, 32, 64),
}
CHANNELS = {"lenet5": 1}  # input channels where not 3
PEAK_SIZE = 4096  # the GEMM that measures the peak: n x n times n x n
# name: (what it changes, settings); settings not given keep the defaults above.
CONFIGS = {
    "default": ("kcnn's defaults", {}),
    "onednn-off": (
        "TF_ENABLE_ONEDNN_OPTS=0 (TensorFlow's own kernels)",
        {"env": {"TF_ENABLE_ONEDNN_OPTS": "0"}},
    ),
    "keras-batchnorm": (
        "Keras' BatchNormalization code (no fused kernel)",
        {"keras_batchnorm": True},
    ),
    "xla": ("jit_compile=True (XLA on the CPU)", {"jit_compile": "on"}),
    "threads-1": ("intra-op and inter-op pools of 1 thread", {"intra": 1, "inter": 1}),
    "inter-op-1": ("inter-op pool of 1 thread", {"inter": 1}),
    "intra-op-4": ("intra-op pool of 4 threads (2 per core)", {"intra": 4}),
    "mixed-bfloat16": ("mixed_bfloat16 policy", {"precision": "mixed_bfloat16"}),
    "batch-half": ("half the batch size", {"batch_scale": 0.5}),
    "batch-double": ("twice the batch size", {"batch_scale": 2.0}),
    "jax-backend": (
        "KERAS_BACKEND=jax (jitted by XLA)",
        {"env": {"KERAS_BACKEND": "jax"}, "jit_compile": "on"},
    ),
    "app-channels-last": (
        "keras.applications' model, channels-last",
        {"source": "keras.applications", "data_format": "channels_last"},
    ),
    "app-channels-first": (
        "keras.applications' model, channels-first",
        {"source": "keras.applications", "data_format": "channels_first"},
    ),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--workloads", nargs="+", choices=sorted(WORKLOADS), default=list(WORKLOADS)
    )
    parser.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    parser.add_argument(
        "--rounds", type=int, default=2, help="alternating rounds; medians reported"
    )
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per repeat")
    parser.add_argument("--repeats", type=int, default=2, help="repeats within one process")
    parser.add_argument("--peak-repeats", type=int, default=5, help="GEMMs per peak measurement")
    parser.add_argument("--peak-size", type=int, default=PEAK_SIZE, help="n of the n x n GEMM")
    parser.add_argument("--no-peak", action="store_true", help="skip the GEMM peak")
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--child", nargs=2, metavar=("WORKLOAD", "CONFIG"), help=argparse.SUPPRESS)
    parser.add_argument("--peak-child", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def applies(workload, config):
    """Whether a configuration can run on a workload (keras.applications has no ResNet-20)."""
    return CONFIGS[config][1].get("source") != "keras.applications" or WORKLOADS[workload][1]


def measure_peak(dtype, repeats, size=PEAK_SIZE):
    """FLOP/s of the best of `repeats` size x size matrix multiplies in TensorFlow (this process).

    2 x size^3 floating-point operations each; inputs in `dtype` ("float32" or "bfloat16"),
    the product in the same type, as the layers compute under that precision.
    """
    import tensorflow as tf

    a = tf.random.normal((size, size), dtype="float32")
    b = tf.random.normal((size, size), dtype="float32")
    a, b = tf.cast(a, dtype), tf.cast(b, dtype)
    matmul = tf.function(lambda x, y: tf.matmul(x, y))
    matmul(a, b).numpy()  # warm-up: tracing and oneDNN's kernel selection
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        matmul(a, b).numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


def training_flops_per_image(kcnn, model):
    """3 x forward MACs x 2: forward, and backward for the inputs and the weights."""
    return 3 * 2 * kcnn.analysis.profile(model).totals.macs


def run_child(workload, config, warmup, steps, repeats):
    """Train one workload under one configuration in this process; return images/s and
    training FLOPs per image."""
    settings = CONFIGS[config][1]
    import keras  # TF_ENABLE_ONEDNN_OPTS comes from spawn(), before TensorFlow starts
    import numpy as np

    import kcnn

    sys.path.insert(0, HERE)
    import throughput

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        if "intra" in settings:
            tf.config.threading.set_intra_op_parallelism_threads(settings["intra"])
        if "inter" in settings:
            tf.config.threading.set_inter_op_parallelism_threads(settings["inter"])
    keras.config.set_dtype_policy(settings.get("precision", "float32"))
    name, application, size, batch = WORKLOADS[workload]
    batch = int(batch * settings.get("batch_scale", 1.0))
    if settings.get("source") == "keras.applications":
        keras.config.set_image_data_format(settings["data_format"])
        input_shape = (
            (size, size, 3) if settings["data_format"] == "channels_last" else (3, size, size)
        )
        model = getattr(keras.applications, application)(
            weights=None, input_shape=input_shape, classes=10
        )
    else:
        input_shape = (size, size, CHANNELS.get(workload, 3))
        model = throughput.build_kcnn(kcnn, name, None, input_shape, 10)
        if settings.get("keras_batchnorm"):
            model = throughput.with_keras_batchnorm(keras, model)
    throughput.compile_model(keras, model, settings.get("jit_compile", "off"))
    rng = np.random.default_rng(0)
    images = rng.normal(size=(batch, *input_shape)).astype("float32")
    labels = rng.integers(0, 10, size=(batch,))
    seconds = throughput.measure(
        {"run": throughput.step_timer(model, images, labels, "train")}, warmup, steps, repeats
    )["run"]
    return {"images_per_s": batch / seconds,
            "flops_per_image": training_flops_per_image(kcnn, model)}


def spawn(workload, config, args):
    """Run one measurement in a fresh process with the configuration's environment."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TF_ENABLE_ONEDNN_OPTS="1")
    env.update(CONFIGS[config][1].get("env", {}))
    return _child(["--child", workload, config, "--warmup", str(args.warmup), "--steps",
                   str(args.steps), "--repeats", str(args.repeats)], env)


def spawn_peak(args):
    """Measure the GEMM peaks (float32, then bfloat16) in a fresh process (oneDNN on)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TF_ENABLE_ONEDNN_OPTS="1")
    return _child(["--peak-child", "--peak-repeats", str(args.peak_repeats),
                   "--peak-size", str(args.peak_size)], env)


def _child(arguments, env):
    """Run this script with `arguments`; its last stdout line is a JSON object. Adds the load
    average at the end of the run (other processes on the cores disturb every figure)."""
    result = subprocess.run([sys.executable, __file__, *arguments], check=False, env=env,
                            capture_output=True, text=True, timeout=900)
    load = machine.load_average()
    if result.returncode != 0:
        error = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed"
        return {"error": error, "load_average": load}
    return {**json.loads(result.stdout.strip().splitlines()[-1]), "load_average": load}


def peak_precision(config):
    """The GEMM peak a configuration is measured against: bfloat16's for mixed_bfloat16."""
    return "bfloat16" if CONFIGS[config][1].get("precision") == "mixed_bfloat16" else "float32"


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        print(json.dumps(run_child(*args.child, args.warmup, args.steps, args.repeats)))
        return 0
    if args.peak_child:
        print(json.dumps({dtype: measure_peak(dtype, args.peak_repeats, args.peak_size)
                          for dtype in ("float32", "bfloat16")}))
        return 0
    print(f"{machine.label()}, load average {machine.load_average()}", flush=True)
    peaks = {} if args.no_peak else {"float32": [], "bfloat16": []}
    samples, loads, flops, errors = {}, {}, {}, {}

    def measure_peaks(when):
        if not peaks:
            return
        outcome = spawn_peak(args)
        for dtype, values in peaks.items():
            if dtype in outcome:
                values.append(outcome[dtype])
        print(json.dumps({"peak": when, **outcome}), file=sys.stderr, flush=True)

    measure_peaks("before")
    for round_index in range(args.rounds):
        for workload in args.workloads:
            for config in args.configs:
                if not applies(workload, config):
                    continue
                outcome = spawn(workload, config, args)
                key = (workload, config)
                loads.setdefault(key, []).append(outcome["load_average"])
                if "error" in outcome:
                    errors[key] = outcome["error"]
                else:
                    samples.setdefault(key, []).append(outcome["images_per_s"])
                    flops[key] = outcome["flops_per_image"]
                print(json.dumps({"round": round_index + 1, "workload": workload,
                                  "config": config, **outcome}), file=sys.stderr, flush=True)
    measure_peaks("after")
    peak = {dtype: max(values) for dtype, values in peaks.items() if values}
    results = []
    for workload in args.workloads:
        default = statistics.median(samples.get((workload, "default"), [float("nan")]))
        for config in args.configs:
            key = (workload, config)
            if not applies(workload, config):
                continue
            rate = statistics.median(samples[key]) if key in samples else None
            achieved = rate * flops[key] if rate is not None else None
            against = peak.get(peak_precision(config))
            results.append(
                {
                    "workload": workload,
                    "config": config,
                    "change": CONFIGS[config][0],
                    "images_per_s": rate,
                    "samples": samples.get(key, []),
                    "load_averages": loads.get(key, []),
                    "ratio_to_default": None if rate is None else rate / default,
                    "training_flops_per_image": flops.get(key),
                    "achieved_flops_per_s": achieved,
                    "peak_precision": peak_precision(config),
                    "fraction_of_peak": achieved / against if achieved and against else None,
                    "error": errors.get(key),
                }
            )
    print(peak_table(peaks, args.peak_size))
    print(markdown_table(results))
    if args.json:
        environment = {**machine.describe(), "command": " ".join(sys.argv)}
        report = {"environment": environment,
                  "peak_gemm": {"size": args.peak_size, "flops_per_s": peak, "samples": peaks},
                  "results": results}
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=2)
    return 0


def peak_table(peaks, size):
    lines = [f"| GEMM {size}x{size} | best GFLOP/s | samples |", "|---|---:|---|"]
    for dtype, values in peaks.items():
        if values:
            shown = ", ".join(f"{v / 1e9:.0f}" for v in values)
            lines.append(f"| {dtype} | {max(values) / 1e9:.0f} | {shown} |")
    return "\n".join(lines)


def markdown_table(results):
    lines = [
        "| workload | configuration | images/s | ratio to default | GFLOP/s | of peak | load |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for r in results:
        loads = ", ".join(f"{v:.1f}" for v in r["load_averages"])
        if r["images_per_s"] is None:
            lines.append(f"| {r['workload']} | {r['change']} | failed: {r['error']} | | | | |")
            continue
        fraction = r["fraction_of_peak"]
        of_peak = "" if fraction is None else f"{fraction:.0%} ({r['peak_precision']})"
        lines.append(
            f"| {r['workload']} | {r['change']} | {r['images_per_s']:.1f} | "
            f"{r['ratio_to_default']:.2f} | {r['achieved_flops_per_s'] / 1e9:.1f} | "
            f"{of_peak} | "
            f"{loads} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
