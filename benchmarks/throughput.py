"""Training and inference images/s of kcnn models, side by side with keras.applications.

Synthetic in-memory data, so it runs on any Keras backend (the GPU machine has JAX but no
TensorFlow). After warm-up (compilation excluded), each measurement is the median of repeated timed
steps; where keras.applications has the same network, its model is timed in the same process,
alternating with kcnn's, and the ratio kcnn / keras.applications is reported.

    python benchmarks/throughput.py --models resnet20 resnet50:keras --input-size 64 --batch-size 32
    KERAS_BACKEND=jax python benchmarks/throughput.py --models resnet50 --input-size 224 \
        --batch-size 256 --precision mixed_bfloat16 --jit-compile on

A model is NAME or NAME:VARIANT. Output: a markdown table on stdout, and `--json PATH`.
"""

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import machine  # benchmarks/machine.py: the CPU and versions every result records

# keras.applications counterparts of kcnn builders (kcnn name, variant) -> application class name.
KERAS_APPLICATIONS = {
    ("vgg16", None): "VGG16",
    ("vgg19", None): "VGG19",
    ("resnet50", "keras"): "ResNet50",
    ("resnet101", "keras"): "ResNet101",
    ("resnet152", "keras"): "ResNet152",
    ("densenet121", None): "DenseNet121",
    ("densenet169", None): "DenseNet169",
    ("densenet201", None): "DenseNet201",
    ("inception_v3", "keras"): "InceptionV3",
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", nargs="+", default=["resnet20"], help="NAME or NAME:VARIANT")
    parser.add_argument(
        "--input-size", type=int, default=None, help="height = width (default: the model's)"
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--num-classes", type=int, default=10)
    parser.add_argument("--mode", choices=("train", "infer", "both"), default="both")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first (compilation)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per repeat")
    parser.add_argument(
        "--repeats", type=int, default=3, help="alternating repeats; the median is reported"
    )
    parser.add_argument(
        "--precision", default="float32", choices=("float32", "mixed_float16", "mixed_bfloat16")
    )
    parser.add_argument("--jit-compile", default="off", choices=("on", "off", "auto"))
    parser.add_argument(
        "--onednn",
        default="on",
        choices=("on", "off", "default"),
        help="TF_ENABLE_ONEDNN_OPTS on CPU (TensorFlow backend only)",
    )
    parser.add_argument("--no-reference", action="store_true", help="skip keras.applications")
    parser.add_argument(
        "--keras-batchnorm",
        action="store_true",
        help="also time kcnn's model with Keras' BatchNormalization code instead of the fused "
        "kernel, alternating in the same process (the fused kernel's speed-up)",
    )
    parser.add_argument("--json", help="write the results to this file")
    return parser.parse_args(argv)


def configure_environment(args):
    """Environment that must be set before Keras (and TensorFlow) is imported."""
    if args.onednn != "default":
        os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1" if args.onednn == "on" else "0"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def build_kcnn(kcnn, name, variant, input_shape, num_classes):
    """kcnn's model of a network (`variant` None for the builder's default)."""
    options = {"variant": variant} if variant else {}
    return kcnn.models.get(name, num_classes=num_classes, input_shape=input_shape, **options)


def build_pair(keras, kcnn, name, variant, input_shape, num_classes):
    """kcnn's model and, where it exists, the keras.applications model of the same network."""
    ours = build_kcnn(kcnn, name, variant, input_shape, num_classes)
    app = KERAS_APPLICATIONS.get((name, variant))
    reference = None
    if app:
        reference = getattr(keras.applications, app)(
            weights=None, input_shape=input_shape, classes=num_classes
        )
    return ours, reference


def with_keras_batchnorm(keras, model):
    """`model` with every kcnn BatchNormalization running Keras' own code (benchmark only)."""
    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.call = keras.layers.BatchNormalization.call.__get__(layer)
    return model


def compile_model(keras, model, jit_compile):
    model.compile(
        optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
        loss="sparse_categorical_crossentropy",
        jit_compile={"on": True, "off": False, "auto": "auto"}[jit_compile],
    )


def step_timer(model, images, labels, mode):
    """A function that runs one training or inference step and returns when the result is ready."""
    if mode == "train":
        return lambda: float(model.train_on_batch(images, labels))
    return lambda: model.predict_on_batch(images).sum()


def measure(timers, warmup, steps, repeats):
    """Median seconds per step for each timer, the timers alternating within every repeat.

    The order rotates from one repeat to the next (A B C, B C A, C A B, ...): on a 2-core machine
    the model timed first in a fixed order measured up to 14% faster than an identical copy timed
    after it, so use a multiple of the number of timers as `repeats`.
    """
    for timer in timers.values():
        for _ in range(warmup):
            timer()
    keys = list(timers)
    samples = {key: [] for key in keys}
    for repeat in range(repeats):
        shift = repeat % len(keys)
        for key in keys[shift:] + keys[:shift]:
            start = time.perf_counter()
            for _ in range(steps):
                timers[key]()
            samples[key].append((time.perf_counter() - start) / steps)
    return {key: statistics.median(values) for key, values in samples.items()}


def main(argv=None):
    args = parse_args(argv)
    configure_environment(args)
    import keras
    import numpy as np

    import kcnn

    keras.config.set_dtype_policy(args.precision)
    results = []
    for entry in args.models:
        name, _, variant = entry.partition(":")
        variant = variant or None
        spec = kcnn.models.spec(name)
        size = args.input_size or spec.default_input[0]
        input_shape = (size, size, spec.default_input[2])
        ours, reference = build_pair(keras, kcnn, name, variant, input_shape, args.num_classes)
        if args.no_reference:
            reference = None
        unfused = None
        if args.keras_batchnorm:
            unfused = with_keras_batchnorm(
                keras, build_kcnn(kcnn, name, variant, input_shape, args.num_classes)
            )
        rng = np.random.default_rng(0)
        images = rng.normal(size=(args.batch_size, *input_shape)).astype("float32")
        labels = rng.integers(0, args.num_classes, size=(args.batch_size,))
        for model in filter(None, (ours, reference, unfused)):
            compile_model(keras, model, args.jit_compile)
        modes = ("train", "infer") if args.mode == "both" else (args.mode,)
        for mode in modes:
            timers = {"kcnn": step_timer(ours, images, labels, mode)}
            if reference is not None:
                timers["keras.applications"] = step_timer(reference, images, labels, mode)
            if unfused is not None:
                timers["keras_batchnorm"] = step_timer(unfused, images, labels, mode)
            seconds = measure(timers, args.warmup, args.steps, args.repeats)
            row = {
                "model": entry,
                "mode": mode,
                "input": f"{size}x{size}x{input_shape[2]}",
                "batch": args.batch_size,
                "kcnn_images_per_s": args.batch_size / seconds["kcnn"],
            }
            if "keras.applications" in seconds:
                row["keras_applications_images_per_s"] = (
                    args.batch_size / seconds["keras.applications"]
                )
                row["ratio"] = seconds["keras.applications"] / seconds["kcnn"]
            if "keras_batchnorm" in seconds:
                row["keras_batchnorm_images_per_s"] = args.batch_size / seconds["keras_batchnorm"]
                row["fused_batchnorm_speedup"] = seconds["keras_batchnorm"] / seconds["kcnn"]
            results.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
        keras.backend.clear_session()

    environment = {
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
        "kcnn": kcnn.__version__,
        **machine.describe(),
        "precision": args.precision,
        "jit_compile": args.jit_compile,
        "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
        "command": " ".join(sys.argv),
    }
    print(f"{machine.label()}, load average {machine.load_average()}")
    print(markdown_table(results))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"environment": environment, "results": results}, handle, indent=2)
    return 0


def markdown_table(results):
    """The results as a markdown table; the Keras-BatchNormalization columns only when timed."""
    unfused = any("keras_batchnorm_images_per_s" in r for r in results)
    header = "| model | mode | input | batch | kcnn img/s | keras.applications img/s | ratio |"
    rule = "|---|---|---|---:|---:|---:|---:|"
    if unfused:
        header += " kcnn with Keras' BN img/s | fused BN speed-up |"
        rule += "---:|---:|"
    lines = [header, rule]

    def number(row, key, digits):
        return "" if key not in row else f"{row[key]:.{digits}f}"

    for r in results:
        line = (
            f"| {r['model']} | {r['mode']} | {r['input']} | {r['batch']} | "
            f"{r['kcnn_images_per_s']:.1f} | {number(r, 'keras_applications_images_per_s', 1)} | "
            f"{number(r, 'ratio', 2)} |"
        )
        if unfused:
            line += (
                f" {number(r, 'keras_batchnorm_images_per_s', 1)} |"
                f" {number(r, 'fused_batchnorm_speedup', 2)} |"
            )
        lines.append(line)
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
