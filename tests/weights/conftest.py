"""Offline weight tests: an empty cache per test, and a fake download of files the tests write."""

import dataclasses
import hashlib
import os
import shutil

import keras
import pytest

import kcnn
from kcnn.weights import download
from kcnn.weights.sets import TORCHVISION_URL


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty kcnn cache and keras.applications cache for the test (`KCNN_HOME`, `KERAS_HOME`)."""
    monkeypatch.setenv("KCNN_HOME", str(tmp_path / "kcnn_home"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    return tmp_path / "kcnn_home"


@pytest.fixture
def served(cache, monkeypatch):
    """A fake network: `served[url] = local file` makes the download of `url` copy that file.

    Only the download itself is replaced (the host probe and `keras.utils.get_file`); everything
    after it (hash checks, conversion, loading) is kcnn's real code. Returns the dict, which also
    records the URLs asked for under "requested".
    """
    files = {"requested": []}

    def get_file(fname, origin, cache_dir, cache_subdir, file_hash=None):
        files["requested"].append(origin)
        if origin not in files:
            raise Exception(f"URL fetch failure on {origin}: 404 -- Not Found")  # noqa: TRY002
        target = os.path.join(cache_dir, cache_subdir, fname)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy(files[origin], target)
        return target

    monkeypatch.setattr(download, "_probe", lambda url: None)
    monkeypatch.setattr(keras.utils, "get_file", get_file)
    return files


@pytest.fixture
def serve_pth(served, tmp_path, monkeypatch):
    """`serve_pth(network, net)`: write torch module `net`'s state dict as torchvision publishes
    it, named `<network>-<sha256[:8]>.pth`, serve it, and point the declaration of the network's
    torchvision weights at it (the real files' hashes cannot match a random net). Returns the
    declared `WeightSet`."""
    import torch

    def serve(network, net):
        path = tmp_path / "state.pth"
        torch.save(net.state_dict(), path)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        name = f"{network}-{digest[:8]}.pth"
        os.replace(path, tmp_path / name)
        spec = kcnn.models.spec(network)
        declared = spec.variant("torchvision")
        weight_set = dataclasses.replace(
            declared.weights[0], url=TORCHVISION_URL + name, file_hash=digest[:8]
        )
        monkeypatch.setitem(
            spec.variants, "torchvision", dataclasses.replace(declared, weights=(weight_set,))
        )
        served[weight_set.url] = str(tmp_path / name)
        return weight_set

    return serve
