"""`kernelnet.ops`: Keras 3's `keras.ops` (differentiable, see `kernelnet.autodiff`) over pure,
stateless NumPy kernels on NHWC arrays. Layers call the kernels; nothing here holds weights.

- Keras names (`ops.matmul`, `ops.relu`, `ops.conv`, `ops.image.resize`, ...): NumPy in gives
  NumPy out, a Tensor or Variable in gives a Tensor out, recorded by an active `GradientTape`.
  The namespaces `ops.numpy`, `ops.nn` and `ops.image` hold them as Keras groups them.
- Kernels (`conv2d_forward`, `im2col`, `max_pool2d`, ...): NumPy in, NumPy out. The kernel
  modules are `kernelnet.ops.conv` (imported by path; the package attribute `ops.conv` is
  Keras' convolution op) and `ops.pool`.

All array code lives behind this boundary, so another array module (CuPy) could replace NumPy
here without touching the layers. Layers call NumPy functions that dispatch on their argument's
type (NEP 18: `np.where(cupy_array, ...)` runs CuPy) and create new arrays only through
`array_module(x)`, Chainer's `get_array_module` switch.
"""

import sys

import numpy as np

from kernelnet.ops import depthwise, image, nn, numpy, pool, resample, transposed, winograd
from kernelnet.ops.conv import (
    col2im,
    conv2d,
    conv2d_backward,
    conv2d_forward,
    conv_output_size,
    im2col,
    resolve_padding,
)
from kernelnet.ops.nn import (
    elu,
    gelu,
    hard_sigmoid,
    hard_silu,
    hard_swish,
    leaky_relu,
    log_sigmoid,
    log_softmax,
    relu,
    relu6,
    selu,
    sigmoid,
    silu,
    softmax,
    softplus,
    softsign,
    swish,
)

# NOTE: binds `ops.conv` to Keras' op, replacing the kernel module's attribute set above.
from kernelnet.ops.nn_conv import average_pool, conv, max_pool
from kernelnet.ops.nn_losses import (
    binary_crossentropy,
    categorical_crossentropy,
    one_hot,
    sparse_categorical_crossentropy,
)
from kernelnet.ops.numpy import (
    abs,
    absolute,
    add,
    arange,
    argmax,
    argmin,
    cast,
    clip,
    concatenate,
    convert_to_numpy,
    convert_to_tensor,
    divide,
    dot,
    equal,
    exp,
    expand_dims,
    get_item,
    greater,
    greater_equal,
    less,
    less_equal,
    log,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    multiply,
    negative,
    not_equal,
    ones,
    ones_like,
    power,
    reshape,
    shape,
    sign,
    sqrt,
    square,
    squeeze,
    stack,
    std,
    stop_gradient,
    subtract,
    sum,
    tanh,
    transpose,
    true_divide,
    var,
    where,
    zeros,
    zeros_like,
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
    # keras.ops (numpy and core)
    "abs", "absolute", "add", "arange", "argmax", "argmin", "cast", "clip", "concatenate",
    "convert_to_numpy", "convert_to_tensor", "divide", "dot", "equal", "exp", "expand_dims",
    "get_item", "greater", "greater_equal", "less", "less_equal", "log", "matmul", "max",
    "maximum", "mean", "min", "minimum", "multiply", "negative", "not_equal", "ones",
    "ones_like", "power", "reshape", "shape", "sign", "sqrt", "square", "squeeze", "stack", "std",
    "stop_gradient", "subtract", "sum", "tanh", "transpose", "true_divide", "var", "where",
    "zeros", "zeros_like",
    # keras.ops (nn)
    "average_pool", "binary_crossentropy", "categorical_crossentropy", "conv", "elu", "gelu",
    "hard_sigmoid", "hard_silu", "hard_swish", "leaky_relu", "log_sigmoid", "log_softmax",
    "max_pool", "one_hot", "relu", "relu6", "selu", "sigmoid", "silu", "softmax", "softplus",
    "softsign",
    "sparse_categorical_crossentropy", "swish",
    # namespaces
    "depthwise", "image", "nn", "numpy", "pool", "resample", "transposed", "winograd",
    # kernels
    "array_module", "conv_output_size", "resolve_padding", "im2col", "col2im",
    "conv2d", "conv2d_forward", "conv2d_backward",
    "max_pool2d", "max_pool2d_forward", "max_pool2d_backward",
    "avg_pool2d", "avg_pool2d_forward", "avg_pool2d_backward",
    "global_avg_pool2d", "global_avg_pool2d_backward",
    "global_max_pool2d", "global_max_pool2d_forward", "global_max_pool2d_backward",
]
