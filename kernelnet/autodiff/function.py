"""`Function`: one differentiable operation, written as a forward/backward pair.

A subclass writes two static methods, Chainer/PyTorch style:

    forward(ctx, *arrays, **params) -> array (or a tuple of arrays)
    backward(ctx, *output_grads)    -> one gradient (or None) per array input

`Function.apply(*inputs, **params)` unwraps Tensors/Variables to arrays, runs forward, and,
when a tape is recording and some input needs a gradient, records the call. Plain arrays in give
plain arrays out; a Tensor or Variable in gives a Tensor out.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kernelnet.autodiff import tape
from kernelnet.autodiff.tensor import Tensor, is_tracked, unwrap


class Function:
    """Base class of differentiable operations (see the module docstring)."""

    @staticmethod
    def forward(ctx: tape.Context, *arrays: Any, **params: Any) -> Any:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: tape.Context, *grads: Any) -> Any:
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs: Any, **params: Any) -> Any:
        needs = [tape.requires_grad(x) for x in inputs] if tape.recording() else []
        ctx = tape.Context(needs or [False] * len(inputs))
        out = cls.forward(ctx, *[unwrap(x) for x in inputs], **params)
        if not any(needs):
            if any(is_tracked(x) for x in inputs):
                return tuple(map(Tensor, out)) if isinstance(out, tuple) else Tensor(out)
            return out
        outs = tuple(map(Tensor, out)) if isinstance(out, tuple) else (Tensor(out),)
        tape.record(cls.backward, ctx, inputs, outs, cls.__name__)
        return outs if isinstance(out, tuple) else outs[0]


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sums `grad` down to `shape`: the backward of NumPy broadcasting."""
    if grad.shape == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)
