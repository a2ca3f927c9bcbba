"""Pure, stateless NumPy math on NHWC arrays. Layers call these; nothing here holds weights.

All array code lives behind this boundary, so another array module (CuPy) could replace NumPy
here without touching the layers. Layers call NumPy functions that dispatch on their argument's
type (NEP 18: `np.where(cupy_array, ...)` runs CuPy) and create new arrays only through
`array_module(x)`, Chainer's `get_array_module` switch.
"""

import sys

import numpy as np

from kernelnet.ops import conv, depthwise, nn, pool, resample, transposed
from kernelnet.ops.conv import (
    col2im,
    conv2d,
    conv2d_backward,
    conv2d_forward,
    conv_output_size,
    im2col,
    resolve_padding,
)
from kernelnet.ops.nn import log_softmax, softmax
from kernelnet.ops.numpy import (
    abs,
    absolute,
    add,
    cast,
    convert_to_numpy,
    convert_to_tensor,
    divide,
    get_item,
    matmul,
    multiply,
    negative,
    power,
    reshape,
    subtract,
    sum,
    transpose,
    true_divide,
)
from kernelnet.ops.pool import (
    avg_pool2d,
    avg_pool2d_backward,
    avg_pool2d_forward,
    global_avg_pool2d,
    global_avg_pool2d_backward,
    global_max_pool2d,
    global_max_pool2d_backward,
    global_max_pool2d_forward,
    max_pool2d,
    max_pool2d_backward,
    max_pool2d_forward,
)


def array_module(*arrays):
    """The array library of `arrays`: CuPy for CuPy arrays (when CuPy is loaded), else NumPy.

    Example:
        >>> array_module(np.zeros(2)).__name__
        'numpy'
    """
    cupy = sys.modules.get("cupy")
    return cupy.get_array_module(*arrays) if cupy is not None else np


__all__ = [
    "abs", "absolute", "add", "cast", "convert_to_numpy", "convert_to_tensor", "divide",
    "get_item", "matmul", "multiply", "negative", "power", "reshape", "subtract", "sum",
    "transpose", "true_divide",
    "array_module", "nn", "conv", "depthwise", "pool", "resample", "transposed", "softmax",
    "log_softmax",
    "conv_output_size", "resolve_padding", "im2col", "col2im",
    "conv2d", "conv2d_forward", "conv2d_backward",
    "max_pool2d", "max_pool2d_forward", "max_pool2d_backward",
    "avg_pool2d", "avg_pool2d_forward", "avg_pool2d_backward",
    "global_avg_pool2d", "global_avg_pool2d_backward",
    "global_max_pool2d", "global_max_pool2d_forward", "global_max_pool2d_backward",
]
