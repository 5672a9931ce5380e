"""The model table of `kcnn list`: built from the declarations, equal to what built models give,
and copied into the README exactly."""

import pathlib

import pytest

import kcnn
from kcnn.analysis import zoo

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"
BEGIN, END = "<!-- kcnn list --markdown -->", "<!-- end of kcnn list -->"
CHEAP = ("lenet5", "simple_cnn", "resnet20", "resnet32", "densenet_bc", "alexnet", "nin")


def _declared_and_built(name):
    spec = kcnn.models.spec(name)
    declared = spec.variant()
    totals = kcnn.analysis.profile(spec.builder()).totals
    return (declared.params, declared.macs), (totals.trainable, totals.macs)


@pytest.mark.parametrize("name", CHEAP)
def test_declared_counts_are_the_built_models(name):
    declared, built = _declared_and_built(name)
    assert declared == built


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in kcnn.models.names() if n not in CHEAP])
def test_declared_counts_of_the_larger_models(name):
    declared, built = _declared_and_built(name)
    assert declared == built


def test_every_variant_declares_its_counts():
    missing = [
        (name, key)
        for name in kcnn.models.names()
        for key, declared in kcnn.models.spec(name).variants.items()
        if declared.params is None or (key == kcnn.models.spec(name).default_variant and declared.macs is None)
    ]
    assert not missing


def test_the_table_reads_the_declarations_only(monkeypatch):
    def no_build(*args, **kwargs):
        raise AssertionError("the table must not build a model")

    monkeypatch.setattr(zoo, "profile", no_build)
    lines = zoo.markdown_table().splitlines()
    assert lines[:2] == list(zoo.MARKDOWN_HEADER)
    assert len(lines) == 2 + len(kcnn.models.names())
    resnet20 = next(line for line in lines if line.startswith("| `resnet20` |"))
    assert f"| {kcnn.models.spec('resnet20').variant().params:,} |" in resnet20


def test_the_readme_table_is_the_generated_one():
    text = README.read_text(encoding="utf8")
    copy = text.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n") + "\n"
    assert copy == zoo.markdown_table(), (
        "README.md's model table differs from `kcnn list --markdown`: paste its output between "
        f"{BEGIN} and {END}"
    )
