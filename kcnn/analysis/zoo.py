"""The model table: every registered model with its declared counts, from the declarations alone.

`kcnn list` prints it (`--markdown` for the README's copy). The counts are each variant's
declared ones (`VariantSpec.params`, `VariantSpec.macs`); the model tests check them against
built models, so the table needs no model built. A variant without declared counts is built and
profiled.
"""

from kcnn.analysis.profile import human, profile

MARKDOWN_HEADER = (
    "| model | family | input | trainable params | MACs (conv + dense) | weights | source |",
    "|---|---|---|---:|---:|---|---|",
)


def weights_column(spec):
    """The `weights=` names of a registered model, e.g. "torchvision; keras (variant='keras')"."""
    parts = []
    for key, declared in spec.variants.items():
        names = [w.name for w in declared.weights]
        if names:
            other = spec.selector and key != spec.default_variant
            where = f" ({spec.selector}={key!r})" if other else ""
            parts.append(", ".join(names) + where)
    return "; ".join(parts) or "-"


def counts(spec):
    """(trainable parameters, MACs per image) of `spec.builder()`: the default variant's declared
    counts, or a profile of the built model where it declares none."""
    declared = spec.variant()
    if declared.params is not None and declared.macs is not None:
        return declared.params, declared.macs
    totals = profile(spec.builder()).totals
    return totals.trainable, totals.macs


def rows(names, *, markdown=False):
    """One line per registered model in `names`: the `kcnn list` table (Markdown with a header
    with `markdown`, else aligned columns)."""
    import kcnn.models

    header = (
        f"{'model':<20} {'family':<12} {'input':<12} {'trainable':>13} {'MACs':>10}  "
        f"{'weights':<40}  source"
    )
    lines = list(MARKDOWN_HEADER) if markdown else [header]
    for name in names:
        spec = kcnn.models.spec(name)
        trainable, macs = counts(spec)
        shape = "x".join(str(d) for d in spec.default_input)
        weights = weights_column(spec)
        if markdown:
            lines.append(
                f"| `{name}` | {spec.family} | {shape} | {trainable:,} | {human(macs)} | "
                f"{weights} | {spec.source} |"
            )
        else:
            lines.append(
                f"{name:<20} {spec.family:<12} {shape:<12} {trainable:>13,} {human(macs):>10}  "
                f"{weights:<40}  {spec.source}"
            )
    return lines


def markdown_table():
    """The README's model table: every registered model, as `kcnn list --markdown` prints it."""
    import kcnn.models

    return "\n".join(rows(kcnn.models.names(), markdown=True)) + "\n"
