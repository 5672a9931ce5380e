"""Quiet TensorFlow's start-up noise for the command line, without hiding errors.

Only `kcnn.cli.main` uses this, before the first import of Keras: the library leaves the stderr
file descriptor alone.
"""

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


def is_noise(line):
    """Whether `line` (one line TensorFlow wrote to stderr) is start-up noise to drop."""
    if _STARTUP_NOISE.match(line):
        return True
    return bool(_NO_DRIVER_NOISE.match(line)) and not os.path.exists("/proc/driver/nvidia")


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
                if not is_noise(line):
                    sys.stderr.write(line)
            sys.stderr.flush()


def import_keras_quietly():
    """Import Keras (and its backend) and, on TensorFlow, discover devices, without start-up noise.

    Device discovery is where TensorFlow probes CUDA; doing it here keeps that probe's output
    under the same filter as the import. Does nothing once Keras is imported (the noise, if any,
    is already out).
    """
    if "keras" in sys.modules:
        return
    with startup_noise_filtered():
        import keras

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            tf.config.list_physical_devices("GPU")
