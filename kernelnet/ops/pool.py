"""Max/average pooling and global pooling on NHWC arrays.

Windows are visited one pool offset at a time: for offset (i, j) the strided slice
`x[:, i::s, j::s, :]` holds that offset's pixel of every window, so each offset is one vectorized
operation over the whole batch (ph*pw operations in all, no Python loop over pixels).

Max pooling records, per output, which offset held the maximum (ties go to the first offset in
row-major order) and sends the whole gradient there. 'same' max pooling pads with -inf; 'same'
average pooling divides by the number of real (non-padded) pixels, as TF/Keras do.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from kernelnet._typing import Array
from kernelnet.ops.conv import Pads, _pad, _pair, conv_output_size, resolve_padding


class PoolCache(NamedTuple):
    x_shape: tuple[int, int, int, int]
    pool: tuple[int, int]
    strides: tuple[int, int]
    pads: Pads
    out_hw: tuple[int, int]
    data: Array  # max: argmax offset per output (n, oh, ow, c); avg: divisor (oh, ow, 1)


def _geometry(x: Array, pool_size: Any, strides: Any, padding: Any) -> tuple:
    """(pool, strides, pads, oh, ow); raises ValueError for an empty output."""
    if x.ndim != 4:
        raise ValueError(f"Pooling expects NHWC input. Received input with shape {x.shape}.")
    p = _pair(pool_size, "pool_size")
    s = p if strides is None else _pair(strides, "strides")
    pads = resolve_padding(padding, x.shape[1:3], p, s, 1)
    oh = conv_output_size(x.shape[1], p[0], s[0], pads[0])
    ow = conv_output_size(x.shape[2], p[1], s[1], pads[1])
    if oh <= 0 or ow <= 0:
        raise ValueError(
            f"Pooling would produce an empty output: input spatial size {tuple(x.shape[1:3])} is "
            f"smaller than pool_size={p} with padding={padding!r}."
        )
    return p, s, pads, oh, ow


def _offsets(p: tuple, s: tuple, oh: int, ow: int):
    """Yields (k, slice over rows, slice over cols) for every pool offset, k in row-major order."""
    for i, rows in enumerate(_axis_slices(p[0], s[0], oh)):
        for j, cols in enumerate(_axis_slices(p[1], s[1], ow)):
            yield i * p[1] + j, rows, cols


def _axis_slices(p: int, s: int, out: int) -> list[slice]:
    """The strided slices along one axis holding each pool offset's pixel of every window."""
    return [slice(i, i + s * (out - 1) + 1, s) for i in range(p)]


def _padded_zeros(cache: PoolCache, dtype: Any) -> Array:
    n, h, w, c = cache.x_shape
    (t, b), (l, r) = cache.pads
    return np.zeros((n, h + t + b, w + l + r, c), dtype=dtype)


def _crop(xp: Array, cache: PoolCache) -> Array:
    (t, _), (l, _) = cache.pads
    h, w = cache.x_shape[1:3]
    return xp[:, t:t + h, l:l + w, :]


def max_pool2d_forward(x: Array, pool_size: Any, strides: Any = None,
                       padding: Any = "valid") -> tuple[Array, PoolCache]:
    """Max over `pool_size` windows of NHWC `x`; returns `(y, cache)`. strides default to pool_size.

    Example:
        >>> y, cache = max_pool2d_forward(np.arange(16.0).reshape(1, 4, 4, 1), 2)
        >>> y[0, :, :, 0]
        array([[ 5.,  7.],
               [13., 15.]])
    """
    p, s, pads, oh, ow = _geometry(x, pool_size, strides, padding)
    xp = _pad(x, pads, -np.inf)
    y = np.empty((x.shape[0], oh, ow, x.shape[3]), dtype=x.dtype)
    argmax = np.zeros(y.shape, dtype=np.uint8 if p[0] * p[1] < 256 else np.int32)
    for k, rows, cols in _offsets(p, s, oh, ow):
        window = xp[:, rows, cols, :]
        if k == 0:
            np.copyto(y, window)
            continue
        better = np.greater(window, y)  # strict: ties keep the earlier offset
        np.maximum(y, window, out=y)
        # The winner is the last offset that improved the running max, i.e. the largest k with
        # `better`; max-accumulating k * better is ~3x faster than masked copies (measured).
        np.maximum(argmax, better * argmax.dtype.type(k), out=argmax)
    return y, PoolCache(tuple(x.shape), p, s, pads, (oh, ow), argmax)


def max_pool2d_backward(grad: Array, cache: PoolCache) -> Array:
    """Routes each output gradient to the (first) maximum of its window; returns dx."""
    dxp = _padded_zeros(cache, grad.dtype)
    overlapping = cache.strides[0] < cache.pool[0] or cache.strides[1] < cache.pool[1]
    for k, rows, cols in _offsets(cache.pool, cache.strides, *cache.out_hw):
        target = dxp[:, rows, cols, :]
        if overlapping:
            target += grad * (cache.data == k)
        else:
            np.multiply(grad, cache.data == k, out=target)
    return _crop(dxp, cache)


def max_pool2d(x: Array, pool_size: Any, strides: Any = None, padding: Any = "valid") -> Array:
    """Cache-free max pooling (inference).

    Example:
        >>> max_pool2d(np.zeros((2, 5, 5, 3)), 2, padding="same").shape
        (2, 3, 3, 3)
    """
    p, s, pads, oh, ow = _geometry(x, pool_size, strides, padding)
    xp = _pad(x, pads, -np.inf)
    y = np.empty((x.shape[0], oh, ow, x.shape[3]), dtype=x.dtype)
    for k, rows, cols in _offsets(p, s, oh, ow):
        if k == 0:
            np.copyto(y, xp[:, rows, cols, :])
        else:
            np.maximum(y, xp[:, rows, cols, :], out=y)
    return y


def _real_counts(size: int, p: int, s: int, before: int, out: int) -> Array:
    """Number of real (non-padded) pixels in each window along one axis."""
    start = np.arange(out) * s - before
    return np.minimum(start + p, size) - np.maximum(start, 0)


def _add_all(parts: list[Array]) -> Array:
    """Sum of same-shaped arrays, in a fresh array."""
    total = np.add(parts[0], parts[1]) if len(parts) > 1 else parts[0].copy()
    for part in parts[2:]:
        total += part
    return total


def avg_pool2d_forward(x: Array, pool_size: Any, strides: Any = None,
                       padding: Any = "valid") -> tuple[Array, PoolCache]:
    """Mean over `pool_size` windows of NHWC `x` (real pixels only); returns `(y, cache)`.

    Window sums are separable: whole image rows are summed first (each operation runs over
    rows of w*c contiguous values), then columns (runs of c values), ph + pw operations in all.
    NOTE: measured 1.1-1.7x faster than one strided operation per pool offset on 4 of 5
    layer shapes (LeNet-5's first pooling, 6 channels: 1.0 -> 0.6 ms for 123 samples);
    (32, 16, 16, 64) went 0.26 -> 0.32 ms.

    Example:
        >>> y, cache = avg_pool2d_forward(np.arange(16.0).reshape(1, 4, 4, 1), 2)
        >>> y[0, :, :, 0]
        array([[ 2.5,  4.5],
               [10.5, 12.5]])
    """
    p, s, pads, oh, ow = _geometry(x, pool_size, strides, padding)
    xp = _pad(x, pads)
    rows = _add_all([xp[:, i] for i in _axis_slices(p[0], s[0], oh)])      # (n, oh, wp, c)
    y = _add_all([rows[:, :, j] for j in _axis_slices(p[1], s[1], ow)])    # (n, oh, ow, c)
    count_h = _real_counts(x.shape[1], p[0], s[0], pads[0][0], oh)
    count_w = _real_counts(x.shape[2], p[1], s[1], pads[1][0], ow)
    counts = np.multiply.outer(count_h, count_w)[:, :, None].astype(x.dtype)  # (oh, ow, 1)
    if np.all(counts == p[0] * p[1]):
        counts = x.dtype.type(p[0] * p[1])  # no padding inside any window: one scalar
    y /= counts
    return y, PoolCache(tuple(x.shape), p, s, pads, (oh, ow), counts)


def avg_pool2d_backward(grad: Array, cache: PoolCache) -> Array:
    """Spreads each output gradient evenly over the real pixels of its window; returns dx."""
    share = grad / np.asarray(cache.data, dtype=grad.dtype)
    dxp = _padded_zeros(cache, grad.dtype)
    overlapping = cache.strides[0] < cache.pool[0] or cache.strides[1] < cache.pool[1]
    for _, rows, cols in _offsets(cache.pool, cache.strides, *cache.out_hw):
        if overlapping:
            dxp[:, rows, cols, :] += share
        else:
            dxp[:, rows, cols, :] = share
    return _crop(dxp, cache)


def avg_pool2d(x: Array, pool_size: Any, strides: Any = None, padding: Any = "valid") -> Array:
    """Cache-free average pooling.

    Example:
        >>> avg_pool2d(np.ones((1, 3, 3, 1)), 2, 1)[0, :, :, 0]
        array([[1., 1.],
               [1., 1.]])
    """
    return avg_pool2d_forward(x, pool_size, strides, padding)[0]


def global_avg_pool2d(x: Array, keepdims: bool = False) -> Array:
    """Mean over height and width: `(n, c)`, or `(n, 1, 1, c)` with keepdims.

    Example:
        >>> global_avg_pool2d(np.ones((2, 3, 3, 4))).shape
        (2, 4)
    """
    return x.mean(axis=(1, 2), keepdims=keepdims, dtype=x.dtype)


def global_avg_pool2d_backward(grad: Array, x_shape: tuple) -> Array:
    """dx of `global_avg_pool2d` for dL/dy `grad` ((n, c) or (n, 1, 1, c))."""
    n, h, w, c = x_shape
    dx = np.empty(x_shape, dtype=grad.dtype)
    dx[...] = grad.reshape(n, 1, 1, c) / grad.dtype.type(h * w)
    return dx


def global_max_pool2d_forward(x: Array, keepdims: bool = False) -> tuple[Array, tuple]:
    """Max over height and width (first max on ties); returns `(y, cache)`.

    Example:
        >>> y, cache = global_max_pool2d_forward(np.arange(8.0).reshape(1, 2, 2, 2))
        >>> y
        array([[6., 7.]])
    """
    n, h, w, c = x.shape
    flat = x.reshape(n, h * w, c)
    argmax = flat.argmax(axis=1)[:, None, :]  # (n, 1, c)
    y = np.take_along_axis(flat, argmax, axis=1)
    y = y.reshape(n, 1, 1, c) if keepdims else y.reshape(n, c)
    return y, (tuple(x.shape), argmax)


def global_max_pool2d_backward(grad: Array, cache: tuple) -> Array:
    """dx of `global_max_pool2d_forward`: the gradient goes to each channel's maximum."""
    (n, h, w, c), argmax = cache
    dx = np.zeros((n, h * w, c), dtype=grad.dtype)
    np.put_along_axis(dx, argmax, grad.reshape(n, 1, c), axis=1)
    return dx.reshape(n, h, w, c)


def global_max_pool2d(x: Array, keepdims: bool = False) -> Array:
    """Cache-free global max pooling: `(n, c)`, or `(n, 1, 1, c)` with keepdims."""
    return x.max(axis=(1, 2), keepdims=keepdims)
