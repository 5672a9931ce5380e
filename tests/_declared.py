"""The declared trainable parameters of a variant, which the model tests check built models
against (`from _declared import declared`)."""

import kcnn


def declared(name, key=None):
    """The trainable parameters `name`'s declaration states for variant `key` (default call)."""
    spec = kcnn.models.spec(name)
    return (spec.variant() if key is None else spec.variant(key)).params
