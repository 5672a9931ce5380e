"""Builders for the classic CNNs, one module per family, and a registry over all of them.

    >>> import kcnn
    >>> model = kcnn.models.vgg16(num_classes=10)
    >>> model = kcnn.models.get("resnet20")
    >>> kcnn.models.names(pattern="resnet*")
    >>> model = kcnn.models.resnet50(weights="imagenet", include_preprocessing=True)
    >>> kcnn.models.decode_predictions(model.predict(images), top=5)
"""

from kcnn.models._aux import AuxiliaryOutputsModel
from kcnn.models._build import initializer_schemes
from kcnn.models._registry import (
    ModelSpec,
    VariantSpec,
    build,
    families,
    get,
    names,
    spec,
)
from kcnn.models._stages import FeatureStage
from kcnn.models.alexnet import alexnet
from kcnn.models.densenet import densenet121, densenet161, densenet169, densenet201, densenet_bc
from kcnn.models.features import features
from kcnn.models.googlenet import googlenet
from kcnn.models.inception_v3 import inception_v3
from kcnn.models.lenet import lenet5
from kcnn.models.nin import nin
from kcnn.models.pretrained import load_torchvision_state_dict, preprocess, torchvision_rules
from kcnn.models.resnet import (
    preact_resnet164,
    resnet18,
    resnet20,
    resnet32,
    resnet34,
    resnet44,
    resnet50,
    resnet56,
    resnet101,
    resnet110,
    resnet152,
    resnext50_32x4d,
    resnext101_32x8d,
    resnext101_64x4d,
    wide_resnet,
    wide_resnet50_2,
    wide_resnet101_2,
)
from kcnn.models.simple_cnn import simple_cnn
from kcnn.models.vgg import vgg11, vgg13, vgg16, vgg19
from kcnn.weights.imagenet import decode_predictions

__all__ = [
    "AuxiliaryOutputsModel",
    "FeatureStage",
    "ModelSpec",
    "Stage",
    "VariantSpec",
    "alexnet",
    "build",
    "decode_predictions",
    "densenet121",
    "densenet161",
    "densenet169",
    "densenet201",
    "densenet_bc",
    "families",
    "features",
    "get",
    "googlenet",
    "inception_v3",
    "initializer_schemes",
    "lenet5",
    "load_torchvision_state_dict",
    "names",
    "nin",
    "preact_resnet164",
    "preprocess",
    "resnet18",
    "resnet20",
    "resnet32",
    "resnet34",
    "resnet44",
    "resnet50",
    "resnet56",
    "resnet101",
    "resnet110",
    "resnet152",
    "resnext50_32x4d",
    "resnext101_32x8d",
    "resnext101_64x4d",
    "simple_cnn",
    "spec",
    "torchvision_rules",
    "vgg11",
    "vgg13",
    "vgg16",
    "vgg19",
    "wide_resnet",
    "wide_resnet50_2",
    "wide_resnet101_2",
]

Stage = FeatureStage  # its former name, kept for code written against it
