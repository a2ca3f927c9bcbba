"""Image files <-> arrays with Pillow: load_img, img_to_array, array_to_img, save_img."""

from __future__ import annotations

import os
import struct
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from kernelnet import backend
from kernelnet._typing import Array

INTERPOLATIONS = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "hamming": Image.Resampling.HAMMING,
    "box": Image.Resampling.BOX,
    "lanczos": Image.Resampling.LANCZOS,
}
COLOR_MODES = {"grayscale": "L", "rgb": "RGB", "rgba": "RGBA"}
CHANNELS = {"grayscale": 1, "rgb": 3, "rgba": 4}


def check_choice(value: Any, arg: str, allowed, who: str) -> str:
    """Raises the standard ValueError unless `value` is one of `allowed`."""
    if value not in allowed:
        names = ", ".join(repr(a) for a in allowed)
        raise ValueError(
            f"Invalid value for argument `{arg}` of {who}: expected one of {names}. "
            f"Received: {arg}={value!r}."
        )
    return value


def _center_crop_box(size: tuple[int, int], target: tuple[int, int]) -> tuple[int, int, int, int]:
    """Largest centred box of `size` (w, h) with the aspect ratio of `target` (w, h)."""
    w, h = size
    crop_w = min(w, round(h * target[0] / target[1]))
    crop_h = min(h, round(w * target[1] / target[0]))
    left, top = (w - crop_w) // 2, (h - crop_h) // 2
    return left, top, left + crop_w, top + crop_h


def load_img(
    path: str | os.PathLike,
    color_mode: str = "rgb",
    target_size: tuple[int, int] | None = None,
    interpolation: str = "nearest",
    keep_aspect_ratio: bool = False,
) -> Image.Image:
    """Loads an image file into a PIL image, as Keras does.

    Unlike Keras, the EXIF orientation of phone photos is applied, so pictures are upright.

    Args:
        path: image file.
        color_mode: "grayscale", "rgb" or "rgba"; grayscale, palette and RGBA files convert.
        target_size: `(height, width)` to resize to, or None for the original size.
        interpolation: "nearest", "bilinear", "bicubic", "hamming", "box" or "lanczos".
        keep_aspect_ratio: centre-crop to the target aspect ratio before resizing.
    """
    check_choice(color_mode, "color_mode", tuple(COLOR_MODES), "load_img()")
    check_choice(interpolation, "interpolation", tuple(INTERPOLATIONS), "load_img()")
    name = repr(os.fspath(path)) if isinstance(path, (str, os.PathLike)) else repr(path)
    try:
        img = _decode(path, color_mode, target_size)
    except FileNotFoundError as err:
        raise FileNotFoundError(
            f"No image file at {name} (working directory: {os.getcwd()})."
        ) from err
    except (IsADirectoryError, PermissionError):
        raise                                    # their messages already name the path
    except _Unconvertible as err:
        raise ValueError(f"Could not convert image {name} to 8-bit {color_mode}: {err}. Save "
                         "it as 8- or 16-bit integers, or floats in 0..1.") from err
    except (OSError, SyntaxError, ValueError, EOFError, struct.error,
            Image.DecompressionBombError) as err:  # what Pillow raises for bad files
        raise ValueError(
            f"Could not read image {name}: Pillow says {type(err).__name__}: {err}. Expected a "
            "PNG, JPEG, BMP, GIF, TIFF or WebP file; this one is corrupted, truncated or in "
            "another format."
        ) from err
    if target_size is not None:
        wh = (int(target_size[1]), int(target_size[0]))
        if img.size != wh:
            box = _center_crop_box(img.size, wh) if keep_aspect_ratio else None
            img = img.resize(wh, INTERPOLATIONS[interpolation], box=box)
    return img


def _decode(path: Any, color_mode: str, target_size: tuple[int, int] | None) -> Image.Image:
    """Opens and fully decodes `path` in `color_mode` (EXIF orientation applied)."""
    with Image.open(path) as img:
        if target_size is not None and img.format == "JPEG":
            # Lets libjpeg decode at 1/2, 1/4 or 1/8 scale when that still exceeds the target.
            side = max(target_size)  # square request: EXIF may still rotate the image
            img.draft("RGB" if color_mode != "grayscale" else "L", (side, side))
        bits = _bit_depth(img)
        img = ImageOps.exif_transpose(img)
        img = _to_8bit(img, bits)
        if img.mode != COLOR_MODES[color_mode]:
            return img.convert(COLOR_MODES[color_mode])
        img.load()
        return img


class _Unconvertible(ValueError):
    """A decoded image whose values have no defined 8-bit equivalent."""


def _bit_depth(img: Image.Image) -> int | None:
    """Bits per sample of a one-channel 16/32-bit integer image (None where unknown)."""
    if img.mode.startswith("I;16"):
        return 16
    if img.mode != "I":
        return None
    if img.format == "PNG":  # PNG samples have at most 16 bits
        return 16
    tags = getattr(img, "tag_v2", None)
    found = tags.get(258) if tags is not None else None  # TIFF BitsPerSample
    found = found[0] if isinstance(found, tuple) and found else found
    return int(found) if isinstance(found, int) and 1 <= found <= 32 else None


def _to_8bit(img: Image.Image, bits: int | None) -> Image.Image:
    """An 'L' image from a 16/32-bit integer image (scaled by its bit depth, as 65535 -> 255)
    or a float image (values in 0..1 are scaled by 255, values in 0..255 kept); other modes
    unchanged. Pillow's own conversion clips 16-bit values at 255 and truncates floats."""
    if img.mode not in ("I", "F") and not img.mode.startswith("I;16"):
        return img
    x = np.asarray(img).astype(np.float64)  # Pillow's I;16 / I / F arrays
    low, high = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
    if img.mode == "F":
        if not (np.isfinite(x).all() and low >= 0 and high <= 255):
            raise _Unconvertible(f"its float values span [{low:g}, {high:g}], expected 0..1 "
                                 "or 0..255")
        x = x * 255 if high <= 1 else x
    else:
        if bits is None or low < 0:
            raise _Unconvertible(f"its {img.mode} values span [{low:g}, {high:g}] with "
                                 f"{'unknown bit depth' if bits is None else 'negatives'}")
        x = x * (255 / (2.0**bits - 1))
    return Image.fromarray(np.clip(np.rint(x), 0, 255).astype(np.uint8), mode="L")


def img_to_array(img: Image.Image, data_format: str | None = None,
                 dtype: str | None = None) -> Array:
    """PIL image -> `(height, width, channels)` float array (floatx by default)."""
    _check_data_format(data_format)
    x = np.asarray(img, dtype=dtype or backend.floatx())
    return x[..., np.newaxis] if x.ndim == 2 else x


def array_to_img(x: Any, data_format: str | None = None, scale: bool = True,
                 dtype: str | None = None) -> Image.Image:
    """`(height, width, channels)` array with 1, 3 or 4 channels -> PIL image.

    With `scale=True` the values are shifted and scaled to 0..255 (as Keras does).
    """
    _check_data_format(data_format)
    x = np.asarray(x, dtype=dtype or backend.floatx())
    if x.ndim != 3 or x.shape[-1] not in (1, 3, 4):
        raise ValueError(
            "array_to_img() expects an array of shape (height, width, channels) with 1, 3 or 4 "
            f"channels. Received: shape {tuple(int(d) for d in x.shape)}."
        )
    if scale:
        x = x - x.min()
        peak = x.max()
        if peak > 0:
            x = x * (255.0 / peak)
    x = np.clip(np.rint(x), 0, 255).astype(np.uint8)
    return Image.fromarray(x[..., 0] if x.shape[-1] == 1 else x)


def save_img(path: str | os.PathLike, x: Any, data_format: str | None = None,
             file_format: str | None = None, scale: bool = True, **kwargs: Any) -> None:
    """Saves an HWC array as an image file (format from `file_format` or the extension)."""
    img = array_to_img(x, data_format=data_format, scale=scale)
    if img.mode == "RGBA" and (file_format or str(path).rsplit(".", 1)[-1]).lower() in (
            "jpg", "jpeg"):
        img = img.convert("RGB")
    img.save(path, format=file_format, **kwargs)


def _check_data_format(data_format: str | None) -> None:
    if data_format not in (None, "channels_last"):
        raise ValueError(
            "kernelnet images are channels-last (NHWC) only. Expected data_format=None or "
            f"'channels_last'. Received: data_format={data_format!r}. Transpose your arrays "
            "with x.transpose(0, 2, 3, 1)."
        )
