"""Offline weight tests: an empty cache per test, and a fake download of files the tests write."""

import os
import shutil

import keras
import pytest

from kcnn.weights import download


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
