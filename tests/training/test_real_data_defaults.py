"""What the defaults do with real data: the default recipe's annealed rate, LeCun et al. 1998's
schedule, and the input size chosen for 28x28 images. Fast: no training."""

import keras
import pytest

from kcnn.data.sources import DatasetInfo
from kcnn.training import TrainConfig
from kcnn.training.loop import input_plan
from kcnn.training.recipes import RECIPES, EpochSchedule, learning_rate


def lr_at(schedule, step):
    return float(keras.ops.convert_to_numpy(schedule(step)))


def test_the_default_recipe_anneals_adam_to_zero_over_the_run():
    config = TrainConfig().resolved()
    assert (config.recipe, config.optimizer, config.lr, config.schedule) == (
        "adam", "adam", 1e-3, "cosine")
    assert (config.epochs, config.batch_size, config.warmup_epochs) == (20, 32, 0)
    schedule = learning_rate(config, steps_per_epoch=10)  # 200 steps
    assert lr_at(schedule, 0) == pytest.approx(1e-3)
    assert lr_at(schedule, 100) == pytest.approx(5e-4, rel=1e-5)  # half-way: half the rate
    assert lr_at(schedule, 200) == 0.0


def test_lecun1998_schedule_gives_the_papers_rate_for_each_pass():
    schedule = EpochSchedule("lecun1998", 5e-4, total_steps=200, steps_per_epoch=10)
    # LeCun et al. 1998, section III-C: 2 passes at 0.0005, 3 at 0.0002, 3 at 0.0001,
    # 4 at 0.00005, then 0.00001.
    expected = [5e-4] * 2 + [2e-4] * 3 + [1e-4] * 3 + [5e-5] * 4 + [1e-5] * 8
    for epoch, rate in enumerate(expected):
        assert lr_at(schedule, 10 * epoch) == pytest.approx(rate, rel=1e-6), epoch
        assert lr_at(schedule, 10 * epoch + 9) == pytest.approx(rate, rel=1e-6), epoch
    # --lr scales the whole table
    doubled = EpochSchedule("lecun1998", 1e-3, total_steps=200, steps_per_epoch=10)
    assert lr_at(doubled, 20) == pytest.approx(4e-4, rel=1e-6)  # pass 3: 2 x 0.0002
    # it serialises with the model
    again = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(schedule))
    assert lr_at(again, 105) == pytest.approx(5e-5, rel=1e-6)  # pass 11


def test_lecun1998_recipe_and_schedule_need_their_settings():
    recipe = RECIPES["lecun1998"]
    assert (recipe.optimizer, recipe.lr, recipe.schedule, recipe.epochs) == (
        "adam", 5e-4, "lecun1998", 20)
    assert TrainConfig(recipe="lecun1998").resolved().schedule == "lecun1998"
    with pytest.raises(ValueError, match="needs steps_per_epoch"):
        EpochSchedule("lecun1998", 5e-4, total_steps=100)


@pytest.mark.parametrize(
    ("model", "options", "expected"),
    [
        ("lenet5", {}, (32, 32, 1)),  # fixed 32x32 head: 28x28 images are resized
        ("lenet5", {"variant": "original"}, (32, 32, 1)),
        ("lenet5", {"variant": "d2l"}, (28, 28, 1)),  # its default size is 28x28
        ("resnet20", {}, (28, 28, 1)),  # global pooling: the native size
    ],
)
def test_28x28_images_get_a_size_the_classifier_takes(model, options, expected):
    config = TrainConfig(model=model, dataset="mnist", model_options=options)
    info = DatasetInfo("mnist", 10, (28, 28, 1), tuple("0123456789"), 60_000)
    shape, image_size = input_plan(config, info)
    assert shape == expected
    assert image_size == (None if expected[0] == 28 else expected[0])
