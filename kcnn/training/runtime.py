"""Runtime decisions in one place: precision, XLA, distribution, determinism, CPU speed.

Each "auto" is decided here from the machine, and `Runtime` records both what was asked for
and what was chosen; the trainer records what actually ran (`model.jit_compile` after compile).

CPU speed. `TF_ENABLE_ONEDNN_OPTS=1` is set by `kcnn/_logging.py` when kcnn is imported before
TensorFlow (TensorFlow reads it once, at import; otherwise `onednn_hint` says how to get it).
benchmarks/README.md has the CPU study behind these defaults (2-core AMD EPYC, AVX2, TF 2.21):
without oneDNN, CIFAR ResNet-20 trains at 0.52 and ResNet-50 (64x64) at 0.34 of the speed;
XLA (0.64, 0.24), Keras on JAX (0.24, 0.20) and bfloat16 (0.08) are slower on that CPU, so
"auto" leaves XLA off and picks float32 there; TensorFlow's default thread pools were best or
equal and are kept. On a Zen 4 with AVX512_BF16 (2026-11-29) and an Intel Xeon with AMX-BF16
(family 6 model 167, 2026-12-04) TensorFlow turns oneDNN on by itself, and bfloat16 trained
LeNet-5 and the ResNets 1.1-1.5x as fast as float32, so "auto" picks it for them there (below).

Mixed precision. "auto" picks mixed_float16 only on GPUs of compute capability >= 7.0 (tensor
cores); float16 on older GPUs or on CPU is slower than float32. On the CPU it picks
mixed_bfloat16 from a table keyed by the CPU's kind and the model's family (`BFLOAT16_ON_CPU`):
the kind is AMX-BF16 or AVX512_BF16 without AMX, read from the CPU's flags (`cpu_kind`), and each
entry holds what benchmarks/precision_speed.py measured on such a CPU (bfloat16 against float32,
alternating in one process) and whether benchmarks/precision_accuracy.py found the same accuracy,
with the command and result files. bfloat16 is picked where it was faster by at least
`BFLOAT16_MIN_SPEEDUP` at the same accuracy; float32 where it was slower, less accurate, not
measured, or the CPU has no bfloat16 instructions. `Runtime.precision_reason` names the CPU kind
and the measurement (the start-up line and metrics.json carry it). The policy is set before the
model is built, so kcnn's float32 `predictions` layer keeps the output in float32, and
`compile()` wraps the optimizer in a LossScaleOptimizer for mixed_float16 (not needed for
bfloat16).

Distribution. TensorFlow backend: `tf.distribute.MirroredStrategy` over all local GPUs ("auto"
chooses it when there is more than one GPU; "mirrored" on a CPU-only machine mirrors over the
logical CPU devices, which is how the tests run it). The batch size is global. Several machines
(`TF_CONFIG` naming more than one task) are refused with a clear error: Keras 3's Model.fit does
not work under `tf.distribute.MultiWorkerMirroredStrategy` (keras-team/keras#20585; shown on two
workers over loopback by tests/training/test_multiworker.py). XLA "auto" stays off under a strategy (Keras does
the same, and MirroredStrategy + XLA leaks memory, tensorflow/tensorflow#56423); "on" forces it.
JAX backend: the trainer still needs TensorFlow for tf.data; "mirrored" (or "auto" with more
than one accelerator) uses `keras.distribution.set_distribution(keras.distribution.DataParallel())`
instead of a tf.distribute strategy. Several processes (machines) on JAX: set
`KERAS_DISTRIBUTION_JOB_ADDRESSES` (the coordinator's host:port first), `_NUM_PROCESSES` and
`_PROCESS_ID` on each (read by `keras.distribution.initialize`); "auto" then runs DataParallel
over every process's devices, each process reading its share of each global batch.
"""

import contextlib
import dataclasses
import json
import os
import platform

import keras


@dataclasses.dataclass
class Runtime:
    """What the runtime set up for a run."""

    backend: str
    device: str
    gpus: int
    precision: str
    jit_compile: bool
    distribute: str
    replicas: int
    processes: int = 1
    process_id: int = 0
    strategy: object = None
    previous_policy: str = "float32"
    precision_reason: str = ""

    def scope(self):
        """The scope to build and compile the model in (the strategy's, or a no-op)."""
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()

    def restore(self):
        """Put back the global dtype policy that was in force before `setup()`."""
        keras.config.set_dtype_policy(self.previous_policy)


def _tf():
    import tensorflow as tf

    return tf


def gpu_details():
    """[(name, compute capability or None)] for each local GPU the backend sees."""
    if keras.backend.backend() == "jax":
        import jax

        found = []
        for d in jax.devices():
            if d.platform == "gpu":
                cc = getattr(d, "compute_capability", None)  # "8.0" on CUDA devices
                cc = tuple(int(v) for v in str(cc).split(".")[:2]) if cc else None
                found.append((d.device_kind, cc))
        return found
    tf = _tf()
    found = []
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        found.append((details.get("device_name", gpu.name), details.get("compute_capability")))
    return found


def cpu_info(path="/proc/cpuinfo"):
    """The CPU as the kernel describes it: model name, family and model numbers, core count and
    the instruction-set flags (a frozenset of /proc/cpuinfo's lower-case names, such as "avx2",
    "avx512f", "avx512_bf16", "amx_bf16"; empty where there is no /proc/cpuinfo).

    Returns:
        {"model_name", "family", "model", "cores", "flags"}; family and model are ints or None.
    """
    fields = {}
    try:
        with open(path) as f:
            for line in f:
                if not line.strip():
                    break  # the first processor's block is enough
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass

    def number(key):
        value = fields.get(key, "")
        return int(value) if value.isdigit() else None

    return {
        "model_name": fields.get("model name") or platform.processor() or platform.machine(),
        "family": number("cpu family"),
        "model": number("model"),
        "cores": os.cpu_count(),
        "flags": frozenset(fields.get("flags", "").split()),
    }


def cpu_flags():
    """This CPU's instruction-set flags (see `cpu_info`)."""
    return cpu_info()["flags"]


def cpu_name():
    """The CPU model name (from /proc/cpuinfo on Linux) and core count."""
    info = cpu_info()
    return f"{info['model_name']} ({info['cores']} cores)"


# CPU kinds with bfloat16 arithmetic in hardware, told apart by their /proc/cpuinfo flags (oneDNN's
# bfloat16 convolutions and matrix multiplies use them; without them bfloat16 is emulated: 0.08 of
# float32 on a Zen 3). Every AMX-BF16 CPU so far also has AVX512_BF16; the AMX kind comes first.
BFLOAT16_CPU_KINDS = {"amx_bf16": "AMX-BF16", "avx512_bf16": "AVX512_BF16 without AMX"}


def cpu_kind(flags):
    """The bfloat16 kind of a CPU from its flags: "amx_bf16", "avx512_bf16" (AVX512_BF16 without
    AMX) or None (no bfloat16 instructions). Keys `BFLOAT16_ON_CPU`."""
    return next((flag for flag in BFLOAT16_CPU_KINDS if flag in flags), None)


@dataclasses.dataclass(frozen=True)
class Bfloat16Measurement:
    """mixed_bfloat16 against float32 for one model family on one CPU kind.

    Attributes:
        speedups: {model: bfloat16 images/s / float32 images/s}, median of alternating repeats.
        same_accuracy: whether precision_accuracy.py found bfloat16's test accuracy within the
            seed-to-seed spread of float32's.
        cpu: the CPU that was measured (as benchmarks/machine.py labels it, shortened).
        command: the command that measured the speed-ups (rerun it on your CPU).
        results: the result files, speed then accuracy (benchmarks/results/).
    """

    speedups: dict
    same_accuracy: bool
    cpu: str
    command: str
    results: tuple

    @property
    def speedup(self):
        """The smallest speed-up over the family's measured models."""
        return min(self.speedups.values())

    @property
    def picks_bfloat16(self):
        """bfloat16 was faster by more than the noise, at the same accuracy."""
        return self.same_accuracy and self.speedup >= BFLOAT16_MIN_SPEEDUP


# A family's slowest measured model must gain at least this much for "auto" to pick bfloat16
# (below it the repeat-to-repeat range of precision_speed.py straddles 1.0).
BFLOAT16_MIN_SPEEDUP = 1.05
_ZEN4 = ("python benchmarks/precision_speed.py --models resnet20 resnet50 lenet5 --repeats 6 "
         "--json benchmarks/results/precision-speed-2026-11-29.json")
_XEON_AMX = ("python benchmarks/precision_speed.py --models lenet5 resnet20 resnet50 --repeats 6 "
             "--json benchmarks/results/precision-speed-amx-2026-12-04.json")
# (CPU kind, family) -> the measurement that decides "auto" there. A pair not listed is float32.
BFLOAT16_ON_CPU = {
    ("avx512_bf16", "resnet"): Bfloat16Measurement(
        speedups={"resnet20": 1.51, "resnet50 64x64": 1.13},
        same_accuracy=True,  # digits and synthetic, 3-4 seeds
        cpu="2-core AMD EPYC Zen 4, family 25 model 17",
        command=_ZEN4,
        results=("benchmarks/results/precision-speed-2026-11-29.json",
                 "benchmarks/results/precision-accuracy-2026-11-29.json"),
    ),
    ("avx512_bf16", "lenet"): Bfloat16Measurement(
        speedups={"lenet5": 1.23},
        same_accuracy=True,  # digits, 4 seeds: 97.36 +- 0.58% against 97.36 +- 0.66%
        cpu="2-core AMD EPYC Zen 4, family 25 model 17",
        command=_ZEN4,
        results=("benchmarks/results/precision-speed-2026-11-29.json",
                 "benchmarks/results/precision-accuracy-2026-11-29.json"),
    ),
    ("amx_bf16", "resnet"): Bfloat16Measurement(
        speedups={"resnet20": 1.23, "resnet50 64x64": 1.21},
        same_accuracy=True,  # digits: see the accuracy result files
        cpu="2-core Intel Xeon, family 6 model 167",
        command=_XEON_AMX,
        results=("benchmarks/results/precision-speed-amx-2026-12-04.json",
                 "benchmarks/results/precision-accuracy-amx-resnet20-2026-12-04.json",
                 "benchmarks/results/precision-accuracy-2026-11-29.json"),
    ),
    ("amx_bf16", "lenet"): Bfloat16Measurement(
        speedups={"lenet5": 1.12},
        same_accuracy=True,  # digits, 3 seeds: 97.78 +- 0.56% against float32's 97.50 +- 0.73%
        cpu="2-core Intel Xeon, family 6 model 167",
        command=_XEON_AMX,
        results=("benchmarks/results/precision-speed-amx-2026-12-04.json",
                 "benchmarks/results/precision-accuracy-amx-2026-12-04.json"),
    ),
}


def choose_precision(asked, gpus, family=None, flags=None, backend=None):
    """The dtype policy for `asked` and why.

    "auto": mixed_float16 on GPUs of compute capability >= 7.0; on the CPU (TensorFlow backend)
    mixed_bfloat16 where `BFLOAT16_ON_CPU` has a measurement for this CPU's kind (`cpu_kind`:
    AMX-BF16, or AVX512_BF16 without AMX) and the model's family that picks it (faster by at
    least `BFLOAT16_MIN_SPEEDUP` at the same accuracy); float32 otherwise. Anything but "auto"
    is used as given.

    Args:
        asked: "auto" or a Keras dtype policy name.
        gpus: `gpu_details()`.
        family: the model's family (`kcnn.models.spec(name).family`).
        flags: the CPU's flags (default: `cpu_flags()`).
        backend: the Keras backend (default: the current one).

    Returns:
        (policy name, reason): the reason is one phrase for the start-up line and metrics.json,
        naming the CPU kind and the measurement (its command's result file) that decided.
    """
    if asked != "auto":
        return asked, f"--precision {asked}"
    if gpus:
        if all(cc is not None and tuple(cc) >= (7, 0) for _, cc in gpus):
            return "mixed_float16", "auto: GPU with tensor cores (compute capability >= 7.0)"
        return "float32", "auto: GPU without tensor cores (compute capability < 7.0)"
    kind = cpu_kind(cpu_flags() if flags is None else flags)
    if kind is None:
        return "float32", "auto: the CPU has no bfloat16 instructions (AVX512_BF16, AMX-BF16)"
    where = f"{BFLOAT16_CPU_KINDS[kind]} CPU"
    if (backend or keras.backend.backend()) != "tensorflow":
        return "float32", f"auto: {where}, bfloat16 measured on TensorFlow only"
    measured = BFLOAT16_ON_CPU.get((kind, family))
    if measured is None:
        return "float32", f"auto: {where}, bfloat16 not measured for {family} networks on it"
    figures = ", ".join(f"{model} at {ratio:.2f}x" for model, ratio in measured.speedups.items())
    source = f"{measured.cpu}: {measured.results[0]}"
    if not measured.same_accuracy:
        return "float32", (f"auto: {where}, bfloat16 trained {figures} float32's speed but less "
                           f"accurately ({source})")
    if not measured.picks_bfloat16:
        return "float32", (f"auto: {where}, bfloat16 not faster: it trained {figures} float32's "
                           f"speed ({source})")
    return "mixed_bfloat16", (f"auto: {where}, bfloat16 trained {figures} float32's speed at the "
                              f"same accuracy ({source})")


# Keras 3's TensorFlow trainer cannot fit under tf.distribute.MultiWorkerMirroredStrategy: the
# symbolic build before the first step reduces the distributed input batch and fails, and with
# that step skipped the metrics' reduction fails next (keras-team/keras#20585, open; checked with
# Keras 3.15.1 and TensorFlow 2.21 on two workers over loopback, tests/training/test_multiworker.py).
MULTI_WORKER_UNSUPPORTED = (
    "TF_CONFIG names {tasks} tasks, but Keras 3 cannot train with TensorFlow's "
    "MultiWorkerMirroredStrategy (Model.fit fails: keras-team/keras#20585, Keras {keras}); unset "
    "TF_CONFIG to train on this machine alone"
)


def cluster_size(tf_config=None):
    """The number of tasks in `TF_CONFIG` (the environment's by default; 0 when unset).

    Raises:
        ValueError: TF_CONFIG is not the cluster/task JSON TensorFlow expects.
    """
    text = os.environ.get("TF_CONFIG", "") if tf_config is None else tf_config
    if not text.strip():
        return 0
    try:
        cluster = json.loads(text).get("cluster", {})
        return sum(len(tasks) for tasks in cluster.values())
    except (json.JSONDecodeError, AttributeError, TypeError):
        raise ValueError(
            f"TF_CONFIG is not TensorFlow's cluster JSON ({{\"cluster\": {{\"worker\": [...]}}, "
            f"\"task\": {{...}}}}): {text[:80]!r}"
        ) from None


def process_count():
    """The processes named by KERAS_DISTRIBUTION_NUM_PROCESSES (1 if unset).

    Raises:
        ValueError: the variable is not a positive whole number, or names several processes
            on a backend other than JAX (each would train alone into the same run directory).
    """
    text = os.environ.get("KERAS_DISTRIBUTION_NUM_PROCESSES", "")
    if not text:
        return 1
    if not text.isdigit() or int(text) < 1:
        raise ValueError(
            f"KERAS_DISTRIBUTION_NUM_PROCESSES must be a positive whole number, not {text!r}"
        )
    backend = keras.backend.backend()
    if int(text) > 1 and backend != "jax":
        raise ValueError(
            f"KERAS_DISTRIBUTION_NUM_PROCESSES={text} needs the JAX backend (KERAS_BACKEND=jax); "
            f"the {backend} backend trains on one machine only"
        )
    return int(text)


def start_processes():
    """Join the JAX processes named by the KERAS_DISTRIBUTION_* variables (waits for all of
    them); returns (processes, this process's id). Must run before JAX's first computation."""
    if process_count() == 1:
        return 1, 0
    import jax

    if not jax.distributed.is_initialized():
        keras.distribution.initialize()
    return jax.process_count(), jax.process_index()


def choose_distribution(asked, gpus, processes=1):
    """"none", "mirrored" or (several JAX processes) "multi-worker" for `asked`.

    Raises:
        ValueError: `TF_CONFIG` names a cluster of several tasks on the TensorFlow backend
            (multi-worker training does not work in Keras 3; see MULTI_WORKER_UNSUPPORTED),
            or "none" is asked for on several processes.
    """
    tasks = cluster_size()
    if tasks > 1 and keras.backend.backend() == "tensorflow" and asked != "none":
        raise ValueError(MULTI_WORKER_UNSUPPORTED.format(tasks=tasks, keras=keras.__version__))
    if processes > 1:
        if asked == "none":
            raise ValueError(
                f"distribute none cannot run on the {processes} processes that "
                "KERAS_DISTRIBUTION_NUM_PROCESSES names; use auto or unset the variable"
            )
        return "multi-worker"
    if asked != "auto":
        return asked
    return "mirrored" if len(gpus) > 1 else "none"


def choose_jit_compile(asked, gpus, distribute):
    """XLA on or off for `asked`: "auto" is on for one GPU (JAX: always), off on CPU and under
    tf.distribute (measured no gain on CPU; see the module docstring)."""
    if asked != "auto":
        return asked == "on"
    if keras.backend.backend() == "jax":
        return True
    return bool(gpus) and distribute == "none"


def make_strategy(distribute):
    """The tf.distribute strategy (or None) for the chosen distribution."""
    if distribute == "none":
        return None
    if keras.backend.backend() == "jax":
        keras.distribution.set_distribution(keras.distribution.DataParallel())
        return None
    tf = _tf()
    if tf.config.list_logical_devices("GPU"):
        return tf.distribute.MirroredStrategy()
    cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices=cpus)


def setup(config):
    """Seed, determinism, dtype policy and strategy for `config`; returns a `Runtime`.

    Must run before the model is built (the dtype policy applies to layers created after it).
    """
    backend = keras.backend.backend()
    keras.utils.set_random_seed(config.seed)
    processes, process_id = start_processes()
    if config.deterministic and backend == "tensorflow":
        _tf().config.experimental.enable_op_determinism()
    gpus = gpu_details()
    import kcnn.models

    precision, precision_reason = choose_precision(
        config.precision, gpus, family=kcnn.models.spec(config.model).family, backend=backend
    )
    distribute = choose_distribution(config.distribute, gpus, processes)
    jit = choose_jit_compile(config.jit_compile, gpus, distribute)
    previous = keras.config.dtype_policy().name
    keras.config.set_dtype_policy(precision)
    strategy = make_strategy(distribute)
    if strategy is not None:
        replicas = strategy.num_replicas_in_sync
    elif distribute != "none":  # JAX DataParallel
        replicas = len(keras.distribution.list_devices())
    else:
        replicas = 1
    if gpus:
        names = sorted({name for name, _ in gpus})
        device = f"{len(gpus)} x GPU: {', '.join(names)}"
    else:
        device = f"CPU: {cpu_name()}"
    return Runtime(
        backend=backend,
        device=device,
        gpus=len(gpus),
        precision=precision,
        jit_compile=jit,
        distribute=distribute,
        replicas=replicas,
        processes=processes,
        process_id=process_id,
        strategy=strategy,
        previous_policy=previous,
        precision_reason=precision_reason,
    )


def onednn_setting():
    """The TF_ENABLE_ONEDNN_OPTS value this process started with ("unset" if none)."""
    return os.environ.get("TF_ENABLE_ONEDNN_OPTS", "unset")


def onednn_enabled():
    """Whether TensorFlow runs its oneDNN CPU kernels in this process (None if it cannot tell).

    TensorFlow decides once, at import: `TF_ENABLE_ONEDNN_OPTS` if set, otherwise its own
    default, which is on for CPUs with AVX-512 VNNI/BF16 or AMX and off on plain AVX2 CPUs.
    """
    try:
        from tensorflow.python.util import _pywrap_util_port  # TensorFlow's own answer
    except ImportError:
        return None
    return bool(_pywrap_util_port.IsMklEnabled())


def onednn_hint(rt, enabled=None):
    """A line for a CPU run on TensorFlow where oneDNN is really off and was not asked off.

    Args:
        rt: the `Runtime` of the run.
        enabled: whether oneDNN is on (default: `onednn_enabled()`).
    """
    if rt.backend != "tensorflow" or rt.gpus or onednn_setting() != "unset":
        return None
    if enabled is None:
        enabled = onednn_enabled()
    if enabled is not False:  # TensorFlow turned it on by itself (AVX-512 VNNI/BF16, AMX)
        return None
    return (
        "kcnn train: TensorFlow was imported before kcnn, and its oneDNN CPU kernels are off on "
        "this CPU (about half the speed); import kcnn first or set TF_ENABLE_ONEDNN_OPTS=1 "
        "before TensorFlow starts"
    )


def feed_device(dataset):
    """`dataset` (a batched tf.data pipeline, or None) as the trainer should fit on it: ending in
    `prefetch(AUTOTUNE)`, so that tf.data's threads prepare the next batches while a step runs,
    whatever was mapped after the data pipeline's own prefetch (one-hot labels, `repeat()`).

    The copy to an accelerator is then Keras' own: on the JAX backend, Keras 3.15's trainer
    (`JAXEpochIterator`) converts each batch to numpy and starts its `jax.device_put` one batch
    ahead, so batch n+1 is on its way to the device while step n runs and the step never waits on
    the host copy (`keras_puts_batches_ahead`). It does this on accelerators only (on the CPU
    there is no copy) and not under `keras.distribution` (DataParallel over several devices).
    On the TensorFlow backend the step's input comes from the prefetched iterator on its device.
    """
    if dataset is None:
        return None
    return dataset.prefetch(_tf().data.AUTOTUNE)


def keras_puts_batches_ahead():
    """Whether this Keras' JAX trainer starts each batch's copy to the accelerator one batch
    ahead of the step (see `feed_device`); False on other backends."""
    if keras.backend.backend() != "jax":
        return False
    from keras.src.backend.jax import trainer

    return callable(getattr(trainer.JAXEpochIterator, "_one_batch_ahead_iterator", None))
