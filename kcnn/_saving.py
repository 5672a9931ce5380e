"""Loading `.keras` files that contain kcnn layers, with errors that name what is wrong."""

import json
import os
import re
import zipfile
import zlib

import keras

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def load_model(path, compile=True, safe_mode=True):
    """Load a `.keras` model saved from kcnn (or any Keras model).

    `keras.saving.load_model` works too, once `kcnn` has been imported (that import registers the
    kcnn layers). This helper exists so that the import can never be forgotten, and so that a bad
    file is named for what it is.

    Args:
        path: path to a `.keras` file (or a legacy `.h5` file).
        compile: whether to restore the training configuration (optimizer, loss, metrics).
        safe_mode: Keras' guard against arbitrary code in the file; kcnn models contain no
            `Lambda` layers, so they load with it on.

    Returns:
        The `keras.Model`.

    Raises:
        ValueError: one line naming the file when it is missing, a directory, not a valid
            `.keras` archive (empty, truncated, random bytes), or refused by safe mode because
            loading it would run code.
    """
    file = os.fspath(path)
    if os.path.isdir(file):
        raise ValueError(f"{file} is a directory, not a .keras model file")
    if not os.path.exists(file):
        raise ValueError(f"{file} does not exist")
    if file.endswith(".keras"):
        _check_archive(file)
    try:
        return keras.saving.load_model(file, compile=compile, safe_mode=safe_mode)
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise ValueError(f"{file} is not a valid .keras file (truncated?): {_first_line(error)}") \
            from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{file} is not a valid .keras file (its config.json does not parse: "
                         f"{error.msg}, line {error.lineno})") from None
    except OSError as error:  # h5py: the weights inside the archive are damaged
        raise ValueError(f"{file} is not a valid .keras file (its weights cannot be read: "
                         f"{_first_line(error)})") from None
    except (TypeError, ValueError) as error:
        raise ValueError(_explain(file, error, safe_mode)) from None


def _check_archive(file):
    """Raise ValueError unless `file` is a zip archive with a config.json (a .keras file)."""
    if os.path.getsize(file) == 0:
        raise ValueError(f"{file} is not a valid .keras file (it is empty)")
    try:
        with zipfile.ZipFile(file) as archive:
            if "config.json" not in archive.namelist():
                raise ValueError(f"{file} is not a valid .keras file (no config.json inside)")
    except (zipfile.BadZipFile, EOFError):
        raise ValueError(f"{file} is not a valid .keras file (truncated?)") from None
    except OSError as error:
        raise ValueError(f"cannot read {file}: {error.strerror or error}") from None


def _explain(file, error, safe_mode):
    """One line for a Keras deserialization error: code that safe mode refuses, or the cause."""
    code = _code_in(file)
    if code:
        layer, what, target = code[0]
        if safe_mode:
            return f"{file} refused by safe mode: it would run code ({what} layer): {target}"
        return f"{file} cannot be loaded: {target}, which nothing registered"
    return f"{file} cannot be loaded: {_first_line(error)}"


def _code_in(file):
    """[(layer name, "module-function" or "Python lambda", what it runs)] for each function in
    the file's config that Keras can only get by running code from outside Keras: a Python lambda's
    bytecode, or a function of another module that nothing registered."""
    try:
        with zipfile.ZipFile(file) as archive:
            config = json.loads(archive.read("config.json"))
    except Exception:  # noqa: BLE001 - not a readable .keras archive: nothing to name
        return []
    found = []

    def walk(node, layer):
        if isinstance(node, dict):
            if isinstance(node.get("config"), dict) and "name" in node["config"] and \
                    "class_name" in node:
                layer = node["config"]["name"]
            kind = node.get("class_name")
            if kind == "__lambda__":
                found.append((layer, "Python lambda", f"layer {layer!r} holds a lambda's "
                              "bytecode"))
            elif kind == "function" and not _known_function(node):
                target = f"{node.get('module')}.{node.get('config')}"
                found.append((layer, "module-function", f"layer {layer!r} calls {target}"))
            for value in node.values():
                walk(value, layer)
        elif isinstance(node, list):
            for value in node:
                walk(value, layer)

    walk(config, None)
    return found


def _known_function(node):
    """True for a function config Keras resolves without importing other code: a registered
    function, a Keras function, or one of Keras' built-in activations, losses and metrics."""
    module, name = node.get("module") or "", node.get("config")
    if not isinstance(name, str):
        return True  # not a function reference kcnn knows how to judge
    if keras.saving.get_registered_object(name) is not None:
        return True
    if module == "keras" or module.startswith("keras."):
        return True
    if module == "builtins":  # where Keras looks up a function saved by its bare name
        return any(callable(getattr(getattr(keras, family), name, None)) for family in (
            "activations", "constraints", "initializers", "losses", "metrics", "optimizers",
            "regularizers"))
    return False


def _first_line(error):
    """The first non-empty line of an exception's message, without terminal colour codes."""
    text = _ANSI.sub("", str(error))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__
