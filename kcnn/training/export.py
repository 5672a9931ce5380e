"""`kcnn export RUN_DIR --format savedmodel|onnx|litert`: Keras' own `model.export` of a run's
saved model (raw images in: its Resizing and Normalization layers included; auxiliary heads
dropped; a mixed-precision model computing in float32), then the artifact is loaded back with its own runtime and its predictions compared
with the Keras model's.

Runtimes that load the artifacts back: TensorFlow's SavedModel loader (`tf.saved_model.load`),
onnxruntime (package `onnxruntime`; Keras converts with `tf2onnx` and `onnx`), and the LiteRT
interpreter (package `ai-edge-litert`, else `tf.lite.Interpreter`). A missing package is named in
the error.
"""

import importlib.util
import os

import keras
import numpy as np

FORMATS = {"savedmodel": "tf_saved_model", "onnx": "onnx", "litert": "litert"}
SUFFIX = {"savedmodel": "", "onnx": ".onnx", "litert": ".tflite"}
NEEDS = {"onnx": ("onnx", "onnxruntime", "tf2onnx"), "litert": ()}


def _missing(format):
    return [name for name in NEEDS.get(format, ()) if importlib.util.find_spec(name) is None]


def inference_model(model):
    """The model with one output: the main classifier (auxiliary heads dropped)."""
    outputs = model.outputs
    if len(outputs) == 1:
        return model
    return keras.Model(model.inputs, outputs[0], name=model.name)


def in_float32(model):
    """`model` computing in float32: a mixed-precision model (bfloat16 or float16 computation,
    float32 weights, as `--precision mixed_bfloat16` trains it) rebuilt layer for layer with a
    float32 policy and the same weights; a float32 model is returned as it is. ONNX Runtime's CPU
    convolutions and the LiteRT interpreter's built-in kernels take no bfloat16."""
    if all(layer.dtype_policy.compute_dtype == "float32" for layer in _every_layer(model)):
        return model
    copy = type(model).from_config(_float32_policies(model.get_config()))
    copy.set_weights(model.get_weights())
    return copy


def _every_layer(model):
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _every_layer(layer)


def _float32_policies(config):
    """A copy of a serialized model config with every mixed-precision dtype policy float32."""
    if isinstance(config, list):
        return [_float32_policies(item) for item in config]
    if not isinstance(config, dict):
        return config
    if config.get("class_name") in ("DTypePolicy", "FloatDTypePolicy"):
        name = config.get("config", {}).get("name", "")
        if name.startswith("mixed_"):
            return dict(config, config=dict(config["config"], name="float32"))
    return {key: (value.replace("mixed_bfloat16", "float32").replace("mixed_float16", "float32")
                  if key == "dtype" and isinstance(value, str) else _float32_policies(value))
            for key, value in config.items()}


def export(run_dir, format, path=None, check=True):
    """Export a run's model and (with `check`) verify the artifact against the Keras model.

    Args:
        run_dir: a finished run directory (or a .keras file saved by a run).
        format: "savedmodel", "onnx" or "litert".
        path: where to write (default: RUN_DIR/export/model[.onnx|.tflite]).
        check: load the artifact back and compare predictions on sample images.

    Returns:
        {"path", "format", "max_abs_difference" (None without check), "input_shape"}.

    Raises:
        ValueError: an unknown format or run, or a converter or runtime that is not installed.
    """
    from kcnn import runs
    from kcnn.training.evaluation import _network_input

    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r}; choose from: {', '.join(FORMATS)}")
    missing = _missing(format)
    if missing:
        raise ValueError(f"exporting {format} needs the package(s) {', '.join(missing)}: "
                         f"pip install {' '.join(missing)}")
    file = runs.model_file(run_dir)
    if path is None:
        folder = os.path.join(os.path.dirname(os.path.abspath(file)), "export")
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as error:
            raise ValueError(f"cannot create {folder} ({error.strerror or error}); give "
                             "--output PATH in a folder you can write to") from None
        path = os.path.join(folder, "model" + SUFFIX[format])
    path = os.fspath(path)
    runs.check_writable(path, option="--output", folder_ok=format == "savedmodel")
    model = in_float32(inference_model(runs.load(run_dir).model))
    height, width = _network_input(model)
    channels = model.input_shape[-1]
    # A fixed image size: every runtime takes it, and the Resizing layer is then the identity.
    signature = [keras.InputSpec(shape=(None, height, width, channels), dtype="float32")]
    try:
        model.export(path, format=FORMATS[format], verbose=False, input_signature=signature)
    except Exception as error:  # noqa: BLE001 - OSError, or TensorFlow's own file errors
        if not _is_write_error(error):
            raise
        raise ValueError(f"cannot write {path}: {str(error).splitlines()[0]}") from None
    result = {"path": path, "format": format, "input_shape": [height, width, channels],
              "max_abs_difference": None}
    if check:
        images = np.random.RandomState(0).uniform(0, 255, (2, height, width, channels))
        images = images.astype("float32")
        expected = np.asarray(model.predict(images, verbose=0))
        got = run_artifact(format, path, images)
        result["max_abs_difference"] = float(np.max(np.abs(got - expected)))
    return result


def _is_write_error(error):
    """True for a failure to write a file: an OSError, or TensorFlow's file-system errors."""
    if isinstance(error, OSError):
        return True
    names = {cls.__name__ for cls in type(error).__mro__}
    return bool(names & {"PermissionDeniedError", "NotFoundError"}) and \
        type(error).__module__.startswith("tensorflow")


def run_artifact(format, path, images):
    """Predictions of an exported artifact, computed by its own runtime."""
    if format == "savedmodel":
        import tensorflow as tf

        loaded = tf.saved_model.load(path)  # keep it referenced while its function runs
        return np.asarray(loaded.serve(tf.constant(images)))
    if format == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        return np.asarray(session.run(None, {name: images})[0])
    interpreter = _litert_interpreter(path)
    entry = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(entry["index"], images.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(entry["index"], images)
    interpreter.invoke()
    return np.asarray(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))


def _litert_interpreter(path):
    if importlib.util.find_spec("ai_edge_litert") is not None:
        from ai_edge_litert.interpreter import Interpreter
    else:  # TensorFlow's own copy of the interpreter
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    return Interpreter(model_path=path)
