"""Starting points and fine-tuning: pretrained weights, an earlier run, a frozen backbone.

- `--weights imagenet` (any name the builders' `weights=` takes) builds the network with those
  weights and the weights' own preprocessing inside it; `--weights PATH.weights.h5` loads a
  weights file; `--init RUN_DIR` starts from a finished run's network. Where the number of classes
  differs, every layer but the classifier ("predictions") is copied and the classifier is new.
- `freeze_backbone` leaves only the classifier trainable. A frozen BatchNormalization layer runs
  in inference mode in Keras 3 (the Keras transfer-learning guide's rule: its statistics stay
  those of the pretrained data). `unfreeze_for_finetune` makes everything else trainable again
  but keeps BatchNormalization frozen, as the guide does for the second, fine-tuning stage.
"""

import os
import warnings

import keras
import numpy as np

from kcnn import runs

HEAD = "predictions"  # the classifier layer of every kcnn builder


def is_weights_file(weights):
    """True for a path to a Keras weights file (rather than a name such as "imagenet")."""
    return isinstance(weights, str) and weights.endswith(".weights.h5")


def check_start(config):
    """Raise ValueError for a starting point that cannot work, before anything is built."""
    if config.weights and config.init:
        raise ValueError("give either --weights or --init, not both")
    if is_weights_file(config.weights) and not os.path.isfile(config.weights):
        raise ValueError(f"weights file {config.weights} does not exist")
    if config.init:
        try:
            runs.require_finished(config.init)
        except ValueError as error:
            raise ValueError(f"--init {error}") from None


def starting_weights(config):
    """What the run starts from, for config.json and metrics.json: "random", a weights name or
    file, or "run:DIR"."""
    if config.init:
        return f"run:{config.init}"
    return config.weights or "random"


def build_network(config, num_classes, input_shape):
    """The network to train: fresh, or from `config.weights` / `config.init`.

    Returns:
        (network, names of the layers that start fresh when starting from weights, else []).
    """
    from kcnn.models import build

    options = {"input_shape": input_shape, **config.model_options}
    if config.init:
        saved = runs.load(config.init)
        target = build(config.model, num_classes=num_classes, **options)
        return target, copy_weights(runs.network_of(saved.model), target,
                                    source_name=config.init)
    if config.weights and not is_weights_file(config.weights):
        named = {"weights": config.weights, "include_preprocessing": True, **options}
        source = build(config.model, **named)
        if source.output_shape[-1] == num_classes:
            return source, []
        named.pop("weights")
        target = build(config.model, num_classes=num_classes, **named)
        return target, copy_weights(source, target, source_name=config.weights)
    network = build(config.model, num_classes=num_classes, **options)
    if config.weights:
        return network, load_weights_file(network, config.weights)
    return network, []


def copy_weights(source, target, source_name):
    """Copy each layer's weights from `source` to the same-named layer of `target` where every
    shape matches. Returns the names of the target layers with weights that were not copied.

    Raises:
        ValueError: when no layer matches (another architecture).
    """
    fresh, copied = [], 0
    by_name = {layer.name: layer for layer in source.layers}
    for layer in target.layers:
        if not layer.weights:
            continue
        match = by_name.get(layer.name)
        values = match.get_weights() if match is not None else None
        if values is not None and [v.shape for v in values] == [tuple(w.shape) for w in layer.weights]:
            layer.set_weights(values)
            copied += 1
        else:
            fresh.append(layer.name)
    if not copied:
        raise ValueError(f"{source_name}: no layer matches {target.name}'s layers; "
                         "is it the same architecture (--model, --model-option)?")
    return fresh


def load_weights_file(network, path):
    """Load a .weights.h5 file; layers whose shapes differ (a classifier for another number of
    classes) keep their fresh weights. Returns the names of those layers."""
    before = {layer.name: [np.array(w) for w in layer.weights] for layer in network.layers
              if layer.weights}
    with warnings.catch_warnings():  # Keras warns once per skipped layer; kcnn reports them
        warnings.simplefilter("ignore")
        try:
            network.load_weights(path, skip_mismatch=True)
        except (ValueError, OSError) as error:
            raise ValueError(f"cannot load weights file {path}: {error}") from None
    fresh = [layer.name for layer in network.layers if layer.weights and all(
        np.array_equal(old, np.array(new)) for old, new in zip(before[layer.name], layer.weights))]
    if len(fresh) == len(before):
        raise ValueError(f"{path}: no weights match {network.name}'s layers; is it the same "
                         "architecture (--model, --model-option)?")
    return fresh


def freeze_backbone(network):
    """Make every layer but the classifier non-trainable (BatchNormalization then runs in
    inference mode). Returns the number of trainable parameters left."""
    for layer in network.layers:
        layer.trainable = layer.name == HEAD
    if not any(layer.name == HEAD for layer in network.layers):
        raise ValueError(f"{network.name} has no '{HEAD}' classifier layer to train alone")
    return trainable_parameters(network)


def unfreeze_for_finetune(network):
    """Everything trainable again except BatchNormalization layers (kept in inference mode)."""
    for layer in network.layers:  # (a Functional model's own setter does not reach them)
        layer.trainable = True
    for layer in network._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
    return trainable_parameters(network)


def trainable_parameters(model):
    """The number of trainable parameters of `model`."""
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))
