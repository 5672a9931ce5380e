"""The package's import graph, read from the source with `ast` (every import, including those
inside functions): no cycle, `kcnn.weights` never imports `kcnn.models`, `kcnn.viz` never
imports the trainer, and only `kcnn/__main__.py` imports the command line (`kcnn.cli`)."""

import ast
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1] / "kcnn"



def _module_name(path):
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules():
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _resolve(name, modules):
    """The kcnn module `name` is, or the closest package above it that exists."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module, path, modules):
    """The kcnn modules `module` imports anywhere in its source."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for name in names:
            if name == "kcnn" or name.startswith("kcnn."):
                target = _resolve(name, modules)
                if target and target != module:
                    found.add(target)
    return found


def _graph():
    modules = _modules()
    graph = {m: _imports(m, p, modules) for m, p in modules.items()}
    # a `from package import name` also names the package itself: keep the submodule only
    for module, targets in graph.items():
        graph[module] = {
            t for t in targets if not any(o.startswith(t + ".") for o in targets if o != t)
        } - {t for t in targets if t == "kcnn"}
    return graph


def _cycle(graph):
    """One import cycle as a list of modules, or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return stack[stack.index(target):] + [target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_import_graph_has_no_cycle():
    cycle = _cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def _imports_of(package, forbidden, allowed=()):
    """Every edge "module -> target" from `package` (and its submodules) into `forbidden`."""
    def inside(name, prefix):
        return name == prefix or name.startswith(prefix + ".")

    return sorted(
        f"{m} -> {t}"
        for m, targets in _graph().items()
        if inside(m, package) and m not in allowed
        for t in targets
        if inside(t, forbidden)
    )


def test_weights_never_import_models():
    """kcnn.weights knows files, tensors, layers and preprocessing; the model side calls it."""
    assert _imports_of("kcnn.weights", "kcnn.models") == []


def test_only_main_imports_the_cli():
    wrong = [edge for edge in _imports_of("kcnn", "kcnn.cli", allowed={"kcnn.__main__"})
             if not edge.startswith("kcnn.cli")]
    assert wrong == []


def test_the_pictures_never_import_the_trainer():
    """kcnn.viz reads runs through kcnn.runs, never through kcnn.training."""
    assert _imports_of("kcnn.viz", "kcnn.training") == []


@pytest.mark.parametrize(
    "source, cycle",
    [
        ({"a": "from kcnn import b", "b": "def f():\n    import kcnn.a"}, True),
        ({"a": "from kcnn import b", "b": "x = 1"}, False),
    ],
)
def test_the_checker_sees_function_level_cycles(tmp_path, monkeypatch, source, cycle):
    package = tmp_path / "kcnn"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name, text in source.items():
        (package / f"{name}.py").write_text(text)
    monkeypatch.setattr(sys.modules[__name__], "ROOT", package)
    assert (_cycle(_graph()) is not None) == cycle
