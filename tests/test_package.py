"""The package as a user meets it: the CLI entry point, and imports that must not need TensorFlow."""

import os
import subprocess
import sys

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
