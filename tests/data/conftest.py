"""Shared fixtures of the data tests."""

import pytest


@pytest.fixture
def offline_home(tmp_path, monkeypatch):
    """An empty home directory, Keras cache and tfds data directory, and no network: the home
    directory (a `pathlib.Path`)."""
    from kcnn.data import files, sources

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("KERAS_HOME", str(home / ".keras"))
    monkeypatch.setenv("TFDS_DATA_DIR", str(home / "tensorflow_datasets"))
    monkeypatch.setattr(sources, "reachable", lambda url, timeout=None: False)
    files._ARRAYS.clear()
    return home
