"""Merge layers: combine a list of inputs elementwise (Add, ..., Minimum) or concatenate them.

The elementwise merges broadcast as NumPy (and Keras 3) do: a `(None, 1, 1, c)` squeeze-and-
excitation weight multiplies a `(None, h, w, c)` feature map; the gradient of a broadcast
input is summed back to its shape.

These layers take a list of arrays in `forward` and return a list of gradients (one per input,
None where `ctx.needs_input_grad` says no) from `backward`; `build`/`compute_output_shape` take a
list of shapes. `kernelnet.layers.add(...)`, `concatenate(...)`, ... are the functional helpers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kernelnet._typing import Array, Shape
from kernelnet.autodiff.function import unbroadcast
from kernelnet.layers.base import Layer, LayerContext
from kernelnet.utils import validation


def _shape_str(shape) -> str:
    return str(tuple(None if d is None else int(d) for d in shape))


def _dims_match(a, b) -> bool:
    return a is None or b is None or a == b


def _dims_broadcast(a, b) -> bool:
    return _dims_match(a, b) or a == 1 or b == 1


def _sum(xs: list) -> Array:
    y = np.add(xs[0], xs[1])  # one pass (a copy then `+=` is two)
    shape = np.broadcast_shapes(*(x.shape for x in xs))
    if y.shape != shape:
        y = np.broadcast_to(y, shape).copy()
    for x in xs[2:]:
        y += x
    return y


class _Merge(Layer):
    """Base class of elementwise merges: inputs of broadcastable shapes (None matches any
    size)."""

    _min_inputs, _max_inputs = 2, None

    def _check_inputs(self, shapes) -> None:
        if not isinstance(shapes, (list, tuple)) or (
                shapes and not isinstance(shapes[0], (list, tuple))):
            raise ValueError(
                f"{validation.describe(self)} must be called on a list of inputs. Received a "
                f"single input of shape {_shape_str(shapes) if shapes is not None else None}."
            )
        n = len(shapes)
        if n < self._min_inputs or (self._max_inputs and n > self._max_inputs):
            expected = (f"exactly {self._max_inputs}" if self._max_inputs == self._min_inputs
                        else f"at least {self._min_inputs}")
            raise ValueError(
                f"{validation.describe(self)} expects {expected} inputs. Received {n} inputs."
            )
        self._check_shapes(shapes)

    def _check_shapes(self, shapes) -> None:
        first = shapes[0]
        for other in shapes[1:]:
            if len(other) != len(first) or not all(map(_dims_broadcast, first, other)):
                raise ValueError(
                    f"{validation.describe(self)} requires inputs with matching (or "
                    f"broadcastable) shapes. Received: input shapes {_shape_str(first)} and "
                    f"{_shape_str(other)}."
                )

    def build(self, input_shape) -> None:
        self._check_inputs(input_shape)
        self.built = True

    def compute_output_shape(self, input_shape) -> Shape:
        self._check_inputs(input_shape)
        # per axis, the first known size other than a broadcast 1
        return tuple(next((d for d in dims if d not in (None, 1)),
                          1 if all(d == 1 for d in dims) else None)
                     for dims in zip(*input_shape))

    def forward(self, ctx: LayerContext | None, inputs: list, training: bool = False) -> Array:
        self._check_inputs([x.shape for x in inputs])
        if ctx is not None:
            ctx.shapes = [x.shape for x in inputs]
        return self._merge(ctx, list(inputs))

    def backward(self, ctx: LayerContext, grad: Array) -> tuple[list[Array | None], list]:
        grads = self._merge_grads(ctx, grad)
        return [unbroadcast(g, shape) if need else None
                for g, need, shape in zip(grads, ctx.needs_input_grad, ctx.shapes)], []

    def _merge(self, ctx: LayerContext | None, xs: list) -> Array:
        """The merged output; keeps on `ctx` (when given) what `_merge_grads` reads."""
        raise NotImplementedError

    def _merge_grads(self, ctx: LayerContext, grad: Array) -> list[Array]:
        raise NotImplementedError


class Add(_Merge):
    """Elementwise sum of a list of inputs (the ResNet shortcut).

    Example:
        >>> Add()([np.ones((1, 2)), np.ones((1, 2))]).tolist()
        [[2.0, 2.0]]
    """

    def _merge(self, ctx, xs):
        return _sum(xs)

    def _merge_grads(self, ctx, grad):
        # separate arrays, so a caller may accumulate into any of them in place
        return [grad.copy() if need else None for need in ctx.needs_input_grad]


class Subtract(_Merge):
    """`inputs[0] - inputs[1]` (exactly two inputs).

    Example:
        >>> Subtract()([np.ones((1, 2)), np.ones((1, 2))]).tolist()
        [[0.0, 0.0]]
    """

    _max_inputs = 2

    def _merge(self, ctx, xs):
        return xs[0] - xs[1]

    def _merge_grads(self, ctx, grad):
        return [grad.copy(), -grad]


class Multiply(_Merge):
    """Elementwise product of a list of inputs.

    Example:
        >>> Multiply()([np.full((1, 2), 2.0), np.full((1, 2), 3.0)]).tolist()
        [[6.0, 6.0]]
    """

    def _merge(self, ctx, xs):
        if ctx is not None:
            ctx.xs = xs
        y = np.broadcast_to(xs[0], np.broadcast_shapes(*(x.shape for x in xs))).copy()
        for x in xs[1:]:
            y *= x
        return y

    def _merge_grads(self, ctx, grad):
        grads, xs = [], ctx.xs
        for i in range(len(xs)):
            g = grad.copy()
            for j, x in enumerate(xs):
                if j != i:
                    g *= x                                   # product of the other inputs
            grads.append(g)
        return grads


class Average(_Merge):
    """Elementwise mean of a list of inputs.

    Example:
        >>> Average()([np.zeros((1, 2)), np.full((1, 2), 4.0)]).tolist()
        [[2.0, 2.0]]
    """

    def _merge(self, ctx, xs):
        return _sum(xs) / xs[0].dtype.type(len(xs))

    def _merge_grads(self, ctx, grad):
        k = len(ctx.shapes)
        return [grad / grad.dtype.type(k) for _ in range(k)]


class Maximum(_Merge):
    """Elementwise maximum; the gradient goes to the first input holding the maximum.

    Example:
        >>> Maximum()([np.array([[1.0, 5.0]]), np.array([[3.0, 2.0]])]).tolist()
        [[3.0, 5.0]]
    """

    _reduce = staticmethod(np.argmax)

    def _merge(self, ctx, xs):
        stacked = np.stack(np.broadcast_arrays(*xs))            # (k, *shape)
        winner = self._reduce(stacked, axis=0)                  # index of the selected input
        if ctx is not None:
            ctx.winner = winner
        return np.take_along_axis(stacked, winner[None], axis=0)[0]

    def _merge_grads(self, ctx, grad):
        return [grad * (ctx.winner == i) for i in range(len(ctx.shapes))]


class Minimum(Maximum):
    """Elementwise minimum; the gradient goes to the first input holding the minimum.

    Example:
        >>> Minimum()([np.array([[1.0, 5.0]]), np.array([[3.0, 2.0]])]).tolist()
        [[1.0, 2.0]]
    """

    _reduce = staticmethod(np.argmin)


class Concatenate(_Merge):
    """Concatenates a list of inputs along `axis`; the other axes must match.

    Args:
        axis: int, the concatenation axis (not the batch axis). Defaults to -1 (channels).

    Example:
        >>> Concatenate()([np.zeros((1, 2)), np.zeros((1, 3))]).shape
        (1, 5)
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise ValueError(
                f"The `axis` argument of Concatenate must be an int. Received: axis={axis!r}."
            )
        self.axis = int(axis)

    def _check_shapes(self, shapes) -> None:
        first = shapes[0]
        ndim = len(first)
        axis = self.axis % ndim if -ndim <= self.axis < ndim else None
        for other in shapes[1:]:
            same = len(other) == ndim and all(
                _dims_match(a, b) for i, (a, b) in enumerate(zip(first, other)) if i != axis)
            if axis is None or axis == 0 or not same:
                raise ValueError(
                    f"{validation.describe(self)} requires inputs with matching shapes except "
                    f"on the concatenation axis (axis={self.axis}). Received: input shapes "
                    f"{_shape_str(first)} and {_shape_str(other)}."
                )

    def compute_output_shape(self, input_shape) -> Shape:
        self._check_inputs(input_shape)
        axis = self.axis % len(input_shape[0])
        out = [next((d for d in dims if d is not None), None) for dims in zip(*input_shape)]
        sizes = [s[axis] for s in input_shape]
        out[axis] = None if None in sizes else int(sum(sizes))
        return tuple(out)

    def _merge(self, ctx, xs):
        return np.concatenate(xs, axis=self.axis)

    def _merge_grads(self, ctx, grad):
        bounds = np.cumsum([shape[self.axis] for shape in ctx.shapes])[:-1]
        return [g.copy() for g in np.split(grad, bounds, axis=self.axis)]

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis}


def _merge_helper(cls: type, doc_name: str):
    def helper(inputs: list, **kwargs) -> Any:
        return cls(**kwargs)(inputs)

    helper.__name__ = doc_name
    helper.__doc__ = (f"Functional interface to `{cls.__name__}`: `{doc_name}(inputs, **kwargs)` "
                      f"is `{cls.__name__}(**kwargs)(inputs)`.")
    return helper


add = _merge_helper(Add, "add")
subtract = _merge_helper(Subtract, "subtract")
multiply = _merge_helper(Multiply, "multiply")
average = _merge_helper(Average, "average")
maximum = _merge_helper(Maximum, "maximum")
minimum = _merge_helper(Minimum, "minimum")


def concatenate(inputs: list, axis: int = -1, **kwargs) -> Any:
    """Functional interface to `Concatenate`: `concatenate(inputs, axis)` is
    `Concatenate(axis=axis, **kwargs)(inputs)`."""
    return Concatenate(axis=axis, **kwargs)(inputs)
