"""How far kcnn's fused BatchNormalization is from Keras' in training: rounding, measured.

Builds kcnn's ResNet (variant "keras") and keras.applications' model of the same network, copies
the application's weights into kcnn's, and runs one training-mode forward pass of the same
images through both, through kcnn's model with Keras' BatchNormalization code (the fused kernel
switched off), and through keras.applications' model computed in float64 (the reference). Prints
the relative difference of the outputs (largest absolute difference over the largest absolute
reference value, and the L2 norm of the difference over that of the reference) for each pair.

    python benchmarks/batchnorm_rounding.py                       # ResNet-152 at 96x96, batch 4
    python benchmarks/batchnorm_rounding.py --model resnet50 --input-size 64

With the fused kernel switched off kcnn's model computes exactly what keras.applications'
computes (difference 0); with it on, both float32 models are equally far from float64.
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import machine  # benchmarks/machine.py: the CPU and versions every result records

APPLICATIONS = {"resnet50": "ResNet50", "resnet101": "ResNet101", "resnet152": "ResNet152"}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", choices=sorted(APPLICATIONS), default="resnet152")
    parser.add_argument("--input-size", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--json", help="write the results to this file")
    return parser.parse_args(argv)


def relative_difference(a, b, reference):
    """(max |a - b| / max |reference|, ||a - b|| / ||reference||) in float64."""
    import numpy as np

    a, b, reference = (np.asarray(v, "float64") for v in (a, b, reference))
    return (float(np.abs(a - b).max() / np.abs(reference).max()),
            float(np.linalg.norm(a - b) / np.linalg.norm(reference)))


def main(argv=None):
    args = parse_args(argv)
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import numpy as np
    import throughput

    import kcnn
    from kcnn.weights.keras_h5 import copy_from_model

    shape = (args.input_size, args.input_size, 3)
    application = getattr(keras.applications, APPLICATIONS[args.model])
    options = {"weights": None, "input_shape": shape, "include_top": False}
    reference = application(**options)
    ours = kcnn.models.get(args.model, variant="keras", **options)
    copy_from_model(reference, ours)
    keras_bn = kcnn.models.get(args.model, variant="keras", **options)
    copy_from_model(reference, keras_bn)
    throughput.with_keras_batchnorm(keras, keras_bn)
    keras.config.set_dtype_policy("float64")
    try:
        exact = application(**options)
    finally:
        keras.config.set_dtype_policy("float32")
    exact.set_weights([w.astype("float64") for w in reference.get_weights()])

    images = np.random.default_rng(0).normal(size=(args.batch_size, *shape)).astype("float32")
    out = {name: np.asarray(model(images, training=True)) for name, model in
           (("kcnn", ours), ("keras_applications", reference), ("kcnn_keras_batchnorm", keras_bn))}
    out["float64"] = np.asarray(exact(images.astype("float64"), training=True))
    pairs = [("kcnn", "keras_applications"), ("kcnn", "float64"),
             ("keras_applications", "float64"), ("kcnn_keras_batchnorm", "keras_applications")]
    rows = []
    print(f"{machine.label()}, load average {machine.load_average()}")
    print(f"{args.model} {args.input_size}x{args.input_size}, batch {args.batch_size}, one "
          "training-mode forward pass (include_top=False), same weights")
    print("| compared | max abs difference / max abs | L2 difference / L2 |\n|---|---:|---:|")
    for a, b in pairs:
        worst, l2 = relative_difference(out[a], out[b], out["float64"])
        rows.append({"a": a, "b": b, "max_relative": worst, "l2_relative": l2})
        print(f"| {a} vs {b} | {worst:.2e} | {l2:.2e} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"environment": {**machine.describe(), "command": " ".join(sys.argv)},
                       "model": args.model, "input_size": args.input_size,
                       "batch_size": args.batch_size, "results": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
