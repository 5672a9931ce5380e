"""Shared helpers for the trainer tests: run `kcnn` in a subprocess, read a run's artifacts."""

import json
import os
import subprocess
import sys

import pytest

KCNN = [sys.executable, "-m", "kcnn"]


def subprocess_env(**extra):
    """The environment for a `kcnn` subprocess: quiet TensorFlow, no step caps leaking in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KERAS_MAX_")}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.update(extra)
    return env


def run_kcnn(args, cwd=None, timeout=240, **env):
    return subprocess.run(KCNN + list(args), cwd=cwd, env=subprocess_env(**env),
                          capture_output=True, text=True, timeout=timeout, check=False)


def read_json(path):
    with open(path) as f:
        return json.load(f)


@pytest.fixture(name="subprocess_env", scope="session")
def _subprocess_env():
    """`subprocess_env(**extra)`: the environment for a kcnn subprocess."""
    return subprocess_env


@pytest.fixture(scope="session")
def kcnn_cli():
    """`kcnn_cli(args, cwd=None, **env)` runs `python -m kcnn ARGS` and returns the process."""
    return run_kcnn
