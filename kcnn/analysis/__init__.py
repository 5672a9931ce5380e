"""Parameters, multiply-accumulates, output sizes and receptive fields, per layer, for any Keras model.

    >>> import kcnn
    >>> prof = kcnn.analysis.profile(kcnn.models.get("vgg16"))
    >>> prof.totals.macs                  # conv + dense multiply-accumulates per image
    >>> print(prof)                       # a model.summary()-style table with MACs and RF
    >>> kcnn.analysis.conv_output_size(227, 11, 4, 0)
    55
    >>> kcnn.analysis.receptive_field([(3, 1)] * 3).size
    7

Backend-agnostic: needs Keras only (no TensorFlow import).
"""

from kcnn.analysis.profile import Profile, Row, Totals, profile
from kcnn.analysis.rules import Cost, UncountableLayerError, Window, known_types, register_rule
from kcnn.analysis.shapes import ReceptiveField, conv_output_size, receptive_field

__all__ = [
    "Cost",
    "Profile",
    "ReceptiveField",
    "Row",
    "Totals",
    "UncountableLayerError",
    "Window",
    "conv_output_size",
    "known_types",
    "profile",
    "receptive_field",
    "register_rule",
]
