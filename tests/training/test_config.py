"""TrainConfig, recipes and schedules: fast checks, no training."""

import dataclasses
import math
import re

import keras
import numpy as np
import pytest

from kcnn.training import RECIPES, TrainConfig, loop, optimizers, recipes

pytestmark = pytest.mark.tf_only


def test_defaults_resolve_to_lenet5_on_digits_with_the_adam_recipe():
    config = TrainConfig().resolved()
    assert (config.model, config.dataset, config.recipe) == ("lenet5", "digits", "adam")
    assert config.optimizer == "adam" and config.epochs == RECIPES["adam"].epochs
    assert isinstance(config.seed, int) and config.run_dir.startswith("runs")


def test_he_cifar_recipe_matches_the_paper():
    config = TrainConfig(recipe="he-cifar", model="resnet20", dataset="cifar10").resolved()
    assert (config.optimizer, config.lr, config.momentum) == ("sgd", 0.1, 0.9)
    assert (config.weight_decay, config.batch_size, config.schedule) == (1e-4, 128, "step")
    assert config.augment == "cifar"
    alexnet = RECIPES["alexnet"]
    assert (alexnet.lr, alexnet.weight_decay, alexnet.schedule) == (0.01, 5e-4, "plateau")


def test_explicit_values_override_the_recipe():
    config = TrainConfig(recipe="he-cifar", lr=0.05, epochs=3).resolved()
    assert config.lr == 0.05 and config.epochs == 3 and config.batch_size == 128


def test_json_round_trip(tmp_path):
    config = TrainConfig(model="resnet20", model_options={"variant": "x"}, seed=3).resolved()
    config.to_json(tmp_path / "config.json")
    assert TrainConfig.from_json(tmp_path / "config.json") == config


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"optimizer": "adagrad"}, "unknown optimizer 'adagrad'; choose from: sgd, adam"),
        ({"schedule": "linear"}, "unknown schedule"),
        ({"recipe": "nope"}, "unknown recipe"),
        ({"precision": "float16"}, "unknown precision"),
        ({"epochs": 0}, "epochs must be an integer >= 1"),
        ({"batch_size": -4}, "batch_size must be an integer >= 1"),
        ({"label_smoothing": 1.0}, "label_smoothing"),
        ({"validation_split": 1.0}, "validation_split"),
        ({"colour": "red"}, "unknown training setting(s) colour"),
        ({"lr": float("nan")}, "lr must be a finite number >= 0, got nan"),
        ({"lr": float("inf")}, "lr must be a finite number >= 0, got inf"),
        ({"lr": -0.1}, "lr must be a finite number >= 0, got -0.1"),
        ({"lr": True}, "lr must be a finite number >= 0, got True"),
        ({"momentum": float("nan")}, "momentum must be a finite number >= 0, got nan"),
        ({"momentum": 1.5}, "momentum must be in [0, 1], got 1.5"),
        ({"weight_decay": float("inf")}, "weight_decay must be a finite number >= 0, got inf"),
        ({"warmup_epochs": float("nan")}, "warmup_epochs must be a finite number >= 0, got nan"),
        ({"label_smoothing": float("nan")}, "label_smoothing must be a finite number >= 0"),
        ({"validation_split": float("nan")}, "validation_split must be a finite number >= 0"),
        ({"test_split": float("-inf")}, "test_split must be a finite number >= 0, got -inf"),
        ({"seed": -1}, "seed must be an integer in [0, 2**32), got -1"),
        ({"seed": 2**32}, "seed must be an integer in [0, 2**32), got 4294967296"),
        ({"run_dir": ""}, "run_dir is empty; name a directory"),
        ({"run_dir": "  "}, "run_dir is empty; name a directory"),
    ],
)
def test_bad_settings_raise_value_errors(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        TrainConfig.from_kwargs(**kwargs).validate()


def lr_at(schedule, step):
    return float(keras.ops.convert_to_numpy(schedule(step)))


def test_step_schedule_divides_by_ten_at_half_and_three_quarters():
    s = recipes.EpochSchedule("step", 0.1, total_steps=100)
    assert [lr_at(s, t) for t in (0, 49, 50, 74, 75, 99)] == pytest.approx(
        [0.1, 0.1, 0.01, 0.01, 0.001, 0.001]
    )


def test_cosine_schedule_warms_up_then_anneals_to_zero():
    s = recipes.EpochSchedule("cosine", 0.1, total_steps=110, warmup_steps=10)
    assert lr_at(s, 0) == pytest.approx(0.001)
    assert lr_at(s, 10) == pytest.approx(0.1)
    assert lr_at(s, 60) == pytest.approx(0.05, rel=1e-4)
    assert lr_at(s, 110) == pytest.approx(0.0, abs=1e-7)


def test_one_cycle_rises_for_30_percent_then_falls():
    s = recipes.EpochSchedule("one-cycle", 0.1, total_steps=100)
    values = np.array([lr_at(s, t) for t in range(101)])
    assert values[0] == pytest.approx(0.1 / 25)
    assert values.argmax() == 29 and values.max() == pytest.approx(0.1)  # OneCycleLR's peak
    assert values[99] == values[100] == pytest.approx(0.1 / 25 / 1e4)


def test_schedule_serialises():
    s = recipes.EpochSchedule("cosine", 0.1, total_steps=50, warmup_steps=5)
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(s))
    assert again.get_config() == s.get_config()


def test_optimizers_carry_weight_decay_and_momentum():
    config = TrainConfig(recipe="he-cifar").resolved()
    sgd = recipes.make_optimizer(config, steps_per_epoch=10)
    assert isinstance(sgd, optimizers.SGD) and sgd.weight_decay is None  # coupled, not Keras'
    assert sgd.momentum == 0.9 and math.isclose(sgd.l2_decay, 1e-4) and sgd.decayed == "all"
    plateau = TrainConfig(recipe="alexnet").resolved()
    assert isinstance(recipes.learning_rate(plateau, 10), float)


def test_truncate_csv_keeps_finished_epochs(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("epoch,loss\n0,1.0\n1,0.5\n2,0.4\n")
    loop.truncate_csv(path, 2)
    assert path.read_text() == "epoch,loss\n0,1.0\n1,0.5\n"


def _saved_run(run_dir, finished, **settings):
    """A run directory as the trainer leaves it: config.json, then a backup (unfinished) or
    metrics.json (finished)."""
    config = loop.resolve(run_dir=str(run_dir), **settings)
    run_dir.mkdir()
    config.to_json(run_dir / "config.json")
    if finished:
        (run_dir / "metrics.json").write_text("{}")
    else:
        (run_dir / "backup").mkdir()
        (run_dir / "backup" / "training_metadata.json").write_text('{"epoch": 2}')
    return config


def test_resume_continues_the_saved_run_with_only_the_allowed_changes(tmp_path):
    saved = _saved_run(tmp_path / "run", finished=False, epochs=8, seed=3, batch_size=32)
    resumed = loop.resolve(run_dir=str(tmp_path / "run"), resume=True)
    assert resumed == dataclasses.replace(saved, resume=True)
    longer = loop.resolve(run_dir=str(tmp_path / "run"), resume=True, epochs=12, verbose=2)
    assert (longer.epochs, longer.verbose, longer.batch_size) == (12, 2, 32)
    with pytest.raises(ValueError, match="cannot change batch_size when resuming"):
        loop.resolve(run_dir=str(tmp_path / "run"), resume=True, batch_size=64)


def test_resume_of_a_finished_run_says_there_is_nothing_to_resume(tmp_path):
    _saved_run(tmp_path / "run", finished=True, epochs=2)
    with pytest.raises(ValueError, match="nothing to resume: .* holds a finished run"):
        loop.resolve(run_dir=str(tmp_path / "run"), resume=True)


def test_a_run_cannot_continue_with_fewer_epochs_than_it_has_trained(tmp_path):
    _saved_run(tmp_path / "run", finished=False, epochs=8, seed=3)  # backed up after epoch 2
    with pytest.raises(ValueError, match="has already trained 2 epochs; --epochs must be at "
                                         "least 2 to continue it"):
        loop.resolve(run_dir=str(tmp_path / "run"), resume=True, epochs=1)
    assert loop.resolve(run_dir=str(tmp_path / "run"), resume=True, epochs=2).epochs == 2
