"""Batch normalization that trains with TensorFlow's fused kernel.

Keras 3's `BatchNormalization` is written with `keras.ops`; on the TensorFlow backend a training
step becomes about ten element-wise operations per layer (moments, moving averages,
`tf.nn.batch_normalization`), where Keras 2 called the single fused kernel (`FusedBatchNormV3`,
which oneDNN and cuDNN implement). Measured on the 2-core CPU of benchmarks/README.md, in one
process against the same model with Keras' code: CIFAR ResNet-20 trains 1.16 times as fast,
DenseNet-121 1.15, Inception v3 1.06, ResNet-50 1.01-1.06. Inference keeps Keras' code (the
graph keras.applications runs): there the fused kernel measured no faster (0.80-1.08).
Everything else (other backends, masks, renorm, synchronized statistics, float64, a channel axis
that is not the last of a 4-D input) runs Keras' code too.
"""

import keras


@keras.saving.register_keras_serializable(package="kcnn")
class BatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` that trains with TensorFlow's fused kernel.

    Same arguments, weights (`gamma`, `beta`, `moving_mean`, `moving_variance`), config and
    semantics as Keras' layer, which it subclasses: in training it normalizes with the batch's
    mean and biased variance and moves the moving statistics by `momentum`; in inference it uses
    the moving statistics. Like Keras' layer it computes in float32 and returns its compute dtype.
    Inference gives Keras' results exactly; training gives them up to float32 rounding (the fused
    kernel sums in another order): after one training-mode pass through ResNet-152 at 96x96, kcnn's
    and keras.applications' outputs differ by 2.0e-3 (relative L2), each as far from float64
    (2.0e-3 and 1.7e-3), and by exactly 0 with the fused kernel off
    (`python benchmarks/batchnorm_rounding.py`).

    On the TensorFlow backend, a training step on a 4-D input normalized over its last axis runs
    the fused kernel (`FusedBatchNormV3`); everything else is exactly Keras' layer.

    Args:
        **kwargs: the arguments of `keras.layers.BatchNormalization` (`axis`, `momentum`,
            `epsilon`, `center`, `scale`, initializers, ..., `name`, `dtype`).
    """

    def call(self, inputs, training=None, mask=None):
        if not (training and self.trainable and self._fusable(inputs, mask)):
            return super().call(inputs, training=training, mask=mask)
        return self._fused_training_call(inputs)

    def _fusable(self, inputs, mask):
        return (
            keras.backend.backend() == "tensorflow"
            and mask is None
            and not self.renorm
            and not self.synchronized
            and len(inputs.shape) == 4
            and self.axis in (-1, 3)
            and keras.backend.result_type(inputs.dtype, "float32") == "float32"
        )

    def _fused_training_call(self, inputs):
        import tensorflow as tf  # only reached on the TensorFlow backend

        x = tf.cast(inputs, "float32")
        channels = x.shape[-1]
        scale = tf.cast(self.gamma, "float32") if self.scale else tf.ones([channels])
        offset = tf.cast(self.beta, "float32") if self.center else tf.zeros([channels])
        empty = tf.constant([], "float32")
        outputs, mean, variance = tf.raw_ops.FusedBatchNormV3(
            x=x,
            scale=scale,
            offset=offset,
            mean=empty,
            variance=empty,
            epsilon=self.epsilon,
            exponential_avg_factor=1.0,
            data_format="NHWC",
            is_training=True,
        )[:3]
        # The kernel normalizes with the biased variance but returns the unbiased one (n / (n - 1)
        # times larger); Keras' layer moves its statistics by the biased one.
        count = tf.cast(tf.reduce_prod(tf.shape(x)[:-1]), "float32")
        variance = tf.where(count > 1.0, variance * (count - 1.0) / count, tf.zeros_like(variance))
        moving_mean = tf.cast(self.moving_mean, "float32")
        moving_variance = tf.cast(self.moving_variance, "float32")
        self.moving_mean.assign(moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(
            moving_variance * self.momentum + variance * (1.0 - self.momentum)
        )
        return tf.cast(outputs, self.compute_dtype)
