"""`kcnn train`, `kcnn evaluate`, `kcnn predict` and `kcnn export`: parse, call kcnn.training,
print.

Every option defaults to None, so the command knows which ones the user gave: those override
the recipe (and, with --resume, the saved run's settings). Bad input gives one line on stderr
and exit status 2.
"""

import json
import sys

from kcnn.training.config import DISTRIBUTE, JIT_COMPILE, OPTIMIZERS, PRECISIONS, SCHEDULES


def _yes_no(text):
    if text.lower() in ("yes", "true", "1", "on"):
        return True
    if text.lower() in ("no", "false", "0", "off"):
        return False
    raise ValueError(f"expected yes or no, got {text!r}")


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
    a = p.add_argument
    a("--model", help="registered model name (kcnn list); default lenet5")
    a("--dataset", help="data set name, or a folder of class folders of images; default digits")
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
    a("--interpolation", help="resize method: bilinear (default), nearest, bicubic, area")
    a("--crop-to-aspect-ratio", type=_yes_no, metavar="yes|no",
      help="crop the centre to keep the aspect ratio when resizing (default: yes with --weights)")
    a("--test-split", type=float, metavar="F",
      help="image folders without test/: fraction of each class kept for testing (default 0.2)")
    a("--weights", metavar="NAME|PATH",
      help="start from pretrained weights (imagenet, ...) or a .weights.h5 file")
    a("--init", metavar="RUN_DIR", help="start from a finished run's model (new head if the classes differ)")
    a("--freeze", metavar="backbone", help="backbone: train the classifier only (BatchNorm in inference mode)")
    a("--head-epochs", type=int, metavar="N", help="--recipe finetune: epochs of the classifier-only stage")
    a("--model-option", action="append", metavar="KEY=VALUE", type=str,
      help="builder option, e.g. variant=cifar or aux_logits=true (repeatable)")
    a("--data-dir", help="folder of the data set's original files (MNIST IDX, CIFAR python "
      "version) or a tensorflow-datasets data directory")
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
    e.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    e.add_argument("--batch-size", type=int, default=256)
    e.add_argument("--data-dir", help="as for kcnn train (default: the run's own)")
    e.add_argument("--tta", choices=("flip", "ten-crop"),
                   help="test-time augmentation: mean over the mirror image, or over ten crops")
    e.add_argument("--json", action="store_true", help="print the result as JSON")
    e.set_defaults(func=run_evaluate)

    p = subparsers.add_parser(
        "predict",
        help="the top classes of image files (or folders of them)",
        description=(
            "Classify image files (JPEG, PNG, BMP, GIF; folders are expanded) with a run's "
            "model (RUN_DIR or a .keras file) or a pretrained model by name (resnet50:imagenet)."
        ),
    )
    p.add_argument("model", metavar="RUN_DIR_OR_MODEL")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--top", type=int, default=5, metavar="K", help="classes per image (default 5)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=run_predict)

    x = subparsers.add_parser(
        "export",
        help="export a run's model to SavedModel, ONNX or LiteRT, checked against Keras",
        description=(
            "Export a run's model with its preprocessing (Keras' model.export), load the "
            "artifact back with its own runtime and compare its predictions with Keras'."
        ),
    )
    x.add_argument("run_dir", metavar="RUN_DIR")
    x.add_argument("--format", required=True, choices=("savedmodel", "onnx", "litert"))
    x.add_argument("--output", metavar="PATH", help="default RUN_DIR/export/model[.onnx|.tflite]")
    x.set_defaults(func=run_export)


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
    from kcnn.training import evaluation

    if args.batch_size < 1:
        raise ValueError(f"batch size must be >= 1, got {args.batch_size}")
    result = evaluation.evaluate(args.run_dirs, batch_size=args.batch_size,
                                 data_dir=args.data_dir, tta=args.tta)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    width = max(len(m["run_dir"]) for m in result["members"]) + 2
    tta = f", test-time augmentation {result['tta']}" if result["tta"] else ""
    print(f"{result['dataset']} test split, {result['test_examples']} images{tta}")
    print(f"{'run':<{width}}{'model':<16}{'accuracy':>10}{'top-5':>10}{'loss':>10}")
    rows = [(m["run_dir"], m["model"], m) for m in result["members"]]
    if len(rows) > 1:
        rows.append((f"ensemble of {len(rows)}", "", result["ensemble"]))
    for name, model, m in rows:
        print(f"{name:<{width}}{model:<16}{100 * m['accuracy']:>9.2f}%"
              f"{100 * m['top5_accuracy']:>9.2f}%{m['loss']:>10.4f}")
    per_class = result["ensemble"]["per_class"]
    print(f"\n{'class':<20}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>9}")
    for name, row in per_class.items():
        if name != "accuracy":
            print(f"{name:<20}{row['precision']:>10.3f}{row['recall']:>10.3f}"
                  f"{row['f1-score']:>10.3f}{row['support']:>9.0f}")
    return 0


def run_predict(args):
    from kcnn.training.predict import classify

    for result in classify(args.model, args.images, top=args.top):
        if args.json:
            print(json.dumps(result))
        else:
            best = ", ".join(f"{p['class']} {100 * p['probability']:.1f}%"
                             for p in result["predictions"])
            print(f"{result['path']}: {best}")
    return 0


def run_export(args):
    from kcnn.training.export import export

    result = export(args.run_dir, args.format, path=args.output)
    print(f"kcnn export: {result['format']} written to {result['path']}; loaded back, its "
          f"predictions differ from Keras' by at most {result['max_abs_difference']:.2g}")
    return 0
