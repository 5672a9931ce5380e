"""The 1000 ImageNet-1k class names (torchvision's list, in class-index order) and decoding."""

import functools
from importlib import resources

import numpy as np


@functools.cache
def class_names():
    """The 1000 ImageNet-1k class names, index i being class i of every kcnn weight set."""
    text = resources.files("kcnn.weights").joinpath("imagenet_classes.txt").read_text("utf8")
    names = tuple(text.splitlines())
    if len(names) != 1000:
        raise RuntimeError(f"kcnn's imagenet_classes.txt has {len(names)} names, not 1000")
    return names


def decode_predictions(probabilities, top=5):
    """The `top` classes of each row of `probabilities` (or logits): [[(index, name, score)]].

    Args:
        probabilities: array of shape (batch, 1000), a model's output.
        top: how many classes per image, best first.
    """
    scores = np.asarray(probabilities)
    if scores.ndim != 2 or scores.shape[1] != 1000:
        raise ValueError(
            f"decode_predictions expects a (batch, 1000) array of ImageNet scores; received shape "
            f"{scores.shape}"
        )
    if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= 1000:
        raise ValueError(f"`top` must be an integer from 1 to 1000; received {top!r}")
    names = class_names()
    best = np.argsort(-scores, axis=1, kind="stable")[:, :top]
    return [[(int(i), names[i], float(row[i])) for i in order] for row, order in zip(scores, best)]
