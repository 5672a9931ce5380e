"""Reading a run directory written by `kcnn train`: its settings, class names and saved model.

A finished run directory holds

    config.json    the training settings (a JSON object: model, dataset, seed, ...)
    classes.json   the class names in label order (a JSON list of strings)
    model.keras    the model at the end of training, raw images in (kcnn.training.deploy)
    best.keras     the model with the best validation accuracy (when the run kept one)

Every function here raises a one-line ValueError that names the file and what is wrong with it:
a missing or unreadable file, JSON that does not parse, a model file that is not a valid
`.keras` archive or that safe mode refuses, and a model whose number of outputs differs from the
class names saved beside it (a model.keras copied from another run). predict, evaluate, export,
the pictures (kcnn.viz) and the trainer's `--init` all read runs through this module.
"""

import dataclasses
import json
import os
import tempfile

CONFIG_FILE = "config.json"
CLASSES_FILE = "classes.json"
MODEL_FILE = "model.keras"
BEST_FILE = "best.keras"


@dataclasses.dataclass(frozen=True)
class SavedRun:
    """A run's saved model with what was saved beside it.

    Attributes:
        model: the keras.Model (raw images in for a run's model.keras).
        file: the `.keras` file it was loaded from.
        class_names: the names from classes.json beside the file, or None.
        config: the dict from the run's config.json (when asked for), or None.
    """

    model: object
    file: str
    class_names: tuple = None
    config: dict = None


def model_file(path, *, name=MODEL_FILE):
    """The model file of `path`: RUN_DIR/`name` for a run directory, else `path` itself.

    Raises:
        ValueError: `path` does not exist, is a run directory without `name`, or is a file that
            is not a `.keras` model.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        file = os.path.join(path, name)
        if not os.path.exists(file):
            raise ValueError(f"{path} is not a finished kcnn run (no {name})")
        return file
    if not os.path.exists(path):
        raise ValueError(f"{path} does not exist")
    if not path.endswith(".keras"):
        raise ValueError(f"{path}: expected a run directory or a .keras model file")
    return path


def require_finished(run_dir, *files):
    """Raise ValueError unless `run_dir` is a directory holding each of `files` (default:
    config.json and model.keras)."""
    run_dir = os.fspath(run_dir)
    if not os.path.isdir(run_dir):
        what = "is a file, not a run directory" if os.path.exists(run_dir) else "does not exist"
        raise ValueError(f"{run_dir} {what}")
    for name in files or (CONFIG_FILE, MODEL_FILE):
        if not os.path.exists(os.path.join(run_dir, name)):
            raise ValueError(f"{run_dir} is not a finished kcnn run (no {name})")


def read_json(file):
    """The parsed content of a JSON file.

    Raises:
        ValueError: naming `file` when it cannot be read or does not parse.
    """
    try:
        with open(file, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as error:
        raise ValueError(f"{file} is not valid JSON (line {error.lineno}: {error.msg})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{file} is not valid JSON (not UTF-8 text)") from None
    except OSError as error:
        raise ValueError(f"cannot read {file}: {error.strerror or error}") from None


def check_writable(path, *, option=None, folder_ok=False):
    """Raise ValueError unless something can be written at `path`: its folder exists (it is not
    created: a mistyped path is refused rather than silently made), takes a new file, and `path`
    is not a folder (unless `folder_ok`, for outputs that are folders).

    Args:
        path: the file (or folder) about to be written.
        option: the command-line option that named it, for the message (e.g. "--out").
        folder_ok: `path` may be an existing folder.
    """
    path = os.fspath(path)
    label = f"{option} {path}" if option else path
    if not path:
        raise ValueError(f"{option or 'the output path'} is empty; give a file name")
    if os.path.isdir(path) and not folder_ok:
        raise ValueError(f"{label} is a folder; give a file name")
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        what = "is a file, not a folder" if os.path.exists(folder) else \
            "does not exist (create it first)"
        raise ValueError(f"{label}: the folder {folder} {what}")
    try:
        handle, probe = tempfile.mkstemp(dir=folder, prefix=".kcnn-write-check-")
        os.close(handle)
        os.remove(probe)
    except OSError as error:
        raise ValueError(f"{label}: cannot write in {folder} ({error.strerror or error})") \
            from None


def read_config(run_dir):
    """The training settings of a run (its config.json) as a dict.

    Raises:
        ValueError: no config.json, or one that is not a JSON object.
    """
    file = os.path.join(os.fspath(run_dir), CONFIG_FILE)
    if not os.path.isfile(file):
        raise ValueError(f"{os.fspath(run_dir)} is not a finished kcnn run (no {CONFIG_FILE})")
    config = read_json(file)
    if not isinstance(config, dict):
        raise ValueError(f"{file} must hold a JSON object of training settings, "
                         f"not a {type(config).__name__}")
    return config


def read_class_names(path):
    """The class names saved with a run (a run directory or a model file inside one), or None
    when there is no classes.json.

    Raises:
        ValueError: a classes.json that is not a JSON list of strings.
    """
    path = os.fspath(path)
    folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    file = os.path.join(folder, CLASSES_FILE)
    if not os.path.exists(file):
        return None
    names = read_json(file)
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ValueError(f"{file} must be a JSON list of the class names (strings)")
    return tuple(names)


def output_classes(model):
    """The number of classes a classifier predicts: the size of its (first) output."""
    return int(model.outputs[0].shape[-1])


def check_classes(model, class_names, file):
    """Raise ValueError when `model` (loaded from `file`) predicts a different number of classes
    than `class_names` lists (a model file copied from another run)."""
    count = output_classes(model)
    if class_names is not None and count != len(class_names):
        raise ValueError(f"{os.path.basename(file)} has {count} outputs, {CLASSES_FILE} lists "
                         f"{len(class_names)} (in {os.path.dirname(os.path.abspath(file))}); "
                         "was the model file copied from another run?")


def load(path, *, name=MODEL_FILE, require_config=False):
    """A run's saved model with its class names and settings (`SavedRun`).

    Args:
        path: a run directory (its `name` is loaded) or a `.keras` file; the classes.json
            beside the model file is read when there is one.
        name: the model file of a run directory: "model.keras" or "best.keras".
        require_config: a run directory must have a config.json, read into `config` (else
            `config` is None).

    Raises:
        ValueError: one line for every way the run can be unusable (see the module docstring).
    """
    from kcnn._saving import load_model

    path = os.fspath(path)
    if require_config and os.path.isdir(path):
        require_finished(path, name, CONFIG_FILE)
    file = model_file(path, name=name)
    config = read_config(path) if require_config and os.path.isdir(path) else None
    class_names = read_class_names(file)
    model = load_model(file, compile=False)
    check_classes(model, class_names, file)
    return SavedRun(model, file, class_names, config)


def network_of(model):
    """The trained network inside a model saved by a run (or the model itself)."""
    import keras

    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    return nested[-1] if nested and model.layers[0].name == "image" else model
