"""The trainer behind `kcnn train` and `kcnn evaluate`.

    >>> import kcnn.training
    >>> result = kcnn.training.train()                       # LeNet-5 on digits, seconds on CPU
    >>> result = kcnn.training.train(model="resnet20", dataset="cifar10", recipe="he-cifar")
    >>> result.metrics["test_accuracy"], result.run_dir
    >>> kcnn.training.evaluate(["runs/a", "runs/b"])        # each model and their ensemble

Modules: `config` (TrainConfig), `recipes` (RECIPES, optimizers, schedules), `optimizers`
(SGD with coupled L2 weight decay, as PyTorch's), `runtime` (precision, XLA, distribution, CPU
settings), `loop` (the run, in stages), `callbacks`, `transfer` (starting weights, freezing),
`deploy` (the saved raw-image model), `evaluation` (test scores, TTA, ensembles), `predict` and
`export` (`kcnn predict`, `kcnn export`), `report`
(metrics.json and the PNGs). The trainer feeds models from tf.data, so it needs TensorFlow.
"""

from kcnn.training.config import TrainConfig
from kcnn.training.evaluation import evaluate
from kcnn.training.loop import RunResult
from kcnn.training.recipes import RECIPES, Recipe


def train(config=None, **kwargs):
    """Train a model, evaluate it on the test split and write the run's artifacts.

    Args:
        config: a `TrainConfig` or a dict of its fields (optional).
        **kwargs: TrainConfig fields, overriding `config` (model="resnet20", epochs=10, ...).

    Returns:
        A `RunResult` (run_dir, metrics, history, config, model).

    Raises:
        ValueError: for an unknown model, data set, optimizer, schedule or recipe, epochs or
            batch size below 1, or a model input the data cannot be resized to.
    """
    from kcnn.training.loop import run

    return run(config, **kwargs)


__all__ = ["RECIPES", "Recipe", "RunResult", "TrainConfig", "evaluate", "train"]
