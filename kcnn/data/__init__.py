"""Data for kcnn: tf.data pipelines over tensorflow-datasets, the original files of MNIST,
Fashion-MNIST, KMNIST and CIFAR-10/100, scikit-learn's digits, synthetic images and folders of
your own images, with augmentation from Keras preprocessing layers. Needs TensorFlow (`import
kcnn` does not import this package; `import kcnn.data` does).

    ds, info = kcnn.data.load("cifar10", "train[:90%]", 128, augment="cifar", seed=1)
    val, _ = kcnn.data.load("cifar10", "train[90%:]", 256, shuffle=False)
    info.num_classes, info.image_shape          # 10, (32, 32, 3)
    ds, info = kcnn.data.load("photos", "train", 32, image_size=224)   # photos/<class>/<images>
    ds, info = kcnn.data.load("mnist", "train", 128, data_dir="mnist/")  # the IDX files, offline

`load` is in `kcnn.data.pipeline`, the data set table and loaders in `kcnn.data.sources`, the
original distribution files in `kcnn.data.files`, image folders in `kcnn.data.folder`, the shared
records and split slicing in `kcnn.data.base`, the augmentation presets in `kcnn.data.augment`.
"""

from kcnn.data import augment
from kcnn.data.pipeline import load
from kcnn.data.sources import DATASETS, DatasetInfo, DatasetNotAvailableError, info, names

__all__ = ["DATASETS", "DatasetInfo", "DatasetNotAvailableError", "augment", "info", "load", "names"]
