"""Depthwise and grouped 2D convolution on NHWC arrays.

Depthwise (Keras `DepthwiseConv2D`, kernel `(kh, kw, c, m)` with m the depth multiplier): each
input channel is convolved with its own m filters; output channel `ci * m + k` comes from input
channel ci and filter k, as in TF. There is no sum over channels, so no matrix product: the
forward is kh*kw strided multiply-adds over the whole batch (one per kernel offset, the pooling
module's pattern), and so are both gradients.

Grouped (Keras `Conv2D(groups=g)`, kernel `(kh, kw, c/g, f)`): group k's filters
`f/g * k ... f/g * (k+1) - 1` see input channels `c/g * k ...`; the g products run as one
batched matmul over the column matrix.

Shape letters as in conv.py; m depth multiplier, g groups.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from kernelnet._typing import Array
from kernelnet.ops.conv import Pads, _geometry, _im2col, _offsets, _pad


class DepthwiseCache(NamedTuple):
    xp: Array              # padded input (n, h+t+b, w+l+r, c)
    x_shape: tuple
    kernel: Array          # (kh, kw, c, m)
    has_bias: bool
    pads: Pads
    strides: tuple
    dilation: tuple
    out_hw: tuple


def _check(x: Array, kernel: Array, what: str, c_in: int) -> None:
    if x.ndim != 4 or x.shape[3] != c_in:
        raise ValueError(
            f"{what} expects NHWC input with {c_in} channels to match kernel shape "
            f"{tuple(kernel.shape)}. Received input with shape {tuple(x.shape)}."
        )


def _rows(window: Array, vec: Array) -> tuple[Array, Array]:
    """`(window, vec)` with each image row's (ow, c) axes merged into one when the window's
    columns are contiguous (stride 1), and `vec` (c,) tiled to match: NumPy's inner loop then
    runs over ow*c contiguous values. NOTE: broadcasting a (c,) vector over a strided 4-D
    window measured 2-4x slower than over these rows, at (32, 56, 56, 32)."""
    n, oh, ow, c = window.shape
    if window.strides[2] == c * window.itemsize and window.strides[3] == window.itemsize:
        return window.reshape(n, oh, ow * c), np.tile(vec, ow)
    return window, vec


# Samples per pass: the offsets' multiply-adds sweep a chunk of about this many input bytes, so
# the chunk's output and scratch stay in the L2 cache between offsets. Whole-batch passes were
# memory-bound: 32.8 -> 19.7 ms at (32, 56, 56, 32), 51.6 -> 21.3 ms at (32, 56, 56, 96) stride 2.
_CHUNK_BYTES = 512 * 1024


def _chunks(x: Array) -> list[tuple[int, int]]:
    """`(lo, hi)` batch ranges of about `_CHUNK_BYTES` of `x` each (at least one sample)."""
    n = x.shape[0]
    per = max(1, _CHUNK_BYTES // max(1, x[:1].nbytes))
    return [(lo, min(n, lo + per)) for lo in range(0, n, per)]


def depthwise_conv2d_forward(x: Array, kernel: Array, bias: Array | None = None,
                             strides: Any = 1, padding: Any = "valid",
                             dilation_rate: Any = 1) -> tuple[Array, DepthwiseCache]:
    """Depthwise convolution of NHWC `x` with `kernel` (kh, kw, c, m); returns `(y, cache)`,
    `y` of shape `(n, oh, ow, c * m)`.

    Example:
        >>> y, _ = depthwise_conv2d_forward(np.ones((1, 4, 4, 2)), np.ones((3, 3, 2, 3)))
        >>> y.shape, float(y[0, 0, 0, 0])
        ((1, 2, 2, 6), 9.0)
    """
    kh, kw, c, m = kernel.shape
    _check(x, kernel, "depthwise_conv2d", c)
    pads, s, d, oh, ow = _geometry(x.shape, kh, kw, strides, padding, dilation_rate)
    xp = _pad(x, pads)
    k = kernel.astype(x.dtype, copy=False)
    n = x.shape[0]
    # y[..., c, q] = sum over kernel offsets (i, j) of window_ij[..., c] * K[i, j, c, q]
    y = np.zeros((n, oh, ow, c, m), dtype=x.dtype)
    offsets = list(_offsets(kh, kw, s, d, oh, ow))
    for lo, hi in _chunks(xp):
        xc, out = xp[lo:hi], y[lo:hi].reshape(hi - lo, oh, ow, c) if m == 1 else y[lo:hi]
        tmp = None
        for i, j, rows, cols in offsets:
            if m == 1:
                win, kv = _rows(xc[:, rows, cols], k[i, j, :, 0])
            else:
                win, kv = xc[:, rows, cols, :, None], k[i, j]
            acc = out.reshape(win.shape) if m == 1 else out
            if tmp is None or tmp.shape != acc.shape:
                tmp = np.empty_like(acc)
            np.multiply(win, kv, out=tmp)
            acc += tmp
    y = y.reshape(n, oh, ow, c * m)
    if bias is not None:
        y += bias.astype(x.dtype, copy=False)
    cache = DepthwiseCache(xp, tuple(x.shape), kernel, bias is not None, pads, s, d, (oh, ow))
    return y, cache


def depthwise_conv2d_backward(grad: Array, cache: DepthwiseCache, need_dx: bool = True,
                              need_dkernel: bool = True) -> tuple:
    """Given dL/dy `(n, oh, ow, c*m)`, returns `(dx, dkernel, dbias)` (None where not asked)."""
    from kernelnet.ops.nn import sum_rows

    kh, kw, c, m = cache.kernel.shape
    n, oh, ow = grad.shape[:3]
    g = grad.reshape(n, oh, ow, c, m)
    dx = dkernel = dbias = None
    offsets = list(_offsets(kh, kw, cache.strides, cache.dilation, oh, ow))
    if need_dkernel:
        dkernel = np.zeros(cache.kernel.shape, dtype=grad.dtype)
        for lo, hi in _chunks(cache.xp):
            xc, gc, prod = cache.xp[lo:hi], g[lo:hi], None
            for i, j, rows, cols in offsets:
                # dK[i, j, c, q] = sum over n, oh, ow of window_ij[..., c] * g[..., c, q]
                if m == 1:
                    prod = np.multiply(xc[:, rows, cols, :], gc[..., 0], out=prod)
                    dkernel[i, j, :, 0] += sum_rows(prod.reshape(-1, c))
                else:
                    dkernel[i, j] += np.einsum("nhwc,nhwcm->cm", xc[:, rows, cols, :], gc)
        if cache.has_bias:
            dbias = sum_rows(grad.reshape(-1, c * m))
    if need_dx:
        k = cache.kernel.astype(grad.dtype, copy=False)
        dxp = np.zeros(cache.xp.shape, dtype=grad.dtype)
        for lo, hi in _chunks(dxp):
            dxc, gc = dxp[lo:hi], g[lo:hi]
            for i, j, rows, cols in offsets:
                # window_ij of dx += sum over q of g[..., c, q] * K[i, j, c, q]
                if m == 1:
                    target, kv = _rows(dxc[:, rows, cols, :], k[i, j, :, 0])
                    target += gc[..., 0].reshape(target.shape) * kv
                else:
                    dxc[:, rows, cols, :] += np.einsum("nhwcm,cm->nhwc", gc, k[i, j])
        (t, _), (l, _) = cache.pads
        h, w = cache.x_shape[1:3]
        dx = dxp[:, t:t + h, l:l + w, :]
    return dx, dkernel, dbias


class GroupedCache(NamedTuple):
    x_shape: tuple
    cols: Array            # (g, n*oh*ow, kh*kw*c/g)
    kernel: Array          # (kh, kw, c/g, f)
    groups: int
    has_bias: bool
    pads: Pads
    strides: tuple
    dilation: tuple
    out_hw: tuple


def grouped_conv2d_forward(x: Array, kernel: Array, bias: Array | None = None, groups: int = 1,
                           strides: Any = 1, padding: Any = "valid",
                           dilation_rate: Any = 1) -> tuple[Array, GroupedCache]:
    """Grouped convolution: `kernel` (kh, kw, c/g, f) with c and f divisible by `groups`;
    returns `(y, cache)`, `y` of shape `(n, oh, ow, f)`.

    Example:
        >>> y, _ = grouped_conv2d_forward(np.ones((1, 3, 3, 4)), np.ones((3, 3, 2, 6)), groups=2)
        >>> y.shape, float(y[0, 0, 0, 0])
        ((1, 1, 1, 6), 18.0)
    """
    kh, kw, cg, f = kernel.shape
    g = int(groups)
    _check(x, kernel, f"grouped conv2d (groups={g})", cg * g)
    pads, s, d, oh, ow = _geometry(x.shape, kh, kw, strides, padding, dilation_rate)
    n, h, w, _ = x.shape
    # Group-major images (g*n, h, w, c/g): transposing the input is a copy 1/(kh*kw) the size of
    # the column matrix, whose own transpose was 2/3 of the forward time (measured 25 of 37 ms).
    xg = np.ascontiguousarray(x.reshape(n, h, w, g, cg).transpose(3, 0, 1, 2, 4))
    cols = _im2col(xg.reshape(g * n, h, w, cg), kh, kw, pads, s, d, oh, ow).reshape(
        g, n * oh * ow, kh * kw * cg)
    k = kernel.astype(x.dtype, copy=False).reshape(kh * kw * cg, g, f // g).transpose(1, 0, 2)
    y = np.matmul(cols, k)                                    # (g, m, f/g): one batched product
    y = y.transpose(1, 0, 2).reshape(n, oh, ow, f)
    if bias is not None:
        y = y + bias.astype(x.dtype, copy=False)
    return y, GroupedCache(tuple(x.shape), cols, kernel, g, bias is not None, pads, s, d,
                           (oh, ow))


def grouped_conv2d_backward(grad: Array, cache: GroupedCache, need_dx: bool = True,
                            need_dkernel: bool = True) -> tuple:
    """Given dL/dy `(n, oh, ow, f)`, returns `(dx, dkernel, dbias)` (None where not asked)."""
    from kernelnet.ops.conv import _col2im

    kh, kw, cg, f = cache.kernel.shape
    g = cache.groups
    g3 = grad.reshape(-1, g, f // g).transpose(1, 0, 2)            # (g, m, f/g)
    dx = dkernel = dbias = None
    if need_dkernel:
        dk = np.matmul(cache.cols.transpose(0, 2, 1), g3)           # (g, kh*kw*cg, f/g)
        dkernel = dk.transpose(1, 0, 2).reshape(cache.kernel.shape)
        if cache.has_bias:
            dbias = grad.reshape(-1, f).sum(axis=0)
    if need_dx:
        k = cache.kernel.astype(grad.dtype, copy=False).reshape(kh * kw * cg, g, f // g)
        dcols = np.matmul(g3, k.transpose(1, 2, 0))                 # (g, m, kh*kw*cg)
        n, h, w, c = cache.x_shape
        oh, ow = cache.out_hw
        dxg = _col2im(dcols.reshape(g * n * oh * ow, -1), (g * n, h, w, c // g), kh, kw,
                      cache.pads, cache.strides, cache.dilation, oh, ow)
        dx = dxg.reshape(g, n, h, w, c // g).transpose(1, 2, 3, 0, 4).reshape(n, h, w, c)
    return dx, dkernel, dbias
