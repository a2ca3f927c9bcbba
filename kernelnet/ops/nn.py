"""`keras.ops.nn`: activations, softmax, conv, pooling, one_hot and the crossentropy helpers,
over the kernels the layers use (activation derivatives, bias add/sum, dropout masks).

Each activation kernel `_f(z) -> y` has `f_grad(grad, z, y) -> dz`: the gradient wrt the input
`z`, given the upstream gradient `grad` (dL/dy) and the forward input `z` and output `y`. The
public Keras names (`relu`, `softmax`, `gelu`, ...) run a kernel pair as one differentiable
`Function`: NumPy in gives NumPy out (what layers call), a Tensor in gives a Tensor out,
recorded by an active `GradientTape`. All keep the dtype of their input and never write into
their arguments. `conv`, `max_pool`, `average_pool` (nn_conv.py), `one_hot` and the
crossentropies (nn_losses.py) are loaded on first access, as they build on `ops.conv`, which
imports this module.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from kernelnet import backend
from kernelnet._typing import Array
from kernelnet.autodiff.function import Function
from kernelnet.autodiff.tensor import is_tracked

_SQRT_2 = np.sqrt(2.0)
_SQRT_2PI = np.sqrt(2.0 * np.pi)
_SELU_ALPHA = 1.6732632423543772
_SELU_SCALE = 1.0507009873554805
_GELU_C = np.sqrt(2.0 / np.pi)  # tanh approximation: 0.5 z (1 + tanh(c (z + 0.044715 z^3)))


class _Activation(Function):
    """An elementwise map from its kernel pair: `y = fn(z)`, `dz = grad_fn(g, z, y)`."""

    @staticmethod
    def forward(ctx, z, fn=None, grad_fn=None, kwargs=None):
        if z.dtype.kind != "f":
            z = z.astype(backend.floatx())  # Keras computes activations of ints in floatx
        y = fn(z, **kwargs)
        ctx.z, ctx.y, ctx.grad_fn, ctx.kwargs = z, y, grad_fn, kwargs
        return y

    @staticmethod
    def backward(ctx, g):
        return ctx.grad_fn(g, ctx.z, ctx.y, **ctx.kwargs)


def _activate(x, fn, grad_fn, **kwargs):
    return _Activation.apply(x if is_tracked(x) else np.asarray(x), fn=fn, grad_fn=grad_fn,
                             kwargs=kwargs)


def linear(z: Array) -> Array:
    return z


def linear_grad(grad: Array, z: Array, y: Array) -> Array:
    return grad


def relu(x):
    """`max(x, 0)` (Keras `ops.relu`)."""
    return _activate(x, _relu, relu_grad)


def _relu(z: Array) -> Array:
    return relu_into(z, np.empty_like(z))


# NOTE: NumPy 2.4's `maximum` against a scalar runs about one element per cycle, against an
# array 3-4x faster (SIMD): 301056 float32 in place, 112 us against 29 us. So ReLU takes the
# max with a row of zeros broadcast over rows of this many elements (a (1,) array broadcast
# is as slow as the scalar; 4096-element rows 55 us, 65536 30 us).
_ZERO_ROW = 16384


@functools.cache
def _zero_row(dtype: np.dtype) -> Array:
    row = np.zeros(_ZERO_ROW, dtype)
    row.flags.writeable = False
    return row


def relu_into(z: Array, out: Array) -> Array:
    """`max(z, 0)` written into `out` (which may be `z`) and returned; same shape as `z`."""
    if z.dtype.kind != "f" or not (z.flags.c_contiguous and out.flags.c_contiguous):
        return np.maximum(z, 0, out=out)
    src, dst, zeros = z.reshape(-1), out.reshape(-1), _zero_row(z.dtype)
    whole = src.size - src.size % _ZERO_ROW
    if whole:
        np.maximum(src[:whole].reshape(-1, _ZERO_ROW), zeros,
                   out=dst[:whole].reshape(-1, _ZERO_ROW))
    np.maximum(src[whole:], zeros[:src.size - whole], out=dst[whole:])
    return out


def relu_grad(grad: Array, z: Array, y: Array) -> Array:
    return grad * (y > 0)


def relu6(x):
    """`min(max(x, 0), 6)`."""
    return _activate(x, _relu6, relu6_grad)


def _relu6(z: Array) -> Array:
    return np.clip(z, 0, 6)


def relu6_grad(grad: Array, z: Array, y: Array) -> Array:
    return grad * ((z > 0) & (z < 6))


def leaky_relu(x, negative_slope: float = 0.2):
    """`x` where positive, else `negative_slope * x`."""
    return _activate(x, _leaky_relu, leaky_relu_grad, negative_slope=negative_slope)


def _leaky_relu(z: Array, negative_slope: float = 0.2) -> Array:
    # NOTE: Keras' `leaky_relu` activation defaults to negative_slope=0.2; the LeakyReLU layer
    # uses 0.3.
    return np.where(z > 0, z, z * z.dtype.type(negative_slope))


def leaky_relu_grad(grad: Array, z: Array, y: Array, negative_slope: float = 0.2) -> Array:
    return grad * np.where(z > 0, 1, negative_slope).astype(grad.dtype)


def elu(x, alpha: float = 1.0):
    """`x` where positive, else `alpha * (exp(x) - 1)`."""
    return _activate(x, _elu, elu_grad, alpha=alpha)


def _elu(z: Array, alpha: float = 1.0) -> Array:
    return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0)))


def elu_grad(grad: Array, z: Array, y: Array, alpha: float = 1.0) -> Array:
    return grad * np.where(z > 0, 1, y + alpha).astype(grad.dtype)


def selu(x):
    """Scaled ELU (Klambauer et al., 2017)."""
    return _activate(x, _selu, selu_grad)


def _selu(z: Array) -> Array:
    return _SELU_SCALE * _elu(z, _SELU_ALPHA)


def selu_grad(grad: Array, z: Array, y: Array) -> Array:
    return grad * np.where(z > 0, _SELU_SCALE, y + _SELU_SCALE * _SELU_ALPHA).astype(grad.dtype)


def sigmoid(x):
    """`1 / (1 + exp(-x))`. A Tensor result remembers `x` as `_keras_logits`, so that
    `binary_crossentropy` can use the stable logits form, as Keras does."""
    y = _activate(x, _sigmoid, sigmoid_grad)
    if is_tracked(y):
        y._keras_logits = x
    return y


def _sigmoid(z: Array) -> Array:
    # 0.5 * (1 + tanh(z / 2)) equals 1 / (1 + exp(-z)) and never overflows.
    return (np.tanh(z * z.dtype.type(0.5)) + 1) * z.dtype.type(0.5)


def sigmoid_grad(grad: Array, z: Array, y: Array) -> Array:
    return grad * y * (1 - y)


def log_sigmoid(x):
    """`log(sigmoid(x)) = -softplus(-x)`, computed stably."""
    return _activate(x, _log_sigmoid, log_sigmoid_grad)


def _log_sigmoid(z: Array) -> Array:
    return -np.logaddexp(-z, 0).astype(z.dtype, copy=False)


def log_sigmoid_grad(grad: Array, z: Array, y: Array) -> Array:
    return grad * _sigmoid(-z)


def hard_sigmoid(x):
    """`relu6(x + 3) / 6`, a piecewise-linear sigmoid."""
    return _activate(x, _hard_sigmoid, hard_sigmoid_grad)


def _hard_sigmoid(z: Array) -> Array:
    # Keras 3: relu6(x + 3) / 6
    return np.clip(z / 6 + 0.5, 0, 1).astype(z.dtype, copy=False)


def hard_sigmoid_grad(grad: Array, z: Array, y: Array) -> Array:
    return grad * (((z > -3) & (z < 3)) / 6).astype(grad.dtype)


def hard_silu(x):
    """`x * relu6(x + 3) / 6` (MobileNetV3's hard swish)."""
    return _activate(x, _hard_silu, hard_silu_grad)


hard_swish = hard_silu


def _hard_silu(z: Array) -> Array:
    return z * _hard_sigmoid(z)


def hard_silu_grad(grad: Array, z: Array, y: Array) -> Array:
    inside = ((z > -3) & (z < 3)).astype(grad.dtype)
    return grad * (_hard_sigmoid(z) + z * inside / 6)


hard_swish_grad = hard_silu_grad


def tanh(x):
    """Hyperbolic tangent."""
    return _activate(x, np.tanh, tanh_grad)


def tanh_grad(grad: Array, z: Array, y: Array) -> Array:
    return grad * (1 - y * y)


def softplus(x):
    """`log(1 + exp(x))`, computed stably."""
    return _activate(x, _softplus, softplus_grad)


def _softplus(z: Array) -> Array:
    return np.logaddexp(z, 0).astype(z.dtype, copy=False)


def softplus_grad(grad: Array, z: Array, y: Array) -> Array:
    return grad * _sigmoid(z)


def softsign(x):
    """`x / (1 + |x|)`."""
    return _activate(x, _softsign, softsign_grad)


def _softsign(z: Array) -> Array:
    return z / (1 + np.abs(z))


def softsign_grad(grad: Array, z: Array, y: Array) -> Array:
    return grad / (1 + np.abs(z)) ** 2


def silu(x):
    """`x * sigmoid(x)` (also called swish)."""
    return _activate(x, _silu, silu_grad)


swish = silu


def _silu(z: Array) -> Array:
    return z * _sigmoid(z)


def silu_grad(grad: Array, z: Array, y: Array) -> Array:
    s = _sigmoid(z)
    return grad * (s * (1 + z * (1 - s)))


def exponential(z: Array) -> Array:
    return np.exp(z)


def exponential_grad(grad: Array, z: Array, y: Array) -> Array:
    return grad * y


def _erf(x: Array) -> Array:
    # Abramowitz & Stegun 7.1.26: |error| < 1.5e-7, i.e. exact at float32 precision. Its exact
    # derivative is used in `gelu_grad`, so finite differences agree to float64 precision.
    t = 1 / (1 + 0.3275911 * np.abs(x))
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027
                                                                        + t * 1.061405429))))
    return np.sign(x) * (1 - poly * np.exp(-x * x))


def _erf_grad(x: Array) -> Array:
    a = np.abs(x)
    t = 1 / (1 + 0.3275911 * a)
    c = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
    poly = t * (c[0] + t * (c[1] + t * (c[2] + t * (c[3] + t * c[4]))))
    dpoly_dt = c[0] + t * (2 * c[1] + t * (3 * c[2] + t * (4 * c[3] + t * 5 * c[4])))
    dt_da = -0.3275911 * t * t
    e = np.exp(-x * x)
    return -(dpoly_dt * dt_da * e - poly * 2 * a * e)


def gelu(x, approximate: bool = True):
    """Gaussian error linear unit `x * Phi(x)`; `approximate=True` (Keras `ops.gelu`'s
    default) uses the tanh form, `False` the exact erf form (the `activations.gelu` default)."""
    return _activate(x, _gelu, gelu_grad, approximate=bool(approximate))


def _gelu(z: Array, approximate: bool = False) -> Array:
    if approximate:
        c = z.dtype.type(_GELU_C)
        return z * 0.5 * (1 + np.tanh(c * (z + 0.044715 * z ** 3)))
    return (z * 0.5 * (1 + _erf(z / _SQRT_2))).astype(z.dtype, copy=False)


def gelu_grad(grad: Array, z: Array, y: Array, approximate: bool = False) -> Array:
    if approximate:
        c = z.dtype.type(_GELU_C)
        t = np.tanh(c * (z + 0.044715 * z ** 3))
        dt = (1 - t * t) * c * (1 + 3 * 0.044715 * z * z)
        return grad * (0.5 * (1 + t) + 0.5 * z * dt)
    u = z / _SQRT_2
    cdf = 0.5 * (1 + _erf(u))
    return (grad * (cdf + z * 0.5 * _erf_grad(u) / _SQRT_2)).astype(grad.dtype, copy=False)


def softmax(x, axis: int = -1):
    """Softmax along `axis`, computed stably. A Tensor result over the last axis remembers `x`
    as `_keras_logits`, so that the crossentropies can fuse, as Keras does."""
    y = _activate(x, _softmax, softmax_grad, axis=axis)
    if is_tracked(y) and axis in (-1, y.ndim - 1):
        y._keras_logits = x
    return y


def _softmax(z: Array, axis: int = -1) -> Array:
    """Numerically stable softmax: exp(z - max) / sum(exp(z - max))."""
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    e /= e.sum(axis=axis, keepdims=True)
    return e


def softmax_grad(grad: Array, z: Array, y: Array, axis: int = -1) -> Array:
    # Jacobian-vector product of softmax: y * (g - <g, y>)
    return y * (grad - np.sum(grad * y, axis=axis, keepdims=True))


def log_softmax(x, axis: int = -1):
    """`log(softmax(x))` along `axis`, via the log-sum-exp trick."""
    return _activate(x, _log_softmax, log_softmax_grad, axis=axis)


def _log_softmax(z: Array, axis: int = -1) -> Array:
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def log_softmax_grad(grad: Array, z: Array, y: Array, axis: int = -1) -> Array:
    # d log_softmax: g - softmax(z) * sum(g)
    return grad - np.exp(y) * np.sum(grad, axis=axis, keepdims=True)


def sum_rows(x2d: Array) -> Array:
    """`x2d.sum(axis=0)` of an `(m, k)` array as one BLAS matrix-vector product.

    NOTE: NumPy's axis-0 reduction is ~10x slower when k is small (measured 2.1 ms vs 0.19 ms
    for (100352, 6) float32); bias gradients are such sums.
    """
    return np.ones(x2d.shape[0], dtype=x2d.dtype) @ x2d


def add_bias(z: Array, bias: Array) -> Array:
    """`z += bias` along the last axis, in place; returns `z`.

    NOTE: NumPy's broadcast add loops over rows of `len(bias)` values. Viewing a contiguous `z`
    as rows of ~512 values against a tiled bias is 1.3-2x faster for 16-64 channels and ~4x
    for 6 (measured on the benchmark CNNs' layer sizes).

    Example:
        >>> add_bias(np.zeros((4, 2)), np.array([1.0, 2.0]))[3].tolist()
        [1.0, 2.0]
    """
    c = bias.shape[-1]
    bias = bias.astype(z.dtype, copy=False)
    if z.size < 2**14 or not z.flags.c_contiguous:  # small: the tiling costs more than it saves
        z += bias
        return z
    rows = math.gcd(z.size // max(c, 1), 1 << max((512 // max(c, 1)).bit_length() - 1, 0))
    if rows > 1:
        z.reshape(-1, c * rows).__iadd__(np.tile(bias, rows))
    else:
        z += bias
    return z


def dropout_mask(shape: tuple, rate: float, rng: np.random.Generator, dtype) -> Array:
    """Inverted-dropout mask: 0 with probability `rate`, else 1 / (1 - rate)."""
    keep = rng.random(shape, dtype=np.float32) >= rate
    return keep.astype(dtype) * np.asarray(1.0 / (1.0 - rate), dtype=dtype)


_LAZY = {"conv": "nn_conv", "max_pool": "nn_conv", "average_pool": "nn_conv",
         "one_hot": "nn_losses", "binary_crossentropy": "nn_losses",
         "categorical_crossentropy": "nn_losses", "sparse_categorical_crossentropy": "nn_losses"}


def __getattr__(name: str):
    """`nn.conv`, `nn.one_hot`, ...: loaded on first access (PEP 562), see the docstring."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"kernelnet.ops.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'kernelnet.ops.nn' has no attribute {name!r}")
