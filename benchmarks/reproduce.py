"""Published accuracies reproduced on real data: each reproduction is `kcnn train` over seeds.

    python benchmarks/reproduce.py --list
    python benchmarks/reproduce.py lenet5-mnist --data-dir ~/data/mnist --seeds 1 2 3
    python benchmarks/reproduce.py lenet5-fashion-mnist --data-dir ~/data/fashion-mnist
    python benchmarks/reproduce.py throughput-mnist-digits --data-dir ~/data/mnist
    python benchmarks/reproduce.py --table      # the README table from benchmarks/results/

`--data-dir` is the folder of the original files (train-images-idx3-ubyte.gz and so on) and is
passed to `kcnn train --data-dir` unchanged; without it, $KCNN_DATA_DIR is used. Each seed runs
in a fresh process, exactly as the recorded command says (plus `--run-dir` and `--verbose 2`), and
its metrics.json is read back. The result goes to benchmarks/results/reproduce-NAME-DATE.json:
the reproduction (published figure, its source, what differs), one row per seed (command, test
accuracy, the model it belongs to, epochs, times, images/s, the resolved recipe), the median and
range of the test accuracy, the machine (CPU model and flags, load average) and the versions.

`throughput-mnist-digits` is not an accuracy: it trains LeNet-5 for a fixed number of steps on
MNIST read from its files and on the in-memory scikit-learn digits, at the same batch size and
input size, and records both images/s figures and their ratio.

`--epochs N` and `--steps-per-epoch N` shorten every run (smoke tests); they are added to the
recorded commands, and such a file is marked `"shortened": true`: it reproduces nothing.
"""

import argparse
import dataclasses
import json
import os
import shlex
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import machine  # benchmarks/machine.py: the CPU and versions every result records

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Reproduction:
    """One named reproduction: the `kcnn train` arguments and the figure it is compared with.

    Attributes:
        name: what to ask for on the command line.
        dataset: the `--dataset` name.
        arguments: every other `kcnn train` argument (none: kcnn's defaults).
        published: the published test accuracy in percent, or None (no accuracy: throughput).
        source: where `published` comes from (paper and table, or benchmark page and row).
        target: the median test accuracy in percent the reproduction must reach, or None.
        differs: what differs from the source's procedure, as far as known.
    """

    name: str
    dataset: str
    arguments: tuple = ()
    published: float | None = None
    source: str = ""
    target: float | None = None
    differs: str = ""


REPRODUCTIONS = {
    r.name: r
    for r in (
        Reproduction(
            name="lenet5-mnist",
            dataset="mnist",
            published=99.05,
            source="LeCun et al. 1998, Proc. IEEE 86(11), section III-C: LeNet-5, 0.95% test "
                   "error without distortions",
            target=99.0,
            differs="kcnn's default LeNet-5 (ReLU, max-pooling, softmax; the 'modern' variant) "
                    "and default recipe (Adam, cosine-annealed learning rate), trained on 54,000 "
                    "images (6,000 held out for validation); 28x28 images resized to 32x32 "
                    "(the paper padded them)",
        ),
        Reproduction(
            name="lenet5-original-mnist",
            dataset="mnist",
            arguments=("--model-option", "variant=original", "--recipe", "lecun1998",
                       "--validation-split", "0"),
            published=99.05,
            source="LeCun et al. 1998, Proc. IEEE 86(11), section III-C: LeNet-5, 0.95% test "
                   "error without distortions, 20 passes",
            target=98.8,
            differs="the paper's network (scaled tanh, trainable subsampling, C3's connection "
                    "table, fixed RBF output) and learning-rate schedule over 20 passes on all "
                    "60,000 images, but Adam (a diagonal per-parameter step size, like the "
                    "paper's stochastic diagonal Levenberg-Marquardt, but from gradient second "
                    "moments, not a Hessian estimate), mini-batches of 32 instead of "
                    "single-example updates, cross-entropy over the negated RBF distances instead of the paper's MAP "
                    "criterion, and 28x28 images resized to 32x32 instead of padded",
        ),
        Reproduction(
            name="lenet5-fashion-mnist",
            dataset="fashion_mnist",
            published=92.5,
            source="Fashion-MNIST benchmark table (github.com/zalandoresearch/fashion-mnist, "
                   "README, Benchmark): '2 Conv Layers net <100K parameters', no preprocessing, "
                   "0.925; the closest listed network (LeNet-5 has 61,706 parameters)",
            differs="kcnn's default LeNet-5 and recipe, as lenet5-mnist; the anchor is a "
                    "different two-convolution network with its own training",
        ),
        Reproduction(
            name="resnet20-fashion-mnist",
            dataset="fashion_mnist",
            arguments=("--model", "resnet20", "--image-size", "28", "--recipe", "cosine",
                       "--warmup-epochs", "1", "--epochs", "15", "--augment", "cifar"),
            published=95.61,
            source="Zhong et al. 2017, 'Random Erasing Data Augmentation' (arXiv 1708.04896), "
                   "Fashion-MNIST table: ResNet-20 baseline, 4.39% test error",
            target=95.11,
            differs="a schedule 20 times shorter: 15 epochs instead of the source's 300, so a "
                    "cosine from 0.1 (one warm-up epoch) instead of steps at epochs 150 and "
                    "225; SGD 0.9, weight decay 5e-4 and batch 128 as the source; 28x28 "
                    "images, 4-pixel padding, crop and horizontal flip as the source's "
                    "baseline; 54,000 training images (6,000 held out) where the source "
                    "trained on 60,000 and reported its best test accuracy over the epochs",
        ),
        Reproduction(
            name="alexnet-fashion-mnist",
            dataset="fashion_mnist",
            arguments=("--model", "alexnet", "--model-option", "variant=cifar", "--recipe",
                       "alexnet", "--schedule", "cosine", "--epochs", "15"),
            published=89.9,
            source="Fashion-MNIST benchmark table (github.com/zalandoresearch/fashion-mnist, "
                   "README, Benchmark): 'AlexNet with Triplet loss', no preprocessing, 0.899",
            differs="kcnn's CIFAR AlexNet (torchvision's widths, 2x2 pools, one linear "
                    "classifier; 28x28 images resized to 32x32) with Krizhevsky et al. 2012's "
                    "SGD (0.9, lr 0.01, weight decay 5e-4 on the weights, batch 128), a cosine "
                    "over 15 epochs in place of dividing by 10 on plateaus (a 15-epoch run "
                    "never plateaus for 5 epochs) and cross-entropy; the anchor trained an "
                    "ImageNet-shaped AlexNet with a triplet loss",
        ),
        Reproduction(
            name="vgg11-bn-fashion-mnist",
            dataset="fashion_mnist",
            arguments=("--model", "vgg11", "--model-option", "batch_norm=true", "--image-size",
                       "32", "--recipe", "cosine", "--lr", "0.01", "--warmup-epochs", "0",
                       "--epochs", "2", "--precision", "mixed_bfloat16"),
            published=93.5,
            source="Fashion-MNIST benchmark table (github.com/zalandoresearch/fashion-mnist, "
                   "README, Benchmark): 'VGG16 26M parameters', no preprocessing, 0.935; the "
                   "closest listed VGG",
            differs="VGG-11 with batch normalisation (torchvision's vgg11_bn layers, 28x28 "
                    "images resized to 32x32, so the classifier sees 512 features) instead of "
                    "VGG-16, and 2 epochs: Simonyan & Zisserman 2014's SGD (momentum 0.9, lr "
                    "0.01, weight decay 5e-4) annealed along a cosine, batch 128, no "
                    "augmentation, in bfloat16 (about 290 images/s at 32x32 on two AMX-BF16 "
                    "cores); at lr 0.1 bfloat16 training diverged in the first epoch",
        ),
        Reproduction(
            name="lenet5-digits",
            dataset="digits",
            differs="not a published figure: kcnn's own default run (`kcnn train`, no options) "
                    "on scikit-learn's 1,797 8x8 digits (1,437 train, 360 test), which the "
                    "default recipe must keep at its accuracy and speed",
        ),
        Reproduction(
            name="lenet5-digits-constant",
            dataset="digits",
            arguments=("--schedule", "constant", "--batch-size", "64"),
            differs="not a published figure: lenet5-digits with kcnn's earlier default recipe "
                    "(Adam at a constant 1e-3, batch 64), for comparison seed by seed",
        ),
        Reproduction(
            name="throughput-mnist-digits",
            dataset="mnist",
            arguments=("--epochs", "3", "--steps-per-epoch", "300", "--batch-size", "64",
                       "--image-size", "32", "--validation-split", "0"),
            differs="not an accuracy: LeNet-5's training images/s on MNIST read from its "
                    "original files and on scikit-learn's digits held in memory, same batch "
                    "size, input size and steps (median over the epochs after the first)",
        ),
    )
}
THROUGHPUT = "throughput-mnist-digits"


def train_arguments(reproduction, *, dataset, data_dir, seed, epochs=None, steps_per_epoch=None):
    """The `kcnn train` arguments of one run (without --run-dir and --verbose)."""
    arguments = ["--dataset", dataset]
    if data_dir and dataset != "digits":
        arguments += ["--data-dir", data_dir]
    arguments += list(reproduction.arguments)
    for flag, value in (("--epochs", epochs), ("--steps-per-epoch", steps_per_epoch)):
        if value is not None:
            if flag in arguments:  # the shortening replaces the reproduction's own value
                at = arguments.index(flag)
                del arguments[at:at + 2]
            arguments += [flag, str(value)]
    return [*arguments, "--seed", str(seed)]


def read_json(path):
    with open(path) as f:
        return json.load(f)


def run_once(arguments, run_dir, log_path):
    """Run `kcnn train` with `arguments` into `run_dir` in a fresh process; its output goes to
    `log_path`. Returns the row of the run (raises RuntimeError when it fails)."""
    command = [sys.executable, "-m", "kcnn", "train", *arguments, "--run-dir", run_dir,
               "--verbose", "2"]
    started = time.perf_counter()
    with open(log_path, "w") as log:
        done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        with open(log_path) as f:
            tail = f.read()[-2000:]
        raise RuntimeError(f"kcnn train {shlex.join(arguments)} failed (exit "
                           f"{done.returncode}); the end of {log_path}:\n{tail}")
    metrics = read_json(os.path.join(run_dir, "metrics.json"))
    config = read_json(os.path.join(run_dir, "config.json"))
    return {
        "command": "kcnn train " + shlex.join(arguments),
        "seed": metrics["seed"],
        "test_accuracy": metrics["test_accuracy"],
        "test_model": metrics.get("test_model"),
        "best_val_accuracy": metrics.get("best_val_accuracy"),
        "test_examples": metrics["test_examples"],
        "epochs": metrics["epochs"],
        "wall_time_s": metrics["wall_time_s"],
        "train_time_s": metrics["train_time_s"],
        "process_time_s": round(seconds, 1),
        "images_per_second": metrics["images_per_second"],
        "precision": metrics["precision"],
        "input_shape": metrics["input_shape"],
        "parameters": metrics["parameters"],
        "recipe": {k: config[k] for k in ("recipe", "optimizer", "lr", "momentum",
                                          "weight_decay", "weight_decay_kind", "schedule",
                                          "warmup_epochs", "batch_size", "epochs", "augment",
                                          "label_smoothing", "validation_split", "model_options")},
        "run_dir": run_dir,
    }


def summarise(accuracies):
    """{"median", "mean", "min", "max"} of test accuracies (fractions), in percent, 2 decimals."""
    percent = [100 * a for a in accuracies]
    return {"median": round(statistics.median(percent), 2),
            "mean": round(statistics.mean(percent), 2), "min": round(min(percent), 2),
            "max": round(max(percent), 2)}


def reproduce(reproduction, *, data_dir, seeds, runs_dir, epochs=None, steps_per_epoch=None,
              say=print):
    """Run one reproduction over `seeds`; returns its result (the JSON file's contents)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    datasets = ([reproduction.dataset, "digits"] if reproduction.name == THROUGHPUT
                else [reproduction.dataset])
    rows = []
    for dataset in datasets:
        for seed in seeds:
            arguments = train_arguments(reproduction, dataset=dataset, data_dir=data_dir,
                                        seed=seed, epochs=epochs, steps_per_epoch=steps_per_epoch)
            run_dir = os.path.join(runs_dir, f"{reproduction.name}-{dataset}-seed{seed}-{stamp}")
            os.makedirs(runs_dir, exist_ok=True)
            say(f"reproduce: {reproduction.name}: kcnn train {shlex.join(arguments)}")
            row = run_once(arguments, run_dir, f"{run_dir}.log")
            row["dataset"] = dataset
            rows.append(row)
            say(f"reproduce: {reproduction.name}: seed {seed} on {dataset}: test accuracy "
                f"{100 * row['test_accuracy']:.2f}% ({row['test_model']} model), "
                f"{row['epochs']} epochs, {row['wall_time_s']:.0f} s, "
                f"{row['images_per_second']} images/s")
    result = {
        "reproduction": dataclasses.asdict(reproduction),
        "seeds": list(seeds),
        "shortened": epochs is not None or steps_per_epoch is not None,
        "runs": rows,
        "machine": machine.describe(),
    }
    if reproduction.name == THROUGHPUT:
        rates = {d: statistics.median(r["images_per_second"] for r in rows if r["dataset"] == d)
                 for d in datasets}
        result["images_per_second"] = {d: round(v, 1) for d, v in rates.items()}
        result["ratio"] = round(rates[reproduction.dataset] / rates["digits"], 3)
        say(f"reproduce: {reproduction.name}: {rates[reproduction.dataset]:.0f} images/s on "
            f"{reproduction.dataset}, {rates['digits']:.0f} on digits (ratio {result['ratio']})")
        return result
    summary = summarise([r["test_accuracy"] for r in rows])
    result["test_accuracy_percent"] = summary
    result["epochs"] = sorted({r["epochs"] for r in rows})
    result["wall_time_s_median"] = round(statistics.median(r["wall_time_s"] for r in rows), 1)
    if reproduction.target is not None:
        result["meets_target"] = summary["median"] >= reproduction.target
    say(f"reproduce: {reproduction.name}: median {summary['median']:.2f}% "
        f"(range {summary['min']:.2f}-{summary['max']:.2f}) over seeds {list(seeds)}"
        + (f"; published {reproduction.published}%" if reproduction.published else "")
        + (f"; target {reproduction.target}%: "
           f"{'met' if result['meets_target'] else 'NOT met'}" if reproduction.target else ""))
    return result


def result_path(results_dir, name, date):
    """benchmarks/results/reproduce-NAME-DATE.json, or -2, -3, ... when it exists already."""
    base = os.path.join(results_dir, f"reproduce-{name}-{date}")
    path, n = f"{base}.json", 1
    while os.path.exists(path):
        n += 1
        path = f"{base}-{n}.json"
    return path


def newest_results(results_dir):
    """{reproduction name: (file name, result)}: the newest full (not shortened) result file of
    each reproduction in `results_dir`, in the order of REPRODUCTIONS (others after them)."""
    found = []
    for name in os.listdir(results_dir):
        if name.startswith("reproduce-") and name.endswith(".json"):
            result = read_json(os.path.join(results_dir, name))
            if not result["shortened"]:  # newest last: by date, then -2 after none, -3, ...
                found.append(((result["machine"]["date"], len(name), name), name, result))
    newest = {}
    for _, name, result in sorted(found, key=lambda item: item[0]):
        newest[result["reproduction"]["name"]] = (name, result)
    order = list(REPRODUCTIONS)
    return dict(sorted(newest.items(),
                       key=lambda item: (order.index(item[0]) if item[0] in order
                                         else len(order), item[0])))


def short_cpu(machine_record):
    """The CPU in a few words: model, family/model numbers, cores and its bfloat16 hardware."""
    cpu = machine_record.get("cpu")
    if cpu is None:
        return machine_record["label"]
    flags = cpu.get("flags", {})
    kind = next((name for name in ("AMX-BF16", "AVX512_BF16") if flags.get(name)), "no bfloat16")
    return (f"{cpu['model_name']}, family {cpu['family']} model {cpu['model']}, "
            f"{cpu['cores']} cores, {kind}")


def shown_command(command):
    """A recorded command as the table shows it: the data folder as DIR, the seed as S."""
    words = shlex.split(command.rsplit(" --seed ", 1)[0])
    if "--data-dir" in words:
        words[words.index("--data-dir") + 1] = "DIR"
    return shlex.join(words) + " --seed S"


def table(results_dir):
    """The README's "Results on real data" table (markdown) from the newest full (not
    shortened) result file of each reproduction in `results_dir`."""
    lines = ["| Reproduction | Published | kcnn: median (range), seeds | Precision | Epochs | "
             "Wall time per run | CPU | Command | Result file |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for key, (name, result) in newest_results(results_dir).items():
        r, runs = result["reproduction"], result["runs"]
        if key == THROUGHPUT:
            rates = result["images_per_second"]
            measured = ", ".join(f"{d}: {v:,.0f} images/s" for d, v in rates.items()) + \
                f" (ratio {result['ratio']})"
            published = "-"
        else:
            acc = result["test_accuracy_percent"]
            measured = (f"{acc['median']:.2f}% ({acc['min']:.2f}-{acc['max']:.2f}), seeds "
                        f"{', '.join(str(s) for s in result['seeds'])}")
            if len(result["seeds"]) > 3:
                measured += f", mean {acc['mean']:.2f}%"
            published = f"{r['published']}% ({r['source']})" if r["published"] else "-"
            if r["target"] is not None:
                measured += (f"; target {r['target']}%: "
                             f"{'met' if result['meets_target'] else 'not met'}")
        epochs = ", ".join(str(e) for e in sorted({run["epochs"] for run in runs}))
        wall = statistics.median(run["wall_time_s"] for run in runs)
        precision = ", ".join(sorted({run.get("precision", "?") for run in runs}))
        lines.append(f"| {key} | {published} | {measured} | {precision} | {epochs} | "
                     f"{wall:.0f} s | {short_cpu(result['machine'])} | "
                     f"`{shown_command(runs[0]['command'])}` | {name} |")
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="reproductions (see --list)")
    parser.add_argument("--list", action="store_true", help="list the reproductions and exit")
    parser.add_argument("--table", action="store_true",
                        help="print the markdown table of the results in --results-dir and exit")
    parser.add_argument("--data-dir", default=os.environ.get("KCNN_DATA_DIR"),
                        help="the original files' folder (default: $KCNN_DATA_DIR)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--runs-dir", default=os.path.join("runs", "reproduce"),
                        help="where the run directories and their logs go")
    parser.add_argument("--results-dir", default=RESULTS, help="where the JSON goes")
    parser.add_argument("--epochs", type=int, help="shorten every run (marks the result)")
    parser.add_argument("--steps-per-epoch", type=int, help="shorten every run (marks it)")
    return parser.parse_args(argv)


def main(argv=None):
    """Run the named reproductions; returns 0, or 2 for bad arguments."""
    args = parse_args(argv)
    if args.table:
        print(table(args.results_dir))
        return 0
    if args.list or not args.names:
        for r in REPRODUCTIONS.values():
            print(f"{r.name:26s} {r.dataset:14s} "
                  f"{'kcnn train ' + shlex.join(r.arguments) if r.arguments else 'defaults'}")
        return 0
    unknown = [n for n in args.names if n not in REPRODUCTIONS]
    if unknown:
        print(f"reproduce: unknown reproduction(s) {', '.join(unknown)}; choose from: "
              f"{', '.join(REPRODUCTIONS)}", file=sys.stderr)
        return 2
    if not args.data_dir and any(REPRODUCTIONS[n].dataset != "digits" for n in args.names):
        print("reproduce: give --data-dir (the folder of the original files) or set "
              "KCNN_DATA_DIR", file=sys.stderr)
        return 2
    os.makedirs(args.results_dir, exist_ok=True)
    for name in args.names:
        result = reproduce(REPRODUCTIONS[name], data_dir=args.data_dir, seeds=args.seeds,
                           runs_dir=args.runs_dir, epochs=args.epochs,
                           steps_per_epoch=args.steps_per_epoch)
        path = result_path(args.results_dir, name, time.strftime("%Y-%m-%d"))
        with open(path, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")
        print(f"reproduce: wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
