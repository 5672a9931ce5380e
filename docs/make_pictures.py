"""Redraw the pictures of docs/seeing-inside.md ("What does AlexNet see?"): docs/*.png.

    python docs/make_pictures.py            # about 3-5 minutes on two CPU cores, offline

It trains the CIFAR AlexNet on scikit-learn's digits (seeded), saves it with its input scaling
inside (so it takes raw 0..255 images), and draws every kcnn.viz picture from it, plus the block
diagram of DenseNet-121 and the receptive fields of a randomly initialised ResNet-50 on one of
scikit-learn's sample photos.
"""

import argparse
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SIZE = 60  # the largest input the CIFAR AlexNet's Flatten head takes: conv1 gives 15x15 maps


def train_alexnet(path, epochs, seed):
    """AlexNet ("cifar" variant) on the digits at 60x60, raw 0..255 in; saved to `path`."""
    import keras

    import kcnn
    import kcnn.data

    keras.utils.set_random_seed(seed)
    train, _ = kcnn.data.load("digits", "train", 64, image_size=SIZE, normalize=False,
                                 seed=seed)
    test, _ = kcnn.data.load("digits", "test", 256, image_size=SIZE, normalize=False,
                             shuffle=False)
    image = keras.Input((SIZE, SIZE, 1), name="image")
    scaled = keras.layers.Rescaling(1 / 255, name="scale")(image)
    model = kcnn.models.alexnet(variant="cifar", input_tensor=scaled, num_classes=10)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(train, epochs=epochs, verbose=2)
    _, accuracy = model.evaluate(test, verbose=0)
    print(f"AlexNet on digits: test accuracy {100 * accuracy:.1f}%")
    model.save(path)
    return accuracy


def test_digit(index):
    """A test digit as a 0..255 grey image (8x8x1) and its label."""
    from kcnn.data.sources import digits_arrays

    images, labels, _ = digits_arrays()
    return images[index], int(labels[index])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=HERE, help="where to write the PNGs (default docs/)")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    import kcnn
    from kcnn.viz import architecture, cam, figures, filters, inputs, maps, receptive

    work = tempfile.mkdtemp(prefix="kcnn-pictures-")
    model_path = os.path.join(work, "alexnet_digits.keras")
    train_alexnet(model_path, args.epochs, args.seed)
    loaded = inputs.load(model_path)
    model = loaded.model
    digit, label = test_digit(1500)  # a test-split digit (the split is the last 360)
    picture, batch = inputs.model_input(loaded, digit)

    def save(figure, name):
        path = os.path.join(args.out, name)
        figures.save(figure, path, dpi=80)
        print(f"{path}: {os.path.getsize(path) // 1024} KB")

    save(filters.plot_filters(model, title="AlexNet conv1 on digits")[0],
         "alexnet_filters.png")
    for layer in ("conv1", "conv2"):
        save(maps.plot_feature_maps(maps.feature_maps(model, batch, layer), max_channels=31,
                                    picture=picture, title=f"AlexNet {layer}, digit {label}"),
             f"alexnet_maps_{layer}.png")
    for index in (1500, 1501):
        digit, label = test_digit(index)
        picture, batch = inputs.model_input(loaded, digit)
        result = cam.grad_cam(model, batch)
        save(cam.plot_cam(result, picture, class_names=[str(d) for d in range(10)],
                          title=f"Grad-CAM, AlexNet on a digit {label}"),
             f"alexnet_cam_{index - 1500}.png")
    box = receptive.theoretical_field(model, "conv2")
    save(receptive.plot_receptive_field(picture, box, receptive.effective_field(model, "conv2"),
                                        title="AlexNet conv2, the centre output"),
         "alexnet_rf_conv2.png")
    save(architecture.plot_architecture(model)[0], "alexnet_arch.png")
    save(architecture.plot_architecture(kcnn.models.densenet121())[0], "densenet121_arch.png")

    from sklearn.datasets import load_sample_images

    photo = load_sample_images().images[0]  # the Summer Palace, 427x640
    resnet = kcnn.models.resnet50()
    photo_input = inputs.fit_image(photo[:, 106:533], (224, 224, 3))
    layer = "conv3_block4"
    box = receptive.theoretical_field(resnet, layer)
    save(receptive.plot_receptive_field(photo_input, box,
                                        receptive.effective_field(resnet, layer, samples=4),
                                        title=f"ResNet-50 (random weights), {layer}"),
         "resnet50_rf.png")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(HERE))
    sys.exit(main())
