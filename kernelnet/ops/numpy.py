"""Differentiable array ops under `keras.ops` names (`kernelnet.ops.add`, `ops.matmul`, ...):
the `keras.ops.numpy` namespace. Arithmetic, matmul/dot, sum, indexing, reshape, transpose and
cast are here; reductions, shape ops and creation in `arrays.py`; elementwise math in
`elementwise.py` (both re-exported).

Each op is a `Function` (forward/backward pair, see `kernelnet.autodiff.function`): NumPy in
gives NumPy out; Tensors or Variables in give a Tensor out, recorded when a `GradientTape` is
active. Shape letters: `g` is the upstream gradient.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kernelnet.autodiff.function import Function, unbroadcast
from kernelnet.autodiff.tensor import convert_to_numpy, convert_to_tensor, unwrap  # noqa: F401

# The rest of Keras' `ops.numpy` namespace lives in two sibling modules.
from kernelnet.ops.arrays import (  # noqa: F401
    arange,
    argmax,
    argmin,
    concatenate,
    expand_dims,
    max,
    mean,
    min,
    ones,
    ones_like,
    shape,
    squeeze,
    stack,
    std,
    var,
    zeros,
    zeros_like,
)
from kernelnet.ops.elementwise import (  # noqa: F401
    broadcast_shapes,
    clip,
    equal,
    exp,
    greater,
    greater_equal,
    less,
    less_equal,
    log,
    maximum,
    minimum,
    not_equal,
    sign,
    sqrt,
    square,
    stop_gradient,
    tanh,
    where,
)


def _broadcasting(op: str, fn: Any, a: Any, b: Any) -> Any:
    """`fn(a, b)`; a shape mismatch raises a ValueError naming `op` and both shapes. (Checked
    only on failure: `np.broadcast_shapes` up front costs more than a small op.)"""
    try:
        return fn(a, b)
    except ValueError:
        broadcast_shapes(op, a, b)
        raise


class _Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = np.shape(a), np.shape(b)
        return _broadcasting("add", np.add, a, b)

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        return unbroadcast(g, sa), unbroadcast(g, sb)


class _Subtract(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = np.shape(a), np.shape(b)
        return _broadcasting("subtract", np.subtract, a, b)

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        return unbroadcast(g, sa), unbroadcast(-g, sb)


class _Multiply(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.a, ctx.b = a, b
        return _broadcasting("multiply", np.multiply, a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.a, ctx.b
        da = unbroadcast(g * b, np.shape(a)) if ctx.needs_input_grad[0] else None
        db = unbroadcast(g * a, np.shape(b)) if ctx.needs_input_grad[1] else None
        return da, db


class _Divide(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.a, ctx.b = a, b
        return _broadcasting("divide", np.true_divide, a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.a, ctx.b
        da = unbroadcast(g / b, np.shape(a)) if ctx.needs_input_grad[0] else None
        db = unbroadcast(-g * a / (b * b), np.shape(b)) if ctx.needs_input_grad[1] else None
        return da, db


class _Negative(Function):
    @staticmethod
    def forward(ctx, a):
        return np.negative(a)

    @staticmethod
    def backward(ctx, g):
        return -g


class _Power(Function):
    @staticmethod
    def forward(ctx, a, b):
        y = _broadcasting("power", np.power, a, b)
        ctx.a, ctx.b, ctx.y = a, b, y
        return y

    @staticmethod
    def backward(ctx, g):
        a, b, y = ctx.a, ctx.b, ctx.y
        da = db = None
        # Each gradient in its input's float dtype: a scalar exponent (np.int64, b - 1) must
        # not promote a float32 input's gradient to float64.
        if ctx.needs_input_grad[0]:
            da = g * b * np.power(a, np.subtract(b, 1))
            da = unbroadcast(np.asarray(da).astype(_grad_dtype(a, y), copy=False), np.shape(a))
        if ctx.needs_input_grad[1]:
            safe = np.where(np.asarray(a) > 0, a, 1)
            db = g * y * np.log(safe)
            db = unbroadcast(np.asarray(db).astype(_grad_dtype(b, y), copy=False), np.shape(b))
        return da, db


def _grad_dtype(x: Any, y: Any) -> np.dtype:
    """The gradient dtype for input `x` of an op with output `y`: x's if float, else y's."""
    dtype = np.asarray(x).dtype
    return dtype if dtype.kind == "f" else np.result_type(y)


class _Abs(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.sign = np.sign(a)
        return np.abs(a)

    @staticmethod
    def backward(ctx, g):
        return g * ctx.sign


class _Matmul(Function):
    @staticmethod
    def forward(ctx, a, b):
        a, b = np.asarray(a), np.asarray(b)
        if a.ndim == 0 or b.ndim == 0 or a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
            raise ValueError(
                f"ops.matmul: the last axis of the first argument must equal the "
                f"{'second-to-last' if b.ndim > 1 else 'only'} axis of the second. "
                f"Received shapes {a.shape} and {b.shape}."
            )
        ctx.a, ctx.b = a, b
        return a @ b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.a, ctx.b
        # promote vectors to matrices as np.matmul does, then undo
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = g
        if a.ndim == 1:
            g2 = np.expand_dims(g2, -2)
        if b.ndim == 1:
            g2 = np.expand_dims(g2, -1)
        da = db = None
        if ctx.needs_input_grad[0]:
            da = unbroadcast(g2 @ np.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape)
        if ctx.needs_input_grad[1]:
            db = unbroadcast(np.swapaxes(a2, -1, -2) @ g2, b2.shape).reshape(b.shape)
        return da, db


class _Dot(Function):
    """`np.dot` for arrays of rank >= 1: contracts the last axis of `a` with the
    second-to-last axis of `b` (its only axis when `b` is a vector)."""

    @staticmethod
    def forward(ctx, a, b):
        a, b = np.asarray(a), np.asarray(b)
        k_axis = -2 if b.ndim > 1 else 0
        if a.shape[-1] != b.shape[k_axis]:
            raise ValueError(
                f"ops.dot: the last axis of the first argument must equal the "
                f"{'second-to-last' if b.ndim > 1 else 'only'} axis of the second. "
                f"Received shapes {a.shape} and {b.shape}."
            )
        ctx.a, ctx.bk = a, np.moveaxis(b, k_axis, 0)    # bk: (k, *rest of b)
        return np.dot(a, b)                               # (*a[:-1], *rest of b)

    @staticmethod
    def backward(ctx, g):
        a, bk = ctx.a, ctx.bk
        lead = a.ndim - 1
        da = db = None
        if ctx.needs_input_grad[0]:
            da = np.tensordot(g, bk, axes=(tuple(range(lead, g.ndim)),
                                           tuple(range(1, bk.ndim))))
        if ctx.needs_input_grad[1]:
            dbk = np.tensordot(a, g, axes=(tuple(range(lead)), tuple(range(lead))))
            db = np.moveaxis(dbk, 0, -2 if bk.ndim > 1 else 0)
        return da, db


class _Sum(Function):
    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        ctx.shape, ctx.axis, ctx.keepdims = np.shape(a), axis, keepdims
        return np.sum(a, axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        if not ctx.keepdims and ctx.axis is not None:
            axes = (ctx.axis,) if np.isscalar(ctx.axis) else ctx.axis
            g = np.expand_dims(g, tuple(a % len(ctx.shape) for a in axes))
        return np.broadcast_to(g, ctx.shape).copy()


class _GetItem(Function):
    @staticmethod
    def forward(ctx, a, key=None):
        ctx.shape, ctx.key = np.shape(a), key
        try:
            return np.asarray(a)[key]
        except IndexError as err:
            raise IndexError(
                f"ops.get_item: invalid index for an input of shape {np.shape(a)}: {err}"
            ) from None

    @staticmethod
    def backward(ctx, g):
        dx = np.zeros(ctx.shape, dtype=g.dtype)
        if _is_basic(ctx.key):
            dx[ctx.key] = g  # slices, ints, None, Ellipsis: each element is picked once
        else:
            np.add.at(dx, ctx.key, g)  # repeated indices sum, as in fancy indexing's adjoint
        return dx


def _is_basic(key: Any) -> bool:
    """Whether `key` is NumPy basic indexing (no index arrays, no boolean masks)."""
    keys = key if isinstance(key, tuple) else (key,)
    return all(k is None or k is Ellipsis or isinstance(k, (slice, np.integer))
               or (isinstance(k, int) and not isinstance(k, bool)) for k in keys)


def _unwrap_key(key: Any) -> Any:
    """An index with Tensors inside (`x[idx]`, `x[mask]`) as plain arrays."""
    if isinstance(key, tuple):
        return tuple(_unwrap_key(k) for k in key)
    if isinstance(key, list):
        return np.asarray([unwrap(k) for k in key])
    return unwrap(key)


class _Reshape(Function):
    @staticmethod
    def forward(ctx, a, newshape=None):
        ctx.shape = np.shape(a)
        try:
            return np.reshape(a, newshape)
        except ValueError:
            raise ValueError(
                f"ops.reshape: cannot reshape an array of shape {np.shape(a)} "
                f"({np.size(a)} elements) into shape {newshape}."
            ) from None

    @staticmethod
    def backward(ctx, g):
        return np.reshape(g, ctx.shape)


class _Transpose(Function):
    @staticmethod
    def forward(ctx, a, axes=None):
        ctx.axes = axes
        return np.transpose(a, axes)

    @staticmethod
    def backward(ctx, g):
        return np.transpose(g, None if ctx.axes is None else np.argsort(ctx.axes))


class _Cast(Function):
    @staticmethod
    def forward(ctx, a, dtype=None):
        ctx.dtype = np.asarray(a).dtype
        return np.asarray(a).astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return g.astype(ctx.dtype) if ctx.dtype.kind == "f" else None


def add(x1: Any, x2: Any) -> Any:
    """`x1 + x2` with broadcasting."""
    return _Add.apply(x1, x2)


def subtract(x1: Any, x2: Any) -> Any:
    """`x1 - x2` with broadcasting."""
    return _Subtract.apply(x1, x2)


def multiply(x1: Any, x2: Any) -> Any:
    """`x1 * x2` elementwise, with broadcasting."""
    return _Multiply.apply(x1, x2)


def divide(x1: Any, x2: Any) -> Any:
    """`x1 / x2` elementwise, with broadcasting."""
    return _Divide.apply(x1, x2)


true_divide = divide


def negative(x: Any) -> Any:
    """`-x`."""
    return _Negative.apply(x)


def power(x1: Any, x2: Any) -> Any:
    """`x1 ** x2` elementwise."""
    return _Power.apply(x1, x2)


def abs(x: Any) -> Any:  # noqa: A001 (keras.ops name)
    """`|x|` elementwise (gradient sign(x), 0 at 0)."""
    return _Abs.apply(x)


absolute = abs


def matmul(x1: Any, x2: Any) -> Any:
    """Matrix product `x1 @ x2` (batched over leading axes, as `np.matmul`)."""
    return _Matmul.apply(x1, x2)


def dot(x1: Any, x2: Any) -> Any:
    """Dot product as `np.dot`: scalars multiply, vectors give their inner product, and N-D
    arrays contract the last axis of `x1` with the second-to-last of `x2`."""
    if np.ndim(x1) == 0 or np.ndim(x2) == 0:
        return _Multiply.apply(x1, x2)
    return _Dot.apply(x1, x2)


def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    """Sum over `axis` (all axes when None)."""
    return _Sum.apply(x, axis=axis, keepdims=keepdims)


def get_item(x: Any, key: Any) -> Any:
    """`x[key]` (basic and advanced indexing; the key may hold Tensors)."""
    return _GetItem.apply(x, key=_unwrap_key(key))


def reshape(x: Any, newshape: Any) -> Any:
    """`x` with shape `newshape` (one entry may be -1)."""
    return _Reshape.apply(x, newshape=tuple(newshape) if np.ndim(newshape) else newshape)


def transpose(x: Any, axes: Any = None) -> Any:
    """Permutes the axes (reverses them when `axes` is None)."""
    return _Transpose.apply(x, axes=None if axes is None else tuple(axes))


def cast(x: Any, dtype: Any) -> Any:
    """`x` converted to `dtype` (float casts pass the gradient through)."""
    return _Cast.apply(x, dtype=np.dtype(dtype))
