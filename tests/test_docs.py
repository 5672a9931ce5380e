"""Every code block of README.md and docs/*.md runs, or is checked, or says why it cannot be.

- `python` blocks run, each in a fresh namespace.
- `console` blocks are checked command by command: `kcnn ...` parses with the command line's own
  parser; `python SCRIPT --option` needs the script and each option in it; `pip install -e
  ".[extra]"` needs the extra; `pytest` needs its paths and markers; `bash SCRIPT` needs the
  script. A block with `$ ` prompts shows output: its `kcnn` command runs and every output line
  shown must be in the real output.
- An HTML comment on the line before a block, `<!-- skip: needs network (...) -->` or
  `<!-- skip: needs data (...) -->`, skips running the block with that reason (a python block is
  still compiled); `<!-- slow: ... -->` runs it in the slow lane only.
"""

import contextlib
import dataclasses
import io
import pathlib
import re
import shlex
import tomllib

import pytest

from kcnn.cli import build_parser, main

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[\w-]*)\s*$")
MARKER = re.compile(r"^\s*<!-- (?P<kind>skip|slow): (?P<reason>.+?) -->\s*$")
SKIP_REASONS = ("needs network", "needs data")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


@dataclasses.dataclass(frozen=True)
class Block:
    page: pathlib.Path
    line: int  # of the opening fence, 1-based
    lang: str
    text: str
    marker: str | None  # "skip", "slow" or None
    reason: str | None

    @property
    def id(self):
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def _blocks(page):
    lines = page.read_text().splitlines()
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, start = opening["indent"], i
        body = []
        i += 1
        while i < len(lines) and lines[i] != f"{indent}```":
            body.append(lines[i][len(indent):])
            i += 1
        if i == len(lines):
            raise AssertionError(f"{page.name}:{start + 1}: a code block is never closed")
        before = [line for line in lines[:start] if line.strip()]
        marker = MARKER.match(before[-1]) if before else None
        yield Block(page, start + 1, opening["lang"], "\n".join(body) + "\n",
                    marker["kind"] if marker else None, marker["reason"] if marker else None)
        i += 1


BLOCKS = [block for page in PAGES for block in _blocks(page)]


def _params(lang):
    return [
        pytest.param(b, id=b.id, marks=[pytest.mark.slow] if b.marker == "slow" else [])
        for b in BLOCKS
        if b.lang == lang
    ]


def test_the_pages_exist_and_the_readme_is_short():
    names = {page.name for page in PAGES}
    assert {"README.md", "models.md", "pretrained-weights.md", "data.md", "training.md",
            "own-images.md", "seeing-inside.md", "benchmarks.md", "development.md"} <= names
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250


def test_every_block_is_python_or_console_and_every_marker_has_a_known_reason():
    assert len(BLOCKS) >= 20
    assert [b.id for b in BLOCKS if b.lang not in ("python", "console")] == []
    assert [b.id for b in BLOCKS if b.marker == "skip"
            and not b.reason.startswith(SKIP_REASONS)] == []


def test_relative_links_point_at_files_of_the_repository():
    link = re.compile(r"\]\((?!https?://|#)([^)#\s]+)")
    missing = [
        f"{page.relative_to(ROOT)}: {target}"
        for page in PAGES
        for target in link.findall(page.read_text())
        if not (page.parent / target).exists()
    ]
    assert missing == []


@pytest.mark.parametrize("block", _params("python"))
def test_python_block(block):
    code = compile(block.text, block.id, "exec")
    if block.marker == "skip":
        pytest.skip(block.reason)
    exec(code, {"__name__": "__docs__"})


def _commands(text):
    """(argv, output lines shown after it) for each command of a console block."""
    lines = text.splitlines()
    prompted = any(line.startswith("$ ") for line in lines)
    found = []
    for line in lines:
        if prompted and not line.startswith("$ "):
            if found:
                found[-1][1].append(line)
            continue
        line = line[2:] if prompted else line
        for part in re.split(r"\s+&&\s+", line):
            argv = shlex.split(part, comments=True)
            while argv and re.fullmatch(r"[A-Z_]+=\S*", argv[0]):  # VAR=value before a command
                argv.pop(0)
            if argv and argv[-1] == "&":
                argv.pop()
            if argv:
                found.append((argv, []))
    return found


def _check_kcnn(argv):
    try:
        build_parser().parse_args(argv[1:])
    except SystemExit as exit:
        pytest.fail(f"`{shlex.join(argv)}` does not parse (exit status {exit.code})")


def _check_script(argv):
    script = ROOT / argv[1]
    assert script.is_file(), f"{argv[1]} is not a file of the repository"
    source = script.read_text()
    for option in (a.split("=")[0] for a in argv[2:] if a.startswith("--")):
        assert f'"{option}"' in source, f"{argv[1]} has no option {option}"


def _check_pip(argv):
    assert argv[1:3] == ["install", "-e"], f"`{shlex.join(argv)}`: only `pip install -e` is checked"
    extras = re.fullmatch(r"\.(?:\[([\w,]+)\])?", argv[3])
    assert extras, f"`{shlex.join(argv)}` does not install this repository"
    for extra in (extras[1] or "").split(","):
        assert not extra or extra in PYPROJECT["project"]["optional-dependencies"], extra


def _check_pytest(argv):
    markers = {m.split(":")[0] for m in PYPROJECT["tool"]["pytest"]["ini_options"]["markers"]}
    args = iter(argv[1:])
    for arg in args:
        if arg == "-m":
            named = set(re.findall(r"\w+", next(args))) - {"and", "or", "not"}
            assert named <= markers, f"unknown markers {named - markers}"
        elif not arg.startswith("-"):
            assert (ROOT / arg.split("::")[0]).exists(), f"{arg} does not exist"


def _check(argv):
    program = argv[0]
    if program == "kcnn":
        _check_kcnn(argv)
    elif program == "python" and argv[1:2] == ["-m"]:
        _check(argv[2:])  # python -m pytest, python -m kcnn
    elif program == "python":
        _check_script(argv)
    elif program == "pip":
        _check_pip(argv)
    elif program == "pytest":
        _check_pytest(argv)
    elif program == "bash":
        assert (ROOT / argv[1]).is_file(), f"{argv[1]} is not a file of the repository"
    elif program == "export":
        assert all(re.fullmatch(r"[A-Z_]+=\S+", a) for a in argv[1:]), shlex.join(argv)
    else:
        pytest.fail(f"no check for `{shlex.join(argv)}`: check it here or mark the block skipped")


@pytest.mark.parametrize("block", _params("console"))
def test_console_block(block):
    commands = _commands(block.text)
    assert commands, f"{block.id}: an empty console block"
    for argv, _ in commands:
        _check(argv)
    if block.marker == "skip":
        pytest.skip(block.reason)
    for argv, shown in commands:
        if not shown:
            continue
        assert argv[0] == "kcnn", f"{block.id}: only kcnn output is checked"
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(argv[1:]) == 0
        real = [line.rstrip() for line in out.getvalue().splitlines()]
        assert [line for line in shown if line != "..." and line.rstrip() not in real] == []
