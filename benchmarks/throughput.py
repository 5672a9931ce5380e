"""Training and inference images/s of kcnn models, timed as Keras trains, with the references.

Training is timed three ways, every one in the same process and alternating:
- `fit`: `model.fit` over a prefetched tf.data dataset of host batches (a Python generator of
  host numpy batches where TensorFlow is not installed, as on a JAX-only GPU machine). This is
  what `kcnn train` runs, and the headline figure (`kcnn_images_per_s`).
- `train_on_batch` on tensors already on the device (`device_images_per_s`): no host copy at all.
- `train_on_batch` on host numpy arrays (`host_train_on_batch_images_per_s`): this script's figure
  before the fit column; on a GPU it pays an unoverlapped host copy every step and understates fit.
Inference is `predict_on_batch` on host arrays. keras.applications' model of the same network,
where it has one, and PyTorch's (benchmarks/torch_reference.py: eager and torch.compile, autocast
in the run's precision, channels_last, on the same device) are timed in the same alternation,
each with its ratio to kcnn's fit figure. Every result records the device (CPU model and flags,
or GPU model and driver), the backend and the library versions.

    python benchmarks/throughput.py --models resnet20 resnet50:keras --input-size 64 --batch-size 32
    KERAS_BACKEND=jax python benchmarks/throughput.py --models resnet50 --input-size 224 \
        --batch-size 256 --precision mixed_bfloat16 --jit-compile on --steps 20

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
        "--torch",
        default="auto",
        choices=("auto", "eager", "compile", "both", "off"),
        help="PyTorch reference for resnet20/resnet50 (auto: eager and torch.compile when torch "
        "is installed)",
    )
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


# Environment variables that change how the CPU threads of TensorFlow, oneDNN or PyTorch wait and
# spread; recorded with every result where set (PyTorch's OpenMP threads spin while waiting, which
# on cores shared with other processes costs it most of its speed).
THREAD_SETTINGS = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME",
                   "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def run_steps(step):
    """`run(steps) -> seconds per step` for a one-step function (`step_timer`)."""

    def run(steps):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        return (time.perf_counter() - start) / steps

    return run


def synthetic_batches(images, labels):
    """An endless prefetched tf.data dataset of the batch, or (no TensorFlow) a generator of
    host numpy batches; returns (data, what it is)."""
    try:
        import tensorflow as tf
    except ImportError:

        def batches():
            while True:
                yield images, labels

        return batches(), "generator of host numpy batches"
    dataset = tf.data.Dataset.from_tensors((images, labels)).repeat()
    return dataset.prefetch(tf.data.AUTOTUNE), "tf.data, prefetched"


def fit_runner(keras, model, data):
    """`run(steps) -> seconds per step` of `model.fit(data)` for one epoch of `steps` steps,
    from the epoch's start to its end (the losses read back, so the device has finished)."""
    times = {}

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            times["start"] = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            float(logs["loss"])  # waits for the device
            times["end"] = time.perf_counter()

    def run(steps):
        model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False,
                  callbacks=[EpochTimer()])
        return (times["end"] - times["start"]) / steps

    return run


def device_tensors(keras, images, labels):
    """The batch converted once to the backend's tensors on its default device."""
    return keras.ops.convert_to_tensor(images), keras.ops.convert_to_tensor(labels)


def measure_runs(runs, warmup, steps, repeats):
    """Median seconds per step of each `run(steps)` after `run(warmup)`, alternating within every
    repeat (the order rotates, as in `measure`); a PyTorch run ("torch_*") that raises is
    dropped and its error returned: ({key: seconds}, {key: error})."""
    errors = {}
    for key, run in list(runs.items()):
        try:
            run(warmup)
        except Exception as error:  # e.g. torch.compile without a working C++ compiler
            if not key.startswith("torch_"):
                raise
            errors[key] = f"{type(error).__name__}: {(str(error) or '').strip()[:300]}"
            del runs[key]
    keys = list(runs)
    samples = {key: [] for key in keys}
    for repeat in range(repeats):
        shift = repeat % len(keys)
        for key in keys[shift:] + keys[:shift]:
            samples[key].append(runs[key](steps))
    return {key: statistics.median(values) for key, values in samples.items()}, errors


def torch_runs(args, name, size, channels):
    """PyTorch references for the model ({label: run}) and what was skipped and why."""
    if args.torch == "off":
        return {}, {}
    import torch_reference

    if name not in torch_reference.WORKLOADS or channels != 3:
        return {}, {"torch": f"no PyTorch reference for {name}"}
    try:
        import torch  # noqa: F401
    except ImportError:
        return {}, {"torch": "PyTorch is not installed"}
    modes = {"auto": ("eager", "compile"), "both": ("eager", "compile")}.get(
        args.torch, (args.torch,))
    return {
        f"torch_{mode}": torch_reference.make_runner(
            name, size, args.batch_size, num_classes=args.num_classes, precision=args.precision,
            channels_last=True, compile=mode == "compile")
        for mode in modes
    }, {}


def device(keras):
    """The device the backend computes on: {"platform", "kinds", "count"} (JAX or TensorFlow)."""
    if keras.backend.backend() == "jax":
        import jax

        devices = jax.devices()
        return {"platform": devices[0].platform, "kinds": sorted({d.device_kind for d in devices}),
                "count": len(devices)}
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        kinds = sorted({tf.config.experimental.get_device_details(g).get("device_name", g.name)
                        for g in gpus})
        return {"platform": "gpu" if gpus else "cpu", "kinds": kinds, "count": len(gpus) or 1}
    return {"platform": keras.backend.backend(), "kinds": [], "count": 1}


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
            skipped = {}
            if mode == "train":
                data, source = synthetic_batches(images, labels)
                on_device = device_tensors(keras, images, labels)
                runs = {
                    "kcnn": fit_runner(keras, ours, data),
                    "device": run_steps(step_timer(ours, *on_device, "train")),
                    "host": run_steps(step_timer(ours, images, labels, "train")),
                }
                if reference is not None:
                    runs["keras.applications"] = fit_runner(keras, reference, data)
                if unfused is not None:
                    runs["keras_batchnorm"] = fit_runner(keras, unfused, data)
                found, skipped = torch_runs(args, name, size, input_shape[2])
                runs.update(found)
            else:
                source = "predict_on_batch, host numpy arrays"
                runs = {"kcnn": run_steps(step_timer(ours, images, labels, mode))}
                if reference is not None:
                    runs["keras.applications"] = run_steps(
                        step_timer(reference, images, labels, mode))
                if unfused is not None:
                    runs["keras_batchnorm"] = run_steps(step_timer(unfused, images, labels, mode))
            seconds, errors = measure_runs(runs, args.warmup, args.steps, args.repeats)
            rate = {key: args.batch_size / value for key, value in seconds.items()}
            row = {
                "model": entry,
                "mode": mode,
                "input": f"{size}x{size}x{input_shape[2]}",
                "batch": args.batch_size,
                "kcnn_images_per_s": rate["kcnn"],
                "kcnn_method": "fit, " + source if mode == "train" else source,
            }
            if "device" in rate:
                row["device_images_per_s"] = rate["device"]
                row["host_train_on_batch_images_per_s"] = rate["host"]
            if "keras.applications" in rate:
                row["keras_applications_images_per_s"] = rate["keras.applications"]
                row["ratio"] = rate["kcnn"] / rate["keras.applications"]
            if "keras_batchnorm" in rate:
                row["keras_batchnorm_images_per_s"] = rate["keras_batchnorm"]
                row["fused_batchnorm_speedup"] = rate["kcnn"] / rate["keras_batchnorm"]
            for key in ("torch_eager", "torch_compile"):
                if key in rate:
                    row[f"{key}_images_per_s"] = rate[key]
                    row[f"kcnn_to_{key}"] = rate["kcnn"] / rate[key]
            if any(key.startswith("torch_") for key in runs):
                autocast = "float32" if args.precision == "float32" else f"autocast {args.precision}"
                import torch

                row["torch_options"] = (f"channels_last, {autocast}, "
                                        f"{torch.get_num_threads()} CPU threads")
            if errors or skipped:
                row["not_measured"] = {**skipped, **errors}
            results.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
        keras.backend.clear_session()

    environment = {
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
        "kcnn": kcnn.__version__,
        **machine.describe(),
        "device": device(keras),
        "precision": args.precision,
        "jit_compile": args.jit_compile,
        "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
        "thread_settings": {key: os.environ[key] for key in THREAD_SETTINGS if key in os.environ},
        "command": " ".join(sys.argv),
    }
    print(f"{device_label(environment)}, load average {machine.load_average()}")
    print(markdown_table(results))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"environment": environment, "results": results}, handle, indent=2)
    return 0


def device_label(environment):
    """The device line above the table: the GPU(s) with driver, or the CPU; and the backend."""
    where = environment["device"]
    if where["platform"] == "gpu":
        gpus = environment["gpus"]
        driver = f", driver {gpus[0]['driver']}" if gpus else ""
        what = f"{where['count']} x {', '.join(where['kinds'])}{driver}"
    else:
        what = environment["label"]
    versions = environment["versions"]
    return (f"{what}; Keras {environment['keras']} on {environment['backend']} "
            f"{versions.get(environment['backend']) or ''}".rstrip())


# (result key, column heading, digits): a column is shown when any row has its key.
COLUMNS = (
    ("kcnn_images_per_s", "kcnn img/s (train: fit)", 1),
    ("device_images_per_s", "train_on_batch, batch on device", 1),
    ("host_train_on_batch_images_per_s", "train_on_batch, host arrays", 1),
    ("keras_applications_images_per_s", "keras.applications img/s", 1),
    ("ratio", "kcnn / keras.applications", 2),
    ("keras_batchnorm_images_per_s", "kcnn with Keras' BN img/s", 1),
    ("fused_batchnorm_speedup", "fused BN speed-up", 2),
    ("torch_eager_images_per_s", "PyTorch eager img/s", 1),
    ("kcnn_to_torch_eager", "kcnn / eager", 2),
    ("torch_compile_images_per_s", "torch.compile img/s", 1),
    ("kcnn_to_torch_compile", "kcnn / compiled", 2),
)


def markdown_table(results):
    """The results as a markdown table, with the columns some row has."""
    shown = [c for c in COLUMNS if any(c[0] in r for r in results)]
    lines = ["| model | mode | input | batch | " + " | ".join(c[1] for c in shown) + " |",
             "|---|---|---|---:|" + "---:|" * len(shown)]
    for r in results:
        cells = ["" if key not in r else f"{r[key]:,.{digits}f}" for key, _, digits in shown]
        lines.append(f"| {r['model']} | {r['mode']} | {r['input']} | {r['batch']} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
