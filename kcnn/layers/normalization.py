"""Local Response Normalization across channels (Krizhevsky, Sutskever, Hinton 2012, section 3.3).

Keras 3 has no LRN layer and `keras.ops` no LRN op, so this layer builds it from `keras.ops`: it
runs on every Keras backend and matches `tf.nn.local_response_normalization`.
"""

import math

import keras
from keras import ops

from kcnn.layers._base import check_choice, check_non_negative_int, check_range, check_rank

_OWNER = "LocalResponseNormalization"


@keras.saving.register_keras_serializable(package="kcnn")
class LocalResponseNormalization(keras.layers.Layer):
    """Local Response Normalization across channels, with TensorFlow's parameters.

    At every position, each channel c is divided by a power of the sum of squares of the channels
    in a window of `2 * depth_radius + 1` channels centred on c (cut off at the first and last
    channel, never wrapped)::

        sqr_sum[c] = sum(a[j] ** 2 for j in range(c - depth_radius, c + depth_radius + 1))
        b[c] = a[c] / (bias + alpha * sqr_sum[c]) ** beta

    This is `tf.nn.local_response_normalization`: `alpha` multiplies the plain sum; it is *not*
    divided by the window size. The defaults are the AlexNet paper's setting (k=2, n=5,
    alpha=1e-4, beta=0.75), for which TensorFlow's formula equals the paper's exactly.

    Mapping from other parameterisations:

    * AlexNet paper (k, n, alpha, beta):
      `depth_radius=(n - 1) // 2, bias=k, alpha=alpha, beta=beta`.
    * PyTorch `torch.nn.LocalResponseNorm(size, alpha, beta, k)` and Caffe's LRN layer
      (`local_size`, `alpha`, `beta`, `k`): both divide alpha by the window size, so
      `depth_radius=(size - 1) // 2, bias=k, alpha=alpha / size, beta=beta`.
      `LocalResponseNormalization.from_torch(size, alpha, beta, k)` does this conversion.
    * The BVLC Caffe reference models (AlexNet, CaffeNet, GoogLeNet) use `local_size 5,
      alpha 0.0001, beta 0.75` with Caffe's default k=1: here `depth_radius=2, bias=1.0,
      alpha=2e-5, beta=0.75` (not the paper's setting).

    A window is always odd (2r + 1 channels, centred). PyTorch also accepts an even `size` by
    padding asymmetrically; that window has no equivalent here, and `from_torch` rejects it.

    Precision: the layer squares its input, which overflows float16 for |x| >= 256, so it always
    computes in float32 and casts the result back to its compute dtype (as Keras'
    BatchNormalization does). Under `mixed_float16` it takes and returns float16.

    Args:
        depth_radius: r, the half-width of the window (a non-negative integer; 2 gives the
            paper's 5 channels).
        bias: k, a positive number added before the power.
        alpha: the scale of the sum of squares, a non-negative number (not divided by the window).
        beta: the exponent, a positive number.
        data_format: "channels_last" (default, Keras' global setting) or "channels_first": which
            axis holds the channels.
        **kwargs: standard Keras layer arguments (name, dtype, ...).

    Input shape: 4-D `(batch, height, width, channels)` (channels_last) or
    `(batch, channels, height, width)` (channels_first), with a known number of channels.
    Output shape: the same as the input.
    """

    def __init__(self, depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.depth_radius = check_non_negative_int(_OWNER, "depth_radius", depth_radius)
        self.bias = check_range(_OWNER, "bias", bias, 0, math.inf, low_open=True, high_open=True)
        self.alpha = check_range(_OWNER, "alpha", alpha, 0, math.inf, high_open=True)
        self.beta = check_range(_OWNER, "beta", beta, 0, math.inf, low_open=True, high_open=True)
        self.data_format = check_choice(
            _OWNER,
            "data_format",
            data_format or keras.config.image_data_format(),
            ("channels_last", "channels_first"),
        )
        self._channel_axis = -1 if self.data_format == "channels_last" else 1

    @classmethod
    def from_torch(cls, size, alpha=1e-4, beta=0.75, k=1.0, **kwargs):
        """The layer equal to `torch.nn.LocalResponseNorm(size, alpha, beta, k)` (or Caffe's LRN).

        PyTorch and Caffe divide alpha by the window size, so this returns
        `cls(depth_radius=(size - 1) // 2, bias=k, alpha=alpha / size, beta=beta, **kwargs)`.
        For the AlexNet paper's setting use `from_torch(5, alpha=5e-4, beta=0.75, k=2.0)`.

        Args:
            size: the window, an odd positive integer. An even `size` raises a ValueError:
                PyTorch pads such a window asymmetrically, which no centred window reproduces.
            alpha, beta, k: PyTorch's (Caffe's) parameters, with PyTorch's defaults.
            **kwargs: passed to the constructor (data_format, name, dtype, ...).
        """
        size = check_non_negative_int(_OWNER, "size", size)
        if size % 2 == 0:
            raise ValueError(
                f"`{_OWNER}`: `size` must be an odd positive integer (a window of 2r + 1 channels "
                f"centred on each channel); received {size!r}. An even LRN window is asymmetric "
                "(PyTorch pads it unevenly) and has no centred equivalent."
            )
        alpha = check_range(_OWNER, "alpha", alpha, 0, math.inf, high_open=True)
        return cls(depth_radius=(size - 1) // 2, bias=k, alpha=alpha / size, beta=beta, **kwargs)

    def build(self, input_shape):
        check_rank(_OWNER, input_shape)
        if input_shape[self._channel_axis] is None:
            raise ValueError(
                f"`{_OWNER}`: the number of channels must be known; "
                f"received shape {tuple(input_shape)}"
            )
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        squares = ops.square(x)
        r = self.depth_radius
        channels = x.shape[self._channel_axis]
        padding = [[0, 0]] * 4
        padding[self._channel_axis] = [r, r]
        padded = ops.pad(squares, padding)
        # The window sum as 2r + 1 shifted slices of the zero-padded squares: exact, and no
        # cumulative sum whose differences would lose precision over many channels.
        sqr_sum = squares
        for offset in range(2 * r + 1):
            if offset == r:
                continue
            if self._channel_axis == -1:
                sqr_sum = sqr_sum + padded[..., offset : offset + channels]
            else:
                sqr_sum = sqr_sum + padded[:, offset : offset + channels]
        outputs = x / ops.power(self.bias + self.alpha * sqr_sum, self.beta)
        return ops.cast(outputs, self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.update(
            depth_radius=self.depth_radius,
            bias=self.bias,
            alpha=self.alpha,
            beta=self.beta,
            data_format=self.data_format,
        )
        return config
