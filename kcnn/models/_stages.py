"""`FeatureStage`: one feature stage of a network, as its declaration lists them."""

import collections

FeatureStage = collections.namedtuple("FeatureStage", "name stride channels")
FeatureStage.__doc__ = """One feature stage of a network: the layer whose output ends it, its
effective stride in input pixels and its channels (timm's `feature_info`)."""
