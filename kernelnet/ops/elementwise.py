"""Elementwise `keras.ops` math: exp, log, sqrt, square, tanh, maximum, minimum, clip, where,
the comparisons, and `stop_gradient`.

Each differentiable op is a `Function` (forward keeps what backward needs on `ctx`); `g` is the
upstream gradient dL/dy. Comparisons and other ops without a gradient go through
`constant_op`: a Tensor in gives an unrecorded Tensor out, so no gradient flows back through
them (TensorFlow's `None`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kernelnet.autodiff.function import Function, unbroadcast
from kernelnet.autodiff.tensor import Tensor, is_tracked, unwrap


def constant_op(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Runs the NumPy function `fn` on unwrapped `args`: no gradient flows through the result.

    A tracked input gives a Tensor (not recorded), plain inputs give what `fn` returns.
    """
    out = fn(*[unwrap(a) for a in args], **kwargs)
    return Tensor(out) if any(is_tracked(a) for a in args) else out


def broadcast_shapes(op: str, *arrays: Any) -> tuple:
    """The broadcast shape of `arrays`, or a ValueError naming `op` and the shapes."""
    try:
        return np.broadcast_shapes(*(np.shape(a) for a in arrays))
    except ValueError:
        shapes = " and ".join(str(np.shape(a)) for a in arrays)
        raise ValueError(f"ops.{op}: cannot broadcast shapes {shapes}.") from None


def _compare(op: str, fn: Any, x1: Any, x2: Any) -> np.ndarray:
    try:
        return fn(unwrap(x1), unwrap(x2))
    except ValueError:
        broadcast_shapes(op, x1, x2)
        raise


class _Exp(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.y = np.exp(x)
        return ctx.y

    @staticmethod
    def backward(ctx, g):
        return g * ctx.y  # d exp(x) = exp(x)


class _Log(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.x = x
        return np.log(x)

    @staticmethod
    def backward(ctx, g):
        return g / ctx.x


class _Sqrt(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.y = np.sqrt(x)
        return ctx.y

    @staticmethod
    def backward(ctx, g):
        return g / (2 * ctx.y)  # d sqrt(x) = 1 / (2 sqrt(x))


class _Square(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.x = x
        return np.square(x)

    @staticmethod
    def backward(ctx, g):
        return g * (2 * ctx.x)


class _Tanh(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.y = np.tanh(x)
        return ctx.y

    @staticmethod
    def backward(ctx, g):
        return g * (1 - ctx.y * ctx.y)


class _Select(Function):
    """`maximum`, `minimum` and `where`: each output element comes from one of two inputs;
    `ctx.mask` (broadcast shape) is True where it came from the first."""

    @staticmethod
    def forward(ctx, a, b, mask=None):
        ctx.mask, ctx.shapes = mask, (np.shape(a), np.shape(b))
        return np.where(mask, a, b)

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        da = unbroadcast(np.where(ctx.mask, g, 0), sa) if ctx.needs_input_grad[0] else None
        db = unbroadcast(np.where(ctx.mask, 0, g), sb) if ctx.needs_input_grad[1] else None
        return da, db


class _Clip(Function):
    @staticmethod
    def forward(ctx, x, x_min=None, x_max=None):
        inside = np.ones(np.shape(x), dtype=bool)
        if x_min is not None:
            inside &= np.asarray(x) >= x_min
        if x_max is not None:
            inside &= np.asarray(x) <= x_max
        ctx.inside = inside
        return np.clip(x, x_min, x_max)

    @staticmethod
    def backward(ctx, g):
        return g * ctx.inside  # the gradient passes where x was not clipped (TensorFlow)


def exp(x: Any) -> Any:
    """`e ** x` elementwise."""
    return _Exp.apply(x)


def log(x: Any) -> Any:
    """Natural logarithm elementwise."""
    return _Log.apply(x)


def sqrt(x: Any) -> Any:
    """Square root elementwise."""
    return _Sqrt.apply(x)


def square(x: Any) -> Any:
    """`x * x` elementwise."""
    return _Square.apply(x)


def tanh(x: Any) -> Any:
    """Hyperbolic tangent elementwise."""
    return _Tanh.apply(x)


def maximum(x1: Any, x2: Any) -> Any:
    """Elementwise maximum with broadcasting (ties send the gradient to `x1`, as TensorFlow)."""
    return _Select.apply(x1, x2, mask=_compare("maximum", np.greater_equal, x1, x2))


def minimum(x1: Any, x2: Any) -> Any:
    """Elementwise minimum with broadcasting (ties send the gradient to `x1`)."""
    return _Select.apply(x1, x2, mask=_compare("minimum", np.less_equal, x1, x2))


def where(condition: Any, x1: Any = None, x2: Any = None) -> Any:
    """`x1` where `condition` holds, else `x2` (broadcast); `where(condition)` gives the
    indices of the true elements, as `np.nonzero`."""
    if x1 is None and x2 is None:
        return constant_op(np.nonzero, condition)
    if x1 is None or x2 is None:
        raise ValueError("ops.where: give both `x1` and `x2`, or neither.")
    cond = np.asarray(unwrap(condition), dtype=bool)
    broadcast_shapes("where", cond, x1, x2)
    shape = np.broadcast_shapes(cond.shape, np.shape(x1), np.shape(x2))
    return _Select.apply(x1, x2, mask=np.broadcast_to(cond, shape))


def clip(x: Any, x_min: Any, x_max: Any) -> Any:
    """`x` limited to `[x_min, x_max]` elementwise; no gradient flows where it was clipped."""
    return _Clip.apply(x, x_min=unwrap(x_min), x_max=unwrap(x_max))


def stop_gradient(variable: Any) -> Any:
    """`variable` itself, seen by the tape as a constant (no gradient flows back)."""
    return constant_op(lambda x: x, variable)


def equal(x1: Any, x2: Any) -> Any:
    """`x1 == x2` elementwise (no gradient)."""
    return constant_op(np.equal, x1, x2)


def not_equal(x1: Any, x2: Any) -> Any:
    """`x1 != x2` elementwise (no gradient)."""
    return constant_op(np.not_equal, x1, x2)


def greater(x1: Any, x2: Any) -> Any:
    """`x1 > x2` elementwise (no gradient)."""
    return constant_op(np.greater, x1, x2)


def greater_equal(x1: Any, x2: Any) -> Any:
    """`x1 >= x2` elementwise (no gradient)."""
    return constant_op(np.greater_equal, x1, x2)


def less(x1: Any, x2: Any) -> Any:
    """`x1 < x2` elementwise (no gradient)."""
    return constant_op(np.less, x1, x2)


def less_equal(x1: Any, x2: Any) -> Any:
    """`x1 <= x2` elementwise (no gradient)."""
    return constant_op(np.less_equal, x1, x2)


def sign(x: Any) -> Any:
    """-1, 0 or 1 elementwise (no gradient: its derivative is 0 almost everywhere)."""
    return constant_op(np.sign, x)
