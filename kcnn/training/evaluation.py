"""Test-set evaluation of a run's saved model (raw images in, see `deploy`): accuracy, loss,
top-5, per-class precision and recall (scikit-learn's classification_report), test-time
augmentation, and the ensemble of several runs (`kcnn evaluate`)."""

import os

import numpy as np

TTA = (None, "flip", "ten-crop")
TEN_CROP_SCALE = 256 / 224  # the AlexNet and VGG papers: 224x224 crops of 256x256 images
TOP_K = 5


def load_test(config, input_shape, batch_size, image_size=None, data_dir=None):
    """The run's test split as raw pixel values 0..255 (no normalisation: the saved model does
    it), resized by the data pipeline only where the saved model cannot: image folders and data
    sets of varying size go to the run's size (or `image_size`), fixed-size data sets stay at
    their own size and the model resizes them."""
    import kcnn.data
    from kcnn.data.sources import is_folder

    fixed = not is_folder(config.dataset) and None not in kcnn.data.info(
        config.dataset, data_dir=data_dir or config.data_dir).image_shape[:2]
    size = None if fixed and image_size is None else tuple(image_size or input_shape[:2])
    return kcnn.data.load(
        config.dataset, "test", batch_size, data_dir=data_dir or config.data_dir,
        image_size=size, normalize=False, shuffle=False, seed=config.seed,
        interpolation=config.interpolation, crop_to_aspect_ratio=config.crop_to_aspect_ratio,
        validation_fraction=config.validation_split, test_fraction=config.test_split,
    )


def _crops(images, size):
    """The ten crops of a batch: four corners and the centre, and their mirror images."""
    import tensorflow as tf

    height, width = images.shape[1:3]
    h, w = size
    corners = [(0, 0), (0, width - w), (height - h, 0), (height - h, width - w),
               ((height - h) // 2, (width - w) // 2)]
    crops = [images[:, top:top + h, left:left + w] for top, left in corners]
    return crops + [tf.image.flip_left_right(c) for c in crops]


def predict(model, dataset, tta=None, crop_size=None):
    """(softmax outputs, integer labels) over an unshuffled dataset, in order.

    Args:
        tta: None, "flip" (the mean over the image and its mirror image) or "ten-crop" (the
            mean over four corner and one centre crop of `crop_size` and their mirror images;
            the dataset must hold images larger than `crop_size`).
    """
    import tensorflow as tf

    if tta not in TTA:
        raise ValueError(f"unknown tta {tta!r}; choose from: flip, ten-crop")
    if tta is None:
        probs = model.predict(dataset.map(lambda x, y: x), verbose=0)
    else:
        batches = []
        for images, _ in dataset:
            views = [images, tf.image.flip_left_right(images)] if tta == "flip" else \
                _crops(images, crop_size)
            batches.append(np.mean([np.asarray(model.predict_on_batch(v)) for v in views], 0))
        probs = np.concatenate(batches)
    labels = np.concatenate([np.asarray(y) for _, y in dataset.as_numpy_iterator()])
    if labels.ndim == 2:  # one-hot
        labels = labels.argmax(-1)
    return np.asarray(probs, dtype="float32"), labels.astype("int64")


def score(probs, labels):
    """(accuracy, mean cross-entropy) of softmax outputs."""
    accuracy = float(np.mean(probs.argmax(-1) == labels))
    picked = probs[np.arange(len(labels)), labels]
    loss = float(np.mean(-np.log(np.clip(picked, 1e-7, 1.0))))
    return accuracy, loss


def scores(probs, labels, class_names):
    """Accuracy, loss, top-5 accuracy (top-k with k = min(5, classes)) and scikit-learn's
    classification_report (per-class precision, recall, F1 and support) as a dict."""
    from sklearn.metrics import classification_report, top_k_accuracy_score

    accuracy, loss = score(probs, labels)
    classes = np.arange(probs.shape[1])
    top5 = 1.0 if len(classes) <= TOP_K else float(  # with <= 5 classes, always in the top 5
        top_k_accuracy_score(labels, probs, k=TOP_K, labels=classes))
    report = classification_report(labels, probs.argmax(-1), labels=classes,
                                   target_names=[str(n) for n in class_names],
                                   output_dict=True, zero_division=0)
    per_class = {name: {k: round(float(v), 6) for k, v in row.items()}
                 for name, row in report.items() if isinstance(row, dict)}
    return {"accuracy": accuracy, "loss": loss, "top5_accuracy": top5, "per_class": per_class}


def evaluate(run_dirs, batch_size=256, data_dir=None, tta=None):
    """Test scores of each run's saved model and of their ensemble (the mean of the softmax
    outputs, as in the AlexNet paper's ensemble of CNNs).

    Each run's test split is read from its config.json (same data set and preprocessing), so
    models trained at different input sizes can be ensembled.

    Returns:
        {"dataset", "test_examples", "tta", "members": [{"run_dir", "model", "accuracy",
         "loss", "top5_accuracy", "per_class"}], "ensemble": {the same scores}}
    """
    from kcnn import runs
    from kcnn.training.config import TrainConfig

    if isinstance(run_dirs, (str, os.PathLike)):
        run_dirs = [run_dirs]
    if not run_dirs:
        raise ValueError("give at least one run directory")
    if tta not in TTA:
        raise ValueError(f"unknown tta {tta!r}; choose from: flip, ten-crop")
    configs = []
    for run_dir in run_dirs:
        runs.require_finished(run_dir)
        try:
            configs.append(TrainConfig.from_kwargs(runs.read_config(run_dir)))
        except (TypeError, ValueError) as error:
            raise ValueError(f"{os.path.join(run_dir, runs.CONFIG_FILE)}: {error}") from None
    datasets = sorted({c.dataset for c in configs})
    if len(datasets) > 1:
        raise ValueError(f"the runs were trained on different data sets: {', '.join(datasets)}")

    members, all_probs, labels, class_names = [], [], None, None
    for run_dir, config in zip(run_dirs, configs):
        saved = runs.load(run_dir)  # checks the model's outputs against classes.json
        model = saved.model
        network_input = _network_input(model)
        size = None
        if tta == "ten-crop":
            size = tuple(round(s * TEN_CROP_SCALE) for s in network_input)
        test, info = load_test(config, network_input, batch_size, image_size=size,
                               data_dir=data_dir)
        _check_fits(saved, info)
        probs, these_labels = predict(model, test, tta=tta, crop_size=network_input)
        if labels is not None and not np.array_equal(labels, these_labels):
            raise ValueError(f"{run_dir}: its test split differs from the first run's")
        labels = these_labels
        class_names = saved.class_names or info.class_names
        members.append({"run_dir": str(run_dir), "model": config.model,
                        **scores(probs, labels, class_names)})
        all_probs.append(probs)
    return {
        "dataset": datasets[0],
        "test_examples": len(labels),
        "tta": tta,
        "members": members,
        "ensemble": scores(np.mean(all_probs, axis=0), labels, class_names),
    }


def _network_input(model):
    """(height, width) the network inside a saved run model takes (after its Resizing)."""
    resize = [layer for layer in model.layers if layer.name == "resize"]
    if resize:
        return resize[0].height, resize[0].width
    return tuple(model.input_shape[1:3])


def _check_fits(saved, info):
    """Raise ValueError when a run's model cannot take its own test split: other channels or
    another number of classes (a model.keras copied from another run)."""
    from kcnn.runs import output_classes

    name = os.path.basename(saved.file)
    channels, data_channels = saved.model.input_shape[-1], info.image_shape[-1]
    if channels != data_channels:
        raise ValueError(f"{saved.file} takes {channels}-channel images, but the run's data set "
                         f"{info.name} has {data_channels}; was {name} copied from another run?")
    classes = output_classes(saved.model)
    if classes != info.num_classes:
        raise ValueError(f"{saved.file} has {classes} outputs, the run's data set {info.name} "
                         f"has {info.num_classes} classes; was {name} copied from another run?")
