"""Does bfloat16 training reach float32's accuracy? `kcnn train` runs, several seeds, alternating.

Each task is trained once per seed and precision with `kcnn train` in its own process (the
precisions alternate within every seed, so the machine's load falls on both alike); the report
gives every run's test accuracy and loss, and per precision the mean, standard deviation and range
over the seeds. `--precision auto` may pick bfloat16 for a kind of network only where this shows
the same accuracy within the seed-to-seed spread.

    python benchmarks/precision_accuracy.py --seeds 1 2 3 4 --json benchmarks/results/p.json
    python benchmarks/precision_accuracy.py --tasks digits-lenet5 --seeds 1 2 --epochs 2

Tasks: LeNet-5 and CIFAR ResNet-20 on scikit-learn's digits (real data, 1,437 training images),
and ResNet-20 on the learnable synthetic set (a smooth pattern per class under heavy noise).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import machine  # benchmarks/machine.py, next to this script

# name: kcnn train arguments (the recipe's own epochs unless --epochs is given).
TASKS = {
    "digits-lenet5": ["--model", "lenet5", "--dataset", "digits"],
    "digits-resnet20": ["--model", "resnet20", "--dataset", "digits", "--epochs", "10"],
    "synthetic-resnet20": ["--model", "resnet20", "--dataset", "synthetic", "--epochs", "3"],
}
PRECISIONS = ("float32", "mixed_bfloat16")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3, 4])
    parser.add_argument("--precisions", nargs="+", choices=PRECISIONS, default=list(PRECISIONS))
    parser.add_argument("--epochs", type=int, help="override every task's epochs")
    parser.add_argument("--json", help="write the results to this file")
    return parser.parse_args(argv)


def train(task, precision, seed, epochs, run_dir):
    """One `kcnn train` run in its own process; returns its metrics.json."""
    command = [sys.executable, "-m", "kcnn", "train", *TASKS[task], "--precision", precision,
               "--seed", str(seed), "--run-dir", run_dir, "--verbose", "0"]
    if epochs:
        command += ["--epochs", str(epochs)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run(command, check=False, capture_output=True, text=True, env=env,
                            timeout=1800)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
    with open(os.path.join(run_dir, "metrics.json")) as f:
        return json.load(f)


def summarize(runs):
    """Per (task, precision): mean, standard deviation, min and max of the test accuracy."""
    rows = []
    for task in dict.fromkeys(r["task"] for r in runs):
        for precision in dict.fromkeys(r["precision"] for r in runs):
            accuracies = [r["test_accuracy"] for r in runs
                          if r["task"] == task and r["precision"] == precision]
            losses = [r["test_loss"] for r in runs
                      if r["task"] == task and r["precision"] == precision]
            if not accuracies:
                continue
            rows.append({
                "task": task,
                "precision": precision,
                "seeds": len(accuracies),
                "accuracy_mean": statistics.fmean(accuracies),
                "accuracy_std": statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0,
                "accuracy_min": min(accuracies),
                "accuracy_max": max(accuracies),
                "loss_mean": statistics.fmean(losses),
            })
    return rows


def markdown_table(rows):
    lines = ["| task | precision | seeds | test accuracy mean ± std | min - max | test loss |",
             "|---|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(
            f"| {r['task']} | {r['precision']} | {r['seeds']} | "
            f"{100 * r['accuracy_mean']:.2f} ± {100 * r['accuracy_std']:.2f}% | "
            f"{100 * r['accuracy_min']:.2f} - {100 * r['accuracy_max']:.2f}% | "
            f"{r['loss_mean']:.4f} |"
        )
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    runs = []
    with tempfile.TemporaryDirectory(prefix="kcnn-precision-") as scratch:
        for seed in args.seeds:
            for task in args.tasks:
                # Alternate which precision goes first, so neither always meets the same load.
                order = args.precisions if seed % 2 else list(reversed(args.precisions))
                for precision in order:
                    run_dir = os.path.join(scratch, f"{task}-{precision}-{seed}")
                    m = train(task, precision, seed, args.epochs, run_dir)
                    run = {"task": task, "precision": m["precision"], "seed": seed,
                           "test_accuracy": m["test_accuracy"], "test_loss": m["test_loss"],
                           "epochs": m["epochs"], "images_per_second": m["images_per_second"],
                           "load_average": machine.load_average()}
                    runs.append(run)
                    print(json.dumps(run), file=sys.stderr, flush=True)
    rows = summarize(runs)
    print(markdown_table(rows))
    if args.json:
        report = {"environment": {**machine.describe(), "command": " ".join(sys.argv)},
                  "runs": runs, "summary": rows}
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
