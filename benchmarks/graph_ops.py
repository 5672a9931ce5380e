"""Count the operations in the TensorFlow graphs of kcnn's and keras.applications' model of a network.

Speed ratios on a noisy machine cannot show that two models do the same work; their graphs can.
For each model that keras.applications also has, this traces one training step (forward, loss,
gradients, SGD update) and one inference call of both, and prints the operation totals and every
operation type whose count differs.

    python benchmarks/graph_ops.py --models densenet121 resnet50:keras --input-size 96
"""

import argparse
import collections
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def operation_counts(keras, tf, model, batch_shape, training):
    """Operation type -> count in the graph of one training step or one inference call."""
    images = tf.TensorSpec(batch_shape, "float32")
    if training:
        optimizer = keras.optimizers.SGD(0.01, momentum=0.9)
        loss = keras.losses.SparseCategoricalCrossentropy()

        @tf.function
        def step(x, y):
            with tf.GradientTape() as tape:
                value = loss(y, model(x, training=True))
            optimizer.apply(
                tape.gradient(value, model.trainable_variables), model.trainable_variables
            )
            return value

        function = step.get_concrete_function(images, tf.TensorSpec(batch_shape[:1], "int32"))
    else:
        function = tf.function(model).get_concrete_function(images)
    return collections.Counter(op.type for op in function.graph.get_operations())


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", nargs="+", default=["densenet121"], help="NAME or NAME:VARIANT")
    parser.add_argument("--input-size", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args(argv)

    import keras
    import tensorflow as tf

    import kcnn

    sys.path.insert(0, HERE)
    import throughput

    for entry in args.models:
        name, _, variant = entry.partition(":")
        if (name, variant or None) not in throughput.KERAS_APPLICATIONS:
            raise SystemExit(f"keras.applications has no counterpart of {entry!r}")
        shape = (args.input_size, args.input_size, 3)
        ours, reference = throughput.build_pair(keras, kcnn, name, variant or None, shape, 10)
        for training in (True, False):
            counts = [
                operation_counts(keras, tf, model, (args.batch_size, *shape), training)
                for model in (ours, reference)
            ]
            differing = ", ".join(
                f"{op} {counts[0][op]} vs {counts[1][op]}"
                for op in sorted(set(counts[0]) | set(counts[1]))
                if counts[0][op] != counts[1][op]
            )
            mode = "training step" if training else "inference"
            print(
                f"{entry} {mode}: kcnn {sum(counts[0].values())} operations, keras.applications "
                f"{sum(counts[1].values())}; differing: {differing or 'none'}",
                flush=True,
            )
        keras.backend.clear_session()
    return 0


if __name__ == "__main__":
    sys.exit(main())
