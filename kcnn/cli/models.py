"""`kcnn summary NAME` (the profile of a registered model) and `kcnn list` (every registered model)."""

import sys

from kcnn.analysis import zoo
from kcnn.analysis.profile import profile
from kcnn.analysis.zoo import weights_column


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


def weights_lines(spec, declared):
    """What `kcnn summary` says about a variant's weight sets, one line each."""
    if not declared.weights:
        every = weights_column(spec)
        return [f"Pretrained weights: none published for this variant (all: {every})"]
    lines = []
    for i, w in enumerate(declared.weights):
        alias = '"imagenet" = ' if i == 0 else ""
        lines.append(
            f"Weights {alias}{w.name!r}: ImageNet top-1 {w.top1:.1f}% / top-5 {w.top5:.1f}% "
            f"({w.source}), preprocessing: {w.preprocessing.describe()}; {w.url}"
        )
    return lines


def summary(args):
    import kcnn.models

    kwargs = {}
    if args.input_shape is not None:
        kwargs["input_shape"] = _input_shape(args.input_shape)
    if args.num_classes is not None:
        kwargs["num_classes"] = args.num_classes
    if args.variant is not None:
        kwargs["variant"] = args.variant
    profile(kcnn.models.build(args.name, **kwargs)).print()
    spec = kcnn.models.spec(args.name)
    for line in weights_lines(spec, spec.resolve(**kwargs)):
        print(line)
    return 0


def list_models(args):
    import kcnn.models

    names = kcnn.models.names(family=args.family, pattern=args.pattern)
    if not names:
        raise ValueError("no registered model matches; `kcnn list` with no filter shows them all")
    for line in zoo.rows(names, markdown=args.markdown):
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
        description="Print every registered model with its default input, its declared trainable "
        "parameters and conv + dense multiply-accumulates per image (the model tests check them), "
        "and its weight sets.",
    )
    parser.add_argument("--family", help="only this family (e.g. resnet)")
    parser.add_argument("--pattern", help="only names matching this shell pattern (e.g. 'resnet*')")
    parser.add_argument(
        "--markdown", action="store_true", help="print a Markdown table (for the README)"
    )
    parser.set_defaults(func=list_models)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use the `kcnn` command")
