"""mixed_bfloat16 against float32 training speed, both models in one process, alternating.

On a shared machine the load changes between processes (cpu_study.py's per-process figures for
the same setting varied by a factor of four here); timing a float32 and a mixed_bfloat16 copy of
the same network in one process, in an order that rotates every repeat, puts the same load on
both. Reports each precision's median images/s and the ratio bfloat16 / float32.

    python benchmarks/precision_speed.py --models resnet20 resnet50 --repeats 8
    python benchmarks/precision_speed.py --models resnet20 --json benchmarks/results/p.json
"""

import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import machine  # benchmarks/machine.py: the CPU and versions every result records

WORKLOADS = {"resnet20": (32, 3, 128), "resnet50": (64, 3, 32), "lenet5": (32, 1, 64)}
PRECISIONS = ("float32", "mixed_bfloat16")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", nargs="+", choices=list(WORKLOADS), default=["resnet20"])
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per repeat")
    parser.add_argument("--repeats", type=int, default=6)
    parser.add_argument("--json", help="write the results to this file")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import numpy as np
    import throughput

    import kcnn

    print(f"{machine.label()}, load average {machine.load_average()}", flush=True)
    print("| model | input, batch | float32 img/s | mixed_bfloat16 img/s | bf16 / fp32 | load |\n"
          "|---|---|---:|---:|---:|---|", flush=True)
    results = []
    for name in args.models:
        size, channels, batch = WORKLOADS[name]
        shape = (size, size, channels)
        rng = np.random.default_rng(0)
        images = rng.normal(size=(batch, *shape)).astype("float32")
        labels = rng.integers(0, 10, size=(batch,))
        steps = {}
        for precision in PRECISIONS:
            keras.config.set_dtype_policy(precision)
            model = throughput.build_kcnn(kcnn, name, None, shape, 10)
            throughput.compile_model(keras, model, "off")
            steps[precision] = throughput.step_timer(model, images, labels, "train")
        keras.config.set_dtype_policy("float32")
        for step in steps.values():
            for _ in range(args.warmup):
                step()
        rates = {p: [] for p in PRECISIONS}
        loads = []
        for repeat in range(args.repeats):
            order = PRECISIONS if repeat % 2 == 0 else PRECISIONS[::-1]
            for precision in order:
                start = time.perf_counter()
                for _ in range(args.steps):
                    steps[precision]()
                rates[precision].append(batch * args.steps / (time.perf_counter() - start))
            loads.append(machine.load_average())
        fp32, bf16 = (statistics.median(rates[p]) for p in PRECISIONS)
        pair_ratios = [b / f for f, b in zip(rates["float32"], rates["mixed_bfloat16"])]
        results.append({"model": name, "input_shape": list(shape), "batch_size": batch,
                        "float32_images_per_s": fp32, "mixed_bfloat16_images_per_s": bf16,
                        "ratio": bf16 / fp32, "repeat_ratios": pair_ratios,
                        "samples": rates, "load_averages": loads})
        print(f"| {name} | {size}x{size}x{channels}, {batch} | {fp32:.1f} | {bf16:.1f} | "
              f"{bf16 / fp32:.2f} (repeats {min(pair_ratios):.2f}-{max(pair_ratios):.2f}) | "
              f"{min(loads):.1f}-{max(loads):.1f} |", flush=True)
        keras.backend.clear_session()
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"environment": {**machine.describe(), "command": " ".join(sys.argv)},
                       "results": results}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
