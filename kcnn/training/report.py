"""The run's artifacts: metrics.json, the curves PNG and the confusion-matrix PNG, each written
through `rundir.replacing` (never half-written under its final name).

matplotlib is imported lazily, with the non-interactive Agg backend, so training needs no
display and importing kcnn.training stays fast.
"""

import csv
import os
import platform
import subprocess

import numpy as np

from kcnn.training.rundir import replacing, write_json


def read_csv(path):
    """log.csv as {column: [values]} (numbers as floats, "epoch" as ints); {} if missing."""
    if not os.path.exists(path):
        return {}
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    columns = {}
    for row in rows:
        for key, value in row.items():
            try:
                number = int(value) if key == "epoch" else float(value)
            except (TypeError, ValueError):
                number = float("nan")
            columns.setdefault(key, []).append(number)
    return columns


def write_metrics(run_dir, metrics):
    """Write metrics.json (indented) through `replacing`; returns its path."""
    return write_json(os.path.join(run_dir, "metrics.json"), metrics, indent=2)


def versions():
    """Versions of what the run stood on, and kcnn's git commit when run from a checkout."""
    import keras
    import tensorflow as tf

    import kcnn

    found = {
        "kcnn": kcnn.__version__,
        "keras": keras.__version__,
        "tensorflow": tf.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }
    try:
        import tensorflow_datasets as tfds

        found["tensorflow_datasets"] = tfds.__version__
    except ImportError:
        pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=os.path.dirname(os.path.abspath(kcnn.__file__)),
            capture_output=True, text=True, timeout=5, check=False,
        )
        if commit.returncode == 0:
            found["kcnn_git_commit"] = commit.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return found


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curves(logs, path):
    """Loss and accuracy per epoch (training and validation) side by side."""
    plt = _pyplot()
    epochs = [e + 1 for e in logs.get("epoch", [])]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, name in zip(axes, ("loss", "accuracy")):
        for key, label in ((name, "train"), (f"val_{name}", "validation")):
            if key in logs and epochs:
                ax.plot(epochs, logs[key], marker="o" if len(epochs) < 30 else None, label=label)
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend()
    fig.tight_layout()
    try:
        with replacing(path) as tmp:
            fig.savefig(tmp, dpi=100)
    finally:
        plt.close(fig)
    return path


def confusion_matrix(labels, predictions, num_classes):
    """counts[true, predicted]."""
    index = np.asarray(labels, "int64") * num_classes + np.asarray(predictions, "int64")
    return np.bincount(index, minlength=num_classes**2).reshape(num_classes, num_classes)


def plot_confusion(labels, predictions, num_classes, class_names, path):
    """The test-set confusion matrix, rows normalised to the true class; counts written in the
    cells and class names on the axes when there are at most 20 classes."""
    plt = _pyplot()
    counts = confusion_matrix(labels, predictions, num_classes)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = min(4 + 0.45 * num_classes, 14)
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    if num_classes <= 20:
        names = [str(n) for n in (class_names or range(num_classes))]
        ax.set_xticks(range(num_classes), names, rotation=45 if max(map(len, names)) > 2 else 0)
        ax.set_yticks(range(num_classes), names)
        for t in range(num_classes):
            for p in range(num_classes):
                if counts[t, p]:
                    ax.text(p, t, int(counts[t, p]), ha="center", va="center", fontsize=7,
                            color="white" if rates[t, p] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    ax.set_title(f"test accuracy {100 * accuracy:.2f}% ({counts.sum()} images)")
    fig.tight_layout()
    try:
        with replacing(path) as tmp:
            fig.savefig(tmp, dpi=100)
    finally:
        plt.close(fig)
    return path
