"""End-to-end training runs, kept tiny: artifacts on mocked CIFAR-10, mixed precision and XLA on
CPU, auxiliary heads and a mirrored strategy on two logical CPUs."""

import json
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import kcnn
import kcnn.training
from kcnn.training import runtime

pytestmark = pytest.mark.tf_only

ARTIFACTS = ("config.json", "log.csv", "metrics.json", "model.keras", "best.keras", "curves.png",
             "confusion_matrix.png", "tensorboard")
METRICS = ("test_accuracy", "test_loss", "epochs", "wall_time_s", "images_per_second",
           "parameters", "device", "precision", "xla", "seed", "versions")


def test_one_epoch_on_mocked_cifar10_writes_every_artifact(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=48):
        result = kcnn.training.train(
            model="lenet5", dataset="cifar10", epochs=1, batch_size=16, seed=1, verbose=0,
            run_dir=str(tmp_path / "run"), data_dir=str(tmp_path / "tfds"),
        )
    run = tmp_path / "run"
    for name in ARTIFACTS:
        assert (run / name).exists(), name
    assert not (run / "backup").exists()  # BackupAndRestore cleans up after a finished run
    assert any((run / "tensorboard").rglob("*tfevents*"))
    metrics = json.loads((run / "metrics.json").read_text())
    for key in METRICS:
        assert key in metrics, key
    assert metrics["epochs"] == 1 and metrics["seed"] == 1 and metrics["xla"] is False
    assert metrics["input_shape"] == [32, 32, 3] and metrics["test_examples"] == 48
    # --precision auto: float32, or bfloat16 on a CPU kind where LeNet-5 was measured faster
    assert metrics["precision"] == runtime.choose_precision("auto", [], family="lenet")[0]
    assert (run / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert (run / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"
    header = (run / "log.csv").read_text().splitlines()[0].split(",")
    assert {"epoch", "loss", "accuracy", "val_loss", "images_per_second", "learning_rate"} <= set(header)
    config = json.loads((run / "config.json").read_text())
    assert config["model"] == "lenet5" and config["batch_size"] == 16 and config["lr"] == 1e-3
    assert result.metrics == metrics
    loaded = kcnn.load_model(run / "model.keras", compile=False)
    assert loaded.count_params() == metrics["parameters"]


@pytest.mark.parametrize(
    "precision, jit", [("mixed_float16", "on"), ("mixed_bfloat16", "off")]
)
def test_mixed_precision_and_xla_on_cpu(tmp_path, precision, jit):
    result = kcnn.training.train(
        model="lenet5", dataset="digits", epochs=1, steps_per_epoch=3, batch_size=32,
        precision=precision, jit_compile=jit, seed=0, verbose=0, validation_split=0,
        run_dir=str(tmp_path / "run"),
    )
    m = result.metrics
    assert m["precision"] == precision and m["xla"] is (jit == "on")
    assert np.isfinite(m["test_loss"]) and not m["terminated_on_nan"]
    assert result.model.output.dtype == "float32"
    if precision == "mixed_float16":  # Keras scales the loss for float16 only
        assert isinstance(result.model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert keras.config.dtype_policy().name == "float32"  # the global policy is put back


@pytest.mark.slow
def test_googlenet_trains_its_auxiliary_heads_and_evaluates_the_main_head(tmp_path):
    # The model computes main_loss + 0.3 * (aux1_loss + aux2_loss) itself; the trainer compiles
    # one ordinary loss. torchvision's variant (adaptive pool in the side heads) at 32x32.
    result = kcnn.training.train(
        model="googlenet", model_options={"variant": "torchvision", "aux_logits": True},
        dataset="synthetic", image_size=32, epochs=1, steps_per_epoch=1, batch_size=4,
        validation_split=0, seed=0, verbose=0, run_dir=str(tmp_path / "run"),
    )
    model = result.model
    assert len(model.outputs) == 3  # main + aux1 + aux2 while training
    assert {"aux1", "aux2"} <= {layer.name for layer in model.layers}
    x = np.zeros((2, 32, 32, 3), "float32")
    assert model.predict_on_batch(x).shape == (2, 10)  # main head only at inference
    assert np.isfinite(result.metrics["test_loss"]) and np.isfinite(result.history["loss"][0])
    assert result.metrics["test_examples"] == 512  # evaluated through the main head


MIRRORED = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
    import kcnn.training
    r = kcnn.training.train(model="lenet5", dataset="digits", epochs=1, steps_per_epoch=3,
                            batch_size=32, distribute="mirrored", seed=0, verbose=0,
                            run_dir=sys.argv[1])
    print(json.dumps({k: r.metrics[k] for k in ("distribute", "replicas", "test_accuracy")}))
    """
)


def test_mirrored_strategy_on_two_logical_cpus(tmp_path, subprocess_env):
    proc = subprocess.run([sys.executable, "-c", MIRRORED, str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=240, env=subprocess_env(),
                          check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["distribute"] == "mirrored" and result["replicas"] == 2
    assert 0 <= result["test_accuracy"] <= 1
