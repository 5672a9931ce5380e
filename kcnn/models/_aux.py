"""Auxiliary outputs: extra heads that train with the model and disappear at inference.

GoogLeNet's two side classifiers and Inception v3's `AuxLogits` add their losses, weighted by 0.3
in GoogLeNet's BVLC prototxt (`loss_weight: 0.3`), to the main loss while training, and are
discarded at inference. `AuxiliaryOutputsModel` does both in one saved model:

* it is a Functional model whose graph has the outputs `[main, aux1, (aux2)]`, so `summary()`
  shows the side heads and the weights of all heads live in one `.keras` file;
* `model(x, training=True)` returns all outputs; any other call (inference, `predict`,
  `evaluate`) returns the main output only;
* `compute_loss` applies the ONE loss given to `compile()` to every head and returns
  `main_loss + aux_loss_weight * sum(aux_losses)` (regularisation losses added once), and
  `compute_metrics` scores the main head only, so a plain
  `compile(loss=SparseCategoricalCrossentropy(), metrics=["accuracy"])` then `fit` / `evaluate`
  just works; the reported `accuracy` is the main head's in both.

`main_model()` returns a plain one-output Functional model that shares the layers (and so the
weights), for export or for tools that want a single-output graph.
"""

import keras

from kcnn.models._common import finish_model

DEFAULT_AUX_LOSS_WEIGHT = 0.3


def check_aux_loss_weight(network, weight):
    """Return `weight` as a float if it is a non-negative number, else raise a ValueError."""
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
        raise ValueError(
            f"`{network}`: `aux_loss_weight` must be a non-negative number; received {weight!r}"
        )
    return float(weight)


def finish_with_aux(image, main, aux, *, name, weights, aux_loss_weight):
    """The end of a build with optional side heads: a plain model when `aux` is empty, else an
    `AuxiliaryOutputsModel` with outputs `[main, *aux]`; `weights` loaded in both cases."""
    if not aux:
        return finish_model(image, main, name=name, weights=weights)
    return finish_model(
        image,
        [main, *aux],
        name=name,
        weights=weights,
        model_class=AuxiliaryOutputsModel,
        aux_loss_weight=aux_loss_weight,
    )


def finish_pooled_with_aux(image, x, aux, *, network, common, rate, aux_loss_weight):
    """GoogLeNet's and Inception v3's end: global average pooling ("avg_pool"), dropout at
    `rate` ("dropout"; none at 0), the shared head (`common.head`), then `finish_with_aux`."""
    top = [keras.layers.GlobalAveragePooling2D(name="avg_pool")]
    if rate > 0:
        top.append(keras.layers.Dropout(rate, name="dropout"))
    return finish_with_aux(
        image,
        common.head(x, top=top),
        aux,
        name=common.name or network,
        weights=common.weights,
        aux_loss_weight=aux_loss_weight,
    )


@keras.saving.register_keras_serializable(package="kcnn")
class AuxiliaryOutputsModel(keras.Model):
    """A Functional model with a main output and auxiliary outputs used only in training.

    Args:
        inputs: the model inputs (as for `keras.Model(inputs, outputs)`).
        outputs: a list `[main, aux1, ...]`; the first is the main output.
        name: the model name.
        aux_loss_weight: weight of each auxiliary loss in the training loss (GoogLeNet: 0.3).
            Saved in the config.
        **kwargs: other Functional model arguments (`trainable`).
    """

    def __init__(self, inputs, outputs, name=None, **kwargs):
        aux_loss_weight = kwargs.pop("aux_loss_weight", DEFAULT_AUX_LOSS_WEIGHT)
        if not isinstance(outputs, (list, tuple)) or len(outputs) < 2:
            raise ValueError(
                "`AuxiliaryOutputsModel`: `outputs` must be a list [main, aux1, ...] with at least "
                f"one auxiliary output; received {outputs!r}"
            )
        if isinstance(aux_loss_weight, bool) or not isinstance(aux_loss_weight, (int, float)) or aux_loss_weight < 0:
            raise ValueError(
                "`AuxiliaryOutputsModel`: `aux_loss_weight` must be a non-negative number; "
                f"received {aux_loss_weight!r}"
            )
        super().__init__(inputs, list(outputs), name=name, **kwargs)
        self.aux_loss_weight = float(aux_loss_weight)

    # === Forward pass: all heads in training, the main head otherwise ===
    def call(self, inputs, training=None, mask=None):
        outputs = super().call(inputs, training=training, mask=mask)
        return list(outputs) if training else outputs[0]

    def compute_output_spec(self, inputs, training=None, mask=None):
        outputs = super().compute_output_spec(inputs, training=training, mask=mask)
        return list(outputs) if training else outputs[0]

    # === Training: one compiled loss applied to every head ===
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if not isinstance(y_pred, (list, tuple)):
            return super().compute_loss(x, y, y_pred, sample_weight, training=training)
        main, *aux = y_pred
        total = super().compute_loss(x, y, main, sample_weight, training=training)
        if self._compile_loss is not None:
            for head in aux:
                total = total + self.aux_loss_weight * self._compile_loss(y, head, sample_weight)
        return total

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        if isinstance(y_pred, (list, tuple)):
            y_pred = y_pred[0]
        return super().compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    # === Helpers ===
    def main_model(self, name=None):
        """A one-output Functional model sharing this model's layers (and weights)."""
        return keras.Model(self.inputs, self.outputs[0], name=name or f"{self.name}_main")

    # === Config: the Functional graph plus `aux_loss_weight` ===
    def get_config(self):
        return {**super().get_config(), "aux_loss_weight": self.aux_loss_weight}
