"""Pure image transforms for augmentation, on single HWC float images.

Two steps, as in Keras: `get_random_transform(img_shape, rng, **ranges)` draws a parameter dict,
and `apply_transform(x, params)` applies it deterministically (same params -> same output), so
tests can fix the parameters and workers can apply transforms in any thread.

Parameter keys (all optional; missing ones mean "no change"), Keras' names first:
    theta: rotation in degrees, with Keras' matrix (theta=90 gives `np.rot90(x, -1)`).
    tx, ty: shift in pixels along height (rows) and width (columns). Positive moves content
        up / left (the output samples the input `tx` rows further down), as in Keras.
    shear: shear angle in degrees.
    zx, zy: zoom factors along rows and columns (> 1 zooms out, as in Keras).
    flip_horizontal, flip_vertical: bools.
    channel_shift_intensity: added to every channel, clipped to the image's value range.
    brightness: multiplies pixel values (not clipped).
    contrast: `mean + contrast * (x - mean)` with the image mean (PIL's Contrast semantics).
    sharpness: 0 blurs, 1 is the identity, 2 sharpens (PIL's Sharpness semantics, 3x3 smooth).
    noise_std, noise_seed: additive Gaussian noise with this std, drawn from `noise_seed`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from PIL import Image

from kernelnet._typing import Array

_PAD_MODES = {"nearest": "edge", "reflect": "symmetric", "wrap": "wrap"}
FILL_MODES = ("constant", *_PAD_MODES)


def _shift(spec: Any, size: int, rng: np.random.Generator) -> float:
    """Keras' shift semantics: float -> uniform(-s, s); int n -> +-[0, n); list -> +-choice."""
    if not spec:
        return 0.0
    if isinstance(spec, (list, tuple, np.ndarray)):
        value = float(rng.choice(np.asarray(spec))) * rng.choice([-1, 1])
    elif isinstance(spec, (int, np.integer)):
        value = float(rng.integers(0, spec)) * rng.choice([-1, 1])
    else:
        value = float(rng.uniform(-spec, spec))
    return value * size if np.max(spec) < 1 else value


def _uniform(bounds: Any, rng: np.random.Generator) -> float | None:
    return None if bounds is None else float(rng.uniform(bounds[0], bounds[1]))


def get_random_transform(
    img_shape: tuple[int, ...],
    rng: np.random.Generator,
    *,
    rotation_range: float = 0.0,
    width_shift_range: Any = 0.0,
    height_shift_range: Any = 0.0,
    shear_range: float = 0.0,
    zoom_range: tuple[float, float] = (1.0, 1.0),
    channel_shift_range: float = 0.0,
    horizontal_flip: bool = False,
    vertical_flip: bool = False,
    brightness_range: tuple[float, float] | None = None,
    contrast_range: tuple[float, float] | None = None,
    sharpness_range: tuple[float, float] | None = None,
    gaussian_noise_std: float = 0.0,
) -> dict:
    """Draws one image's augmentation parameters from `rng` (see the module docstring for keys).

    `img_shape` is `(height, width, channels)`. `zoom_range` must already be a `(lo, hi)` pair.
    """
    h, w = img_shape[0], img_shape[1]
    params: dict[str, Any] = {
        "theta": float(rng.uniform(-rotation_range, rotation_range)) if rotation_range else 0.0,
        "tx": _shift(height_shift_range, h, rng),
        "ty": _shift(width_shift_range, w, rng),
        "shear": float(rng.uniform(-shear_range, shear_range)) if shear_range else 0.0,
        "zx": 1.0,
        "zy": 1.0,
    }
    if tuple(zoom_range) != (1.0, 1.0):
        params["zx"], params["zy"] = (float(z) for z in rng.uniform(*zoom_range, size=2))
    if channel_shift_range:
        params["channel_shift_intensity"] = float(
            rng.uniform(-channel_shift_range, channel_shift_range))
    params["flip_horizontal"] = bool(horizontal_flip and rng.random() < 0.5)
    params["flip_vertical"] = bool(vertical_flip and rng.random() < 0.5)
    params["brightness"] = _uniform(brightness_range, rng)
    params["contrast"] = _uniform(contrast_range, rng)
    params["sharpness"] = _uniform(sharpness_range, rng)
    if gaussian_noise_std:
        params["noise_std"] = float(gaussian_noise_std)
        params["noise_seed"] = int(rng.integers(2**32))
    return params


def transform_matrix(params: dict, h: int, w: int) -> Array:
    """3x3 map from output (row, col, 1) to input (row, col, 1) index coordinates (Keras' order).

    `rotation @ shift @ shear @ zoom`, conjugated so the image centre is the fixed point.
    """
    theta = np.deg2rad(params.get("theta", 0.0))
    shear = np.deg2rad(params.get("shear", 0.0))
    zx, zy = params.get("zx", 1.0), params.get("zy", 1.0)
    rotation = np.array([[np.cos(theta), -np.sin(theta), 0], [np.sin(theta), np.cos(theta), 0],
                         [0, 0, 1]])
    shift = np.array([[1, 0, params.get("tx", 0.0)], [0, 1, params.get("ty", 0.0)], [0, 0, 1]])
    shear_m = np.array([[1, -np.sin(shear), 0], [0, np.cos(shear), 0], [0, 0, 1]])
    zoom = np.array([[zx, 0, 0], [0, zy, 0], [0, 0, 1]])
    oy, ox = h / 2 - 0.5, w / 2 - 0.5
    to_centre = np.array([[1, 0, oy], [0, 1, ox], [0, 0, 1]])
    from_centre = np.array([[1, 0, -oy], [0, 1, -ox], [0, 0, 1]])
    return to_centre @ rotation @ shift @ shear_m @ zoom @ from_centre


def _pad_for(matrix: Array, h: int, w: int) -> tuple[int, int, int, int]:
    """Padding (top, bottom, left, right) so every sampled source pixel exists after np.pad."""
    corners = matrix @ np.array([[0, 0, h - 1, h - 1], [0, w - 1, 0, w - 1], [1, 1, 1, 1]])
    cap = 4 * max(h, w)  # beyond that, far-away pixels are not worth the memory
    top = min(cap, max(0, math.ceil(-corners[0].min()) + 2))
    bottom = min(cap, max(0, math.ceil(corners[0].max() - (h - 1)) + 2))
    left = min(cap, max(0, math.ceil(-corners[1].min()) + 2))
    right = min(cap, max(0, math.ceil(corners[1].max() - (w - 1)) + 2))
    return top, bottom, left, right


def apply_affine(x: Array, matrix: Array, fill_mode: str = "nearest", cval: float = 0.0,
                 order: int = 1) -> Array:
    """Resamples HWC `x` at `matrix @ (row, col, 1)` for every output pixel, with Pillow.

    Pillow only fills with a constant, so the other fill modes pad the image first with the
    matching `np.pad` mode (nearest -> edge, reflect -> symmetric `dcba|abcd|dcba`, wrap).
    """
    h, w, c = x.shape
    if fill_mode != "constant":
        top, bottom, left, right = _pad_for(matrix, h, w)
        x = np.pad(x, ((top, bottom), (left, right), (0, 0)), mode=_PAD_MODES[fill_mode])
        matrix = np.array([[1, 0, top], [0, 1, left], [0, 0, 1]]) @ matrix
    # Pillow maps output (col, row) pixel centres (index + 0.5) to input ones: swap the axes
    # and move the offset to centre coordinates.
    a = matrix[:2, :2][::-1, ::-1]
    t = matrix[:2, 2][::-1] + 0.5 - a @ np.array([0.5, 0.5])
    data = (a[0, 0], a[0, 1], t[0], a[1, 0], a[1, 1], t[1])
    resample = Image.Resampling.NEAREST if order == 0 else Image.Resampling.BILINEAR
    channels = [
        np.asarray(Image.fromarray(np.ascontiguousarray(x[..., k], dtype=np.float32), mode="F")
                   .transform((w, h), Image.Transform.AFFINE, data, resample=resample,
                              fillcolor=float(cval)))
        for k in range(c)
    ]
    return np.stack(channels, axis=-1)


def _smooth(x: Array) -> Array:
    """PIL's SMOOTH filter ([[1,1,1],[1,5,1],[1,1,1]] / 13) with edge padding, per channel."""
    h, w = x.shape[:2]
    padded = np.pad(x, ((1, 1), (1, 1), (0, 0)), mode="edge")
    total = 4 * x
    for dy in range(3):
        for dx in range(3):
            total = total + padded[dy:dy + h, dx:dx + w]
    return total / 13


def apply_transform(x: Array, params: dict, fill_mode: str = "nearest", cval: float = 0.0,
                    interpolation_order: int = 1) -> Array:
    """Applies `params` to one HWC image; returns a new float array of x's dtype.

    Order: affine (rotation, shift, shear, zoom), channel shift, flips, brightness, contrast,
    sharpness, noise.

    Example:
        >>> x = np.arange(6, dtype="float32").reshape(2, 3, 1)
        >>> bool((apply_transform(x, {"flip_horizontal": True}) == x[:, ::-1]).all())
        True
    """
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype("float32")
    x = np.array(x, dtype=dtype)  # a copy: the caller's array is never modified
    matrix = transform_matrix(params, x.shape[0], x.shape[1])
    if not np.allclose(matrix, np.eye(3)):
        x = apply_affine(x, matrix, fill_mode, cval, interpolation_order).astype(dtype)
    if params.get("channel_shift_intensity"):
        x = np.clip(x + params["channel_shift_intensity"], x.min(), x.max())
    if params.get("flip_horizontal"):
        x = x[:, ::-1]
    if params.get("flip_vertical"):
        x = x[::-1]
    if params.get("brightness") is not None:
        x = x * dtype.type(params["brightness"])
    if params.get("contrast") is not None:
        mean = x.mean()
        x = mean + dtype.type(params["contrast"]) * (x - mean)
    if params.get("sharpness") is not None:
        smooth = _smooth(x)
        x = smooth + dtype.type(params["sharpness"]) * (x - smooth)
    if params.get("noise_std"):
        noise = np.random.default_rng(params["noise_seed"]).normal(0, params["noise_std"], x.shape)
        x = x + noise.astype(dtype)
    return np.ascontiguousarray(x, dtype=dtype)
