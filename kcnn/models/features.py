"""Multi-scale feature extractors from any registered network, for detection and segmentation heads.

Every network variant declares its stage outputs in its `VariantSpec.stages` (timm's
`feature_info`, KerasHub's `pyramid_outputs`): `FeatureStage(name, stride, channels)`, the layer whose
output ends the stage, its effective stride in input pixels and its channels, from fine to coarse.

    >>> import kcnn
    >>> extractor = kcnn.models.features("resnet50", input_shape=(256, 256, 3))
    >>> [tuple(t.shape) for t in extractor.outputs]   # strides 2, 4, 8, 16, 32
    >>> c3, c4, c5 = kcnn.models.features("resnet50", stages=[-3, -2, -1]).outputs
"""

import keras

from kcnn.models._registry import get, names
from kcnn.models._registry import spec as model_spec


def features(name_or_model, stages=None, **builder_kwargs):
    """A multi-output model with the declared stage outputs of a network.

    Args:
        name_or_model: a registered network name (built with `include_top=False` and
            `builder_kwargs`), or a model a kcnn builder made (with its default name, so that its
            declaration is found; pass the builder's variant keyword, e.g. `variant="cifar"`, if
            it was not the default). A model keeps its head; the extractor does not use it.
        stages: which declared stages, as indices (negative ones count from the coarsest) or
            layer names; None means all, from fine to coarse.
        **builder_kwargs: builder arguments (`input_shape`, `variant`, `weights`, ...).

    Returns:
        A `keras.Model` on the network's input whose outputs are the chosen stages' outputs; its
        `stages` attribute lists their `FeatureStage` records. The layers (and weights) are the
        network's own.

    Raises:
        ValueError: an unknown stage, a variant without declared stages, or a model whose layers
            do not match its declaration (e.g. a non-default depth of `wide_resnet`).
    """
    if isinstance(name_or_model, str):
        network = model_spec(name_or_model)
        model = get(name_or_model, include_top=False, **builder_kwargs)
    else:
        model = name_or_model
        network = model_spec(_network_of(model.name))
    declared = network.resolve(**builder_kwargs).stages
    if not declared:
        raise ValueError(f"`{network.name}`: this variant declares no feature stages")
    chosen = _choose(network.name, declared, stages)
    outputs = []
    for stage in chosen:
        try:
            tensor = model.get_layer(stage.name).output
        except ValueError:
            tensor = None
        if tensor is None or tensor.shape[-1] != stage.channels:
            raise ValueError(
                f"`{network.name}`: the model has no layer {stage.name!r} with {stage.channels} "
                "channels, as its declaration says; stages are declared for the builder's "
                "default configuration"
            )
        outputs.append(tensor)
    extractor = keras.Model(model.inputs, outputs, name=f"{model.name}_features")
    extractor.stages = chosen
    return extractor


def _network_of(model_name):
    """The registered network a model name comes from: itself, or the longest registered name it
    starts with (`wide_resnet_28_10` is a `wide_resnet`)."""
    known = [n for n in names() if model_name == n or model_name.startswith(n + "_")]
    return max(known, key=len) if known else model_name


def _choose(network, declared, stages):
    if stages is None:
        return tuple(declared)
    by_name = {s.name: s for s in declared}
    chosen = []
    for key in stages:
        index = isinstance(key, int) and not isinstance(key, bool)
        if index and -len(declared) <= key < len(declared):
            chosen.append(declared[key])
        elif key in by_name:
            chosen.append(by_name[key])
        else:
            allowed = ", ".join(repr(s.name) for s in declared)
            raise ValueError(
                f"`{network}`: unknown stage {key!r}; allowed: indices 0 to {len(declared) - 1} "
                f"(or negative) or the names {allowed}"
            )
    return tuple(chosen)
