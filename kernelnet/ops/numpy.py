"""Differentiable array ops under `keras.ops` names (`kernelnet.ops.add`, `ops.matmul`, ...).

Each op is a `Function` (forward/backward pair, see `kernelnet.autodiff.function`): NumPy in
gives NumPy out; Tensors or Variables in give a Tensor out, recorded when a `GradientTape` is
active. Shape letters: `g` is the upstream gradient.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kernelnet.autodiff.function import Function, unbroadcast
from kernelnet.autodiff.tensor import convert_to_numpy, convert_to_tensor  # noqa: F401


def _binary_shapes(op: str, a: np.ndarray, b: np.ndarray) -> tuple:
    try:
        return np.broadcast_shapes(np.shape(a), np.shape(b))
    except ValueError:
        raise ValueError(
            f"ops.{op}: cannot broadcast shapes {np.shape(a)} and {np.shape(b)}."
        ) from None


class _Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        _binary_shapes("add", a, b)
        ctx.shapes = np.shape(a), np.shape(b)
        return np.add(a, b)

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        return unbroadcast(g, sa), unbroadcast(g, sb)


class _Subtract(Function):
    @staticmethod
    def forward(ctx, a, b):
        _binary_shapes("subtract", a, b)
        ctx.shapes = np.shape(a), np.shape(b)
        return np.subtract(a, b)

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        return unbroadcast(g, sa), unbroadcast(-g, sb)


class _Multiply(Function):
    @staticmethod
    def forward(ctx, a, b):
        _binary_shapes("multiply", a, b)
        ctx.a, ctx.b = a, b
        return np.multiply(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.a, ctx.b
        da = unbroadcast(g * b, np.shape(a)) if ctx.needs_input_grad[0] else None
        db = unbroadcast(g * a, np.shape(b)) if ctx.needs_input_grad[1] else None
        return da, db


class _Divide(Function):
    @staticmethod
    def forward(ctx, a, b):
        _binary_shapes("divide", a, b)
        ctx.a, ctx.b = a, b
        return np.true_divide(a, b)

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
        _binary_shapes("power", a, b)
        y = np.power(a, b)
        ctx.a, ctx.b, ctx.y = a, b, y
        return y

    @staticmethod
    def backward(ctx, g):
        a, b, y = ctx.a, ctx.b, ctx.y
        da = db = None
        if ctx.needs_input_grad[0]:
            da = unbroadcast(g * b * np.power(a, np.subtract(b, 1)), np.shape(a))
        if ctx.needs_input_grad[1]:
            safe = np.where(np.asarray(a) > 0, a, 1)
            db = unbroadcast(g * y * np.log(safe), np.shape(b))
        return da, db


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
        ctx.shape, ctx.dtype, ctx.key = np.shape(a), np.asarray(a).dtype, key
        return np.asarray(a)[key]

    @staticmethod
    def backward(ctx, g):
        dx = np.zeros(ctx.shape, dtype=g.dtype)
        np.add.at(dx, ctx.key, g)  # repeated indices sum, as in fancy indexing's adjoint
        return dx


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


def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    """Sum over `axis` (all axes when None)."""
    return _Sum.apply(x, axis=axis, keepdims=keepdims)


def get_item(x: Any, key: Any) -> Any:
    """`x[key]` (basic and advanced indexing)."""
    return _GetItem.apply(x, key=key)


def reshape(x: Any, newshape: Any) -> Any:
    """`x` with shape `newshape` (one entry may be -1)."""
    return _Reshape.apply(x, newshape=tuple(newshape) if np.ndim(newshape) else newshape)


def transpose(x: Any, axes: Any = None) -> Any:
    """Permutes the axes (reverses them when `axes` is None)."""
    return _Transpose.apply(x, axes=None if axes is None else tuple(axes))


def cast(x: Any, dtype: Any) -> Any:
    """`x` converted to `dtype` (float casts pass the gradient through)."""
    return _Cast.apply(x, dtype=np.dtype(dtype))
