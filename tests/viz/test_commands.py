"""`kcnn show`: every picture from the command line, a run directory, one-line errors."""

import json

import keras
import numpy as np
import pytest
from PIL import Image

import kcnn
import kcnn.data
from kcnn.cli import main
from kcnn.viz import inputs


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A tiny .keras model that takes raw 0..255 images, a photo, a text file posing as one."""
    root = tmp_path_factory.mktemp("show")
    keras.utils.set_random_seed(0)
    image = keras.Input((24, 24, 3), name="image")
    x = keras.layers.Rescaling(1 / 255, name="scale")(image)
    model = kcnn.models.resnet20(input_tensor=x, num_classes=4)
    model.save(root / "tiny.keras")
    photo = np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    Image.fromarray(photo).save(root / "photo.png")
    (root / "notes.png").write_text("not an image")
    return root


def show(capsys, *argv):
    status = main(["show", *map(str, argv)])
    return status, capsys.readouterr()


@pytest.mark.parametrize("argv", [
    ("filters", "tiny.keras"),
    ("maps", "tiny.keras", "photo.png", "--layer", "conv2_block2/2_conv"),
    ("cam", "tiny.keras", "photo.png"),
    ("rf", "tiny.keras", "--layer", "conv3_block1"),
    ("arch", "tiny.keras"),
])
def test_every_picture(files, capsys, argv):
    out = files / f"{argv[0]}.png"
    kind, model, *rest = argv
    status, captured = show(capsys, kind, files / model, *[
        files / a if a.endswith(".png") else a for a in rest], "--out", out)
    assert status == 0, captured.err
    assert captured.out.strip() == str(out)
    width, height = Image.open(out).size
    assert 300 <= width <= 1400 and 250 <= height <= 1400


@pytest.mark.parametrize("argv, message", [
    (("maps", "tiny.keras", "photo.png", "--layer", "conv3_blok2"),
     "no layer 'conv3_blok2' in model 'resnet20'; close matches: conv3_block2,"),
    (("maps", "tiny.keras", "photo.png", "--layer", "predictions"),
     ("layer 'predictions' has output shape (1, 4), not (batch, height, width, channels): "
      "feature maps needs a layer with a spatial output")),
    (("cam", "tiny.keras", "photo.png", "--layer", "avg_pool"),
     "layer 'avg_pool' has output shape"),
    (("cam", "tiny.keras", "notes.png"), "cannot read image"),
    (("cam", "tiny.keras", "missing.png"), "cannot read image"),
    (("cam", "tiny.keras"), "`kcnn show cam` needs an IMAGE file"),
    (("arch", "resnet2"), "Unknown model 'resnet2'. Did you mean:"),
])
def test_bad_input_is_one_line_and_status_2(files, capsys, argv, message):
    kind, model, *rest = argv
    model = files / model if model.endswith(".keras") else model
    status, captured = show(capsys, kind, model, *[
        files / a if a.endswith(".png") else a for a in rest], "--out", files / "x.png")
    assert status == 2
    assert captured.err.count("\n") == 1 and captured.err.startswith("kcnn show: error: ")
    assert message in captured.err


def test_argparse_errors_are_one_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["show", "pictures", "resnet20", "--out", "x.png"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_a_run_directory_gets_its_own_normalisation(tmp_path):
    from kcnn.training import deploy

    keras.utils.set_random_seed(0)
    dataset, info = kcnn.data.load("digits", "train", 1, image_size=32, shuffle=False)
    network = kcnn.models.lenet5()
    saved = deploy.with_preprocessing(network, image_size=(32, 32), mean=info.mean, std=info.std)
    saved.save(tmp_path / "model.keras")  # as `kcnn train` saves a run's model
    (tmp_path / "config.json").write_text(json.dumps({"model": "lenet5", "dataset": "digits"}))
    loaded = inputs.load(tmp_path)
    assert loaded.model.name == network.name and loaded.model.input_shape == (None, 32, 32, 1)
    assert loaded.description == "lenet5 trained on digits"
    assert loaded.class_names == tuple("0123456789")
    from kcnn.data.sources import digits_arrays

    digit = digits_arrays()[0][0]
    picture, batch = inputs.model_input(loaded, digit)
    assert picture.shape == (32, 32, 1) and batch.shape == (1, 32, 32, 1)
    # the same digit through the training pipeline gives the same input
    first, _ = next(iter(dataset))
    np.testing.assert_allclose(batch, first.numpy(), atol=1e-4)
    Image.fromarray(digit[..., 0]).save(tmp_path / "digit.png")
    assert main(["show", "cam", str(tmp_path), str(tmp_path / "digit.png"),
                 "--out", str(tmp_path / "cam.png")]) == 0
    assert Image.open(tmp_path / "cam.png").size == (700, 390)
    with pytest.raises(ValueError, match=r"is not a finished kcnn run \(no model\.keras\)"):
        inputs.load(tmp_path / "..")


def test_pretrained_by_name_needs_the_weights_api(monkeypatch):
    def get(name, **kwargs):  # kcnn.models.get before pretrained weights by name existed
        if "include_preprocessing" in kwargs:
            raise TypeError("resnet50() got an unexpected keyword argument 'include_preprocessing'")

    monkeypatch.setattr(kcnn.models, "get", get)
    with pytest.raises(ValueError, match="resnet50:imagenet: this kcnn has no pretrained weights"):
        inputs.load("resnet50:imagenet")


def test_images_of_every_depth_are_read_as_training_reads_them(tmp_path):
    """16-bit PNGs scaled to 8 bits (not saturated at 255), 1-bit as 0 and 255, colour as RGB."""
    from kcnn.viz import inputs

    ramp = np.linspace(0, 65535, 64, dtype=np.uint16).reshape(8, 8)
    Image.fromarray(ramp).save(tmp_path / "grey16.png")
    grey = inputs.read_image(tmp_path / "grey16.png")
    assert grey.shape == (8, 8, 1) and grey.dtype == np.uint8
    np.testing.assert_array_equal(grey[..., 0], (ramp >> 8).astype(np.uint8))
    Image.fromarray(np.eye(8, dtype=bool)).save(tmp_path / "bits.png")
    np.testing.assert_array_equal(inputs.read_image(tmp_path / "bits.png")[..., 0],
                                  np.eye(8, dtype=np.uint8) * 255)
    Image.new("RGB", (5, 4), (10, 20, 30)).save(tmp_path / "rgb.png")
    assert inputs.read_image(tmp_path / "rgb.png").shape == (4, 5, 3)
