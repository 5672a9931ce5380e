"""Several machines (TF_CONFIG): refused with a clear error, because Keras 3 cannot fit under
MultiWorkerMirroredStrategy; the slow test shows that on two workers over loopback, so that it
fails (and says so) the day Keras fixes it and kcnn can offer the path again."""

import json
import os
import socket
import subprocess
import sys

import pytest

from kcnn.training import runtime


def _tf_config(ports, index):
    workers = [f"127.0.0.1:{port}" for port in ports]
    return json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.parametrize("asked", ["auto", "mirrored"])
def test_a_cluster_in_tf_config_is_refused_with_the_reason(monkeypatch, asked):
    monkeypatch.setenv("TF_CONFIG", _tf_config([1234, 1235], 0))
    with pytest.raises(ValueError, match=r"TF_CONFIG names 2 tasks.*keras-team/keras#20585"):
        runtime.choose_distribution(asked, gpus=[])


def test_one_task_or_distribute_none_trains_on_this_machine(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", _tf_config([1234], 0))
    assert runtime.choose_distribution("auto", gpus=[]) == "none"
    monkeypatch.setenv("TF_CONFIG", _tf_config([1234, 1235], 0))
    assert runtime.choose_distribution("none", gpus=[]) == "none"


def test_a_malformed_tf_config_is_named(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", "worker=127.0.0.1")
    with pytest.raises(ValueError, match="TF_CONFIG is not TensorFlow's cluster JSON"):
        runtime.choose_distribution("auto", gpus=[])


def test_kcnn_train_with_a_cluster_fails_in_one_line_before_writing(tmp_path, kcnn_cli):
    run_dir = tmp_path / "run"
    result = kcnn_cli(["train", "--epochs", "1", "--run-dir", str(run_dir)],
                      TF_CONFIG=_tf_config([1234, 1235], 0))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "keras-team/keras#20585" in lines[0], result.stderr[-2000:]
    assert not run_dir.exists()


# Two workers, the smallest Keras fit under MultiWorkerMirroredStrategy, as TensorFlow's
# multi-worker tutorial writes it.
WORKER = """
import json, sys
import numpy as np, tensorflow as tf, keras
strategy = tf.distribute.MultiWorkerMirroredStrategy()
with strategy.scope():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
data = tf.data.Dataset.from_tensor_slices(
    (np.ones((16, 4), "float32"), np.zeros(16, "int64"))).batch(8)
try:
    model.fit(data, epochs=1, verbose=0)
except Exception as error:
    print(json.dumps({"fit": "failed", "error": f"{type(error).__name__}: {error}"[:300]}))
    sys.exit(0)
print(json.dumps({"fit": "ok"}))
"""


@pytest.mark.slow
@pytest.mark.tf_only
def test_keras_fit_under_multi_worker_mirrored_strategy_still_fails(tmp_path):
    """The upstream bug behind the refusal, on two local workers (bounded by timeouts). When this
    test fails because fit works, remove MULTI_WORKER_UNSUPPORTED and test the path instead."""
    ports = _free_ports(2)
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    workers = [
        subprocess.Popen([sys.executable, "-c", WORKER], cwd=tmp_path, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env={**env, "TF_CONFIG": _tf_config(ports, index)})
        for index in range(2)
    ]
    outcomes = []
    try:
        for worker in workers:
            out, err = worker.communicate(timeout=240)
            assert worker.returncode == 0, err[-2000:]
            outcomes.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    assert [o["fit"] for o in outcomes] == ["failed", "failed"], outcomes
    assert all("PerReplica" in o["error"] for o in outcomes), outcomes
