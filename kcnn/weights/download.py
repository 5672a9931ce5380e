"""The weight cache: where files live, fetching them once (hash-checked), converting .pth once.

Files go to `cache_dir()`: `$KCNN_HOME` if set, else `~/.keras/kcnn`, under `weights/`.
keras.applications' own cache (`~/.keras/models`) is looked in too, so files it downloaded are
not fetched again. Without network the error comes at once and says which file to put where.
"""

import hashlib
import importlib.util
import os
import socket
import threading
import urllib.parse

import keras

PROBE_TIMEOUT = 2.0  # seconds for each of the name lookup and the connection attempt


class WeightsUnavailableError(ValueError):
    """A weight file is neither cached nor downloadable here (offline, or without torch)."""


def cache_dir():
    """The cache directory: `$KCNN_HOME`, else `~/.keras/kcnn`. Weight files are in `weights/`."""
    return os.path.expanduser(os.environ.get("KCNN_HOME") or os.path.join("~", ".keras", "kcnn"))


def weights_dir():
    """Where the weight files are cached: `cache_dir()/weights`."""
    return os.path.join(cache_dir(), "weights")


def _keras_applications_cache():
    """keras.applications' cache: `$KERAS_HOME/models`, else `~/.keras/models`."""
    return os.path.join(os.path.expanduser(os.environ.get("KERAS_HOME") or "~/.keras"), "models")


def _probe(url):
    """Fail within about 2 x PROBE_TIMEOUT when the host cannot be reached (no retry loop)."""
    host = urllib.parse.urlparse(url).hostname
    found = {}

    def lookup():
        try:
            found["addresses"] = socket.getaddrinfo(host, 443, type=socket.SOCK_STREAM)
        except OSError as error:
            found["error"] = error

    worker = threading.Thread(target=lookup, daemon=True)
    worker.start()
    worker.join(PROBE_TIMEOUT)
    if "addresses" not in found:
        return f"cannot resolve {host} ({found.get('error', 'no answer')})"
    family, kind, proto, _, address = found["addresses"][0]
    try:
        with socket.socket(family, kind, proto) as connection:
            connection.settimeout(PROBE_TIMEOUT)
            connection.connect(address)
    except OSError as error:
        return f"cannot connect to {host} ({error})"
    return None


def _missing(weight_set, url, path, reason):
    name = os.path.basename(url)
    check = weight_set.file_hash if url == weight_set.url else weight_set.notop_hash
    check = f"SHA-256 starting {check}" if weight_set.source == "torchvision" else f"MD5 {check}"
    return WeightsUnavailableError(
        f"the {weight_set.name!r} weights file {name} is not in the cache and cannot be "
        f"downloaded: {reason}. Either copy the cache directory {cache_dir()} from a machine that "
        f"has loaded these weights (or set KCNN_HOME to a copy), or download {url} and put it at "
        f"{path} ({check})."
    )


def fetch(weight_set, *, notop=False):
    """The local path of `weight_set`'s file (its no-top file with `notop`), downloaded once.

    Raises:
        WeightsUnavailableError: not cached and the host cannot be reached (within seconds).
        ValueError: the downloaded file's hash is not the published one (the file is removed).
    """
    url = weight_set.notop_url if notop else weight_set.url
    name = os.path.basename(url)
    path = os.path.join(weights_dir(), name)
    for candidate in (path, os.path.join(_keras_applications_cache(), name)):
        if os.path.exists(candidate):
            return candidate
    reason = _probe(url)
    if reason:
        raise _missing(weight_set, url, path, reason)
    file_hash = None
    if weight_set.source == "keras":
        file_hash = weight_set.notop_hash if notop else weight_set.file_hash
    try:
        got = keras.utils.get_file(
            name, url, cache_dir=cache_dir(), cache_subdir="weights", file_hash=file_hash
        )
    except ValueError:  # a hash mismatch: keras says so itself
        raise
    except Exception as error:  # noqa: BLE001 - keras raises a bare Exception for URL errors
        raise _missing(weight_set, url, path, str(error)) from None
    if weight_set.source == "torchvision":
        check_sha256_prefix(got, weight_set.file_hash)
    return got


def sha256(path):
    """The hex SHA-256 of the file at `path`."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_sha256_prefix(path, prefix):
    """Remove `path` and raise a ValueError unless its SHA-256 starts with `prefix`."""
    actual = sha256(path)
    if not actual.startswith(prefix):
        os.remove(path)
        raise ValueError(
            f"{os.path.basename(path)}: SHA-256 {actual} does not start with {prefix} as "
            "published; "
            "the download was removed (a corrupt or changed file). Try again."
        )


def ensure(weight_set, *, network, notop=False, rules=None):
    """The local file to load `weight_set` from: keras.applications' `.h5` (its no-top file with
    `notop`), or the converted arrays of torchvision's `.pth`; fetched and converted on first use.

    Args:
        weight_set: the `WeightSet`.
        network: the network's name; errors start with it.
        notop: the model has no top (keras.applications then has a smaller file).
        rules: the variant's torchvision rule table (torchvision sets only).
    """
    try:
        if weight_set.source == "keras":
            return fetch(weight_set, notop=notop)
        return converted(weight_set, network=network, rules=rules)
    except WeightsUnavailableError as error:
        if str(error).startswith(f"`{network}`"):
            raise
        raise WeightsUnavailableError(f"`{network}`: {error}") from None


def converted_path(weight_set):
    """Where the Keras-layout arrays of a torchvision file are cached: `<file stem>.kcnn.h5`."""
    stem = weight_set.file_name.rsplit(".", 1)[0]
    return os.path.join(weights_dir(), f"{stem}.kcnn.h5")


def converted(weight_set, *, network, rules):
    """The cached arrays of torchvision `weight_set` in Keras' layout, by kcnn weight path; on
    first use downloads the `.pth`, converts it with torch (`pip install "kcnn[torch]"`) and
    caches it. No model is built: the variant's `rules` name every tensor's place."""
    path = converted_path(weight_set)
    if os.path.exists(path):
        return path
    if importlib.util.find_spec("torch") is None:
        raise WeightsUnavailableError(
            f"`{network}`: converting torchvision's {weight_set.file_name} needs PyTorch once: "
            f'pip install "kcnn[torch]". Or convert on a machine that has it and copy the result, '
            f"{os.path.basename(path)}, to {weights_dir()} (no torch is needed to load it)."
        )
    source = fetch(weight_set)
    from kcnn.weights import loader, torchvision

    arrays = torchvision.convert_state_dict(
        torchvision.read_pth(source), rules, network=network
    )
    os.makedirs(weights_dir(), exist_ok=True)
    partial = f"{path}.partial"
    loader.save_arrays(partial, arrays)
    os.replace(partial, path)
    return path
