"""`kcnn predict`: the top classes of image files, from a run's saved model (raw images in) or a
pretrained model by name (`resnet50:imagenet`)."""

import os

import numpy as np

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")


def image_paths(paths):
    """The image files named, with folders expanded to the image files inside them (sorted;
    JPEG, PNG, BMP and GIF by extension).

    Raises:
        ValueError: a path that does not exist, or a folder without images.
    """
    found = []
    for path in paths:
        path = os.fspath(path)
        if os.path.isdir(path):
            inside = sorted(
                os.path.join(here, name)
                for here, _, names in os.walk(path) for name in names
                if name.lower().endswith(IMAGE_EXTENSIONS) and not name.startswith(".")
            )
            if not inside:
                raise ValueError(f"{path}: no JPEG, PNG, BMP or GIF files in this folder")
            found += inside
        elif os.path.exists(path):
            found.append(path)
        else:
            raise ValueError(f"{path}: no such file or folder")
    if not found:
        raise ValueError("give at least one image file or folder")
    return found


def load_predictor(source):
    """(model, class names or None, a function of probabilities -> [(name, p)] or None).

    `source` is a run directory, a .keras file, or "MODEL:WEIGHTS" for a registered model with
    pretrained weights (e.g. "resnet50:imagenet"; needs kcnn's pretrained weights)."""
    from kcnn import runs

    source = os.fspath(source)
    if not os.path.exists(source) and ":" in source:
        import kcnn
        from kcnn.models import build

        name, weights = source.split(":", 1)
        model = build(name, weights=weights, include_preprocessing=True)
        decode = getattr(kcnn.models, "decode_predictions", None)
        return model, None, decode
    saved = runs.load(source)  # checks the model's outputs against classes.json
    return saved.model, saved.class_names, None


def classify(source, paths, top=5):
    """The top-`top` classes of each image.

    Returns:
        [{"path", "predictions": [{"class", "probability"}, ...]}] in the order of the files.

    Raises:
        ValueError: an unknown run or model, a missing file, or a file that is not an image.
    """
    from kcnn.data.folder import read_image, resizer

    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ValueError(f"--top must be an integer >= 1, got {top!r}")
    files = image_paths(paths)
    model, class_names, decode = load_predictor(source)
    channels = model.input_shape[-1]
    fixed = model.input_shape[1:3]
    resize = resizer(fixed, crop_to_aspect_ratio=True) if None not in fixed else None
    results = []
    for path in files:
        image = read_image(path, channels).astype("float32")
        if resize is not None:  # a model without kcnn's Resizing layer in front
            image = np.asarray(resize(image))
        probs = np.asarray(model(image[None], training=False))[0]
        if decode is not None:
            top_classes = [(str(name), float(p)) for *_, name, p in
                           decode(probs[None], top=top)[0]]
        else:
            order = np.argsort(-probs, kind="stable")[:top]
            names = class_names or tuple(str(i) for i in range(len(probs)))
            top_classes = [(names[i], float(probs[i])) for i in order]
        results.append({"path": path, "predictions": [
            {"class": name, "probability": p} for name, p in top_classes]})
    return results
