"""Reductions, shape manipulation and array creation under `keras.ops` names: mean, max, min,
var, std, argmax, argmin, expand_dims, squeeze, concatenate, stack, ones, zeros, ones_like,
zeros_like, arange.

Differentiable ops are `Function`s; `g` is the upstream gradient dL/dy. argmax/argmin and the
creation ops have no gradient.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kernelnet import backend
from kernelnet.autodiff.function import Function
from kernelnet.autodiff.tensor import Tensor, unwrap
from kernelnet.ops.elementwise import constant_op


def _axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """`axis` (None, an int or a tuple) as a tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    return tuple(int(a) % (ndim or 1) for a in (axis if np.ndim(axis) else (axis,)))


def _keep(g: np.ndarray, axis: Any, ndim: int, keepdims: bool) -> np.ndarray:
    """Reinserts the reduced axes of `g` (size 1) so it broadcasts against the input."""
    return g if keepdims else np.expand_dims(g, _axes(axis, ndim))


def _check_axis(op: str, x: Any, axis: Any) -> None:
    ndim = np.ndim(x) or 1
    for a in (() if axis is None else (axis if np.ndim(axis) else (axis,))):
        if not -ndim <= int(a) < ndim:
            raise ValueError(
                f"ops.{op}: axis {a} is out of bounds for an input of shape {np.shape(x)}."
            )


class _Mean(Function):
    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        ctx.shape, ctx.axis, ctx.keepdims = np.shape(x), axis, keepdims
        y = np.mean(x, axis=axis, keepdims=keepdims)
        ctx.count = np.size(x) // (np.size(y) or 1)
        return y

    @staticmethod
    def backward(ctx, g):
        g = _keep(g, ctx.axis, len(ctx.shape), ctx.keepdims) / ctx.count
        return np.broadcast_to(g, ctx.shape).copy()


class _Extreme(Function):
    """max/min over axes; ties share the gradient equally (as TensorFlow and JAX)."""

    @staticmethod
    def forward(ctx, x, fn=None, axis=None, keepdims=False):
        y = fn(x, axis=axis, keepdims=True)
        ctx.hit = np.asarray(x) == y                      # where the extreme was, input shape
        ctx.axis, ctx.keepdims = axis, keepdims
        return y if keepdims else np.squeeze(y, axis=_axes(axis, np.ndim(x)))

    @staticmethod
    def backward(ctx, g):
        hit = ctx.hit
        share = hit / np.sum(hit, axis=ctx.axis, keepdims=True)
        return (_keep(g, ctx.axis, hit.ndim, ctx.keepdims) * share).astype(g.dtype, copy=False)


class _ExpandDims(Function):
    @staticmethod
    def forward(ctx, x, axis=None):
        ctx.shape = np.shape(x)
        return np.expand_dims(x, axis)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape)


class _Concatenate(Function):
    @staticmethod
    def forward(ctx, *xs, axis=0):
        ctx.axis = axis
        ctx.bounds = np.cumsum([np.shape(x)[axis] for x in xs])[:-1]
        return np.concatenate(xs, axis=axis)

    @staticmethod
    def backward(ctx, g):
        return tuple(np.split(g, ctx.bounds, axis=ctx.axis))


class _Stack(Function):
    @staticmethod
    def forward(ctx, *xs, axis=0):
        ctx.axis = axis
        return np.stack(xs, axis=axis)

    @staticmethod
    def backward(ctx, g):
        return tuple(np.moveaxis(g, ctx.axis, 0))


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Arithmetic mean over `axis` (all axes when None)."""
    _check_axis("mean", x, axis)
    return _Mean.apply(x, axis=axis, keepdims=keepdims)


def max(x: Any, axis: Any = None, keepdims: bool = False, initial: Any = None) -> Any:  # noqa: A001
    """Maximum over `axis`; the gradient is shared equally among tied maxima."""
    _check_axis("max", x, axis)
    if initial is not None:
        from kernelnet.ops.elementwise import maximum

        return maximum(max(x, axis, keepdims), initial)
    return _Extreme.apply(x, fn=np.max, axis=axis, keepdims=keepdims)


def min(x: Any, axis: Any = None, keepdims: bool = False, initial: Any = None) -> Any:  # noqa: A001
    """Minimum over `axis`; the gradient is shared equally among tied minima."""
    _check_axis("min", x, axis)
    if initial is not None:
        from kernelnet.ops.elementwise import minimum

        return minimum(min(x, axis, keepdims), initial)
    return _Extreme.apply(x, fn=np.min, axis=axis, keepdims=keepdims)


def var(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Variance over `axis` (divisor N), composed of differentiable ops."""
    from kernelnet import ops

    centered = x - mean(x, axis=axis, keepdims=True)
    return mean(ops.square(centered), axis=axis, keepdims=keepdims)


def std(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Standard deviation over `axis` (divisor N)."""
    from kernelnet import ops

    return ops.sqrt(var(x, axis=axis, keepdims=keepdims))


def argmax(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Index of the maximum along `axis` (of the flattened array when None); no gradient."""
    _check_axis("argmax", x, axis)
    return constant_op(np.argmax, x, axis=axis, keepdims=keepdims)


def argmin(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Index of the minimum along `axis`; no gradient."""
    _check_axis("argmin", x, axis)
    return constant_op(np.argmin, x, axis=axis, keepdims=keepdims)


def expand_dims(x: Any, axis: Any) -> Any:
    """`x` with new axes of size 1 inserted at `axis` (an int or a tuple)."""
    ndim = np.ndim(x) + (len(axis) if np.ndim(axis) else 1)
    for a in (axis if np.ndim(axis) else (axis,)):
        if not -ndim <= int(a) < ndim:
            raise ValueError(
                f"ops.expand_dims: axis {a} is out of bounds for an input of shape "
                f"{np.shape(x)} (the result has {ndim} axes)."
            )
    return _ExpandDims.apply(x, axis=axis if not np.ndim(axis) else tuple(axis))


def squeeze(x: Any, axis: Any = None) -> Any:
    """`x` without its size-1 axes (only those in `axis` when given)."""
    _check_axis("squeeze", x, axis)
    shape = np.shape(x)
    axes = tuple(i for i, n in enumerate(shape) if n == 1) if axis is None else _axes(
        axis, len(shape))
    bad = [a for a in axes if a >= len(shape) or shape[a] != 1]
    if bad:
        raise ValueError(
            f"ops.squeeze: cannot squeeze axis {bad[0]} of an input of shape {shape}: only "
            "axes of size 1 can be removed."
        )
    from kernelnet.ops.numpy import reshape

    return reshape(x, tuple(n for i, n in enumerate(shape) if i not in axes))


def concatenate(xs: Any, axis: int = 0) -> Any:
    """Joins a list of arrays along an existing `axis`."""
    shapes = [np.shape(x) for x in xs]
    if not shapes:
        raise ValueError("ops.concatenate needs at least one array. Received: xs=[].")
    ndim = len(shapes[0])
    ok = ndim > 0 and -ndim <= axis < ndim and all(len(s) == ndim for s in shapes)
    if ok:
        a = axis % ndim
        ok = all(s[:a] + s[a + 1:] == shapes[0][:a] + shapes[0][a + 1:] for s in shapes)
    if not ok:
        raise ValueError(
            f"ops.concatenate: all arrays must have the same shape except along axis={axis}. "
            f"Received shapes {shapes}."
        )
    return _Concatenate.apply(*xs, axis=axis % ndim)


def stack(x: Any, axis: int = 0) -> Any:
    """Joins a list of same-shaped arrays along a new `axis`."""
    shapes = [np.shape(a) for a in x]
    if not shapes or any(s != shapes[0] for s in shapes):
        raise ValueError(f"ops.stack: all arrays must have the same shape. Received {shapes}.")
    return _Stack.apply(*x, axis=axis % (len(shapes[0]) + 1))


def shape(x: Any) -> tuple:
    """The shape of `x` as a tuple of ints (Keras `ops.shape`)."""
    return tuple(int(n) for n in np.shape(unwrap(x)))


def _dtype(dtype: Any) -> np.dtype:
    return np.dtype(dtype or backend.floatx())


def ones(shape: Any, dtype: Any = None) -> Tensor:
    """A Tensor of ones (`backend.floatx()` unless `dtype` is given)."""
    return Tensor(np.ones(shape, dtype=_dtype(dtype)))


def zeros(shape: Any, dtype: Any = None) -> Tensor:
    """A Tensor of zeros (`backend.floatx()` unless `dtype` is given)."""
    return Tensor(np.zeros(shape, dtype=_dtype(dtype)))


def ones_like(x: Any, dtype: Any = None) -> Any:
    """Ones shaped like `x` (its dtype unless `dtype` is given); no gradient."""
    return constant_op(np.ones_like, x, dtype=dtype)


def zeros_like(x: Any, dtype: Any = None) -> Any:
    """Zeros shaped like `x` (its dtype unless `dtype` is given); no gradient."""
    return constant_op(np.zeros_like, x, dtype=dtype)


def arange(start: Any, stop: Any = None, step: Any = None, dtype: Any = None) -> Tensor:
    """Evenly spaced values in `[start, stop)` (`[0, start)` without `stop`), as `np.arange`;
    ints give int32 and floats `backend.floatx()`, as Keras."""
    start, stop, step = unwrap(start), unwrap(stop), 1 if step is None else unwrap(step)
    values = np.arange(start, stop, step) if stop is not None else np.arange(0, start, step)
    if dtype is None:
        dtype = backend.floatx() if values.dtype.kind == "f" else np.int32
    return Tensor(values if dtype is None else values.astype(dtype))
