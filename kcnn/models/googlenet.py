"""GoogLeNet / Inception v1 (Szegedy et al., "Going Deeper with Convolutions", CVPR 2015,
arXiv:1409.4842), as the paper and BVLC's Caffe model define it, as torchvision builds it, and the
CIFAR form (no stem downsampling).

The body is the paper's Table 1: `GOOGLENET_MODULES` holds one row per Inception module (the same
numbers as torchvision's `Inception(...)` calls), with `pool3` / `pool4` marker rows. A variant row
of `GOOGLENET_VARIANTS` says what differs between the three forms. The summary's rows are the
paper's: `conv1`, `pool1`, `norm1`, `conv2_reduce`, `conv2`, `norm2`, `pool2`, `inception3a`, ...,
`inception5b`, `avg_pool`, `dropout`, `predictions`, plus `aux1` / `aux2` side heads.

Pooling: Caffe and torchvision round pooled sizes up (ceil mode); Keras has no ceil mode. A 3x3/2
max-pool in ceil mode is written here as a one-pixel zero padding at the bottom and right
(`<pool>_pad`) followed by a "valid" pool. This gives ceil mode's shapes at every input size and
its values too, because every pooled tensor follows a ReLU (non-negative), so a zero in the window
never wins over the clipped window's maximum. (Keras' "same" matches only for even sizes: it pads
an odd size on both sides.) torchvision's 2x2/2 `maxpool4` in ceil mode is exactly Keras' "same".
The CIFAR variant's pools (3x3/2, pad 1, floor) are a `<pool>_pad` of one pixel and a "valid" pool.
The 7x7/2 stem convolution with padding 3 is `conv1_pad` plus a "valid" convolution, as in
keras.applications' ResNet (Keras' "same" would pad 2 before and 3 after).
"""

import dataclasses

import keras

from kcnn.layers.batch_norm import BatchNormalization
from kcnn.layers.inception import AuxiliaryClassifier, InceptionModule
from kcnn.layers.normalization import LocalResponseNormalization
from kcnn.models import initializers
from kcnn.models._aux import DEFAULT_AUX_LOSS_WEIGHT, check_aux_loss_weight, finish_pooled_with_aux
from kcnn.models._build import build_model
from kcnn.models._common import chain, check_dropout
from kcnn.models._registry import VariantSpec, register
from kcnn.weights.sets import torchvision_weights

# Paper Table 1: (name, #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj); "pool3"/"pool4" are
# the 3x3/2 max-pools between the stages. Auxiliary heads tap the outputs of 4a and 4d.
GOOGLENET_MODULES = (
    ("inception3a", 64, 96, 128, 16, 32, 32),
    ("inception3b", 128, 128, 192, 32, 96, 64),
    "pool3",
    ("inception4a", 192, 96, 208, 16, 48, 64),
    ("inception4b", 160, 112, 224, 24, 64, 64),
    ("inception4c", 128, 128, 256, 24, 64, 64),
    ("inception4d", 112, 144, 288, 32, 64, 64),
    ("inception4e", 256, 160, 320, 32, 128, 128),
    "pool4",
    ("inception5a", 256, 160, 320, 32, 128, 128),
    ("inception5b", 384, 192, 384, 48, 128, 128),
)
AUX_TAPS = {"inception4a": "aux1", "inception4d": "aux2"}


@dataclasses.dataclass(frozen=True, kw_only=True)
class GoogLeNetVariant:
    """What tells the three GoogLeNets apart (a row of `GOOGLENET_VARIANTS`)."""

    stem: str = "imagenet"  # "imagenet": 7x7/2 conv, pools, 1x1 + 3x3 convs; "cifar": one 3x3 conv
    batch_norm: bool = False  # conv -> BN -> ReLU everywhere (torchvision's BasicConv2d)
    conv_bias: bool = True
    lrn: bool = False  # LRN after pool1 and after conv2 (BVLC)
    five_by_five: str = "5x5"  # an `InceptionModule` `five_by_five` option
    pool: str = "ceil"  # the 3x3/2 max-pools: "ceil" (Caffe, torchvision) or "pad1" (CIFAR)
    pool4: str = "ceil"  # the pool before inception5a: as `pool`, or "2x2" (torchvision)
    dropout: float = 0.0  # before `predictions`
    bn_epsilon: float = 1e-3
    bn_momentum: float = 0.99
    aux_adaptive_pool: bool = False  # the side heads' 4x4 adaptive average pool (torchvision)


GOOGLENET_VARIANTS = {
    # BVLC Caffe GoogLeNet: conv biases, LRN after pool1 and conv2 (local_size 5, alpha 1e-4, k 1,
    # i.e. TF depth_radius 2, alpha 2e-5, bias 1), real 5x5, no BN, ceil-mode pools, dropout 0.4.
    "paper": GoogLeNetVariant(lrn=True, dropout=0.4),
    # torchvision googlenet: BasicConv2d (conv without bias, BN eps 1e-3, torch momentum 0.1 = Keras
    # 0.9, ReLU), 3x3 in the "5x5" branch, no LRN, ceil-mode pools, maxpool4 2x2/2, dropout 0.2,
    # adaptive 4x4 pool in the aux heads.
    "torchvision": GoogLeNetVariant(
        batch_norm=True,
        conv_bias=False,
        five_by_five="3x3",
        pool4="2x2",
        dropout=0.2,
        bn_momentum=0.9,
        aux_adaptive_pool=True,
    ),
    # The CIFAR form: 3x3 stem conv of 192 with bias, conv bias + BN (PyTorch's eps
    # 1e-5, momentum 0.1) everywhere, two 3x3 convs in the "5x5" branch, no stem pools, 3x3/2 pad-1
    # pools, no dropout.
    "cifar": GoogLeNetVariant(
        stem="cifar",
        batch_norm=True,
        five_by_five="double_3x3",
        pool="pad1",
        pool4="pad1",
        bn_epsilon=1e-5,
        bn_momentum=0.9,
    ),
}

GOOGLENET_BRANCHES = {
    "branch1": "1x1",
    "branch2.0": "3x3_reduce",
    "branch2.1": "3x3",
    "branch3.0": "5x5_reduce",
    "branch3.1": "5x5",
    "branch4.1": "pool_proj",  # branch4.0 is the max-pool
}
GOOGLENET_STEM = {"conv1": "conv1", "conv2": "conv2_reduce", "conv3": "conv2"}

TORCHVISION_RULES = (
    # BasicConv2d units: <unit>.conv and <unit>.bn are kcnn's <layer> and <layer>_bn.
    (r"(conv[123])\.conv", lambda m: GOOGLENET_STEM[m[1]], "conv"),
    (r"(conv[123])\.bn", lambda m: f"{GOOGLENET_STEM[m[1]]}_bn", "bn"),
    (
        r"(inception\d[a-e])\.(branch1|branch[23]\.[01]|branch4\.1)\.conv",
        lambda m: f"{m[1]}/{GOOGLENET_BRANCHES[m[2]]}",
        "conv",
    ),
    (
        r"(inception\d[a-e])\.(branch1|branch[23]\.[01]|branch4\.1)\.bn",
        lambda m: f"{m[1]}/{GOOGLENET_BRANCHES[m[2]]}_bn",
        "bn",
    ),
    (r"(aux[12])\.conv\.conv", lambda m: f"{m[1]}/conv", "conv"),
    (r"(aux[12])\.conv\.bn", lambda m: f"{m[1]}/conv_bn", "bn"),
    (r"(aux[12])\.fc1", lambda m: f"{m[1]}/fc", ("flatten_dense", 128)),
    (r"(aux[12])\.fc2", lambda m: f"{m[1]}/predictions", "dense"),
    (r"fc", lambda m: "predictions", "dense"),
)


def _truncated_001(rng, path, shape):
    return initializers.normal(rng, shape, 0.01, bound=2.0)


# torchvision's googlenet.py: conv and Linear weights N(0, 0.01) truncated to [-2, 2] (absolute
# bounds, as torchvision calls trunc_normal_), Linear bias PyTorch's default.
TORCHVISION_INIT = initializers.Scheme(
    name="torchvision-googlenet", conv=_truncated_001, dense=_truncated_001
)

# Declarations: paper 224x224, at least 31 (pool4 3x3/2 needs a 2x2 grid: 31 -> 16 -> 8 -> 4 -> 2
# -> 1); torchvision at least 15 (its min_size); CIFAR 32x32, any size (all downsampling rounds up).
# Feature stages (layer, stride, channels): the stem's last unit, then inception3b, 4e and 5b.
_MODULE_STAGES = (("inception3b", 8, 480), ("inception4e", 16, 832), ("inception5b", 32, 1024))
GOOGLENET_DECLARATIONS = {
    "paper": VariantSpec(
        default_input=(224, 224, 3),
        min_input=31,
        source="Szegedy et al. 2014; BVLC bvlc_googlenet",
        stages=(("conv1", 2, 64), ("norm2", 4, 192), *_MODULE_STAGES),
        params=6_998_552,
        macs=1_582_671_872,
    ),
    "torchvision": VariantSpec(
        default_input=(224, 224, 3),
        min_input=15,
        source="torchvision googlenet",
        weights=(torchvision_weights("googlenet-1378be20.pth", 69.778, 89.530, mode="tf"),),
        initializer=TORCHVISION_INIT,
        torchvision_rules=TORCHVISION_RULES,
        stages=(("conv1_relu", 2, 64), ("conv2_relu", 4, 192), *_MODULE_STAGES),
        params=6_624_904,
    ),
    "cifar": VariantSpec(  # no stem downsampling: strides 1, 2, 4
        default_input=(32, 32, 3),
        min_input=1,
        source="CIFAR GoogLeNet: no stem downsampling",
        stages=tuple((n, s // 8, c) for n, s, c in _MODULE_STAGES),
        params=7_181_000,
    ),
}


def conv_unit(name, filters, kernel, v, strides=1, padding="same"):
    """A stem convolution: conv + ReLU, or conv -> `<name>_bn` -> `<name>_relu` with batch norm."""
    if not v.batch_norm:
        return [
            keras.layers.Conv2D(filters, kernel, strides, padding, activation="relu", name=name)
        ]
    return [
        keras.layers.Conv2D(filters, kernel, strides, padding, use_bias=v.conv_bias, name=name),
        BatchNormalization(epsilon=v.bn_epsilon, momentum=v.bn_momentum, name=f"{name}_bn"),
        keras.layers.Activation("relu", name=f"{name}_relu"),
    ]


def max_pool(name, kind):
    """A 3x3/2 max-pool in ceil mode ("ceil") or with padding 1 ("pad1"), or 2x2/2 ceil ("2x2")."""
    if kind == "2x2":
        return [keras.layers.MaxPooling2D(2, strides=2, padding="same", name=name)]
    padding = ((0, 1), (0, 1)) if kind == "ceil" else 1
    return [
        keras.layers.ZeroPadding2D(padding, name=f"{name}_pad"),
        keras.layers.MaxPooling2D(3, strides=2, name=name),
    ]


def lrn(name):
    """BVLC's LRN (local_size 5, alpha 1e-4, beta 0.75, k 1) in TensorFlow's parameters."""
    return LocalResponseNormalization(depth_radius=2, bias=1.0, alpha=2e-5, beta=0.75, name=name)


def googlenet_stem(v):
    """The layers before inception3a: the paper's (with or without LRN) or the CIFAR 3x3 conv."""
    if v.stem == "cifar":
        return conv_unit("conv1", 192, 3, v)
    return [
        keras.layers.ZeroPadding2D(3, name="conv1_pad"),
        *conv_unit("conv1", 64, 7, v, strides=2, padding="valid"),
        *max_pool("pool1", v.pool),
        *([lrn("norm1")] if v.lrn else []),
        *conv_unit("conv2_reduce", 64, 1, v),
        *conv_unit("conv2", 192, 3, v),
        *([lrn("norm2")] if v.lrn else []),
        *max_pool("pool2", v.pool),
    ]


def inception_modules(v, rows=GOOGLENET_MODULES):
    """One `InceptionModule` per Table 1 row, and the max-pools of the marker rows."""
    layers = []
    for row in rows:
        if row == "pool3":
            layers += max_pool("pool3", v.pool)
        elif row == "pool4":
            layers += max_pool("pool4", v.pool4)
        else:
            name, *widths = row
            layers.append(
                InceptionModule(
                    *widths,
                    batch_norm=v.batch_norm,
                    conv_bias=v.conv_bias,
                    five_by_five=v.five_by_five,
                    bn_epsilon=v.bn_epsilon,
                    bn_momentum=v.bn_momentum,
                    name=name,
                )
            )
    return layers


def _check_aux_grid(network, tap, x, adaptive):
    """The paper's side head flattens a 4x4 map into FC 1024: its input grid must be 14 to 16."""
    if adaptive:
        return
    size = tuple(x.shape[1:3])
    if any(d is None or not 14 <= d <= 16 for d in size):
        raise ValueError(
            f"`{network}`: with aux_logits=True the side heads' avg-pool 5x5/3 must give 4x4 for their "
            f"FC layer, so {tap} must output a 14x14 to 16x16 grid (224x224 input gives 14x14); "
            f"received a {size} grid. Use aux_logits=False, or variant='torchvision' (adaptive pool)."
        )


def _googlenet(
    network, declared, common, *, variant, aux_logits, dropout, aux_loss_weight
):
    v = GOOGLENET_VARIANTS[variant]
    if aux_logits and not common.include_top:
        raise ValueError(
            f"`{network}`: aux_logits=True needs include_top=True (the side heads are classifiers)"
        )
    aux_loss_weight = check_aux_loss_weight(network, aux_loss_weight)
    rate = check_dropout(network, v.dropout if dropout is None else dropout)
    image, x = common.input(network, declared)
    x = chain(x, googlenet_stem(v))
    aux = []
    for layer in inception_modules(v):
        x = layer(x)
        if aux_logits and layer.name in AUX_TAPS:
            _check_aux_grid(network, layer.name, x, v.aux_adaptive_pool)
            head = AuxiliaryClassifier(
                common.num_classes,
                variant="googlenet",
                batch_norm=v.batch_norm,
                conv_bias=v.conv_bias,
                adaptive_pool=v.aux_adaptive_pool,
                classifier_activation=common.classifier_activation,
                bn_epsilon=v.bn_epsilon,
                bn_momentum=v.bn_momentum,
                name=AUX_TAPS[layer.name],
            )
            aux.append(head(x))
    return finish_pooled_with_aux(image, x, aux, network=network, common=common, rate=rate,
                                  aux_loss_weight=aux_loss_weight)


@register(
    family="googlenet",
    source="Szegedy et al. 2014, arXiv:1409.4842; BVLC bvlc_googlenet; torchvision googlenet",
    variants=GOOGLENET_DECLARATIONS,
)
def googlenet(
    *, variant=None, aux_logits=False, dropout=None, aux_loss_weight=DEFAULT_AUX_LOSS_WEIGHT,
    num_classes=1000, input_shape=None, include_top=True, pooling=None,
    classifier_activation="softmax", input_tensor=None, weights=None, name=None,
    initializer="keras", include_preprocessing=False, classes=None,
):
    """GoogLeNet (Inception v1), Szegedy et al. 2014: the paper/BVLC, torchvision or CIFAR variant.

    1000 classes at 224x224 (`kcnn list` gives the counts): the paper's with both aux heads T
    13,378,280 (no BN, so this is also the Keras total); torchvision's Keras total 6,639,464 (with
    aux T 13,004,888 / total 13,019,960). CIFAR variant, 10 classes at 32x32: T 6,166,250. Deviations from the paper
    of the torchvision variant (3x3 "5x5" branch, BN, 2x2 maxpool4, dropout 0.2) are torchvision's;
    ceil-mode pooling is reproduced exactly (see the module docstring).

    Args:
        variant: "paper" (BVLC: conv biases, LRN, true 5x5, no BN; min input 31), "torchvision"
            (min input 15) or "cifar" (32x32 default input, any size): a row of `GOOGLENET_VARIANTS`;
            None: "paper", or the variant that has `weights`.
        aux_logits: add the two side classifiers `aux1` (after inception4a) and `aux2` (after
            inception4d). The model is then an `AuxiliaryOutputsModel`: in training it returns
            [main, aux1, aux2] and trains on main_loss + aux_loss_weight * (aux1_loss + aux2_loss)
            with the one compiled loss; at inference it returns the main output only. The paper's
            heads need a 14x14 to 16x16 grid at inception4a (e.g. 224x224 input); torchvision's
            adaptive pool takes any size. Needs include_top=True.
        dropout: dropout before `predictions`; None means the variant's (paper 0.4, torchvision
            0.2, cifar none). 0 adds no layer.
        aux_loss_weight: weight of each side head's loss (BVLC: 0.3).
        num_classes: classes of the classifier (default 1000).
        input_shape: (height, width, channels); default the variant's (224x224x3 or 32x32x3).
        include_top: build the classifier (`avg_pool`, `dropout`, `predictions`).
        pooling: without the top, None (4-D features of inception5b), "avg" or "max".
        classifier_activation: activation of `predictions` and of the side heads (None for logits);
            computed in float32 under mixed precision.
        input_tensor: optional Keras tensor to build the model on.
        weights: None, a path to a `.weights.h5` file, or a published set's name ("imagenet",
            "torchvision"); other `num_classes` load all but the classifier.
        name: the model's name (default "googlenet").
        initializer: "keras" (the layers' own initialisers), "source" (the variant's declared
            scheme) or a scheme of `kcnn.models.initializers`.
        include_preprocessing: put the weight set's preprocessing in the model as its first
            layers, so that it takes RGB images with values 0-255 (default False).
        classes: keras.applications' name for `num_classes`, refused with a pointer to it.
    """
    return build_model("googlenet", locals(), _googlenet)
