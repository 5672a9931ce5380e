"""The registry and the arguments every builder shares (kcnn.models._registry, _common)."""

import dataclasses
import importlib
import re

import keras
import numpy as np
import pytest

import kcnn
from kcnn.models import _common, _registry


def test_names_are_sorted_and_filterable():
    names = kcnn.models.names()
    assert names == sorted(names)
    assert len(names) == len(set(names))
    for name in kcnn.models.names(pattern="res*"):
        assert name.startswith("res")
    for family in kcnn.models.families():
        assert all(kcnn.models.spec(n).family == family for n in kcnn.models.names(family=family))


def test_unknown_name_lists_close_matches():
    with pytest.raises(ValueError, match=r"Unknown model 'vgg61'\. Did you mean: .*vgg16"):
        kcnn.models.get("vgg61")


def test_unknown_name_without_close_match_still_says_where_to_look():
    with pytest.raises(ValueError, match=r"kcnn.models.names\(\) lists all"):
        kcnn.models.get("transformer")


def test_duplicate_registration_raises():
    def vgg16():
        return None

    with pytest.raises(ValueError, match="already registered"):
        declared = _registry.VariantSpec(default_input=(1, 1, 1), min_input=1)
        _registry.register(family="vgg", source="-", variants=declared)(vgg16)


def test_classes_alias_is_pointed_to_num_classes():
    """keras.applications' `classes=` gets a pointer to `num_classes`, by name or direct call."""
    with pytest.raises(TypeError, match="num_classes"):
        kcnn.models.get("simple_cnn", classes=3)
    for builder in (kcnn.models.lenet5, kcnn.models.resnet50, kcnn.models.densenet121):
        with pytest.raises(ValueError, match=r"kcnn calls it `num_classes` \(e.g. \w+\(num_cl"):
            builder(classes=10)


def test_every_builder_documents_every_argument():
    import inspect

    for name in kcnn.models.names():
        builder = kcnn.models.spec(name).builder
        doc = builder.__doc__ or ""
        for parameter in inspect.signature(builder).parameters:
            if parameter != "kwargs":
                assert f"{parameter}:" in doc or f"{parameter} " in doc, (name, parameter)


def test_every_spec_matches_its_builders_default_input():
    for name in kcnn.models.names():
        spec = kcnn.models.spec(name)
        assert len(spec.default_input) == 3 and spec.min_input >= 1
        assert spec.default_input[0] >= spec.min_input


# ---- the shared argument checks, exercised directly ------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            dict(num_classes=0, include_top=True, pooling=None, weights=None),
            "`num_classes` must be a positive",
        ),
        (
            dict(num_classes=10, include_top=True, pooling="avg", weights=None),
            "only applies with `include_top=False`",
        ),
        (
            dict(num_classes=10, include_top=False, pooling="mean", weights=None),
            "`pooling` must be None, 'avg' or 'max'",
        ),
        (
            dict(num_classes=10, include_top=True, pooling=None, weights="w.h5"),
            "`.weights.h5` file",
        ),
    ],
)
def test_common_argument_errors_name_the_network(kwargs, message):
    with pytest.raises(ValueError, match=message) as info:
        _common.check_common_args("netname", **kwargs)
    assert "`netname`" in str(info.value)


def test_image_input_checks():
    def make(**kwargs):
        args = dict(input_shape=None, input_tensor=None, default_shape=(32, 32, 3), min_size=16)
        args.update(kwargs)
        return _common.image_input("net", **args)

    image, x = make()
    assert tuple(image.shape) == (None, 32, 32, 3) and image is x and image.name == "image"
    with pytest.raises(
        ValueError,
        match=r"`net`: input size must be at least 16x16; received input_shape=\(15, 15, 3\)",
    ):
        make(input_shape=(15, 15, 3))
    with pytest.raises(ValueError, match="tuple of three positive integers"):
        make(input_shape=(32, 32))
    with pytest.raises(ValueError, match="exactly 32x32"):
        make(input_shape=(40, 40, 3), head_sizes=(32, 32))
    with pytest.raises(ValueError, match="from 227x227 to 258x258"):
        make(input_shape=(224, 224, 3), head_sizes=(227, 258))
    image, _ = make(input_shape=(None, None, 3))
    assert tuple(image.shape) == (None, None, None, 3)


def _tiny(weights=None, input_tensor=None):
    image, x = _common.image_input(
        "net", input_shape=None, input_tensor=input_tensor, default_shape=(16, 16, 1), min_size=8
    )
    y = _common.chain(x, [keras.layers.Flatten(name="flatten"), _common.predictions(3, "softmax")])
    return _common.finish_model(image, y, name="net", weights=weights)


def test_input_tensor_is_adopted():
    tensor = keras.Input(shape=(16, 16, 1))
    model = _tiny(input_tensor=tensor)
    assert model.inputs[0] is tensor


def test_weights_path_loads_into_a_fresh_model(tmp_path):
    trained = _tiny()
    path = str(tmp_path / "net.weights.h5")
    trained.save_weights(path)
    batch = np.random.default_rng(0).normal(size=(2, 16, 16, 1)).astype("float32")
    assert not np.allclose(trained.predict(batch, verbose=0), _tiny().predict(batch, verbose=0))
    np.testing.assert_array_equal(
        trained.predict(batch, verbose=0), _tiny(weights=path).predict(batch, verbose=0)
    )


# ---- the per-variant declarations ---------------------------------------------------------------


def test_each_variant_declares_its_own_sizes():
    googlenet = kcnn.models.spec("googlenet")
    assert googlenet.resolve(variant="cifar").default_input == (32, 32, 3)
    assert googlenet.resolve(variant="cifar").min_input == 1
    assert googlenet.resolve().min_input == googlenet.variant("paper").min_input == 31
    assert googlenet.variant("torchvision").min_input == 15
    assert kcnn.models.spec("lenet5").resolve(variant="d2l").default_input == (28, 28, 1)
    assert kcnn.models.spec("vgg16").resolve(batch_norm=True).weights[0].file_name == (
        "vgg16_bn-6c64b313.pth"
    )
    with pytest.raises(ValueError, match=r"`alexnet`: unknown variant 'tf'; allowed: 'paper'"):
        kcnn.models.spec("alexnet").variant("tf")


def test_declared_default_input_is_what_the_builder_builds():
    model = kcnn.models.lenet5(variant="d2l")
    declared = kcnn.models.spec("lenet5").resolve(variant="d2l")
    assert tuple(model.input_shape[1:]) == declared.default_input == (28, 28, 1)
    with pytest.raises(ValueError, match="at least 31x31"):
        kcnn.models.googlenet(input_shape=(30, 30, 3), include_top=False)


def test_every_weight_set_is_complete_and_fits_its_variant():
    count = 0
    for name in kcnn.models.names():
        spec = kcnn.models.spec(name)
        for key, weight_set in spec.weight_sets():
            count += 1
            declared = spec.variant(key)
            assert weight_set.preprocessing.crop == declared.default_input[0], (name, key)
            assert 50 < weight_set.top1 < weight_set.top5 < 100, name
            assert weight_set.terms and weight_set.num_classes == 1000
            if weight_set.source == "torchvision":
                assert weight_set.url.startswith("https://download.pytorch.org/models/")
                assert re.fullmatch(r"[0-9a-f]{8}", weight_set.file_hash)
                assert weight_set.file_name.endswith(f"-{weight_set.file_hash}.pth")
            else:
                assert weight_set.url.startswith(
                    "https://storage.googleapis.com/tensorflow/keras-applications/"
                )
                assert weight_set.notop_url == weight_set.url.replace(".h5", "_notop.h5")
                assert re.fullmatch(r"[0-9a-f]{32}", weight_set.file_hash)
                assert re.fullmatch(r"[0-9a-f]{32}", weight_set.notop_hash)
    # torchvision: alexnet, vgg x 8, googlenet, inception_v3, resnet x 5 (+3 V2), densenet x 4,
    # resnext50_32x4d/101_32x8d/101_64x4d and wide_resnet50_2/101_2 (+4 V2);
    # keras.applications: vgg16/19, resnet50/101/152, densenet121/169/201, inception_v3
    assert count == 23 + 9 + 9


FAMILY_MODULES = ("alexnet", "densenet", "googlenet", "inception_v3", "lenet", "nin", "resnet")
FAMILY_MODULES += ("simple_cnn", "vgg", "_registry")


@pytest.mark.parametrize("module", FAMILY_MODULES)
def test_variant_records_take_keywords_only(module):
    """Variant rows and declarations are read by name: positional values are refused."""
    name = f"kcnn.models.{module}"
    here = [
        obj
        for obj in vars(importlib.import_module(name)).values()
        if isinstance(obj, type) and obj.__module__ == name
    ]
    assert not [c.__name__ for c in here if issubclass(c, tuple)], "positional (namedtuple) rows"
    for record in filter(dataclasses.is_dataclass, here):
        fields = dataclasses.fields(record)
        assert all(f.kw_only for f in fields), record.__name__
        with pytest.raises(TypeError, match="positional"):
            record(*range(len(fields)))
