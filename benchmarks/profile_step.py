"""Where a training step's time goes, by TensorFlow operation type (TensorFlow's profiler).

Trains a kcnn model on synthetic in-memory data as benchmarks/throughput.py does, records a few
steps after warm-up with `tf.profiler.experimental`, and sums the time of every executed
operation by its type (Conv2D, Conv2DBackpropFilter, FusedBatchNormGradV3, Relu, AddV2, ...)
from the trace. The share of each type says how much of a step is matrix
arithmetic (convolutions, matrix multiplies) and how much is everything else.

    python benchmarks/profile_step.py --model resnet20 --batch-size 128 --steps 5
    python benchmarks/profile_step.py --model resnet20 --precision mixed_bfloat16 --json p.json

Time is summed over the operations' own durations on all threads, so with two cores the total
can exceed the wall time; the shares are what to read.
"""

import argparse
import collections
import glob
import json
import os
import re
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import machine  # benchmarks/machine.py: the CPU and versions every result records

# Operation types that are matrix arithmetic (what a GEMM peak measures).
MATRIX_OPS = {"Conv2D", "Conv2DBackpropFilter", "Conv2DBackpropInput", "MatMul", "BatchMatMulV2",
              "_FusedConv2D", "_MklConv2D", "_MklNativeConv2D", "_MklNativeConv2DWithBias",
              "_MklNativeConv2DBackpropFilter", "_MklNativeConv2DBackpropInput",
              "_MklNativeFusedConv2D", "_MklMatMul", "_MklNativeMatMul", "_FusedMatMul",
              "_MklNativeFusedMatMul", "_MklFusedMatMul", "_MklNativeConv2DBackpropFilterWithBias",
              "DepthwiseConv2dNative"}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="resnet20")
    parser.add_argument("--input-size", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--precision", default="float32", choices=("float32", "mixed_bfloat16"))
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=5, help="steps recorded")
    parser.add_argument("--top", type=int, default=15, help="operation types listed")
    parser.add_argument("--json", help="write the results to this file")
    return parser.parse_args(argv)


# An executed operation's trace event is named "scope/name:Type" (runtime events have spaces or
# "::" in their names: "ExecutorState::Process", "EagerLocalExecute: __inference_...").
OP_EVENT = re.compile(r"^[^\s:]+:([A-Za-z_]\w*)$")


def op_times(logdir):
    """{operation type: (total seconds, count)} over the trace's executed operations."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    totals = collections.defaultdict(lambda: [0.0, 0])
    for path in glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True):
        space = xplane_pb2.XSpace()
        with open(path, "rb") as f:
            space.ParseFromString(f.read())
        for plane in space.planes:
            for line in plane.lines:
                for event in line.events:
                    match = OP_EVENT.match(plane.event_metadata[event.metadata_id].name)
                    if match:
                        totals[match.group(1)][0] += event.duration_ps * 1e-12
                        totals[match.group(1)][1] += 1
    return {k: tuple(v) for k, v in totals.items()}


def main(argv=None):
    args = parse_args(argv)
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import numpy as np
    import tensorflow as tf
    import throughput

    import kcnn

    keras.config.set_dtype_policy(args.precision)
    shape = (args.input_size, args.input_size, 3)
    model = throughput.build_kcnn(kcnn, args.model, None, shape, 10)
    throughput.compile_model(keras, model, "off")
    rng = np.random.default_rng(0)
    images = rng.normal(size=(args.batch_size, *shape)).astype("float32")
    labels = rng.integers(0, 10, size=(args.batch_size,))
    step = throughput.step_timer(model, images, labels, "train")
    for _ in range(args.warmup):
        step()
    with tempfile.TemporaryDirectory(prefix="kcnn-profile-") as logdir:
        tf.profiler.experimental.start(logdir)
        start = time.perf_counter()
        for _ in range(args.steps):
            step()
        wall = (time.perf_counter() - start) / args.steps
        tf.profiler.experimental.stop()
        times = op_times(logdir)
    total = sum(t for t, _ in times.values())
    matrix = sum(t for op, (t, _) in times.items() if op in MATRIX_OPS)
    rows = sorted(times.items(), key=lambda kv: -kv[1][0])
    print(f"{machine.label()}, load average {machine.load_average()}")
    print(f"{args.model} {args.input_size}x{args.input_size} batch {args.batch_size} "
          f"{args.precision}: {wall * 1e3:.0f} ms per step (while profiled), operations "
          f"{total / args.steps * 1e3:.0f} ms per step summed over threads, "
          f"matrix arithmetic {matrix / total:.0%}")
    print("| operation type | ms per step | share | calls per step |\n|---|---:|---:|---:|")
    for op, (seconds, count) in rows[: args.top]:
        print(f"| {op} | {seconds / args.steps * 1e3:.1f} | {seconds / total:.1%} | "
              f"{count // args.steps} |")
    if args.json:
        report = {
            "environment": {**machine.describe(), "command": " ".join(sys.argv)},
            "wall_seconds_per_step": wall,
            "matrix_share": matrix / total,
            "operations": [{"type": op, "seconds_per_step": t / args.steps,
                            "share": t / total, "calls_per_step": n // args.steps}
                           for op, (t, n) in rows],
        }
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
