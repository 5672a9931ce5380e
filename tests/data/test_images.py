"""Images of every depth and mode: 16-bit greyscale, RGB, RGBA and grey+alpha PNGs scaled to 8
bits (never saturated), 1-bit images, palettes, CMYK JPEGs; the same reader serves training
(image folders) and `kcnn predict`."""

import struct
import zlib

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
from PIL import Image

import kcnn.data
from kcnn.data import folder

pytestmark = pytest.mark.tf_only

RAMP = np.linspace(0, 65535, 16 * 64).round().astype(np.uint16).reshape(16, 64)


def png16(path, array):
    """A 16-bit-per-sample PNG written byte by byte (PNG specification, ISO/IEC 15948): Pillow
    writes 16-bit greyscale but not 16-bit RGB, RGBA or grey+alpha."""
    color_type = {1: 0, 2: 4, 3: 2, 4: 6}[1 if array.ndim == 2 else array.shape[2]]
    height, width = array.shape[:2]
    rows = b"".join(b"\0" + array[r].astype(">u2").tobytes() for r in range(height))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    return path


def test_a_16_bit_greyscale_ramp_is_scaled_not_saturated(tmp_path):
    path = tmp_path / "ramp.png"
    Image.fromarray(RAMP).save(path)
    assert Image.open(path).mode == "I;16"
    grey = folder.read_image(path, channels=1)
    assert grey.dtype == np.uint8 and grey.shape == (16, 64, 1)
    np.testing.assert_array_equal(grey[..., 0], RAMP >> 8)  # 65535 -> 255, 32768 -> 128
    assert (grey == 255).mean() < 0.01  # Pillow's convert("L") made 99.5% of it 255
    rgb = folder.read_image(path, channels=3)
    np.testing.assert_array_equal(rgb, np.repeat(grey, 3, axis=-1))


def test_16_bit_rgb_rgba_and_grey_alpha_pngs_scale_the_same_way(tmp_path):
    rgb = np.stack([RAMP, RAMP[:, ::-1], np.full_like(RAMP, 1000)], axis=-1)
    got = folder.read_image(png16(tmp_path / "rgb.png", rgb), channels=3)
    np.testing.assert_array_equal(got, rgb >> 8)
    rgba = np.concatenate([rgb, np.full_like(RAMP, 65535)[..., None]], axis=-1)
    np.testing.assert_array_equal(folder.read_image(png16(tmp_path / "rgba.png", rgba)), rgb >> 8)
    grey_alpha = np.stack([RAMP, np.full_like(RAMP, 65535)], axis=-1)
    got = folder.read_image(png16(tmp_path / "la.png", grey_alpha), channels=1)
    np.testing.assert_array_equal(got[..., 0], RAMP >> 8)
    # A grey picture gives the same 8-bit pixels whether stored as 16-bit grey or 16-bit RGB.
    same = folder.read_image(png16(tmp_path / "g3.png", np.stack([RAMP] * 3, -1)), channels=1)
    np.testing.assert_array_equal(same, folder.read_image(png16(tmp_path / "g.png", RAMP), 1))


def test_32_bit_integer_pixels_are_read_as_16_bit_and_refused_out_of_range():
    """Some Pillow versions decode 16-bit PNGs as mode "I" (32-bit integers)."""
    image = Image.fromarray(RAMP.astype(np.int32), mode="I")
    np.testing.assert_array_equal(folder._sixteen_bit(image)[..., 0], RAMP >> 8)
    with pytest.raises(ValueError, match=r"run from 0 to 70000; expected 16-bit values"):
        folder._sixteen_bit(Image.fromarray(np.array([[0, 70000]], np.int32), mode="I"))


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "P+transparency", "RGB", "RGBA", "CMYK"])
def test_every_pillow_mode_gives_uint8_of_the_asked_channels(tmp_path, mode):
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8))
    image = rgb.convert(mode.split("+")[0])
    path = tmp_path / ("x.jpg" if mode == "CMYK" else "x.png")
    image.save(path, **({"transparency": 0} if "transparency" in mode else {}))
    expected = np.asarray(Image.open(path).convert("RGB"))
    for channels in (1, 3):
        got = folder.read_image(path, channels=channels)
        assert got.dtype == np.uint8 and got.shape == (12, 10, channels)
    np.testing.assert_array_equal(folder.read_image(path, 3), expected)
    if mode == "1":
        assert set(np.unique(folder.read_image(path, 1)).tolist()) <= {0, 255}


def test_training_data_from_a_folder_of_16_bit_pngs_is_not_saturated(tmp_path):
    for name, scale in (("dark", 1), ("light", 2)):
        (tmp_path / "photos" / name).mkdir(parents=True)
        for i in range(4):
            Image.fromarray((RAMP // scale if name == "dark" else RAMP).astype(np.uint16)).save(
                tmp_path / "photos" / name / f"{i}.png")
    ds, info = kcnn.data.load(str(tmp_path / "photos"), "train", 8, image_size=(16, 64),
                              channels=1, normalize=False, shuffle=False,
                              validation_fraction=0, test_fraction=0)
    x, y = next(iter(ds))
    light = x.numpy()[y.numpy() == 1]
    np.testing.assert_allclose(light[0, ..., 0], RAMP >> 8, atol=0.5)
    assert (x.numpy() >= 254.5).mean() < 0.01
