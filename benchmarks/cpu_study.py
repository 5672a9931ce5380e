"""What makes training fast on a CPU: each setting measured against kcnn's defaults, side by side.

Every configuration trains a workload in its own process (oneDNN, the backend and thread pools are
fixed when TensorFlow or JAX starts), the configurations alternate within every round, and the
report gives each one's median training images/s and its ratio to kcnn's defaults (oneDNN on,
float32, XLA off, TensorFlow's thread pools, the fused BatchNormalization kernel, channels-last).

    python benchmarks/cpu_study.py --rounds 2 --json benchmarks/results/cpu-study.json
    python benchmarks/cpu_study.py --workloads resnet20 --configs default xla threads-1

Workloads are issue 7's: CIFAR ResNet-20 (32x32, batch 128) and ResNet-50 (64x64, batch 32).
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOADS = {  # name: (kcnn model, keras.applications class or None, input size, batch size)
    "resnet20": ("resnet20", None, 32, 128),
    "resnet50": ("resnet50", "ResNet50", 64, 32),
}
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
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--child", nargs=2, metavar=("WORKLOAD", "CONFIG"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def applies(workload, config):
    """Whether a configuration can run on a workload (keras.applications has no ResNet-20)."""
    return CONFIGS[config][1].get("source") != "keras.applications" or WORKLOADS[workload][1]


def run_child(workload, config, warmup, steps, repeats):
    """Train one workload under one configuration in this process; return images/s."""
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
        input_shape = (size, size, 3)
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
    return batch / seconds


def spawn(workload, config, args):
    """Run one measurement in a fresh process with the configuration's environment."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TF_ENABLE_ONEDNN_OPTS="1")
    env.update(CONFIGS[config][1].get("env", {}))
    command = [
        sys.executable,
        __file__,
        "--child",
        workload,
        config,
        "--warmup",
        str(args.warmup),
        "--steps",
        str(args.steps),
        "--repeats",
        str(args.repeats),
    ]
    result = subprocess.run(
        command, check=False, env=env, capture_output=True, text=True, timeout=900
    )
    if result.returncode != 0:
        return {
            "error": result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed"
        }
    return {"images_per_s": float(result.stdout.strip().splitlines()[-1])}


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        print(run_child(*args.child, args.warmup, args.steps, args.repeats))
        return 0
    samples, errors = {}, {}
    for round_index in range(args.rounds):
        for workload in args.workloads:
            for config in args.configs:
                if not applies(workload, config):
                    continue
                outcome = spawn(workload, config, args)
                key = (workload, config)
                if "error" in outcome:
                    errors[key] = outcome["error"]
                else:
                    samples.setdefault(key, []).append(outcome["images_per_s"])
                print(
                    json.dumps(
                        {
                            "round": round_index + 1,
                            "workload": workload,
                            "config": config,
                            **outcome,
                        }
                    ),
                    file=sys.stderr,
                    flush=True,
                )
    results = []
    for workload in args.workloads:
        default = statistics.median(samples.get((workload, "default"), [float("nan")]))
        for config in args.configs:
            key = (workload, config)
            if not applies(workload, config):
                continue
            rate = statistics.median(samples[key]) if key in samples else None
            results.append(
                {
                    "workload": workload,
                    "config": config,
                    "change": CONFIGS[config][0],
                    "images_per_s": rate,
                    "samples": samples.get(key, []),
                    "ratio_to_default": None if rate is None else rate / default,
                    "error": errors.get(key),
                }
            )
    print(markdown_table(results))
    if args.json:
        environment = {
            "python": platform.python_version(),
            "machine": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "command": " ".join(sys.argv),
            "date": time.strftime("%Y-%m-%d"),
        }
        with open(args.json, "w") as handle:
            json.dump({"environment": environment, "results": results}, handle, indent=2)
    return 0


def markdown_table(results):
    lines = ["| workload | configuration | images/s | ratio to default |", "|---|---|---:|---:|"]
    for r in results:
        if r["images_per_s"] is None:
            lines.append(f"| {r['workload']} | {r['change']} | failed: {r['error']} | |")
        else:
            lines.append(
                f"| {r['workload']} | {r['change']} | {r['images_per_s']:.1f} | "
                f"{r['ratio_to_default']:.2f} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
