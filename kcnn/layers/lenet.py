"""The pieces of the original LeNet-5 (LeCun, Bottou, Bengio, Haffner 1998, section II-B).

* `scaled_tanh`: the paper's squashing function f(a) = 1.7159 tanh(2a/3) (Appendix A), a
  registered activation (`activation=kcnn.layers.scaled_tanh` serializes without a Lambda).
* `Subsampling`: S2 and S4, the sum of each 2x2 window times a trainable coefficient plus a
  trainable bias, one of each per map.
* `PartialConv2D`: C3, a 5x5 convolution in which each output map sees only some input maps
  (the paper's Table I); its parameters are only the connected weights (1,516 for the table).
* `EuclideanRBF`: the output layer, y_i = sum_j (x_j - w_ij)^2 with fixed centres w_ij = +-1.
"""

import numbers

import keras
import numpy as np
from keras import ops

from kcnn.layers._base import check_choice, check_data_format, check_positive_int, check_rank

# ---- the squashing function -----------------------------------------------------------------

SCALED_TANH_A = 1.7159
SCALED_TANH_S = 2.0 / 3.0


@keras.saving.register_keras_serializable(package="kcnn")
def scaled_tanh(x):
    """LeNet-5's squashing function f(a) = A tanh(S a), A = 1.7159, S = 2/3 (LeCun 1998, App. A).

    With these constants f(1) = 1 and f(-1) = -1, and the gain is largest around the +-1 targets.
    Use it as any Keras activation: `keras.layers.Dense(84, activation=kcnn.layers.scaled_tanh)`.
    """
    return SCALED_TANH_A * ops.tanh(SCALED_TANH_S * x)


def _check_activation(owner, activation):
    try:
        return keras.activations.get(activation)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"`{owner}`: `activation` must be None, a Keras activation name or a callable; "
            f"received {activation!r}"
        ) from error


# ---- S2 / S4 ----------------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="kcnn")
class Subsampling(keras.layers.Layer):
    """LeNet-5's trainable subsampling (S2, S4): per map, coefficient * (window sum) + bias.

    Each output is the sum of a non-overlapping `pool_size` x `pool_size` window of one input map,
    multiplied by that map's trainable coefficient, plus that map's trainable bias, then passed
    through `activation` (the paper uses the scaled tanh). Two parameters per map: S2 (6 maps)
    has 12, S4 (16 maps) has 32.

    Args:
        pool_size: the window and stride (2 in the paper), a positive integer.
        activation: applied to the result (None for none; LeNet-5 uses `scaled_tanh`).
        coefficient_initializer: initializer of the per-map coefficients ("ones": a plain window
            sum at the start; the paper draws all weights uniformly in +-2.4 / fan-in).
        bias_initializer: initializer of the per-map biases ("zeros").
        data_format: only "channels_last" (or None for the global setting, if it is that).
        **kwargs: standard Keras layer arguments.

    Input shape: `(batch, height, width, maps)`.
    Output shape: `(batch, height // pool_size, width // pool_size, maps)`.
    """

    def __init__(
        self,
        pool_size=2,
        activation=None,
        coefficient_initializer="ones",
        bias_initializer="zeros",
        data_format=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.pool_size = check_positive_int("Subsampling", "pool_size", pool_size)
        self.activation = _check_activation("Subsampling", activation)
        self.coefficient_initializer = keras.initializers.get(coefficient_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.data_format = check_data_format("Subsampling", data_format)

    def build(self, input_shape):
        check_rank("Subsampling", input_shape)
        maps = input_shape[-1]
        self.coefficient = self.add_weight(
            shape=(maps,), initializer=self.coefficient_initializer, name="coefficient"
        )
        self.bias = self.add_weight(shape=(maps,), initializer=self.bias_initializer, name="bias")
        self.built = True

    def compute_output_shape(self, input_shape):
        batch, height, width, maps = input_shape
        size = self.pool_size
        return (
            batch,
            None if height is None else height // size,
            None if width is None else width // size,
            maps,
        )

    def call(self, inputs):
        size = self.pool_size
        window_mean = ops.average_pool(inputs, size, strides=size, padding="valid")
        window_sum = window_mean * float(size * size)
        return self.activation(window_sum * self.coefficient + self.bias)

    def get_config(self):
        config = super().get_config()
        config.update(
            pool_size=self.pool_size,
            activation=keras.activations.serialize(self.activation),
            coefficient_initializer=keras.initializers.serialize(self.coefficient_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
            data_format=self.data_format,
        )
        return config


# ---- C3 ---------------------------------------------------------------------------------------

# LeNet-5's Table I: the S2 maps each C3 map is connected to (C3 map i <- row i). Six maps see 3
# contiguous maps, six see 4 contiguous, three see 4 non-contiguous, one sees all 6: 60 connections.
LENET5_C3_TABLE = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (4, 5, 0), (5, 0, 1),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (3, 4, 5, 0), (4, 5, 0, 1), (5, 0, 1, 2),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)  # fmt: skip


def _check_connections(connections):
    message = (
        "`PartialConv2D`: `connections` must be a non-empty sequence with, for each output map, a "
        "non-empty sequence of distinct non-negative input-map indices; received {!r}"
    )
    try:
        rows = [list(row) for row in connections]
    except TypeError:
        raise ValueError(message.format(connections)) from None
    if not rows:
        raise ValueError(message.format(connections))
    for row in rows:
        ok = row and len(set(row)) == len(row)
        ok = ok and all(
            isinstance(i, numbers.Integral) and not isinstance(i, bool) and i >= 0 for i in row
        )
        if not ok:
            raise ValueError(message.format(connections))
    return tuple(tuple(int(i) for i in row) for row in rows)


@keras.saving.register_keras_serializable(package="kcnn")
class PartialConv2D(keras.layers.Layer):
    """A convolution whose output maps each see only some input maps (LeNet-5's C3).

    Output map j is a `kernel_size` x `kernel_size` convolution over the input maps listed in
    `connections[j]`, plus a bias. With the paper's table (the default, `LENET5_C3_TABLE`) and
    5x5 kernels on 6 maps this is C3: 16 maps, 25 * 60 + 16 = 1,516 parameters (a full 5x5
    convolution would have 2,416).

    Only the connected weights are parameters: `kernel` has shape `(k, k, total_connections)`,
    its columns ordered by output map and, within a map, in the order of `connections[j]`. At call
    time they are scattered into a full `(k, k, in_maps, out_maps)` kernel whose other entries
    are zero, and one ordinary convolution runs (the gradient reaches exactly the connected
    weights).

    Args:
        connections: for each output map, the input maps it reads (the number of output maps is
            `len(connections)`). Default: LeNet-5's C3 table.
        kernel_size: the square kernel's side (5), a positive integer.
        activation: applied after the bias (None for none; LeNet-5 uses `scaled_tanh`).
        use_bias: whether each output map has a bias (True).
        kernel_initializer, bias_initializer: Keras initializers ("glorot_uniform", "zeros").
        data_format: only "channels_last" (or None for the global setting, if it is that).
        **kwargs: standard Keras layer arguments.

    Input shape: `(batch, height, width, in_maps)`, with in_maps larger than every index used.
    Output shape: `(batch, height - k + 1, width - k + 1, len(connections))` (stride 1, valid).
    """

    def __init__(
        self,
        connections=None,
        kernel_size=5,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        data_format=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.connections = _check_connections(
            LENET5_C3_TABLE if connections is None else connections
        )
        self.kernel_size = check_positive_int("PartialConv2D", "kernel_size", kernel_size)
        self.activation = _check_activation("PartialConv2D", activation)
        self.use_bias = check_choice("PartialConv2D", "use_bias", use_bias, (True, False))
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.data_format = check_data_format("PartialConv2D", data_format)

    @property
    def filters(self):
        """The number of output maps, `len(connections)`."""
        return len(self.connections)

    def build(self, input_shape):
        check_rank("PartialConv2D", input_shape)
        in_maps = input_shape[-1]
        highest = max(max(row) for row in self.connections)
        if in_maps is None or highest >= in_maps:
            raise ValueError(
                f"`PartialConv2D`: `connections` reads input map {highest}, so the input needs at "
                f"least {highest + 1} maps; received shape {tuple(input_shape)}"
            )
        # scatter[i, j]: the column of `kernel` that connects input map i to output map j, or the
        # extra all-zero column (index total) where they are not connected.
        total = sum(len(row) for row in self.connections)
        scatter = np.full((in_maps, self.filters), total, dtype="int32")
        column = 0
        for j, row in enumerate(self.connections):
            for i in row:
                scatter[i, j] = column
                column += 1
        self._scatter = scatter.reshape(-1)
        self._in_maps = in_maps
        k = self.kernel_size
        self.kernel = self.add_weight(
            shape=(k, k, total), initializer=self._connected_initializer(), name="kernel"
        )
        self.bias = (
            self.add_weight(shape=(self.filters,), initializer=self.bias_initializer, name="bias")
            if self.use_bias
            else None
        )
        self.built = True

    def _connected_initializer(self):
        """Draw the kernel as the full `(k, k, in_maps, out_maps)` Conv2D kernel would be, then keep
        the connected entries: fan-in and fan-out are those of the full convolution, the same as
        for a full kernel multiplied by a 0/1 connection mask."""
        base, shape_full = (
            self.kernel_initializer,
            (self.kernel_size, self.kernel_size, self._in_maps, self.filters),
        )
        connected = [i * self.filters + j for j, row in enumerate(self.connections) for i in row]

        def initializer(shape, dtype=None):
            full = ops.reshape(base(shape_full, dtype=dtype), (*shape_full[:2], -1))
            return ops.take(full, np.array(connected, dtype="int32"), axis=2)

        return initializer

    def full_kernel(self):
        """The kernel as an ordinary `(k, k, in_maps, out_maps)` Conv2D kernel (zero where not
        connected)."""
        k = self.kernel_size
        padded = ops.pad(self.kernel, [[0, 0], [0, 0], [0, 1]])
        full = ops.take(padded, self._scatter, axis=2)
        return ops.reshape(full, (k, k, self._in_maps, self.filters))

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape
        k = self.kernel_size
        return (
            batch,
            None if height is None else height - k + 1,
            None if width is None else width - k + 1,
            self.filters,
        )

    def call(self, inputs):
        outputs = ops.conv(
            inputs, ops.cast(self.full_kernel(), inputs.dtype), strides=1, padding="valid"
        )
        if self.use_bias:
            outputs = outputs + self.bias
        return self.activation(outputs)

    def get_config(self):
        config = super().get_config()
        config.update(
            connections=[list(row) for row in self.connections],
            kernel_size=self.kernel_size,
            activation=keras.activations.serialize(self.activation),
            use_bias=self.use_bias,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
            data_format=self.data_format,
        )
        return config


# ---- the RBF output ---------------------------------------------------------------------------

# The centres of the 10 digit classes: stylised 7x12 bitmaps ("#" = +1, "." = -1), after the
# paper's Fig. 3 in spirit (its exact bitmaps are not published as data). 12 rows of 7 columns,
# read row by row, give each class its 84-vector.
DIGIT_BITMAPS = (
    (".#####.", "##...##", "#.....#", "#.....#", "#.....#", "#.....#",
     "#.....#", "#.....#", "#.....#", "#.....#", "##...##", ".#####."),  # 0
    ("...#...", "..##...", ".###...", "#.##...", "...#...", "...#...",
     "...#...", "...#...", "...#...", "...#...", "...#...", "#######"),  # 1
    (".#####.", "##...##", "#.....#", "......#", ".....##", "....##.",
     "...##..", "..##...", ".##....", "##.....", "#......", "#######"),  # 2
    (".#####.", "##...##", "......#", "......#", ".....##", "..####.",
     ".....##", "......#", "......#", "......#", "##...##", ".#####."),  # 3
    ("....##.", "...###.", "..##.#.", ".##..#.", "##...#.", "#....#.",
     "#######", ".....#.", ".....#.", ".....#.", ".....#.", ".....#."),  # 4
    ("#######", "#......", "#......", "#......", "######.", ".....##",
     "......#", "......#", "......#", "#.....#", "##...##", ".#####."),  # 5
    ("..####.", ".##....", "##.....", "#......", "######.", "##...##",
     "#.....#", "#.....#", "#.....#", "#.....#", "##...##", ".#####."),  # 6
    ("#######", "......#", ".....##", ".....#.", "....##.", "....#..",
     "...##..", "...#...", "..##...", "..#....", "..#....", "..#...."),  # 7
    (".#####.", "##...##", "#.....#", "#.....#", "##...##", ".#####.",
     "##...##", "#.....#", "#.....#", "#.....#", "##...##", ".#####."),  # 8
    (".#####.", "##...##", "#.....#", "#.....#", "#.....#", "##...##",
     ".######", "......#", "......#", ".....##", "....##.", ".####.."),  # 9
)  # fmt: skip

RBF_CENTRES = ("digits", "random")


def rbf_centres(kind, input_dim, units, seed=0):
    """The fixed centres of `EuclideanRBF`, a `(input_dim, units)` array of +-1 (float32).

    Args:
        kind: "digits": column i is the 7x12 bitmap of digit i (`DIGIT_BITMAPS`); needs
            input_dim == 84 and units <= 10. "random": each entry +-1 with equal odds, drawn
            from NumPy's generator with `seed` (the same array on every call).
        input_dim: the input features (84 for LeNet-5's F6).
        units: the classes.
        seed: the seed of the "random" centres.
    """
    if kind == "digits":
        if input_dim != 84 or units > 10:
            raise ValueError(
                "`EuclideanRBF`: centres='digits' (7x12 bitmaps of the digits 0-9) needs 84 input "
                f"features and at most 10 units; received {input_dim} features, {units} units. "
                "Use centres='random' for other sizes."
            )
        bitmaps = np.array([[c == "#" for c in "".join(rows)] for rows in DIGIT_BITMAPS[:units]])
        return np.where(bitmaps.T, 1.0, -1.0).astype("float32")
    rng = np.random.default_rng(seed)
    return rng.choice(np.array([-1.0, 1.0], dtype="float32"), size=(input_dim, units))


@keras.saving.register_keras_serializable(package="kcnn")
class EuclideanRBF(keras.layers.Layer):
    """LeNet-5's output layer: Euclidean radial basis function units with fixed +-1 centres.

    Unit i outputs the squared distance between the input x and its centre w_i::

        y_i = sum_j (x_j - w_ij) ** 2

    so the best class has the *smallest* output (the paper reads it as a penalty). The centres are
    fixed: stored as a non-trainable weight, 84 x 10 = 840 values for LeNet-5, which the paper does
    not count among its 60,000 trainable parameters. To classify with argmax or train with
    cross-entropy, use the negated distances as logits (as `kcnn.models.lenet5` does).

    Args:
        units: the number of classes (RBF units), a positive integer.
        centres: "digits" (default; the 7x12 bitmaps of `DIGIT_BITMAPS`, needs 84 inputs and at
            most 10 units) or "random" (a +-1 pattern drawn with a fixed NumPy seed).
        seed: the seed of the "random" centres (0).
        **kwargs: standard Keras layer arguments.

    Input shape: `(batch, features)`. Output shape: `(batch, units)`.
    """

    def __init__(self, units=10, centres="digits", seed=0, **kwargs):
        super().__init__(**kwargs)
        self.units = check_positive_int("EuclideanRBF", "units", units)
        self.centres_kind = check_choice("EuclideanRBF", "centres", centres, RBF_CENTRES)
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
            raise ValueError(
                f"`EuclideanRBF`: `seed` must be a non-negative integer; received {seed!r}"
            )
        self.seed = int(seed)

    def build(self, input_shape):
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError(
                f"`EuclideanRBF` expects inputs of rank 2 (batch, features) with known features; "
                f"received shape {tuple(input_shape)}"
            )
        values = rbf_centres(self.centres_kind, input_shape[-1], self.units, self.seed)
        self.centres = self.add_weight(
            shape=values.shape,
            initializer=keras.initializers.Constant(values),
            trainable=False,
            name="centres",
        )
        self.built = True

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)

    def call(self, inputs):
        difference = ops.expand_dims(inputs, -1) - ops.cast(self.centres, inputs.dtype)
        return ops.sum(ops.square(difference), axis=1)

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, centres=self.centres_kind, seed=self.seed)
        return config
