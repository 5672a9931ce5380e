"""kcnn's torchvision-layout networks are torchvision's networks: converted weights, equal logits.

For every network and variant that torchvision publishes ImageNet weights for, torchvision's own
model is built with random weights and random BatchNorm statistics, its state dict is written to a
`.pth` file exactly as torchvision publishes them (`torch.save(model.state_dict(), path)`), and
kcnn's real reading and conversion code loads that file into the kcnn model. The two must give the
same logits (NCHW against NHWC) to 1e-4 of the logit scale. Any difference in padding, pooling
rounding, BN epsilon, flatten order or concatenation order shows up as a failure here.

`pytest -n 0 -s -m "" <this file> tests/models/test_torchvision_weights.py` (all cases, slow ones
too, in one process so that `-s` shows the output) prints one `EQUIVALENCE` row per case: network,
options, input size, max |logit difference|, and that difference over max |logit|.
"""

import dataclasses
import functools
import sys

import _torchvision  # tests/ is on pytest's pythonpath
import keras
import numpy as np
import pytest
import torch

import kcnn.models
from kcnn.models import load_torchvision_state_dict
from kcnn.weights.torchvision import convert_array, read_pth

RELATIVE_TOLERANCE = 1e-4


@dataclasses.dataclass(frozen=True)
class Case:
    """One torchvision network against the kcnn builder call that reproduces it."""

    network: str  # kcnn builder, also the `network` given to the loader
    torchvision: str  # torchvision builder
    kcnn_options: dict
    size: int  # square input: small where the network allows, odd to exercise the rounding
    torchvision_options: dict = dataclasses.field(default_factory=dict)
    slow: bool = False

    @property
    def id(self):
        options = ",".join(f"{k}={v}" for k, v in self.kcnn_options.items())
        return f"{self.network}[{options}]@{self.size}"


TV = {"variant": "torchvision"}
# GoogLeNet and Inception v3: the published state dicts include the side heads (aux1/aux2,
# AuxLogits), so the reference keeps them; kcnn models without side heads must ignore them.
# init_weights=False: torch's default initialisation (the published weights replace it anyway).
GOOGLENET_TV = {"aux_logits": True, "init_weights": False}
# ResNet-18 is tests/models/test_torchvision_weights.py, which the JAX lane runs too.
CASES = [
    Case("resnet34", "resnet34", {}, 65, slow=True),
    Case("resnet50", "resnet50", {}, 65),
    Case("resnet101", "resnet101", {}, 65, slow=True),
    Case("resnet152", "resnet152", {}, 65, slow=True),
    # grouped and widened bottlenecks; the -101 versions are the same code with more blocks
    Case("resnext50_32x4d", "resnext50_32x4d", {}, 65, slow=True),
    Case("wide_resnet50_2", "wide_resnet50_2", {}, 65, slow=True),
    Case("densenet121", "densenet121", TV, 67),
    Case("densenet161", "densenet161", TV, 67, slow=True),
    Case("densenet169", "densenet169", TV, 67, slow=True),
    Case("densenet201", "densenet201", TV, 67, slow=True),
    # AlexNet's adaptive 6x6 pool: from a 2x2 pool5 at 99x99 (overlapping bins) and at 224x224.
    Case("alexnet", "alexnet", TV, 99),
    Case("alexnet", "alexnet", TV, 224, slow=True),
    Case("googlenet", "googlenet", TV, 67, GOOGLENET_TV),
    Case("inception_v3", "inception_v3", TV, 107, GOOGLENET_TV, slow=True),
    # VGG's Flatten head needs 224x224 (torchvision's adaptive 7x7 pool is then the identity).
    *[
        Case(vgg, vgg + ("_bn" if bn else ""), {"batch_norm": True} if bn else {}, 224, slow=True)
        for vgg in ("vgg11", "vgg13", "vgg16", "vgg19")
        for bn in (False, True)
    ],
]


def _images(size, count=2, seed=0):
    return np.random.default_rng(seed).standard_normal((count, size, size, 3)).astype("float32")


def _report(case_id, got, expected):
    difference = float(np.max(np.abs(got - expected)))
    scale = float(np.max(np.abs(expected)))
    print(f"EQUIVALENCE {case_id} max_abs={difference:.3g} relative={difference / scale:.3g}")
    sys.stdout.flush()
    return difference, scale


def _assert_close(case_id, got, expected):
    assert got.shape == expected.shape
    difference, scale = _report(case_id, got, expected)
    assert scale > 0
    assert difference <= RELATIVE_TOLERANCE * scale, (case_id, difference, scale)


def _published_file(net, tmp_path):
    """The state dict written as torchvision publishes its weights (names included)."""
    path = tmp_path / "weights.pth"
    torch.save(_torchvision.published_state_dict(net), path)
    return path


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, id=c.id, marks=[pytest.mark.slow] if c.slow else []) for c in CASES],
)
def test_converted_torchvision_weights_give_torchvision_logits(case, tmp_path):
    reference = _torchvision.random_reference(case.torchvision, **case.torchvision_options)
    model = getattr(kcnn.models, case.network)(
        input_shape=(case.size, case.size, 3), classifier_activation=None, **case.kcnn_options
    )
    unassigned = load_torchvision_state_dict(
        model, read_pth(_published_file(reference, tmp_path)), network=case.torchvision
    )
    assert unassigned == []
    images = _images(case.size)
    expected = _torchvision.torchvision_outputs(reference, images)
    got = keras.ops.convert_to_numpy(model(images, training=False))
    _assert_close(case.id, got, expected)


def _side_head_outputs(reference, taps, images):
    """torchvision's side heads in eval mode, fed from forward hooks on the modules they tap."""
    features = {}
    for module, head in taps.items():
        getattr(reference, module).register_forward_hook(
            lambda _m, _i, out, head=head: features.__setitem__(head, out)
        )
    main = _torchvision.torchvision_outputs(reference, images)
    with torch.no_grad():
        return [main] + [getattr(reference, head)(features[head]).numpy() for head in taps.values()]


@pytest.mark.parametrize(
    "network, taps, size",
    [
        # 97x97: a 6x6 grid at inception4a/4d, which the heads' adaptive pool takes to 4x4.
        pytest.param(
            "googlenet", {"inception4a": "aux1", "inception4d": "aux2"}, 97, id="googlenet"
        ),
        pytest.param(
            "inception_v3",
            {"Mixed_6e": "AuxLogits"},
            299,
            id="inception_v3",
            marks=pytest.mark.slow,
        ),
    ],
)
def test_side_heads_load_into_aux_logits_models(network, taps, size, tmp_path):
    reference = _torchvision.random_reference(network, **GOOGLENET_TV)
    model = getattr(kcnn.models, network)(
        variant="torchvision",
        aux_logits=True,
        input_shape=(size, size, 3),
        classifier_activation=None,
    )
    assert load_torchvision_state_dict(
        model, read_pth(_published_file(reference, tmp_path)), network=network
    ) == []
    images = _images(size)
    expected = _side_head_outputs(reference, taps, images)
    # Inference-mode outputs of every head: the Functional graph of [main, aux...].
    all_heads = keras.Model(model.input, model.outputs)
    got = [keras.ops.convert_to_numpy(y) for y in all_heads(images, training=False)]
    assert len(got) == len(expected)
    for name, g, e in zip(["main", *taps.values()], got, expected):
        _assert_close(f"{network}[aux_logits=True]@{size}:{name}", g, e)


@pytest.mark.parametrize(
    "network, size",
    [
        pytest.param("googlenet", 67, id="googlenet"),
        pytest.param("inception_v3", 107, id="inception_v3", marks=pytest.mark.slow),
    ],
)
def test_transform_input_is_preprocessing(network, size, tmp_path):
    """torchvision's pretrained GoogLeNet and Inception v3 set `transform_input=True`: on inputs
    normalised with the ImageNet mean and std, the network first maps them to (x - 0.5) / 0.5 of
    the 0-1 image. The same weights in kcnn (which has no such step) therefore take RGB 0-1 images
    scaled to [-1, 1]: that belongs to the weights' preprocessing."""
    reference = _torchvision.random_reference(network, transform_input=True, **GOOGLENET_TV)
    model = getattr(kcnn.models, network)(
        variant="torchvision", input_shape=(size, size, 3), classifier_activation=None
    )
    load_torchvision_state_dict(
        model, read_pth(_published_file(reference, tmp_path)), network=network
    )
    rgb01 = np.random.default_rng(1).uniform(size=(2, size, size, 3)).astype("float32")
    mean = np.array([0.485, 0.456, 0.406], "float32")
    std = np.array([0.229, 0.224, 0.225], "float32")
    expected = _torchvision.torchvision_outputs(reference, (rgb01 - mean) / std)
    got = keras.ops.convert_to_numpy(model((rgb01 - 0.5) / 0.5, training=False))
    _assert_close(f"{network}[transform_input]@{size}", got, expected)


def test_densenet_files_use_the_published_names():
    reference = _torchvision.random_reference("densenet121")
    names = list(_torchvision.published_state_dict(reference))
    assert "features.denseblock1.denselayer1.norm.1.weight" in names
    assert "features.denseblock4.denselayer16.conv.2.weight" in names
    assert "features.transition1.norm.weight" in names
    assert not any(".norm1." in n or ".conv2." in n for n in names)
    assert len(names) == len(reference.state_dict())


def test_densenet_torchvision_variant_carries_torchvision_batchnorm():
    model = kcnn.models.densenet121(variant="torchvision", input_shape=(32, 32, 3))
    norms = [
        layer
        for layer in model._flatten_layers(include_self=False, recursive=True)
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert len(norms) == 1 + 2 * 58 + 3 + 1  # stem, two per dense layer, transitions, final
    assert {(n.epsilon, n.momentum) for n in norms} == {(1e-5, 0.9)}
    keras_applications = kcnn.models.densenet121(input_shape=(32, 32, 3))
    assert {
        (n.epsilon, n.momentum)
        for n in keras_applications._flatten_layers(include_self=False, recursive=True)
        if isinstance(n, keras.layers.BatchNormalization)
    } == {(1.001e-5, 0.99)}


# --- fine-tuning and the errors: small ResNet-18s -----------------------------------------------


@pytest.fixture(scope="module")
def resnet18_state():
    """A random torchvision ResNet-18 and its state dict as NumPy arrays (through a .pth file)."""
    import tempfile
    from pathlib import Path

    reference = _torchvision.random_reference("resnet18")
    with tempfile.TemporaryDirectory() as directory:
        state = read_pth(_published_file(reference, Path(directory)))
    return reference, state


def test_skip_head_loads_the_backbone_and_reports_the_head(resnet18_state):
    reference, state = resnet18_state
    model = kcnn.models.resnet18(num_classes=10, input_shape=(33, 33, 3))
    head = [w.path for w in model.weights if w.path.startswith("predictions/")]
    fresh = [keras.ops.convert_to_numpy(w) for w in model.weights if w.path in head]
    unassigned = load_torchvision_state_dict(model, state, network="resnet18", skip_head=True)
    assert unassigned == sorted(head) == ["predictions/bias", "predictions/kernel"]
    for w, before in zip([w for w in model.weights if w.path in head], fresh):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(w), before)
    # The backbone is torchvision's: the pooled features equal torchvision's before its `fc`.
    features = keras.Model(model.input, model.get_layer("avg_pool").output)
    images = _images(33)
    fc, reference.fc = reference.fc, torch.nn.Identity()
    try:
        expected = _torchvision.torchvision_outputs(reference, images)
    finally:
        reference.fc = fc
    _assert_close("resnet18[features]@33", keras.ops.convert_to_numpy(features(images)), expected)


def test_skip_head_without_top(resnet18_state):
    _, state = resnet18_state
    model = kcnn.models.resnet18(include_top=False, input_shape=(33, 33, 3))
    assert load_torchvision_state_dict(model, state, network="resnet18", skip_head=True) == []
    with pytest.raises(ValueError, match=r"'fc\.weight' maps to kcnn weight 'predictions/kernel'"):
        load_torchvision_state_dict(model, state, network="resnet18")


def test_another_number_of_classes_without_skip_head_names_the_parameter(resnet18_state):
    _, state = resnet18_state
    model = kcnn.models.resnet18(num_classes=10, input_shape=(33, 33, 3))
    with pytest.raises(ValueError, match=r"'fc\.weight' has shape \(1000, 512\)"):
        load_torchvision_state_dict(model, state, network="resnet18")


def test_an_unknown_parameter_is_named(resnet18_state):
    _, state = resnet18_state
    model = kcnn.models.resnet18(input_shape=(33, 33, 3))
    extra = {**state, "layer5.0.conv1.weight": np.zeros((1, 1, 1, 1), "float32")}
    with pytest.raises(ValueError, match=r"'layer5\.0\.conv1\.weight' maps to kcnn weight"):
        load_torchvision_state_dict(model, extra, network="resnet18")
    stray = {**state, "fc.scale": np.zeros(1, "float32")}
    with pytest.raises(ValueError, match=r"'fc\.scale' has no counterpart"):
        load_torchvision_state_dict(model, stray, network="resnet18")


def test_a_missing_parameter_is_named_and_nothing_is_assigned(resnet18_state):
    _, state = resnet18_state
    model = kcnn.models.resnet18(input_shape=(33, 33, 3))
    before = [keras.ops.convert_to_numpy(w) for w in model.weights]
    partial = {k: v for k, v in state.items() if k != "layer3.1.bn2.running_var"}
    with pytest.raises(ValueError, match=r"conv4_block2/2_bn/moving_variance"):
        load_torchvision_state_dict(model, partial, network="resnet18")
    for w, b in zip(model.weights, before):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(w), b)


def test_another_layout_is_refused(resnet18_state):
    _, state = resnet18_state
    wrong_depth = kcnn.models.resnet34(input_shape=(33, 33, 3))
    with pytest.raises(ValueError, match="no torchvision parameter"):
        load_torchvision_state_dict(wrong_depth, state, network="resnet34")
    with pytest.raises(ValueError, match=r"No torchvision weight mapping for network 'lenet5'"):
        load_torchvision_state_dict(wrong_depth, state, network="lenet5")


def test_read_pth_reports_a_bad_file_by_name(tmp_path):
    bad = tmp_path / "broken.pth"
    bad.write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="broken.pth"):
        read_pth(bad)
    not_a_state_dict = tmp_path / "list.pth"
    torch.save([torch.zeros(1)], not_a_state_dict)
    with pytest.raises(ValueError, match=r"list\.pth.*holds a list"):
        read_pth(not_a_state_dict)


def test_read_pth_without_torch_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
    with pytest.raises(ImportError, match=r'pip install "kcnn\[torch\]"'):
        read_pth(tmp_path / "weights.pth")


def test_alexnet_without_top_loads_the_features(tmp_path):
    """include_top=False: fc6, fc7 and the classifier are skipped, the convolutions load."""
    reference = _torchvision.random_reference("alexnet")
    model = kcnn.models.alexnet(variant="torchvision", include_top=False, input_shape=(99, 99, 3))
    state = read_pth(_published_file(reference, tmp_path))
    assert load_torchvision_state_dict(model, state, network="alexnet", skip_head=True) == []
    with pytest.raises(ValueError, match=r"'classifier\.1\.weight' maps to kcnn weight 'fc6/"):
        load_torchvision_state_dict(model, state, network="alexnet")
    images = _images(99)
    expected = _torchvision.torchvision_outputs(reference.features, images).transpose(0, 2, 3, 1)
    _assert_close("alexnet[features]@99", keras.ops.convert_to_numpy(model(images)), expected)


def test_grouped_convolution_kernels_convert():
    """ResNeXt's grouped 3x3 convolutions: torch's (out, in / groups, kh, kw) kernel, converted,
    computes in a Keras `Conv2D(groups=...)` what it computes in torch."""
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(16, 32, 3, padding=1, groups=4, bias=False).eval()
    layer = keras.layers.Conv2D(32, 3, padding="same", groups=4, use_bias=False)
    layer.build((None, 9, 9, 16))
    layer.kernel.assign(convert_array(conv.weight.detach().numpy(), "conv"))
    images = np.random.default_rng(0).standard_normal((2, 9, 9, 16)).astype("float32")
    expected = _torchvision.torchvision_outputs(conv, images).transpose(0, 2, 3, 1)
    _assert_close("grouped_conv", keras.ops.convert_to_numpy(layer(images)), expected)


@pytest.mark.parametrize(
    "network, like",
    [
        ("resnext50_32x4d", "resnet50"),
        ("resnext101_32x8d", "resnet101"),
        ("resnext101_64x4d", "resnet101"),
        ("wide_resnet50_2", "resnet50"),
        ("wide_resnet101_2", "resnet101"),
    ],
)
def test_resnext_and_wide_resnet_names_follow_the_resnet_table(network, like):
    """torchvision's ResNeXts and wide ResNets differ from their ResNet only in widths and groups:
    their parameters map, by the same rules, onto exactly the kcnn weight paths of that ResNet
    (the shapes are checked when a kcnn builder of the same name loads them)."""
    from kcnn.models.resnet import TORCHVISION_RULES as RESNET_RULES
    from kcnn.weights.torchvision import kcnn_weight_path

    models = _torchvision.import_torchvision_models()
    assert kcnn.models.torchvision_rules(network) is RESNET_RULES
    with torch.device("meta"):  # names only: no memory, no initialisation
        names = [
            n for n in getattr(models, network)(weights=None).state_dict()
            if not n.endswith("num_batches_tracked")
        ]
    paths = [kcnn_weight_path(n, RESNET_RULES)[0] for n in names]
    assert None not in paths
    assert sorted(paths) == _resnet_weight_paths(like)


@functools.cache
def _resnet_weight_paths(network):
    return sorted(w.path for w in getattr(kcnn.models, network)(input_shape=(32, 32, 3)).weights)
