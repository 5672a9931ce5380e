"""Images per second of kcnn's tf.data pipeline alone (no model), for each augmentation preset.

Data: the "synthetic" data set at CIFAR shape (32x32x3 uint8, 10 classes), so it runs offline.
Each row builds `kcnn.data.load(...)` with mean/std normalisation, runs one full pass to fill
the cache (not timed), then times `--passes` further passes and reports the median pass.

    python benchmarks/pipeline.py                      # markdown table
    python benchmarks/pipeline.py --json out.json      # and the figures with the environment
"""

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import machine  # benchmarks/machine.py: the CPU and versions every result records

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def measure(preset, *, examples, batch_size, passes, deterministic=False):
    import kcnn.data

    ds, _ = kcnn.data.load(
        "synthetic",
        "train",
        batch_size,
        augment=preset,
        seed=0,
        num_examples=examples,
        deterministic=deterministic,
    )
    count = 0
    for x, _ in ds:  # fill the cache; tracing and thread-pool start-up happen here too
        count += int(x.shape[0])
    rates = []
    for _ in range(passes):
        start = time.perf_counter()
        for x, _ in ds:
            pass
        _ = x.numpy()  # make sure the last batch is really computed
        rates.append(count / (time.perf_counter() - start))
    return statistics.median(rates)


def main(argv=None):
    import kcnn.data

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--presets",
        nargs="*",
        default=None,
        help="presets to time (default: none, every preset, cifar deterministic)",
    )
    parser.add_argument("--examples", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON here")
    args = parser.parse_args(argv)

    rows = [(p, False) for p in (args.presets or ["none", *kcnn.data.augment.names()])]
    if args.presets is None:
        rows.append(("cifar", True))
    print("| preset | mode | images/s |\n|---|---|---:|", flush=True)
    results = []
    for preset, det in rows:  # each row is printed as soon as it is measured
        rate = measure(
            None if preset == "none" else preset,
            examples=args.examples,
            batch_size=args.batch_size,
            passes=args.passes,
            deterministic=det,
        )
        results.append({"preset": preset, "deterministic": det, "images_per_s": round(rate)})
        mode = "deterministic (serial map)" if det else "AUTOTUNE"
        print(f"| {preset} | {mode} | {round(rate):,} |", flush=True)

    if args.json:
        import tensorflow as tf

        env = {**machine.describe(), "tensorflow": tf.__version__,
               "command": " ".join(sys.argv)}
        with open(args.json, "w") as f:
            json.dump(
                {
                    "benchmark": "pipeline",
                    "examples": args.examples,
                    "batch_size": args.batch_size,
                    "environment": env,
                    "results": results,
                },
                f,
                indent=2,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
