"""Weight names, the cache, offline behaviour and the torchvision path end to end.

Only the download is faked (`served`, tests/weights/conftest.py); the hash check, the conversion
(`kcnn.weights.torchvision`, torch) and the loading are kcnn's real code.
"""

import dataclasses
import importlib.util
import os
import socket
import time

import _torchvision  # tests/ is on pytest's pythonpath
import numpy as np
import pytest

import kcnn
from kcnn.models import _loading as loader
from kcnn.weights import download


def test_imagenet_picks_the_variant_that_has_weights():
    kwargs = {"weights": "imagenet"}
    key, _, weight_set = loader.resolve(kcnn.models.spec("densenet161"), kwargs)
    assert (key, kwargs["variant"], weight_set.name) == (
        "torchvision",
        "torchvision",
        "torchvision",
    )
    assert weight_set.url == "https://download.pytorch.org/models/densenet161-8d451a50.pth"
    # where the default variant has weights, "imagenet" is its first set
    key, _, weight_set = loader.resolve(kcnn.models.spec("vgg16"), {"weights": "imagenet"})
    assert (key, weight_set.name, weight_set.preprocessing.mode) == (False, "keras", "caffe")
    _, _, weight_set = loader.resolve(kcnn.models.spec("resnet50"), {"weights": "imagenet"})
    assert (weight_set.file_name, weight_set.top1) == ("resnet50-0676ba61.pth", 76.130)
    _, _, weight_set = loader.resolve(kcnn.models.spec("resnet50"), {"weights": "torchvision_v2"})
    assert (weight_set.file_hash, weight_set.preprocessing.resize) == ("11ad3fa6", 232)


@pytest.mark.parametrize(
    "name, kwargs, message",
    [
        (
            "resnet18",
            {"weights": "keras"},
            r"`resnet18` with variant='torchvision': no weights 'keras'; available: 'imagenet', 'torchvision'",
        ),
        (
            "alexnet",
            {"variant": "paper", "weights": "imagenet"},
            r"available: 'imagenet', 'torchvision' \(variant='torchvision'\)",
        ),
        ("vgg11", {"weights": "keras"}, r"'imagenet', 'torchvision' \(batch_norm=True\)"),
        ("resnet20", {"weights": "imagenet"}, "`resnet20` has no published pretrained weights"),
    ],
)
def test_a_source_that_does_not_exist_lists_what_does(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        kcnn.models.get(name, **kwargs)


def _offline(monkeypatch):
    def no_network(*args, **kwargs):
        raise socket.gaierror(-3, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)


@pytest.mark.parametrize("name, kwargs", [("resnet18", {}), ("resnet50", {"variant": "keras"})])
def test_offline_with_an_empty_cache_fails_at_once_saying_where_to_put_what(
    name, kwargs, cache, monkeypatch
):
    _offline(monkeypatch)
    weight_set = kcnn.models.spec(name).resolve(**kwargs).weights[0]
    started = time.perf_counter()
    with pytest.raises(download.WeightsUnavailableError) as info:
        kcnn.models.get(name, weights="imagenet", **kwargs)
    assert time.perf_counter() - started < 5
    message = str(info.value)
    assert message.startswith(f"`{name}`: the '{weight_set.name}' weights file")
    assert "cannot resolve" in message
    for needed in (
        str(cache),
        weight_set.url,
        os.path.join(str(cache), "weights", weight_set.file_name),
        weight_set.file_hash,
    ):
        assert needed in message


def test_without_torch_the_conversion_says_what_to_install(cache, monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "torch" else find_spec(name, *a),
    )
    started = time.perf_counter()
    with pytest.raises(
        download.WeightsUnavailableError,
        match=r'pip install "kcnn\[torch\]".*resnet18-f37072fd\.kcnn\.h5',
    ):
        kcnn.models.resnet18(weights="imagenet")
    assert time.perf_counter() - started < 5


@pytest.mark.tf_only
def test_torchvision_weights_end_to_end(served, serve_pth, monkeypatch):
    net = _torchvision.random_reference("resnet18", seed=1)
    weight_set = serve_pth("resnet18", net)
    model = kcnn.models.resnet18(weights="imagenet", classifier_activation=None)
    images = np.random.default_rng(0).uniform(-2, 2, size=(2, 224, 224, 3)).astype("float32")
    want = _torchvision.torchvision_outputs(net, images)
    got = np.asarray(model(images, training=False))
    assert np.abs(want - got).max() <= 1e-4 * np.abs(want).max()
    # converted once and cached; the next build needs neither the download nor torch
    converted = download.converted_path(weight_set)
    assert os.path.exists(converted) and served["requested"] == [weight_set.url]
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "torch" else find_spec(name, *a),
    )
    again = kcnn.models.resnet18(weights="torchvision", classifier_activation=None)
    np.testing.assert_array_equal(np.asarray(again(images, training=False)), got)
    assert served["requested"] == [weight_set.url]


@pytest.mark.tf_only
def test_a_download_with_the_wrong_hash_is_removed(serve_pth, monkeypatch):
    net = _torchvision.random_reference("resnet18", seed=2)
    weight_set = serve_pth("resnet18", net)
    spec = kcnn.models.spec("resnet18")
    wrong = dataclasses.replace(weight_set, file_hash="00000000")
    monkeypatch.setitem(
        spec.variants,
        "torchvision",
        dataclasses.replace(spec.variant("torchvision"), weights=(wrong,)),
    )
    with pytest.raises(ValueError, match="does not start with 00000000"):
        kcnn.models.resnet18(weights="imagenet")
    assert not os.path.exists(os.path.join(download.weights_dir(), weight_set.file_name))
