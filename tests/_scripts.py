"""The repository's scripts (examples/, benchmarks/) as modules, for the tests that call them."""

import importlib.util
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]


def load_script(relative_path):
    """Import the script at `relative_path` from the repository root (e.g.
    "examples/train_cifar.py") as a fresh module; its `if __name__ == "__main__"` part does not run.
    """
    path = ROOT / relative_path
    spec = importlib.util.spec_from_file_location(f"{path.parent.name}_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_photos(root, *, per_class, min_size=24, max_size=64):
    """examples/make_photo_folder.py: two classes of `per_class` crops of scikit-learn's two
    photographs, in several formats and modes, written under `root`."""
    script = load_script("examples/make_photo_folder.py")
    return script.make_photos(str(root), per_class=per_class, min_size=min_size, max_size=max_size)
