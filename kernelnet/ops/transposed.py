"""Transposed 2D convolution (Keras `Conv2DTranspose`) on NHWC arrays: the adjoint of conv2d.

Kernels are Keras' `(kh, kw, filters, c_in)`: the kernel of the forward convolution that maps
the `filters`-channel output back to the `c_in`-channel input. The transposed convolution of
`x` is therefore that convolution's input gradient (`col2im(x2d @ kernel2d.T)`), computed on the
"full" canvas of size `(h - 1) * s + k_eff` and then cut to the Keras output size; its input
gradient is the forward convolution (im2col + one product) of the incoming gradient.

Output length along an axis (Keras `deconv_output_length`, k = dilated kernel size):
    output_padding None: "valid" -> h*s + max(k - s, 0), "same" -> h*s
    output_padding op:   (h - 1)*s + k - 2*pad + op, pad = k // 2 for "same", 0 for "valid"
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from kernelnet._typing import Array
from kernelnet.ops.conv import _col2im, _effective, _im2col, _pair


def output_length(size: int | None, kernel: int, stride: int, padding: str,
                  output_padding: int | None = None, dilation: int = 1) -> int | None:
    """Keras' `deconv_output_length` for one axis (None stays None).

    Example:
        >>> output_length(4, 3, 2, "valid"), output_length(4, 3, 2, "same")
        (9, 8)
    """
    if size is None:
        return None
    k = _effective(kernel, dilation)
    if output_padding is None:
        if padding == "valid":
            return size * stride + max(k - stride, 0)
        return size * stride
    pad = k // 2 if padding == "same" else 0
    return (size - 1) * stride + k - 2 * pad + output_padding


def _crop_start(size: int, kernel: int, stride: int, padding: str, out: int,
                dilation: int) -> int:
    """Where the Keras output starts on the full canvas of length (size-1)*s + k: TF's
    "same" rule (half of the excess before, the odd pixel after), 0 for "valid"."""
    if padding != "same":
        return 0
    full = (size - 1) * stride + _effective(kernel, dilation)
    return max(full - out, 0) // 2


class TransposeCache(NamedTuple):
    x: Array               # the input (n, h, w, c_in)
    kernel: Array          # (kh, kw, filters, c_in)
    has_bias: bool
    strides: tuple
    dilation: tuple
    starts: tuple          # crop offsets (top, left) on the full canvas
    out_hw: tuple


def conv2d_transpose_forward(x: Array, kernel: Array, bias: Array | None = None,
                             strides: Any = 1, padding: str = "valid",
                             output_padding: Any = None,
                             dilation_rate: Any = 1) -> tuple[Array, TransposeCache]:
    """Transposed convolution of NHWC `x` with `kernel` (kh, kw, filters, c_in); returns
    `(y, cache)` with `y` of shape `(n, H, W, filters)` (sizes in the module docstring).

    Example:
        >>> y, _ = conv2d_transpose_forward(np.ones((1, 2, 2, 1)), np.ones((2, 2, 3, 1)), strides=2)
        >>> y.shape, float(y.sum())
        ((1, 4, 4, 3), 48.0)
    """
    kh, kw, f, c_in = kernel.shape
    if x.ndim != 4 or x.shape[3] != c_in:
        raise ValueError(
            f"conv2d_transpose expects NHWC input with {c_in} channels to match kernel shape "
            f"{tuple(kernel.shape)}. Received input with shape {tuple(x.shape)}."
        )
    s, d = _pair(strides, "strides"), _pair(dilation_rate, "dilation_rate")
    ops_ = (None, None) if output_padding is None else _pair(output_padding, "output_padding")
    n, h, w, _ = x.shape
    out_hw = tuple(output_length(size, k, st, padding, op, dd)
                   for size, k, st, op, dd in zip((h, w), (kh, kw), s, ops_, d))
    starts = tuple(_crop_start(size, k, st, padding, o, dd)
                   for size, k, st, o, dd in zip((h, w), (kh, kw), s, out_hw, d))
    full = tuple((size - 1) * st + _effective(k, dd)
                 for size, k, st, dd in zip((h, w), (kh, kw), s, d))
    k2 = kernel.astype(x.dtype, copy=False).reshape(kh * kw * f, c_in)
    cols = x.reshape(-1, c_in) @ k2.T                           # (n*h*w, kh*kw*f)
    canvas = _col2im(cols, (n, *full, f), kh, kw, ((0, 0), (0, 0)), s, d, h, w)
    y = _window(canvas, starts, out_hw)
    if bias is not None:
        y += bias.astype(x.dtype, copy=False)
    return y, TransposeCache(x, kernel, bias is not None, s, d, starts, out_hw)


def _window(canvas: Array, starts: tuple, out_hw: tuple) -> Array:
    """canvas[:, t:t+H, l:l+W] with zeros where the window runs past the canvas."""
    n, fh, fw, c = canvas.shape
    (t, l), (oh, ow) = starts, out_hw
    if t + oh <= fh and l + ow <= fw:
        return np.ascontiguousarray(canvas[:, t:t + oh, l:l + ow])
    y = np.zeros((n, oh, ow, c), dtype=canvas.dtype)
    part = canvas[:, t:t + oh, l:l + ow]
    y[:, :part.shape[1], :part.shape[2]] = part
    return y


def conv2d_transpose_backward(grad: Array, cache: TransposeCache, need_dx: bool = True,
                              need_dkernel: bool = True) -> tuple:
    """Given dL/dy `(n, H, W, filters)`, returns `(dx, dkernel, dbias)` (None where not asked)."""
    kh, kw, f, c_in = cache.kernel.shape
    n, h, w, _ = cache.x.shape
    s, d = cache.strides, cache.dilation
    full = tuple((size - 1) * st + _effective(k, dd)
                 for size, k, st, dd in zip((h, w), (kh, kw), s, d))
    (t, l), (oh, ow) = cache.starts, cache.out_hw
    gcanvas = np.zeros((n, *full, f), dtype=grad.dtype)      # adjoint of the crop
    gh, gw = min(oh, full[0] - t), min(ow, full[1] - l)
    gcanvas[:, t:t + gh, l:l + gw] = grad[:, :gh, :gw]
    gcols = _im2col(gcanvas, kh, kw, ((0, 0), (0, 0)), s, d, h, w)   # (n*h*w, kh*kw*f)
    dx = dkernel = dbias = None
    if need_dx:
        k2 = cache.kernel.astype(grad.dtype, copy=False).reshape(kh * kw * f, c_in)
        dx = (gcols @ k2).reshape(cache.x.shape)
    if need_dkernel:
        dkernel = (gcols.T @ cache.x.reshape(-1, c_in)).reshape(cache.kernel.shape)
        if cache.has_bias:
            dbias = grad.reshape(-1, f).sum(axis=0)
    return dx, dkernel, dbias
