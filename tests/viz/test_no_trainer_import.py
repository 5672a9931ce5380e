"""The pictures read runs through `kcnn.runs`, never through the trainer (`kcnn.training`)."""

import ast
import pathlib

import kcnn.viz

# The `show` subcommand's parser may drive the trainer's pictures; the library modules may not.
COMMAND_MODULES = {"commands.py"}


def imported_modules(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def test_no_picture_module_imports_the_trainer():
    folder = pathlib.Path(kcnn.viz.__file__).parent
    checked = sorted(p for p in folder.glob("*.py") if p.name not in COMMAND_MODULES)
    assert len(checked) >= 10  # every module of kcnn.viz, not an empty glob
    offenders = {p.name: sorted({m for m in imported_modules(p) if m.startswith("kcnn.training")})
                 for p in checked}
    assert {name: found for name, found in offenders.items() if found} == {}
