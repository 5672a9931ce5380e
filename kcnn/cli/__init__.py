"""The `kcnn` command line: `kcnn --version` and every subcommand.

Each module of this package parses and prints for a group of subcommands and has
`register(subparsers)`, which adds its parsers and sets `func(args) -> exit status`: `train`
(train, evaluate, predict, export), `models` (summary, list) and `viz` (show). A ValueError or an
OSError from the library becomes a one-line message and exit status 2, never a traceback. The
library never imports this package; TensorFlow's start-up noise is filtered here (`_quiet`), not on
`import kcnn`.
"""

import argparse
import importlib
import sys

from kcnn import __version__
from kcnn.cli import _quiet

COMMAND_MODULES = ("kcnn.cli.train", "kcnn.cli.models", "kcnn.cli.viz")


def one_line_errors(parser):
    """Make `parser` (a subcommand's) report usage errors as one line, with exit status 2."""

    def error(message):
        print(f"{parser.prog}: error: {message}", file=sys.stderr)
        sys.exit(2)

    parser.error = error
    return parser


def build_parser():
    """The argparse parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="kcnn", description="The classic CNNs in Keras 3: train, evaluate and inspect them."
    )
    parser.add_argument("--version", action="version", version=f"kcnn {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(subparsers)
    for subparser in (parser, *subparsers.choices.values()):
        one_line_errors(subparser)
    return parser


def main(argv=None):
    """Entry point of the `kcnn` console script; returns the exit status."""
    _quiet.import_keras_quietly()  # before the subcommands import Keras
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return args.func(args) or 0
    except (ValueError, OSError) as error:
        # OSError: a file-system fault the command did not foresee (a full disk, a file that
        # vanished); its message names the path, which is what the user needs to act on.
        print(f"kcnn {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
