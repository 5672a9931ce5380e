"""What a published weight set is: where it lives, how it was checked, how to feed it.

A `WeightSet` is a fact sheet: the official URL (and the no-top file for keras.applications), the
file's hash, its preprocessing, its ImageNet top-1/top-5 as the source publishes them and its
licence or terms. The family modules declare theirs next to their configuration tables with
`torchvision_weights(...)` and `keras_weights(...)`; nothing here downloads or builds anything.
"""

import dataclasses
import os

# torchvision's transforms.Normalize constants (ImageNet RGB mean and std on 0-1 images).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# keras.applications' "caffe" mode: BGR means on 0-255 images, subtracted, no scaling.
CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)

TORCHVISION_URL = "https://download.pytorch.org/models/"
KERAS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"

TORCHVISION_TERMS = (
    "torchvision (BSD-3-Clause code); the weights may carry terms derived from ImageNet, whose "
    "terms allow non-commercial research and educational use: check your use case "
    "(https://pytorch.org/vision/stable/models.html)"
)
IMAGENET_NOTE = "ImageNet-1k: its terms allow non-commercial research and educational use"

MODES = ("torch", "caffe", "tf")


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    """How raw RGB 0-255 images become this weight set's input.

    Attributes:
        mode: "torch" (scale to 0-1, subtract `IMAGENET_MEAN`, divide by `IMAGENET_STD`: torchvision
            and keras.applications' DenseNet), "caffe" (RGB to BGR, subtract `CAFFE_BGR_MEAN`:
            keras.applications' VGG and ResNet) or "tf" (scale to [-1, 1]: Inception v3).
        crop: the side of the square centre crop the network saw (its input size).
        resize: the shorter side an image is resized to before the crop (None: keras.applications
            publishes no resize; resize straight to `crop`).
    """

    mode: str
    crop: int = 224
    resize: int = None

    def describe(self):
        """One line, e.g. "resize 256, centre crop 224, RGB 0-1, ImageNet mean/std"."""
        steps = (
            [f"resize {self.resize}, centre crop {self.crop}"]
            if self.resize
            else [f"{self.crop}x{self.crop}"]
        )
        steps.append(
            {
                "torch": "RGB/255, ImageNet mean/std",
                "caffe": "BGR, minus ImageNet mean (caffe)",
                "tf": "RGB scaled to [-1, 1]",
            }[self.mode]
        )
        return ", ".join(steps)


@dataclasses.dataclass(frozen=True)
class WeightSet:
    """One published ImageNet weight set of one network variant.

    Attributes:
        name: what `weights=` calls it: "torchvision", "torchvision_v2" or "keras".
        source: "torchvision" (a PyTorch `.pth` state dict, converted once) or "keras"
            (a keras.applications `.h5` file, loaded by layer name).
        url: the official download URL.
        file_hash: torchvision: the first hex digits of the file's SHA-256 (they are in its
            name); keras.applications: the MD5 its own loader checks.
        top1, top5: ImageNet-1k validation accuracy (%) as the source publishes it.
        preprocessing: a `Preprocessing`.
        terms: licence or terms line.
        notop_url, notop_hash: keras.applications' file without the classifier (smaller).
        num_classes: the classifier's classes.
        note: what tells this set apart (e.g. "V1: He et al.'s recipe").
    """

    name: str
    source: str
    url: str
    file_hash: str
    top1: float
    top5: float
    preprocessing: Preprocessing
    terms: str
    notop_url: str = None
    notop_hash: str = None
    num_classes: int = 1000
    note: str = ""

    @property
    def file_name(self):
        """The file name of `url` (torchvision's carries the SHA-256 prefix)."""
        return os.path.basename(self.url)


def torchvision_weights(
    file, top1, top5, *, crop=224, resize=256, mode="torch", name="torchvision", note=""
):
    """A torchvision ImageNet-1k set: `file` under download.pytorch.org/models, its acc@1/acc@5.

    The hash is the part of the file name after its last "-" (torch.hub's convention: the first
    hex digits of the file's SHA-256). `mode="tf"` for GoogLeNet and Inception v3: torchvision
    builds them with `transform_input=True` for these weights, which turns its mean/std
    normalisation back into (x - 0.5) / 0.5, i.e. RGB scaled to [-1, 1]; kcnn's networks have no
    such step, so that scaling is their preprocessing.
    """
    return WeightSet(
        name=name,
        source="torchvision",
        url=TORCHVISION_URL + file,
        file_hash=file.rsplit("-", 1)[1].split(".")[0],
        top1=top1,
        top5=top5,
        preprocessing=Preprocessing(mode, crop=crop, resize=resize),
        terms=TORCHVISION_TERMS,
        note=note,
    )


def keras_weights(folder, stem, hashes, top1, top5, *, mode, terms, crop=224):
    """A keras.applications set: `<folder>/<stem>.h5` and `<stem>_notop.h5`; `hashes` are their
    MD5s (top, no-top), as keras.applications' loader checks them; `terms` its licence line."""
    base = f"{KERAS_URL}{folder}/{stem}"
    return WeightSet(
        name="keras",
        source="keras",
        url=f"{base}.h5",
        file_hash=hashes[0],
        top1=top1,
        top5=top5,
        preprocessing=Preprocessing(mode, crop=crop),
        terms=terms,
        notop_url=f"{base}_notop.h5",
        notop_hash=hashes[1],
    )
