"""Quiet TensorFlow's start-up noise without hiding errors."""

import contextlib
import os
import re
import sys
import tempfile

# TensorFlow's C++ INFO/WARNING lines printed before absl logging is initialised, which
# TF_CPP_MIN_LOG_LEVEL does not reach ("Could not find cuda drivers", "oneDNN custom operations
# are on", ...). Errors (E...) and fatal messages (F...) do not match and are always shown.
_STARTUP_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IW]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [\w.]+:\d+\] )"
)
# On a machine without an NVIDIA driver, TensorFlow's device discovery reports the expected absence
# of CUDA as an error line. With a driver present, the same line is a real error and is kept.
_NO_DRIVER_NOISE = re.compile(r"^E\d{4} .* failed call to cuInit: ")


def _is_noise(line):
    if _STARTUP_NOISE.match(line):
        return True
    return bool(_NO_DRIVER_NOISE.match(line)) and not os.path.exists("/proc/driver/nvidia")


def configure_tensorflow_environment():
    """Environment TensorFlow reads once, at import: set defaults the user has not set.

    - `TF_CPP_MIN_LOG_LEVEL=2`: hide C++ INFO and WARNING lines (errors still show).
    - `TF_ENABLE_ONEDNN_OPTS=1`: oneDNN kernels make Keras-on-TF training 2-4x faster on plain
      AVX2 CPUs, where TensorFlow's own default leaves them off (CIFAR ResNet-20 186 vs 93
      images/s, ResNet-50 at 64x64 31-34 vs 7.8 on a 2-core AMD EPYC Zen 3; spec
      measured-notes.md). On CPUs with AVX-512 VNNI/BF16 or AMX TensorFlow turns them on itself.

    TensorFlow reads the oneDNN switch when it is imported. If it already was (`import keras`
    before `import kcnn` on the TensorFlow backend), the switch is left unset, so what runs is
    what is recorded, and `kcnn train` says how to get oneDNN (`runtime.onednn_hint`).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" not in sys.modules:
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


@contextlib.contextmanager
def startup_noise_filtered():
    """Run the body (an import of TensorFlow) with its pre-absl INFO/WARNING lines dropped.

    Everything else the body writes to the stderr file descriptor is written back afterwards.
    Does nothing when the user asked for TensorFlow's INFO logs (TF_CPP_MIN_LOG_LEVEL=0).
    """
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "0":
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            for line in capture.read().decode(errors="replace").splitlines(keepends=True):
                if not _is_noise(line):
                    sys.stderr.write(line)
            sys.stderr.flush()


def import_keras_quietly():
    """Import Keras (and its backend) and, on TensorFlow, discover devices, without start-up noise.

    Device discovery is where TensorFlow probes CUDA; doing it here keeps that probe's output
    under the same filter as the import.
    """
    with startup_noise_filtered():
        import keras

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            tf.config.list_physical_devices("GPU")
