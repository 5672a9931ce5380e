"""Starting points and fine-tuning: a weights file with another classifier, --freeze backbone
(every backbone weight and BatchNormalization statistic unchanged, the head trained), the
finetune recipe's two stages, and --init from a finished run with a new head."""

import json
import pathlib
import shutil

import numpy as np
import pytest
from PIL import Image

import kcnn
import kcnn.training
from kcnn.training import deploy

pytestmark = pytest.mark.tf_only

TINY = {"dataset": "synthetic", "batch_size": 16, "steps_per_epoch": 2, "validation_split": 0,
        "seed": 0, "verbose": 0}


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    """A ResNet-20 for 5 classes (so the 10-class runs need a new classifier), as a weights
    file, and the model it came from."""
    source = kcnn.models.get("resnet20", num_classes=5)
    source.set_weights([w + 0.01 for w in source.get_weights()])  # not the initial values
    path = tmp_path_factory.mktemp("weights") / "resnet20.weights.h5"
    source.save_weights(path)
    return str(path), source


def layer_weights(model):
    return {layer.name: [np.array(w) for w in layer.weights] for layer in model.layers
            if layer.weights}


def trained_network(run_dir):
    return deploy.network_of(kcnn.load_model(pathlib.Path(run_dir) / "model.keras",
                                             compile=False))


@pytest.fixture(scope="module")
def frozen_run(weights_file, tmp_path_factory):
    path, _ = weights_file
    run_dir = tmp_path_factory.mktemp("frozen") / "run"
    return kcnn.training.train(model="resnet20", weights=path, freeze="backbone",
                               epochs=1, run_dir=str(run_dir), **TINY)


def test_freeze_backbone_trains_the_head_only(frozen_run, weights_file):
    path, source = weights_file
    network = trained_network(frozen_run.run_dir)
    before, after = layer_weights(source), layer_weights(network)
    assert frozen_run.metrics["fresh_layers"] == ["predictions"]
    compared = 0
    for name, weights in after.items():
        if name == "predictions":
            continue
        for old, new in zip(before[name], weights, strict=True):  # BN statistics included
            np.testing.assert_array_equal(old, new, err_msg=name)
            compared += 1
    assert compared == len(network.weights) - 2
    assert len([w for w in network.weights if "moving_" in w.path]) == 2 * 19  # 19 BN layers
    assert after["predictions"][0].shape == (64, 10)
    initial = kcnn.models.get("resnet20", num_classes=10).get_layer("predictions").get_weights()
    assert not np.allclose(after["predictions"][0], initial[0])  # a new head, and it trained
    stage = frozen_run.metrics["stages"]
    assert stage == [{"name": "head", "first": 0, "stop": 1, "lr": 1e-3,
                      "trainable_parameters": 64 * 10 + 10}]
    config = json.loads((pathlib.Path(frozen_run.run_dir) / "config.json").read_text())
    assert config["weights"] == path and config["freeze"] == "backbone"
    assert frozen_run.metrics["starting_weights"] == path


@pytest.mark.slow
def test_finetune_recipe_runs_both_stages_and_records_them(weights_file, tmp_path):
    path, source = weights_file
    result = kcnn.training.train(model="resnet20", weights=path, recipe="finetune", epochs=2,
                                 head_epochs=1, run_dir=str(tmp_path / "run"), **TINY)
    head, everything = result.metrics["stages"]
    assert (head["name"], head["first"], head["stop"], head["lr"]) == ("head", 0, 1, 1e-3)
    assert (everything["name"], everything["first"], everything["stop"]) == ("all", 1, 2)
    assert everything["lr"] == pytest.approx(1e-4)
    network = trained_network(result.run_dir)
    bn_scale_shift = sum(
        int(np.prod(w.shape)) for layer in network._flatten_layers(include_self=False)
        if isinstance(layer, kcnn.layers.BatchNormalization) for w in layer.trainable_weights)
    all_trainable = sum(int(np.prod(w.shape)) for w in network.trainable_weights)
    assert head["trainable_parameters"] == 650
    assert everything["trainable_parameters"] == all_trainable - bn_scale_shift
    assert result.metrics["epochs"] == 2
    assert result.history["learning_rate"] == pytest.approx([1e-3, 1e-4])
    before, after = layer_weights(source), layer_weights(network)
    conv = next(name for name in after if name.endswith("conv") and name in before)
    assert not np.array_equal(before[conv][0], after[conv][0])  # stage 2 trained the backbone
    bn = next(name for name in after if name.endswith("bn"))
    np.testing.assert_array_equal(before[bn][2], after[bn][2])  # statistics kept (inference)


@pytest.mark.slow
def test_init_from_a_run_takes_its_model_and_gives_a_new_head(frozen_run, tmp_path):
    root = tmp_path / "two"
    rng = np.random.RandomState(0)
    for label, colour in (("red", 0), ("blue", 2)):
        (root / label).mkdir(parents=True)
        for i in range(6):
            image = rng.randint(0, 60, (20 + i, 24, 3)).astype(np.uint8)
            image[..., colour] += 150
            Image.fromarray(image).save(root / label / f"{i}.png")
    result = kcnn.training.train(init=frozen_run.run_dir, dataset=str(root), freeze="backbone",
                                 epochs=1, batch_size=4, seed=0, verbose=0,
                                 run_dir=str(tmp_path / "run"))
    assert result.config.model == "resnet20" and result.metrics["input_shape"] == [32, 32, 3]
    assert result.metrics["fresh_layers"] == ["predictions"]
    assert result.metrics["starting_weights"] == f"run:{frozen_run.run_dir}"
    before = layer_weights(trained_network(frozen_run.run_dir))
    after = layer_weights(trained_network(result.run_dir))
    assert after["predictions"][0].shape == (64, 2)
    for name in ("conv1_conv", "conv4_block3"):
        for old, new in zip(before[name], after[name]):
            np.testing.assert_array_equal(old, new)


@pytest.mark.parametrize("settings, message", [
    ({"weights": "missing.weights.h5"}, "weights file missing.weights.h5 does not exist"),
    ({"init": "no-such-run"}, "--init no-such-run does not exist"),
    ({"recipe": "finetune", "freeze": "backbone"}, "leave out --freeze"),
    ({"freeze": "everything"}, "unknown freeze 'everything'"),
    ({"head_epochs": 1}, "head_epochs is a setting of the finetune recipe"),
    ({"recipe": "finetune", "epochs": 2, "head_epochs": 2}, "must be fewer than the epochs"),
])
def test_bad_starting_points_fail_before_training(tmp_path, settings, message):
    with pytest.raises(ValueError, match=message):
        kcnn.training.train(run_dir=str(tmp_path / "run"), verbose=0, **settings)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("damage, message", [
    ({"classes.json": b'["a", "b", "c"]\n'}, "model.keras has 10 outputs, classes.json lists 3"),
    ({"model.keras": b""}, "model.keras is not a valid .keras file (it is empty)"),
])
def test_init_from_a_damaged_run_names_the_file(frozen_run, tmp_path, damage, message):
    source = tmp_path / "source"
    shutil.copytree(frozen_run.run_dir, source)
    for name, content in damage.items():
        (source / name).write_bytes(content)
    with pytest.raises(ValueError) as error:
        kcnn.training.train(model="resnet20", init=str(source), epochs=1,
                            run_dir=str(tmp_path / "run"), **TINY)
    assert message in str(error.value) and "\n" not in str(error.value)
