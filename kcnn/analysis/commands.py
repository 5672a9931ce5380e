"""`kcnn summary NAME` (the profile of a registered model) and `kcnn list` (every registered model)."""

import sys

from kcnn.analysis.profile import human, profile


def _input_shape(text):
    try:
        shape = tuple(int(part) for part in text.split(","))
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(
            f"--input-shape must be three positive integers H,W,C (e.g. 32,32,3); received {text!r}"
        )
    return shape


def _build(name, **kwargs):
    from kcnn._building import build

    return build(name, **kwargs)


def summary(args):
    kwargs = {}
    if args.input_shape is not None:
        kwargs["input_shape"] = _input_shape(args.input_shape)
    if args.num_classes is not None:
        kwargs["num_classes"] = args.num_classes
    if args.variant is not None:
        kwargs["variant"] = args.variant
    profile(_build(args.name, **kwargs)).print()
    return 0


def list_models(args):
    import kcnn.models

    names = kcnn.models.names(family=args.family, pattern=args.pattern)
    if not names:
        raise ValueError("no registered model matches; `kcnn list` with no filter shows them all")
    if args.markdown:
        print("| model | family | input | trainable params | MACs (conv + dense) | source |")
        print("|---|---|---|---:|---:|---|")
    else:
        print(f"{'model':<20} {'family':<12} {'input':<12} {'trainable':>13} {'MACs':>10}  source")
    for name in names:
        spec = kcnn.models.spec(name)
        totals = profile(spec.builder()).totals
        shape = "x".join(str(d) for d in spec.default_input)
        if args.markdown:
            line = f"| `{name}` | {spec.family} | {shape} | {totals.trainable:,} | {human(totals.macs)} | {spec.source} |"
        else:
            line = f"{name:<20} {spec.family:<12} {shape:<12} {totals.trainable:>13,} {human(totals.macs):>10}  {spec.source}"
        print(line, flush=True)
    return 0


def register(subparsers):
    """Add the `summary` and `list` subcommands."""
    parser = subparsers.add_parser(
        "summary",
        help="parameters, MACs and receptive field per layer of a registered model",
        description="Print kcnn.analysis.profile of a registered model: output shape, trainable and "
        "non-trainable parameters, multiply-accumulates per image, receptive field and jump per layer.",
    )
    parser.add_argument("name", help="a registered model name (see `kcnn list`)")
    parser.add_argument(
        "--input-shape", metavar="H,W,C", help="input shape (default: the model's own)"
    )
    parser.add_argument("--num-classes", type=int, metavar="N", help="number of classes")
    parser.add_argument("--variant", help="the builder's variant (for the models that have them)")
    parser.set_defaults(func=summary)

    parser = subparsers.add_parser(
        "list",
        help="every registered model with its parameters and MACs",
        description="Build every registered model at its default input and print its trainable "
        "parameters and conv + dense multiply-accumulates per image.",
    )
    parser.add_argument("--family", help="only this family (e.g. resnet)")
    parser.add_argument("--pattern", help="only names matching this shell pattern (e.g. 'resnet*')")
    parser.add_argument(
        "--markdown", action="store_true", help="print a Markdown table (for the README)"
    )
    parser.set_defaults(func=list_models)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use the `kcnn` command")
