"""The gradients behind Grad-CAM and the effective receptive field agree between backends."""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import kcnn
from kcnn.viz import cam, receptive

SCRIPT = textwrap.dedent("""
    import sys, numpy as np, kcnn
    from kcnn.viz import cam, receptive
    model = kcnn.load_model(sys.argv[1])
    x = np.load(sys.argv[2])
    result = cam.grad_cam(model, x, layer="conv4_block2/2_conv")
    field = receptive.effective_field(model, "conv3_block3", samples=2)
    np.savez(sys.argv[3], weights=result.weights, heatmap=result.heatmap, erf=field.gradient)
""")


def arrays(model, x):
    result = cam.grad_cam(model, x, layer="conv4_block2/2_conv")
    field = receptive.effective_field(model, "conv3_block3", samples=2)
    return {"weights": result.weights, "heatmap": result.heatmap, "erf": field.gradient}


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax"])
def test_same_gradients_on_another_backend(tmp_path, backend):
    if keras.backend.backend() == backend:
        pytest.skip(f"already on {backend}")
    keras.utils.set_random_seed(0)
    model = kcnn.models.resnet20(input_shape=(16, 16, 3), num_classes=3)
    model.save(tmp_path / "model.keras")
    x = np.random.default_rng(0).uniform(size=(1, 16, 16, 3)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    env = {**os.environ, "KERAS_BACKEND": backend}
    subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "model.keras"),
                    str(tmp_path / "x.npy"), str(tmp_path / "out.npz")], env=env, check=True,
                   capture_output=True)
    theirs = np.load(tmp_path / "out.npz")
    ours = arrays(model, x)
    assert ours["heatmap"].max() == 1.0  # a map that is not all zeros
    for key, value in ours.items():
        np.testing.assert_allclose(theirs[key], value, rtol=1e-4, atol=1e-5 * np.abs(value).max())
