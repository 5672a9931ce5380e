"""`kcnn train` and `kcnn evaluate`: parse, call kcnn.training, print.

Every option defaults to None, so the command knows which ones the user gave: those override
the recipe (and, with --resume, the saved run's settings). Bad input gives one line on stderr
and exit status 2.
"""

import json
import sys

from kcnn.training.config import DISTRIBUTE, JIT_COMPILE, OPTIMIZERS, PRECISIONS, SCHEDULES


def _one_line_errors(parser):
    """argparse errors as one line (no usage block) with exit status 2."""

    def error(message):
        print(f"{parser.prog}: error: {message}", file=sys.stderr)
        sys.exit(2)

    parser.error = error
    return parser


def _model_option(text):
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"--model-option needs KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def register(subparsers):
    """Add the `train` and `evaluate` subcommands."""
    from kcnn.training.recipes import RECIPES

    p = subparsers.add_parser(
        "train",
        help="train a model (no options: LeNet-5 on the bundled digits, offline, in seconds)",
        description=(
            "Train a registered model on a data set, evaluate it on the test split and write "
            "model.keras, metrics.json, curves.png, confusion_matrix.png, log.csv and "
            "TensorBoard logs to the run directory. Options left out come from the recipe."
        ),
    )
    _one_line_errors(p)
    a = p.add_argument
    a("--model", help="registered model name (kcnn list); default lenet5")
    a("--dataset", help="data set name; default digits")
    a("--recipe", help=f"training recipe: {', '.join(RECIPES)} (default adam)")
    a("--epochs", type=int, metavar="N")
    a("--batch-size", type=int, metavar="N", help="global batch size")
    a("--optimizer", help=f"{', '.join(OPTIMIZERS)}")
    a("--lr", type=float, metavar="LR", help="base (peak) learning rate")
    a("--momentum", type=float, metavar="M")
    a("--weight-decay", type=float, metavar="WD")
    a("--weight-decay-kind", metavar="K",
      help="coupled (L2 through the momentum, as torch.optim.SGD), coupled-kernels, decoupled")
    a("--schedule", help=f"{', '.join(SCHEDULES)}")
    a("--warmup-epochs", type=float, metavar="E")
    a("--label-smoothing", type=float, metavar="S")
    a("--augment", help="training augmentation preset(s) joined with +, or none")
    a("--precision", metavar="P", help=f"{'|'.join(PRECISIONS)} (default auto)")
    a("--jit-compile", metavar="X", help=f"XLA: {'|'.join(JIT_COMPILE)} (default auto: on for GPU)")
    a("--distribute", metavar="D", help=f"{'|'.join(DISTRIBUTE)} (default auto: mirrored over >1 GPU)")
    a("--seed", type=int, metavar="N", help="random seed (default: a fresh one, recorded in config.json)")
    a("--deterministic", action="store_const", const=True, help="TensorFlow op determinism")
    a("--validation-split", type=float, metavar="F", help="fraction of train held out (default 0.1)")
    a("--image-size", type=int, metavar="PX", help="resize images to this size (default: the model's choice)")
    a("--model-option", action="append", metavar="KEY=VALUE", type=str,
      help="builder option, e.g. variant=cifar or aux_logits=true (repeatable)")
    a("--data-dir", help="tensorflow-datasets data directory")
    a("--steps-per-epoch", type=int, metavar="N", help="cap training steps per epoch")
    a("--run-dir", help="run directory (default runs/MODEL-DATASET-TIMESTAMP)")
    a("--resume", action="store_const", const=True,
      help="continue the run in --run-dir with its saved settings")
    a("--verbose", type=int, metavar="0|1|2", help="0 silent, 1 progress bar, 2 one line per epoch")
    p.set_defaults(func=run_train)

    e = subparsers.add_parser(
        "evaluate",
        help="test accuracy of saved runs and of their ensemble",
        description=(
            "Test accuracy of each run's model.keras on the run's test split, and of the "
            "ensemble that averages their softmax outputs."
        ),
    )
    _one_line_errors(e)
    e.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    e.add_argument("--batch-size", type=int, default=256)
    e.add_argument("--data-dir")
    e.add_argument("--json", action="store_true", help="print the result as JSON")
    e.set_defaults(func=run_evaluate)


def run_train(args):
    from kcnn.training import loop

    given = {
        key: value
        for key, value in vars(args).items()
        if value is not None and key not in ("command", "func", "model_option")
    }
    if args.model_option:
        given["model_options"] = dict(_model_option(t) for t in args.model_option)
    config = loop.resolve(**given)
    try:
        loop.run(config)
    except KeyboardInterrupt:
        print(
            f"\nkcnn train: interrupted; continue with: kcnn train --run-dir {config.run_dir} "
            "--resume",
            file=sys.stderr,
        )
        return 130
    return 0


def run_evaluate(args):
    from kcnn.training import loop

    if args.batch_size < 1:
        raise ValueError(f"batch size must be >= 1, got {args.batch_size}")
    result = loop.evaluate(args.run_dirs, batch_size=args.batch_size, data_dir=args.data_dir)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    width = max(len(m["run_dir"]) for m in result["members"]) + 2
    print(f"{result['dataset']} test split, {result['test_examples']} images")
    print(f"{'run':<{width}}{'model':<16}{'accuracy':>10}{'loss':>10}")
    for m in result["members"]:
        print(f"{m['run_dir']:<{width}}{m['model']:<16}{100 * m['accuracy']:>9.2f}%"
              f"{m['loss']:>10.4f}")
    ens = result["ensemble"]
    label = f"ensemble of {len(result['members'])}"
    print(f"{label:<{width}}{'':<16}{100 * ens['accuracy']:>9.2f}%{ens['loss']:>10.4f}")
    return 0
