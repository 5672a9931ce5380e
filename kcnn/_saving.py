"""Loading `.keras` files that contain kcnn layers."""

import keras


def load_model(path, compile=True, safe_mode=True):
    """Load a `.keras` model saved from kcnn (or any Keras model).

    `keras.saving.load_model` works too, once `kcnn` has been imported (that import registers the
    kcnn layers). This helper exists so that the import can never be forgotten.

    Args:
        path: path to a `.keras` file.
        compile: whether to restore the training configuration (optimizer, loss, metrics).
        safe_mode: Keras' guard against arbitrary code in the file; kcnn models contain no
            `Lambda` layers, so they load with it on.

    Returns:
        The `keras.Model`.
    """
    return keras.saving.load_model(path, compile=compile, safe_mode=safe_mode)
