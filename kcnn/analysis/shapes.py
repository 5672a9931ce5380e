"""Output sizes and receptive fields of convolution and pooling stacks, as Keras computes them.

>>> conv_output_size(227, 11, 4, 0)        # AlexNet's first layer: (N - F + 2P) / S + 1
55
>>> conv_output_size(28, 5, 1, "same")
28
>>> receptive_field([(3, 1)] * 3)          # three stacked 3x3 convolutions see a 7x7 patch
ReceptiveField(size=7, jump=1)
"""

import collections
import numbers

ReceptiveField = collections.namedtuple("ReceptiveField", ["size", "jump"])
ReceptiveField.__doc__ = """A receptive field: `size` in input pixels and `jump`, the distance in input
pixels between neighbouring outputs (the product of the strides so far, the "effective stride")."""


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer; received {value!r}")
    return int(value)


def conv_output_size(n, kernel, stride=1, padding="valid", dilation=1):
    """The output length of a convolution or pooling window along one axis, as Keras computes it.

    Args:
        n: input length (height or width).
        kernel: window size (kernel_size or pool_size).
        stride: step between windows.
        padding: "valid" (no padding: floor((n - k) / s) + 1), "same" (Keras pads so that the
            output is ceil(n / s), whatever the kernel), "causal" (Conv1D: the same length as
            "same"), or explicit zero padding as an integer `p` on both sides (a ZeroPadding2D
            layer before a "valid" convolution: floor((n + 2p - k) / s) + 1) or a pair
            `(before, after)`.
        dilation: dilation rate; the window covers `dilation * (kernel - 1) + 1` inputs.

    Returns:
        The output length, an integer >= 1.

    Raises:
        ValueError: for a bad argument, or when the window does not fit (Keras raises too).
    """
    n = _positive_int("n", n)
    kernel = _positive_int("kernel", kernel)
    stride = _positive_int("stride", stride)
    dilation = _positive_int("dilation", dilation)
    span = dilation * (kernel - 1) + 1
    if padding in ("same", "causal"):
        return (n - 1) // stride + 1
    if padding == "valid":
        before = after = 0
    elif isinstance(padding, numbers.Integral) and not isinstance(padding, bool) and padding >= 0:
        before = after = int(padding)
    elif (
        isinstance(padding, (tuple, list))
        and len(padding) == 2
        and all(
            isinstance(p, numbers.Integral) and not isinstance(p, bool) and p >= 0 for p in padding
        )
    ):
        before, after = (int(p) for p in padding)
    else:
        raise ValueError(
            "`padding` must be 'valid', 'same', 'causal', a non-negative integer or a pair of them; "
            f"received {padding!r}"
        )
    padded = n + before + after
    if padded < span:
        raise ValueError(
            f"a window of {span} (kernel {kernel}, dilation {dilation}) does not fit an input of "
            f"{n} with padding {padding!r}"
        )
    return (padded - span) // stride + 1


def receptive_field(layers):
    """The receptive field and jump after a chain of convolution or pooling windows.

    Uses the recurrence r_out = r_in + (k - 1) * j_in, j_out = j_in * s, starting from r = j = 1
    (padding changes neither).

    Args:
        layers: a sequence of `(kernel, stride)` or `(kernel, stride, dilation)` tuples, first
            layer first.

    Returns:
        `ReceptiveField(size, jump)`.
    """
    size, jump = 1, 1
    for i, spec in enumerate(layers):
        if not isinstance(spec, (tuple, list)) or len(spec) not in (2, 3):
            raise ValueError(
                f"each layer must be (kernel, stride) or (kernel, stride, dilation); "
                f"received {spec!r} at position {i}"
            )
        kernel = _positive_int("kernel", spec[0])
        stride = _positive_int("stride", spec[1])
        dilation = _positive_int("dilation", spec[2]) if len(spec) == 3 else 1
        size += dilation * (kernel - 1) * jump
        jump *= stride
    return ReceptiveField(size, jump)
