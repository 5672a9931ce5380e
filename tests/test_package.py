"""The package as a user meets it: the CLI entry point, imports without side effects, and
imports that must not need TensorFlow."""

import os
import subprocess
import sys
import textwrap

import kcnn

BLOCK_TENSORFLOW = (
    "import sys\n"
    "class _Block:\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name == 'tensorflow' or name.startswith('tensorflow.'):\n"
    "            raise ImportError('tensorflow is blocked in this test')\n"
    "sys.meta_path.insert(0, _Block())\n"
)


def _run(code, **env):
    return subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=300,
    )


def test_version_and_help():
    from kcnn.cli import main

    assert main([]) == 0
    result = subprocess.run(
        [sys.executable, "-m", "kcnn", "--version"],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0
    assert result.stdout.strip() == f"kcnn {kcnn.__version__}"


def test_layers_models_and_analysis_import_without_tensorflow():
    """The GPU machine has JAX but no TensorFlow: kcnn's model code must not need it."""
    code = BLOCK_TENSORFLOW + (
        "import kcnn, kcnn.layers, kcnn.models, kcnn.analysis\n"
        "m = kcnn.models.get('resnet20')\n"
        "print(m.count_params())\n"
    )
    result = _run(code, KERAS_BACKEND="jax")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "271098"


ONEDNN_STATE = (
    "import os\n"
    "from tensorflow.python.util import _pywrap_util_port\n"
    "print(os.environ.get('TF_ENABLE_ONEDNN_OPTS'), _pywrap_util_port.IsMklEnabled())\n"
)
# TensorFlow's own default on Linux (tensorflow/core/util/port.cc, DefaultOneDnnPolicy): oneDNN is
# on for CPUs with these neural-network features and off otherwise (plain AVX2, e.g. Zen 3).
TENSORFLOW_ONEDNN_FLAGS = {"avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_int8",
                           "amx_bf16"}


def test_onednn_on_when_kcnn_is_imported_first_and_left_alone_after_tensorflow():
    """TensorFlow reads the switch at import: kcnn sets it only where it still takes effect, and
    after TensorFlow it stays at TensorFlow's own default for this CPU (on with AVX-512 VNNI/BF16
    or AMX, off on plain AVX2)."""
    from kcnn.training import runtime

    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    outputs = []
    for first in ("import kcnn\nimport keras\n", "import keras\nimport kcnn\n", ""):
        result = subprocess.run(
            [sys.executable, "-c", first + ONEDNN_STATE],
            check=False, capture_output=True, text=True, env=env, timeout=300,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        outputs.append(result.stdout.strip().splitlines()[-1])
    tensorflow_default = bool(runtime.cpu_flags() & TENSORFLOW_ONEDNN_FLAGS)
    assert outputs == ["1 True", f"None {tensorflow_default}", f"None {tensorflow_default}"]


def test_import_kcnn_leaves_stderr_and_devices_alone():
    """`import kcnn` and the first use of its subpackages neither redirect file descriptor 2 nor
    list devices: a notebook user who wants `kcnn.layers` gets no side effects."""
    code = textwrap.dedent("""
        import os, sys
        import keras, tensorflow as tf
        calls = []
        def spy(name, real):
            def call(*args, **kwargs):
                calls.append(name)
                return real(*args, **kwargs)
            return call
        os.dup, os.dup2 = spy("dup", os.dup), spy("dup2", os.dup2)
        tf.config.list_physical_devices = spy("list_physical_devices",
                                              tf.config.list_physical_devices)
        before = os.fstat(2)
        import kcnn
        kcnn.layers, kcnn.models, kcnn.analysis, kcnn.load_model
        after = os.fstat(2)
        os.write(2, b"still stderr\\n")
        print(calls, (before.st_dev, before.st_ino) == (after.st_dev, after.st_ino))
    """)
    result = _run(code)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[] True"
    assert result.stderr.endswith("still stderr\n")


def test_import_kcnn_alone_does_not_import_keras():
    """What lets the command line filter TensorFlow's start-up noise: the package itself imports
    no Keras; the first use of `kcnn.models` (or the layers, analysis, `load_model`) does."""
    code = (
        "import sys, kcnn\n"
        "print('keras' in sys.modules, 'tensorflow' in sys.modules)\n"
        "print(type(kcnn.models.get('lenet5')).__name__, 'keras' in sys.modules)\n"
        "print(sorted(set(kcnn.__all__) - set(dir(kcnn))))\n"
    )
    result = _run(code)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-3:] == ["False False", "Functional True", "[]"]


NOISE_AND_ERRORS = (
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    "I0000 00:00:1796410725.463231    7462 port.cc:153] oneDNN custom operations are on.\n"
    "W0000 00:00:1796410725.463539    7462 cudart_stub.cc:31] Could not find cuda drivers.\n"
    "E0000 00:00:1796410729.361471    7462 some_op.cc:52] a real error\n"
    "a Python warning\n"
)


def test_startup_noise_filter_drops_info_and_warning_lines_and_keeps_errors():
    code = (
        "import os\n"
        "from kcnn.cli import _quiet\n"
        "with _quiet.startup_noise_filtered():\n"
        f"    os.write(2, {NOISE_AND_ERRORS.encode()!r})\n"
    )
    result = _run(code, TF_CPP_MIN_LOG_LEVEL="2")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr.splitlines() == [
        "E0000 00:00:1796410729.361471    7462 some_op.cc:52] a real error",
        "a Python warning",
    ]
    shown = _run(code, TF_CPP_MIN_LOG_LEVEL="0")  # the user asked for TensorFlow's INFO lines
    assert shown.stderr == NOISE_AND_ERRORS


def test_the_command_line_hides_tensorflows_startup_noise():
    """`kcnn` imports Keras (and lists devices) under the filter: nothing but the answer shows."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(
        [sys.executable, "-m", "kcnn", "--version"],
        check=False, capture_output=True, text=True, env=env, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == f"kcnn {kcnn.__version__}"
    assert result.stderr == ""
