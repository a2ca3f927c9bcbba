"""load_img / img_to_array / array_to_img / save_img."""

import numpy as np
import pytest
from PIL import Image

from kernelnet.preprocessing import image


def test_round_trip_png(tmp_path, rng):
    x = rng.integers(0, 256, (7, 9, 3)).astype("float32")
    image.save_img(tmp_path / "a.png", x, scale=False)
    img = image.load_img(tmp_path / "a.png")
    assert img.size == (9, 7) and img.mode == "RGB"
    np.testing.assert_array_equal(image.img_to_array(img), x)


def test_color_modes_and_target_size(tmp_path, rng):
    Image.fromarray(rng.integers(0, 256, (10, 20, 4), dtype=np.uint8), "RGBA").save(
        tmp_path / "a.png")
    assert image.img_to_array(image.load_img(tmp_path / "a.png", "grayscale")).shape == (10, 20, 1)
    assert image.img_to_array(image.load_img(tmp_path / "a.png", "rgba")).shape == (10, 20, 4)
    resized = image.load_img(tmp_path / "a.png", target_size=(5, 6), interpolation="bilinear")
    assert image.img_to_array(resized).shape == (5, 6, 3)
    cropped = image.load_img(tmp_path / "a.png", target_size=(5, 5), keep_aspect_ratio=True)
    assert cropped.size == (5, 5)
    with pytest.raises(ValueError, match="Received: color_mode='cmyk'"):
        image.load_img(tmp_path / "a.png", "cmyk")


def test_load_img_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"No image file at '.*nope\.png' \(working "):
        image.load_img(tmp_path / "nope.png")


@pytest.mark.parametrize("name,blob_fn,said", [
    ("text.png", lambda png: b"hello", r"UnidentifiedImageError: cannot identify image file"),
    ("cut.png", lambda png: png[:len(png) // 2], r"OSError: image file is truncated"),
    ("empty.jpg", lambda png: b"", r"UnidentifiedImageError"),
])
def test_load_img_unreadable_file_is_a_value_error_naming_it(tmp_path, rng, name, blob_fn, said):
    image.save_img(tmp_path / "ok.png", rng.integers(0, 256, (16, 16, 3)), scale=False)
    (tmp_path / name).write_bytes(blob_fn((tmp_path / "ok.png").read_bytes()))
    with pytest.raises(ValueError, match=rf"Could not read image '.*{name}': Pillow says {said}"):
        image.load_img(tmp_path / name, target_size=(4, 4))


def test_exif_orientation_is_applied(tmp_path, rng):
    img = Image.fromarray(rng.integers(0, 256, (4, 8, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    img.save(tmp_path / "phone.jpg", exif=exif)
    assert image.load_img(tmp_path / "phone.jpg").size == (4, 8)


def test_array_to_img_scales_and_validates():
    x = np.linspace(-1, 1, 12, dtype="float32").reshape(2, 2, 3)
    arr = np.asarray(image.array_to_img(x))
    assert arr.min() == 0 and arr.max() == 255
    assert image.array_to_img(np.zeros((2, 2, 1))).mode == "L"
    with pytest.raises(ValueError, match="channels"):
        image.array_to_img(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="channels-last"):
        image.img_to_array(Image.new("RGB", (2, 2)), data_format="channels_first")


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16_bit_images_are_scaled_by_their_bit_depth(tmp_path, rng, suffix):
    x = rng.integers(0, 65536, (12, 10), dtype=np.uint16)
    Image.fromarray(x).save(tmp_path / f"deep{suffix}")
    assert Image.open(tmp_path / f"deep{suffix}").mode == "I;16"
    expected = np.rint(x / 257.0)  # 65535 -> 255
    for mode, channels in (("grayscale", 1), ("rgb", 3)):
        got = image.img_to_array(image.load_img(tmp_path / f"deep{suffix}", color_mode=mode))
        assert got.shape == (12, 10, channels)
        for c in range(channels):
            np.testing.assert_array_equal(got[..., c], expected)


def test_32_bit_integer_tiff_is_scaled_by_its_bit_depth(tmp_path):
    x = np.array([[0, 2**31 - 1], [2**30, 2**16]], dtype=np.int32)
    Image.fromarray(x).save(tmp_path / "i.tif")
    got = image.img_to_array(image.load_img(tmp_path / "i.tif", color_mode="grayscale"))
    np.testing.assert_array_equal(got[..., 0], np.rint(x / (2.0**32 - 1) * 255))


@pytest.mark.parametrize("scale", [1.0, 255.0])
def test_float_tiff_in_0_1_or_0_255_loads_as_8_bit(tmp_path, rng, scale):
    x = rng.random((9, 7), dtype=np.float32)
    Image.fromarray(x * scale).save(tmp_path / "f.tif")
    got = image.img_to_array(image.load_img(tmp_path / "f.tif", color_mode="grayscale"))
    np.testing.assert_array_equal(got[..., 0], np.rint(x * np.float32(scale) * (255 / scale)))
    assert got.mean() > 100  # not all black


@pytest.mark.parametrize("values,said", [
    (np.array([[-1.0, 0.5]], np.float32), r"float values span \[-1, 0.5\], expected 0..1 or "
                                          r"0..255"),
    (np.array([[0.0, 1000.0]], np.float32), r"float values span \[0, 1000\]"),
    (np.array([[0.0, np.nan]], np.float32), r"float values span"),
    (np.array([[-5, 7]], np.int32), r"I values span \[-5, 7\] with negatives"),
])
def test_images_that_cannot_be_converted_are_refused(tmp_path, values, said):
    Image.fromarray(values).save(tmp_path / "odd.tif")
    with pytest.raises(ValueError, match=r"Could not convert image '.*odd.tif' to 8-bit "
                                         r"grayscale: its " + said):
        image.load_img(tmp_path / "odd.tif", color_mode="grayscale")
