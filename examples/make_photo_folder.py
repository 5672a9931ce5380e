"""Write an image folder to try `kcnn train --dataset DIR` offline, from real images that
scikit-learn ships.

    python examples/make_photo_folder.py photos                 # china/ and flower/ photo crops
    python examples/make_photo_folder.py digits --kind digits   # 0/ .. 9/, the real 8x8 digits

"photos" cuts crops of random position and size out of scikit-learn's two sample photographs
(`sklearn.datasets.load_sample_images`, 427x640: a Chinese temple and a flower), flips some, and
saves them in a mix of sizes, formats (JPEG, PNG, BMP, GIF) and modes (RGB, greyscale, RGBA,
palette), as your own photos would come. "digits" saves the 1,797 real handwritten digits as
greyscale PNGs, scaled up to 32x32. The same seed writes the same files.
"""

import argparse
import os
import sys

import numpy as np

FORMATS = (("JPEG", "jpg"), ("PNG", "png"), ("BMP", "bmp"), ("GIF", "gif"))
MODES = ("RGB", "L", "RGBA", "P")


def _save(image, path_stem, index):
    """Save a PIL image in the index-th format and mode of the cycle; returns the path."""
    fmt, extension = FORMATS[index % len(FORMATS)]
    mode = MODES[(index // len(FORMATS)) % len(MODES)]
    if (fmt == "JPEG" and mode in ("RGBA", "P")) or (fmt == "BMP" and mode == "RGBA"):
        mode = "RGB"  # JPEG has no alpha or palette, BMP no alpha
    converted = image.convert(mode) if mode != "P" else image.convert("P", palette=1)
    path = f"{path_stem}.{extension}"
    converted.save(path, format=fmt)
    return path


def make_photos(root, per_class=40, min_size=48, max_size=160, seed=0):
    """`root/china/*` and `root/flower/*`: `per_class` crops per photo. Returns the file paths."""
    from PIL import Image
    from sklearn.datasets import load_sample_images

    rng = np.random.RandomState(seed)
    data = load_sample_images()
    written = []
    for filename, photo in zip(data.filenames, data.images):
        name = os.path.splitext(os.path.basename(filename))[0]
        os.makedirs(os.path.join(root, name), exist_ok=True)
        height, width = photo.shape[:2]
        for i in range(per_class):
            side = rng.randint(height // 3, height)
            aspect = rng.uniform(0.75, 1.33)
            crop_h, crop_w = side, min(width, int(side * aspect))
            top, left = rng.randint(0, height - crop_h + 1), rng.randint(0, width - crop_w + 1)
            crop = photo[top:top + crop_h, left:left + crop_w]
            if rng.rand() < 0.5:
                crop = crop[:, ::-1]
            out = rng.randint(min_size, max_size + 1)
            image = Image.fromarray(np.ascontiguousarray(crop)).resize(
                (out, max(8, int(out * crop_h / crop_w))), Image.BILINEAR)
            written.append(_save(image, os.path.join(root, name, f"{name}_{i:03d}"), i))
    return written


def make_digits(root, per_class=None, size=32):
    """`root/0/*.png` .. `root/9/*.png`: scikit-learn's real digits as greyscale PNGs."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)
    counts, written = {}, []
    for image, label in zip(images, digits.target):
        if per_class is not None and counts.get(label, 0) >= per_class:
            continue
        index = counts[label] = counts.get(label, 0) + 1
        os.makedirs(os.path.join(root, str(label)), exist_ok=True)
        path = os.path.join(root, str(label), f"{label}_{index:04d}.png")
        Image.fromarray(image).resize((size, size), Image.NEAREST).save(path)
        written.append(path)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", help="the folder to write (created)")
    parser.add_argument("--kind", choices=("photos", "digits"), default="photos")
    parser.add_argument("--per-class", type=int, default=None,
                        help="images per class (photos: 40; digits: all, about 180)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.kind == "photos":
        files = make_photos(args.dir, per_class=args.per_class or 40, seed=args.seed)
    else:
        files = make_digits(args.dir, per_class=args.per_class)
    print(f"wrote {len(files)} images to {args.dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
