"""Image resampling on NHWC arrays: sample every output pixel at a source coordinate.

One mechanism serves resizing, zoom, rotation and translation (Keras' `affine_transform`): the
caller gives source coordinates `(ys, xs)` per output pixel (pixel centres at integers), and
`sample` reads them with "nearest" or "bilinear" interpolation and Keras' fill modes for points
outside the image. Bilinear sampling is a fixed linear map of `x` for fixed coordinates, so its
gradient is the transposed map: a scatter-add of the same weights (`sample_backward`).

Fill modes (Keras `RandomRotation` etc.), for an image `a b c d`:
    reflect:  d c b a | a b c d | d c b a     (mirror about the edge, edge repeated)
    wrap:     a b c d | a b c d | a b c d
    nearest:  a a a a | a b c d | d d d d
    constant: k k k k | a b c d | k k k k     (k = fill_value)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from kernelnet._typing import Array

FILL_MODES = ("reflect", "wrap", "constant", "nearest")
INTERPOLATIONS = ("nearest", "bilinear")


def _map_index(i: Array, size: int, fill_mode: str) -> tuple[Array, Array]:
    """Integer source indices mapped into [0, size) per fill mode, and a validity mask
    (False where "constant" fill applies)."""
    if fill_mode == "constant":
        valid = (i >= 0) & (i < size)
        return np.clip(i, 0, size - 1), valid
    if fill_mode == "nearest":
        return np.clip(i, 0, size - 1), None
    if fill_mode == "wrap":
        return np.mod(i, size), None
    period = 2 * size                                  # reflect: d c b a | a b c d | d c b a
    i = np.mod(i, period)
    return np.where(i >= size, period - 1 - i, i), None


class SampleCache(NamedTuple):
    x_shape: tuple
    flat: Array        # (k, n*oh*ow) flat source pixel index per tap
    weights: Array     # (k, n*oh*ow) tap weights (0 where "constant" fill applies)


def sample(x: Array, ys: Array, xs: Array, interpolation: str = "bilinear",
           fill_mode: str = "constant", fill_value: float = 0.0) -> tuple[Array, SampleCache]:
    """Samples NHWC `x` at source coordinates `ys`, `xs` of shape `(n, oh, ow)`; returns
    `(y, cache)` with `y` of shape `(n, oh, ow, c)` in x's dtype.

    Example:
        >>> x = np.arange(4.0).reshape(1, 2, 2, 1)
        >>> ys, xs = np.full((1, 1, 1), 0.5), np.full((1, 1, 1), 0.5)
        >>> float(sample(x, ys, xs)[0][0, 0, 0, 0])
        1.5
    """
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"`interpolation` must be one of {INTERPOLATIONS}. "
                         f"Received: interpolation={interpolation!r}.")
    if fill_mode not in FILL_MODES:
        raise ValueError(f"`fill_mode` must be one of {FILL_MODES}. "
                         f"Received: fill_mode={fill_mode!r}.")
    n, h, w, c = x.shape
    base = (np.arange(n) * (h * w)).reshape(n, 1, 1)
    if interpolation == "nearest":
        # round half down like TF's nearest sampling of projective transforms
        taps = [(np.floor(ys + 0.5).astype(np.int64), np.floor(xs + 0.5).astype(np.int64),
                 np.ones(ys.shape))]
    else:
        y0, x0 = np.floor(ys), np.floor(xs)
        wy, wx = ys - y0, xs - x0
        y0, x0 = y0.astype(np.int64), x0.astype(np.int64)
        taps = [(y0, x0, (1 - wy) * (1 - wx)), (y0, x0 + 1, (1 - wy) * wx),
                (y0 + 1, x0, wy * (1 - wx)), (y0 + 1, x0 + 1, wy * wx)]
    flat, weights, fill = [], [], np.zeros(ys.shape)
    for yi, xi, wt in taps:
        yi, vy = _map_index(yi, h, fill_mode)
        xi, vx = _map_index(xi, w, fill_mode)
        if vy is not None:
            valid = vy & vx
            fill += np.where(valid, 0.0, wt)
            wt = np.where(valid, wt, 0.0)
        flat.append((base + yi * w + xi).reshape(-1))
        weights.append(wt.reshape(-1))
    flat, weights = np.stack(flat), np.stack(weights).astype(x.dtype)
    x2 = x.reshape(n * h * w, c)
    y = np.zeros((flat.shape[1], c), dtype=x.dtype)
    for f, wt in zip(flat, weights):                   # 1 or 4 taps
        y += x2[f] * wt[:, None]
    y = y.reshape(*ys.shape, c)
    if fill_mode == "constant" and fill_value != 0 and fill.any():
        y += (fill * fill_value).astype(x.dtype)[..., None]
    return y, SampleCache(tuple(x.shape), flat, weights)


def sample_backward(grad: Array, cache: SampleCache) -> Array:
    """dL/dx for dL/dy `grad` of shape `(n, oh, ow, c)`: the weights scattered back."""
    n, h, w, c = cache.x_shape
    g2 = grad.reshape(-1, c)
    dx = np.zeros((n * h * w, c), dtype=grad.dtype)
    for f, wt in zip(cache.flat, cache.weights):
        np.add.at(dx, f, g2 * wt[:, None])
    return dx.reshape(cache.x_shape)


def resize_coordinates(n: int, in_hw: tuple, out_hw: tuple) -> tuple[Array, Array]:
    """Source coordinates of a resize with half-pixel centres (TF 2 / Keras 3 `resize`):
    `src = (dst + 0.5) * in / out - 0.5`."""
    ys = (np.arange(out_hw[0]) + 0.5) * (in_hw[0] / out_hw[0]) - 0.5
    xs = (np.arange(out_hw[1]) + 0.5) * (in_hw[1] / out_hw[1]) - 0.5
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    return np.broadcast_to(yy, (n, *out_hw)), np.broadcast_to(xx, (n, *out_hw))


def affine_coordinates(transforms: Array, out_hw: tuple) -> tuple[Array, Array]:
    """Source coordinates for Keras' 8-number projective transforms `(n, 8)`: output point
    (x, y) reads input point ((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k),
    k = c0 x + c1 y + 1 (the convention of `keras.ops.image.affine_transform`)."""
    yy, xx = np.meshgrid(np.arange(out_hw[0], dtype=np.float64),
                         np.arange(out_hw[1], dtype=np.float64), indexing="ij")
    t = np.asarray(transforms, dtype=np.float64)[:, :, None, None]
    k = t[:, 6] * xx + t[:, 7] * yy + 1.0
    xs = (t[:, 0] * xx + t[:, 1] * yy + t[:, 2]) / k
    ys = (t[:, 3] * xx + t[:, 4] * yy + t[:, 5]) / k
    return ys, xs
