"""Keras `ops.conv`, `ops.max_pool` and `ops.average_pool` as differentiable ops over the
kernels in `ops/conv.py` and `ops/pool.py` (NHWC, kernel `(kh, kw, c_in, c_out)`).

Only 2D (rank-4 inputs) is implemented, the case the layers cover. `data_format=
"channels_first"` is served by transposing to channels-last and back (recorded like any op).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kernelnet.autodiff.function import Function
from kernelnet.ops import pool as pool_kernels
from kernelnet.ops.conv import conv2d_backward, conv2d_forward


def _check_format(op: str, data_format: Any) -> bool:
    """True for channels_first; validates the value."""
    fmt = data_format or "channels_last"
    if fmt not in ("channels_last", "channels_first"):
        raise ValueError(
            f"ops.{op}: `data_format` must be 'channels_last' or 'channels_first'. "
            f"Received: data_format={data_format!r}."
        )
    return fmt == "channels_first"


def _check_padding(op: str, padding: Any) -> str:
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise ValueError(
            f'ops.{op}: `padding` must be "valid" or "same". Received: padding={padding!r}.'
        )
    return padding.lower()


def _channels_first(fn, x, *args):
    """Runs the channels-last `fn` on NCHW `x`, returning NCHW."""
    from kernelnet.ops.numpy import transpose

    return transpose(fn(transpose(x, (0, 2, 3, 1)), *args), (0, 3, 1, 2))


class _Conv(Function):
    @staticmethod
    def forward(ctx, x, kernel, strides=1, padding="valid", dilation_rate=1):
        x, kernel = np.asarray(x), np.asarray(kernel)
        y, cache = conv2d_forward(x, kernel, None, strides, padding, dilation_rate)
        ctx.cache = cache
        return y

    @staticmethod
    def backward(ctx, g):
        dx, dkernel, _ = conv2d_backward(
            g, ctx.cache, need_dx=ctx.needs_input_grad[0],
            need_dkernel=ctx.needs_input_grad[1])
        return dx, dkernel


def conv(inputs: Any, kernel: Any, strides: Any = 1, padding: str = "valid",
         data_format: str | None = None, dilation_rate: Any = 1) -> Any:
    """2D convolution (cross-correlation, as Keras and TensorFlow) of NHWC `inputs` with
    `kernel` `(kh, kw, c_in, c_out)`; output `(n, oh, ow, c_out)` with
    `oh = floor((h + pads - (kh - 1) * dilation - 1) / stride) + 1` ("same": `ceil(h / s)`).

    Example:
        >>> conv(np.ones((1, 4, 4, 2)), np.ones((3, 3, 2, 5))).shape
        (1, 2, 2, 5)
    """
    padding = _check_padding("conv", padding)
    first = _check_format("conv", data_format)
    x_shape, k_shape = np.shape(inputs), np.shape(kernel)
    channels = x_shape[1] if first and len(x_shape) == 4 else x_shape[-1] if x_shape else None
    if len(x_shape) != 4 or len(k_shape) != 4 or channels != k_shape[2]:
        raise ValueError(
            "ops.conv expects 4D inputs (batch, height, width, channels) and a 4D kernel "
            "(kh, kw, in_channels, out_channels) with matching channels (only 2D convolution "
            f"is implemented). Received shapes {tuple(x_shape)} and {tuple(k_shape)}."
        )
    if first:
        return _channels_first(lambda x: conv(x, kernel, strides, padding, None, dilation_rate),
                               inputs)
    return _Conv.apply(inputs, kernel, strides=strides, padding=padding,
                       dilation_rate=dilation_rate)


class _Pool(Function):
    @staticmethod
    def forward(ctx, x, kind="max", pool_size=2, strides=None, padding="valid"):
        fwd = (pool_kernels.max_pool2d_forward if kind == "max"
               else pool_kernels.avg_pool2d_forward)
        y, ctx.cache = fwd(np.asarray(x), pool_size, strides, padding)
        ctx.kind = kind
        return y

    @staticmethod
    def backward(ctx, g):
        bwd = (pool_kernels.max_pool2d_backward if ctx.kind == "max"
               else pool_kernels.avg_pool2d_backward)
        return bwd(g, ctx.cache)


def _pool(op: str, kind: str, inputs: Any, pool_size: Any, strides: Any, padding: Any,
          data_format: Any) -> Any:
    padding = _check_padding(op, padding)
    first = _check_format(op, data_format)
    if np.ndim(inputs) != 4:
        raise ValueError(
            f"ops.{op} expects 4D inputs (batch, height, width, channels); only 2D pooling is "
            f"implemented. Received shape {tuple(np.shape(inputs))}."
        )
    if first:
        return _channels_first(lambda x: _pool(op, kind, x, pool_size, strides, padding, None),
                               inputs)
    return _Pool.apply(inputs, kind=kind, pool_size=pool_size, strides=strides, padding=padding)


def max_pool(inputs: Any, pool_size: Any, strides: Any = None, padding: str = "valid",
             data_format: str | None = None) -> Any:
    """Max over `pool_size` windows of NHWC `inputs` (strides default to `pool_size`); the
    gradient goes to the first maximum of each window.

    Example:
        >>> max_pool(np.arange(16.0).reshape(1, 4, 4, 1), 2)[0, :, :, 0]
        array([[ 5.,  7.],
               [13., 15.]])
    """
    return _pool("max_pool", "max", inputs, pool_size, strides, padding, data_format)


def average_pool(inputs: Any, pool_size: Any, strides: Any = None, padding: str = "valid",
                 data_format: str | None = None) -> Any:
    """Mean over `pool_size` windows of NHWC `inputs`; "same" padding averages the real
    pixels only (as TensorFlow)."""
    return _pool("average_pool", "avg", inputs, pool_size, strides, padding, data_format)
