"""apply_transform with fixed parameters gives known outputs; random draws follow the ranges."""

import re

import numpy as np
import pytest

from kernelnet.preprocessing import _transforms as T
from kernelnet.preprocessing.image import ImageDataGenerator


@pytest.fixture
def img():
    return np.arange(4 * 5 * 2, dtype="float32").reshape(4, 5, 2)


def test_flips(img):
    np.testing.assert_array_equal(T.apply_transform(img, {"flip_horizontal": True}), img[:, ::-1])
    np.testing.assert_array_equal(T.apply_transform(img, {"flip_vertical": True}), img[::-1])


def test_empty_params_are_identity_and_input_untouched(img):
    before = img.copy()
    out = T.apply_transform(img, {})
    np.testing.assert_array_equal(out, img)
    out[0, 0, 0] = -1
    np.testing.assert_array_equal(img, before)


def test_integer_shift_with_each_fill_mode(img):
    # tx=1: the output samples the input one row further down (Keras' convention).
    constant = T.apply_transform(img, {"tx": 1}, fill_mode="constant", cval=-7)
    np.testing.assert_array_equal(constant[:-1], img[1:])
    np.testing.assert_array_equal(constant[-1], np.full((5, 2), -7))
    nearest = T.apply_transform(img, {"tx": 1}, fill_mode="nearest")
    np.testing.assert_array_equal(nearest[-1], img[-1])
    wrap = T.apply_transform(img, {"ty": -2}, fill_mode="wrap")
    np.testing.assert_array_equal(wrap, np.roll(img, 2, axis=1))
    reflect = T.apply_transform(img, {"ty": 2}, fill_mode="reflect")
    padded = np.pad(img, ((0, 0), (0, 2), (0, 0)), "symmetric")  # dcba|abcd|dcba
    np.testing.assert_array_equal(reflect, padded[:, 2:])


def test_rotation_by_90_degrees_is_exact_rot90():
    x = np.arange(25, dtype="float32").reshape(5, 5, 1)
    out = T.apply_transform(x, {"theta": 90}, fill_mode="constant")
    np.testing.assert_allclose(out, np.rot90(x, -1), atol=1e-5)


def test_zoom_in_by_two_interpolates_around_the_centre():
    x = np.arange(25, dtype="float32").reshape(5, 5, 1)
    out = T.apply_transform(x, {"zx": 0.5, "zy": 0.5})[..., 0]
    assert out[2, 2] == 12  # the centre is fixed
    # source row = 2 + (r - 2) / 2: output rows sample input rows 1, 1.5, 2, 2.5, 3
    np.testing.assert_allclose(out[:, 2], [7, 9.5, 12, 14.5, 17])


def test_brightness_contrast_sharpness_noise(img):
    np.testing.assert_allclose(T.apply_transform(img, {"brightness": 0.5}), img * 0.5)
    mean = img.mean()
    np.testing.assert_allclose(T.apply_transform(img, {"contrast": 2.0}),
                               mean + 2 * (img - mean), rtol=1e-6)
    flat = np.full((4, 4, 3), 9.0, dtype="float32")
    np.testing.assert_allclose(T.apply_transform(flat, {"sharpness": 0.0}), flat)  # blur of flat
    spike = np.zeros((5, 5, 1), dtype="float32")
    spike[2, 2] = 13
    blurred = T.apply_transform(spike, {"sharpness": 0.0})[..., 0]
    assert blurred[2, 2] == 5 and blurred[1, 1] == 1 and blurred[0, 0] == 0  # PIL SMOOTH kernel
    sharp = T.apply_transform(spike, {"sharpness": 2.0})[..., 0]
    assert sharp[2, 2] == 21 and sharp[1, 1] == -1
    noisy = T.apply_transform(img, {"noise_std": 2.0, "noise_seed": 3})
    np.testing.assert_array_equal(noisy, T.apply_transform(img, {"noise_std": 2.0,
                                                                  "noise_seed": 3}))
    assert 0.5 < np.std(noisy - img) < 4


def test_channel_shift_clips_to_image_range(img):
    out = T.apply_transform(img, {"channel_shift_intensity": 10.0})
    np.testing.assert_allclose(out, np.clip(img + 10, img.min(), img.max()))


def test_random_transform_draws_within_ranges():
    rng = np.random.default_rng(0)
    draws = [T.get_random_transform((10, 20, 3), rng, rotation_range=30, width_shift_range=0.1,
                                    height_shift_range=2, zoom_range=(0.8, 1.2),
                                    horizontal_flip=True, brightness_range=(0.5, 1.5))
             for _ in range(200)]
    assert all(-30 <= d["theta"] <= 30 for d in draws)
    assert all(-2 <= d["ty"] <= 2 for d in draws)  # 0.1 * width 20
    assert {d["tx"] for d in draws} <= {-1.0, 0.0, 1.0}  # int 2 -> +-[0, 2) pixels (Keras)
    assert all(0.8 <= d["zx"] <= 1.2 and 0.5 <= d["brightness"] <= 1.5 for d in draws)
    flips = sum(d["flip_horizontal"] for d in draws)
    assert 60 < flips < 140 and not any(d["flip_vertical"] for d in draws)


def test_generator_random_transform_is_seeded(img):
    gen = ImageDataGenerator(rotation_range=40, zoom_range=0.3, gaussian_noise_std=1.0)
    a = gen.random_transform(img, seed=5)
    np.testing.assert_array_equal(a, gen.random_transform(img, seed=5))
    assert not np.array_equal(a, gen.random_transform(img, seed=6))


@pytest.mark.parametrize("bad", [{"zoom_range": (1, 2, 3)}, {"fill_mode": "mirror"},
                                 {"validation_split": 1.5}, {"zca_whitening": True}])
def test_generator_rejects_bad_arguments(bad):
    with pytest.raises(ValueError):
        ImageDataGenerator(**bad)


@pytest.mark.parametrize("arg,value", [
    ("rotation_range", -5), ("rotation_range", float("nan")), ("rotation_range", "10"),
    ("zoom_range", -1), ("zoom_range", 1), ("zoom_range", (0, 1.2)), ("zoom_range", (0.8, -1)),
    ("zoom_range", (0.9,)), ("zoom_range", (1.2, 0.8)), ("width_shift_range", -0.1),
    ("height_shift_range", [0.1, -2]),
    ("height_shift_range", []), ("width_shift_range", "0.1"), ("shear_range", -10),
    ("channel_shift_range", -1), ("brightness_range", 0.5), ("brightness_range", (0.5, 1, 2)),
    ("brightness_range", ("a", "b")), ("brightness_range", (-0.5, 1)),
    ("contrast_range", 2), ("gaussian_noise_std", -1.0),
])
def test_generator_rejects_bad_ranges_naming_them(arg, value):
    received = re.escape(f"Received: {arg}={value!r}.")
    with pytest.raises(ValueError, match=rf"`{arg}` of ImageDataGenerator: expected .*{received}"):
        ImageDataGenerator(**{arg: value})


@pytest.mark.parametrize("kwargs", [
    {"rotation_range": 0, "zoom_range": 0, "width_shift_range": 0, "brightness_range": None},
    {"rotation_range": np.float32(10), "zoom_range": 0.99, "shear_range": 5.0},
    {"zoom_range": [0.5, 1.0], "width_shift_range": [1, 2], "height_shift_range": 3},
    {"zoom_range": np.array([0.9, 0.9]), "brightness_range": np.array([0.0, 1.5])},
])
def test_generator_accepts_keras_ranges(kwargs):
    ImageDataGenerator(**kwargs).random_params((8, 8, 1), np.random.default_rng(0))
