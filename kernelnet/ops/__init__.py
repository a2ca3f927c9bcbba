"""Pure, stateless NumPy math on NHWC arrays. Layers call these; nothing here holds weights.

All array code lives behind this boundary, so another array module (CuPy) could replace NumPy
here without touching the layers.
"""

from kernelnet.ops import conv, nn, pool
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

__all__ = [
    "nn", "conv", "pool", "softmax", "log_softmax",
    "conv_output_size", "resolve_padding", "im2col", "col2im",
    "conv2d", "conv2d_forward", "conv2d_backward",
    "max_pool2d", "max_pool2d_forward", "max_pool2d_backward",
    "avg_pool2d", "avg_pool2d_forward", "avg_pool2d_backward",
    "global_avg_pool2d", "global_avg_pool2d_backward",
    "global_max_pool2d", "global_max_pool2d_forward", "global_max_pool2d_backward",
]
