"""Pretrained weights through the commands a user runs: `kcnn predict MODEL:WEIGHTS` and
`kcnn train --weights imagenet`. Only the download is faked (tests/weights/conftest.py)."""

import json

import _torchvision  # tests/ is on pytest's pythonpath
import keras
import numpy as np
import pytest
from _scripts import make_photos  # tests/ is on pytest's pythonpath
from PIL import Image
from sklearn.datasets import load_sample_images

import kcnn
from kcnn.cli import main
from kcnn.weights import imagenet

pytestmark = pytest.mark.tf_only


def test_predict_a_photo_with_a_pretrained_model_by_name(serve_pth, tmp_path, capsys):
    net = _torchvision.random_reference("resnet18", seed=3)
    serve_pth("resnet18", net)
    photo = load_sample_images().images[0]  # china.jpg, 427x640
    path = tmp_path / "china.jpg"
    Image.fromarray(photo).save(path, quality=95)

    assert main(["predict", "resnet18:imagenet", str(path), "--top", "3", "--json"]) == 0
    (line,) = capsys.readouterr().out.strip().splitlines()
    got = json.loads(line)["predictions"]

    # the same through the Python API: the weights' own preprocessing is inside the model
    model = kcnn.models.resnet18(weights="imagenet", include_preprocessing=True)
    image = np.asarray(Image.open(path).convert("RGB"), dtype="float32")
    resized = keras.layers.Resizing(224, 224, crop_to_aspect_ratio=True)(image)
    probs = np.asarray(model(np.asarray(resized)[None], training=False))[0]
    want = [(str(name), float(p)) for *_, name, p in
            kcnn.models.decode_predictions(probs[None], top=3)[0]]
    names = imagenet.class_names()
    assert [p["class"] for p in got] == [name for name, _ in want]
    assert all(p["class"] in names for p in got)
    np.testing.assert_allclose([p["probability"] for p in got], [p for _, p in want], atol=1e-6)


def test_train_from_imagenet_weights_with_a_frozen_backbone(serve_pth, tmp_path):
    net = _torchvision.random_reference("resnet18", seed=4)
    serve_pth("resnet18", net)
    make_photos(tmp_path / "photos", per_class=6)
    run_dir = tmp_path / "run"
    assert main(["train", "--model", "resnet18", "--weights", "imagenet", "--freeze", "backbone",
                 "--dataset", str(tmp_path / "photos"), "--image-size", "32", "--epochs", "1",
                 "--batch-size", "8", "--run-dir", str(run_dir), "--verbose", "0"]) == 0
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["starting_weights"] == "imagenet"
    config = json.loads((run_dir / "config.json").read_text())
    assert config["weights"] == "imagenet"
    # the trained backbone is still torchvision's: a convolution deep in the network
    trained = kcnn.load_model(run_dir / "model.keras", compile=False)
    kernel = next(w for w in trained.weights if w.path.endswith("conv5_block2/2_conv/kernel"))
    torch_kernel = net.state_dict()["layer4.1.conv2.weight"].numpy().transpose(2, 3, 1, 0)
    np.testing.assert_array_equal(np.asarray(kernel), torch_kernel)
