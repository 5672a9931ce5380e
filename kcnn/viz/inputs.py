"""From what the user names (a run directory, a `.keras` file, a model name) and an image file to
the model and the exact tensor it takes.

`load(source)` returns a `Loaded(model, preprocess, description)`; `preprocess` maps a float32
batch of raw images (0..255, at the model's input size and channel count) to the model's input:

* a finished `kcnn train` run (RUN/model.keras + RUN/config.json): the trained network inside
  the saved raw-image model, and the saved model's own preprocessing layers (its Resizing and
  standardising Rescaling) as `preprocess`; the run is read by `kcnn.runs`;
* a `.keras` file: the identity (the file's model is taken to include its preprocessing);
* `NAME:WEIGHTS` (`resnet50:imagenet`): `kcnn.models.get(NAME, weights=WEIGHTS,
  include_preprocessing=True)`, a model that takes raw 0..255 images;
* a registered `NAME`: the model with random weights (for filters, receptive fields and the
  architecture picture) and inputs scaled to 0..1.

This is the one place that knows how each kind of model wants its images.
"""

import dataclasses
import os

import numpy as np


@dataclasses.dataclass
class Loaded:
    """A model ready to look at: `model`, `preprocess` (raw 0..255 batch -> model input), a
    short `description` for figure titles and, for a run, its data set's `class_names`."""

    model: object
    preprocess: object
    description: str
    class_names: tuple = None


def load(source):
    """Load a run directory, a `.keras` file, `NAME:WEIGHTS` or a registered model `NAME`."""
    import kcnn

    source = str(source)
    if os.path.isdir(source):
        return _load_run(source)
    if source.endswith(".keras"):
        from kcnn import runs

        if not os.path.isfile(source):
            raise ValueError(f"no such model file: {source}")
        saved = runs.load(source)  # checks the model's outputs against a classes.json beside it
        return Loaded(saved.model, _identity, os.path.basename(source), saved.class_names)
    name, _, weights = source.partition(":")
    if weights:
        return _load_pretrained(name, weights)
    model = kcnn.models.get(name)  # an unknown name raises a ValueError with close matches
    return Loaded(model, _unit, f"{name} (random weights)")


def _identity(x):
    return x


def _unit(x):
    return x * (1.0 / 255.0)


def _load_pretrained(name, weights):
    import kcnn

    kcnn.models.spec(name)  # an unknown name raises a ValueError with close matches
    try:
        model = kcnn.models.get(name, weights=weights, include_preprocessing=True)
    except TypeError as error:
        if "include_preprocessing" in str(error):
            raise ValueError(
                f"{name}:{weights}: this kcnn has no pretrained weights by name yet "
                "(kcnn.models.get(..., include_preprocessing=True)); give a run directory, a "
                ".keras file or a model name without ':WEIGHTS'"
            ) from None
        raise
    return Loaded(model, _identity, f"{name} ({weights} weights)")


def _load_run(run_dir):
    from kcnn import runs

    saved = runs.load(run_dir, require_config=True)
    network = runs.network_of(saved.model)
    preprocess = saved_preprocessing(saved.model, network)
    model, dataset = saved.config.get("model", network.name), saved.config.get("dataset")
    names = saved.class_names
    if names is None:
        if not isinstance(dataset, str):
            raise ValueError(f"{run_dir}: neither {runs.CLASSES_FILE} nor a dataset in "
                             f"{runs.CONFIG_FILE}, so the class names are unknown")
        from kcnn.data import sources

        names = sources.info(dataset, data_dir=saved.config.get("data_dir")).class_names
    return Loaded(network, preprocess, f"{model} trained on {dataset}", names)


def saved_preprocessing(saved, network):
    """The layers a run's saved model applies before its network (Resizing, Rescaling), as a
    function of a float32 NumPy batch on 0..255 at the network's input size."""
    import keras

    layers = [layer for layer in saved.layers[1:] if layer is not network]

    def preprocess(x):
        for layer in layers:
            x = layer(x)
        return keras.ops.convert_to_numpy(x)

    return preprocess


def read_image(path):
    """The image file at `path` as a uint8 array (height, width, channels): greyscale images
    (1-bit, 8-bit and 16-bit) with 1 channel, the others with 3, decoded as training and `kcnn
    predict` decode them (`kcnn.data.folder.read_image`: 16-bit values scaled to 8 bits)."""
    from kcnn.data.folder import read_image as decode

    try:
        return decode(path, channels=None)
    except ValueError as error:
        reason = str(error).removeprefix(f"{path}: ")
        raise ValueError(f"cannot read image {path}: {reason}") from None


def fit_image(image, shape):
    """Resize (bilinear, as the data pipeline does) and convert an image to `shape` (H, W, C).

    Args:
        image: an array (height, width, channels) on 0..255, channels 1 or 3.
        shape: the model's input shape (height, width, channels), channels 1 or 3.

    Returns:
        A float32 array of `shape` on 0..255.
    """
    import keras

    image = np.asarray(image, dtype="float32")
    if image.ndim == 2:
        image = image[..., None]
    height, width, channels = shape
    if image.shape[-1] == 3 and channels == 1:
        image = image @ np.array([[0.2989], [0.5870], [0.1140]], dtype="float32")
    elif image.shape[-1] == 1 and channels == 3:
        image = np.repeat(image, 3, axis=-1)
    elif image.shape[-1] != channels:
        raise ValueError(f"cannot convert an image with {image.shape[-1]} channels to {channels}")
    if image.shape[:2] != (height, width):
        image = keras.ops.convert_to_numpy(
            keras.ops.image.resize(image[None], (height, width), interpolation="bilinear")
        )[0]
    return np.clip(image, 0, 255).astype("float32")


def model_input(loaded, image):
    """`(picture, batch)`: the image at the model's input size (float 0..255, for drawing) and the
    one-image batch the model takes. `image` is a file path or an array on 0..255."""
    if isinstance(image, (str, os.PathLike)):
        image = read_image(image)
    shape = tuple(loaded.model.input_shape[1:])
    if None in shape:
        raise ValueError(f"model {loaded.model.name!r} has no fixed input size {shape}")
    picture = fit_image(image, shape)
    return picture, np.asarray(loaded.preprocess(picture[None]), dtype="float32")
