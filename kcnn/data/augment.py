"""Augmentation presets built from Keras' own preprocessing layers, applied to whole batches.

`build(augment, image_shape, seed)` turns `augment` (None, a preset name, or a list of preset
names and Keras layers) into a list of layers that `kcnn.data.pipeline` calls on each batch of
float32 images on the 0..255 scale, before normalisation. Presets:

    cifar         4-pixel zero padding + random crop back to size, per image, and a horizontal flip
    alexnet       random crop of the model input from a 256/224-times larger resize, per image,
                  a horizontal flip, and the paper's PCA colour ("lighting") noise
    shift-rotate  random shift (10%) and rotation (15 degrees): the sources' "rotation, shift"
    flip          horizontal flip
    cutout        random erasing of one rectangle per image (keras.layers.RandomErasing)
    mixup         MixUp (alpha 0.2): labels become soft one-hot targets
    cutmix        CutMix: labels become soft one-hot targets
    randaugment   RandAugment (2 ops, magnitude 0.5)

Per-image crops: `keras.layers.RandomCrop` on a batch cuts the same window out of every image
(one offset per batch). "cifar" is `PadAndCrop`: the papers' zero padding by 4 and a crop back to
size at a uniform integer offset in [-4, 4] on each axis, drawn per image (9 x 9 equally likely
windows), and the flip, in one gather. "alexnet" uses `RandomTranslation(..., fill_mode="constant", interpolation="nearest")`
on the larger resize and then takes the centre crop; Keras draws that shift per image but
continuous and rounded, so its end offsets come up about half as often as the others.
"""

import itertools

import keras

# PCA of ImageNet RGB pixels on the 0..1 scale (Krizhevsky et al. 2012, section 4.1; the
# figures used by fb.resnet.torch and torchvision's references). Columns of EIGVEC are components.
IMAGENET_EIGVAL = (0.2175, 0.0188, 0.0045)
IMAGENET_EIGVEC = (
    (-0.5675, 0.7192, 0.4009),
    (-0.5808, -0.0045, -0.8140),
    (-0.5836, -0.6948, 0.4203),
)

# Preset layers compute in float32 even when a mixed-precision policy is set globally.
_F = {"dtype": "float32"}


class PCALighting:
    """AlexNet's colour augmentation: add `eigvec @ (alpha * eigval)` to every pixel of an image,
    with alpha ~ N(0, alphastd) drawn per image (3 values). Expects RGB on the 0..255 scale.

    Keras has no such layer; this one is a small TensorFlow callable used only inside
    `tf.data`. Its random state is a `tf.random.Generator`, seeded when `seed` is given.
    """

    def __init__(self, alphastd=0.1, seed=None, value_range=(0, 255)):
        import tensorflow as tf

        self.alphastd = alphastd
        self.value_range = value_range
        scale = value_range[1] - value_range[0]
        eig = tf.constant(IMAGENET_EIGVEC, tf.float32) * tf.constant(IMAGENET_EIGVAL, tf.float32)
        self._components = eig * scale  # (channel, component), already scaled by eigval
        self._rng = (tf.random.Generator.from_seed(seed) if seed is not None
                     else tf.random.Generator.from_non_deterministic_state())

    def __call__(self, images, training=True):
        import tensorflow as tf

        if not training:
            return images
        alpha = self._rng.normal((tf.shape(images)[0], 3), stddev=self.alphastd)
        offset = tf.matmul(alpha, self._components, transpose_b=True)  # (batch, channel)
        images = images + offset[:, None, None, :]
        return tf.clip_by_value(images, *[float(v) for v in self.value_range])

    def __repr__(self):
        return f"PCALighting(alphastd={self.alphastd})"


class PadAndCrop:
    """Zero-pad each image by `pad` pixels on every side and crop it back to its size at a
    uniform integer offset, drawn per image: each of the (2 pad + 1)^2 windows is equally
    likely (He et al. 2016's CIFAR augmentation, fb.resnet.torch's and torchvision's
    `RandomCrop(32, padding=4)`). With `flip`, each crop is also mirrored left-right with
    probability 1/2, drawn per image (`RandomHorizontalFlip`), in the same gather. Works on
    batches (B, H, W, C).

    Keras' RandomCrop draws one window per batch, so this is a small TensorFlow callable used
    only inside `tf.data`. Its random state is a `tf.random.Generator`, seeded when `seed` is given.
    """

    def __init__(self, pad=4, flip=False, seed=None):
        import tensorflow as tf

        self.pad, self.flip = pad, flip
        self._rng = (tf.random.Generator.from_seed(seed) if seed is not None
                     else tf.random.Generator.from_non_deterministic_state())

    def __call__(self, images, training=True):
        import tensorflow as tf

        if not training:
            return images
        shape = tf.shape(images)
        p = self.pad
        padded = tf.pad(images, [[0, 0], [p, p], [p, p], [0, 0]])
        # Window corners in the padded image, 0..2p: offset - p in [-p, p].
        corners = self._rng.uniform((shape[0], 2), 0, 2 * p + 1, dtype=tf.int32)
        rows = corners[:, :1] + tf.range(shape[1])[None, :]  # (B, H)
        x = tf.range(shape[2])[None, :]
        if self.flip:
            mirrored = self._rng.uniform((shape[0], 1), 0, 2, dtype=tf.int32) == 1
            x = tf.where(mirrored, shape[2] - 1 - x, x)
        cols = corners[:, 1:] + x  # (B, W)
        out = tf.gather(padded, rows, axis=1, batch_dims=1)  # (B, H, W + 2p, C)
        return tf.gather(out, cols, axis=2, batch_dims=1)  # (B, H, W, C)

    def __repr__(self):
        return f"PadAndCrop(pad={self.pad}, flip={self.flip})"


def _cifar(shape, seeds):
    return [PadAndCrop(4, flip=True, seed=next(seeds))]


def _alexnet(shape, seeds):
    h, w, c = shape
    if c != 3:
        raise ValueError(f'the "alexnet" preset needs RGB images (its PCA lighting); got {c} channels')
    big_h, big_w = round(h * 256 / 224), round(w * 256 / 224)
    return [
        keras.layers.Resizing(big_h, big_w, **_F),
        keras.layers.RandomTranslation((big_h - h) / 2 / big_h, (big_w - w) / 2 / big_w,
                                       fill_mode="constant", interpolation="nearest",
                                       seed=next(seeds), **_F),
        keras.layers.CenterCrop(h, w, **_F),
        keras.layers.RandomFlip("horizontal", seed=next(seeds), **_F),
        PCALighting(0.1, seed=next(seeds)),
    ]


def _shift_rotate(shape, seeds):
    return [
        keras.layers.RandomTranslation(0.1, 0.1, fill_mode="nearest", seed=next(seeds), **_F),
        keras.layers.RandomRotation(15 / 360, fill_mode="nearest", seed=next(seeds), **_F),
    ]


PRESETS = {
    "cifar": _cifar,
    "alexnet": _alexnet,
    "shift-rotate": _shift_rotate,
    "flip": lambda shape, seeds: [keras.layers.RandomFlip("horizontal", seed=next(seeds), **_F)],
    "cutout": lambda shape, seeds: [keras.layers.RandomErasing(seed=next(seeds), **_F)],
    "mixup": lambda shape, seeds: [keras.layers.MixUp(alpha=0.2, seed=next(seeds), **_F)],
    "cutmix": lambda shape, seeds: [keras.layers.CutMix(seed=next(seeds), **_F)],
    "randaugment": lambda shape, seeds: [
        keras.layers.RandAugment(value_range=(0, 255), num_ops=2, factor=0.5, seed=next(seeds),
                                 **_F)
    ],
}


def names():
    """The preset names."""
    return sorted(PRESETS)


def build(augment, image_shape, seed=None):
    """The list of augmentation layers for `augment` on images of `image_shape` (H, W, C).

    Args:
        augment: None, a preset name, or a list of preset names and layers (Keras preprocessing
            layers or any callable `f(images, training=True)` on float 0..255 batches).
        image_shape: the delivered image shape, for presets that depend on it ("alexnet").
        seed: base seed; preset layer i gets seed + i. None leaves them unseeded.
    """
    if augment is None:
        return []
    items = [augment] if isinstance(augment, str) else list(augment)
    seeds = itertools.count(seed) if seed is not None else itertools.repeat(None)
    layers = []
    for item in items:
        if isinstance(item, str):
            if item not in PRESETS:
                raise ValueError(f"Unknown augmentation preset {item!r}; presets: {', '.join(names())}")
            layers.extend(PRESETS[item](tuple(image_shape), seeds))
        elif callable(item):
            layers.append(item)
        else:
            raise TypeError(f"augment items must be preset names or layers; got {item!r}")
    return layers


def mixes_labels(layer):
    """True for layers that mix labels too (MixUp, CutMix): they take and give one-hot labels."""
    return isinstance(layer, (keras.layers.MixUp, keras.layers.CutMix))
