"""Keras `ops.one_hot` and the crossentropy helpers custom training code calls:
`categorical_crossentropy`, `sparse_categorical_crossentropy`, `binary_crossentropy`.

Each returns the per-sample loss (no reduction), as Keras' ops do. With `from_logits=True`
(or an `output` that is the Tensor result of `ops.softmax`/`ops.sigmoid`, which remembers its
logits as Keras' `_keras_logits`) the loss is one fused, stable node:
`-sum(t * log_softmax(z))` with gradient `softmax(z) * sum(t) - t`, and
`max(z, 0) - z t + log(1 + exp(-|z|))` with gradient `sigmoid(z) - t`. Probabilities are
normalized and clipped to `[eps, 1 - eps]`, as Keras does, with composed ops.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kernelnet import backend
from kernelnet.autodiff.function import Function
from kernelnet.autodiff.tensor import unwrap
from kernelnet.ops import nn
from kernelnet.ops.elementwise import constant_op


def one_hot(x: Any, num_classes: int, axis: int = -1, dtype: Any = None,
            sparse: bool = False) -> Any:
    """One-hot encoding of integer class ids: a new axis of `num_classes` (at `axis`) with a 1
    at each id; ids outside `[0, num_classes)` give all-zero rows (as TensorFlow). No gradient.

    Example:
        >>> one_hot(np.array([0, 2]), 3).tolist()
        [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    """
    if sparse:
        raise ValueError("ops.one_hot: sparse outputs are not supported. Received: sparse=True.")

    def encode(ids):
        ids = np.asarray(ids)
        if ids.dtype.kind not in "iub":
            if not np.all(np.mod(ids, 1) == 0):
                raise ValueError(
                    f"ops.one_hot expects integer class ids. Received dtype {ids.dtype}.")
            ids = ids.astype(np.int64)
        out = (ids[..., None] == np.arange(int(num_classes))).astype(dtype or backend.floatx())
        return np.moveaxis(out, -1, axis)

    return constant_op(encode, x)


def _check_same_shape(op: str, target: Any, output: Any) -> None:
    t, o = np.shape(target), np.shape(output)
    if len(t) < 1 or t != o:
        raise ValueError(
            f"ops.{op}: arguments `target` and `output` must have the same shape (rank >= 1). "
            f"Received: target.shape={t}, output.shape={o}."
        )


def _logits_of(output: Any) -> Any:
    """The logits behind a Tensor made by `ops.softmax`/`ops.sigmoid`, else None."""
    return getattr(output, "_keras_logits", None)


class _SoftmaxCrossentropy(Function):
    @staticmethod
    def forward(ctx, target, logits, axis=-1):
        target, logits = np.asarray(target), np.asarray(logits)
        log_p = nn._log_softmax(logits, axis)
        ctx.target, ctx.log_p, ctx.axis = target, log_p, axis
        return -np.sum(target * log_p, axis=axis).astype(log_p.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        g = np.expand_dims(g, ctx.axis)
        t, log_p = ctx.target, ctx.log_p
        dt = -g * log_p if ctx.needs_input_grad[0] else None
        dz = None
        if ctx.needs_input_grad[1]:
            # d/dz -sum(t * log_softmax(z)) = softmax(z) * sum(t) - t
            dz = g * (np.exp(log_p) * np.sum(t, axis=ctx.axis, keepdims=True) - t)
        return dt, dz.astype(log_p.dtype, copy=False) if dz is not None else None


class _SigmoidCrossentropy(Function):
    @staticmethod
    def forward(ctx, target, logits):
        target, logits = np.asarray(target), np.asarray(logits)
        ctx.target, ctx.logits = target, logits
        # max(z, 0) - z t + log(1 + exp(-|z|)): never overflows
        loss = np.maximum(logits, 0) - logits * target + np.log1p(np.exp(-np.abs(logits)))
        return loss.astype(logits.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        t, z = ctx.target, ctx.logits
        dt = -g * z if ctx.needs_input_grad[0] else None
        dz = g * (nn._sigmoid(z) - t) if ctx.needs_input_grad[1] else None
        return dt, dz


def _clipped(output: Any) -> Any:
    from kernelnet import ops

    eps = backend.epsilon()
    return ops.clip(output, eps, 1.0 - eps)


def categorical_crossentropy(target: Any, output: Any, from_logits: bool = False,
                             axis: int = -1) -> Any:
    """Crossentropy between one-hot (or soft) `target` and `output` probabilities (logits with
    `from_logits=True`), summed over `axis`: one value per sample.

    Example:
        >>> categorical_crossentropy(np.array([[0.0, 1.0]]), np.array([[0.0, 0.0]]),
        ...                          from_logits=True).round(4).tolist()
        [0.6931]
    """
    from kernelnet import ops

    _check_same_shape("categorical_crossentropy", target, output)
    if not from_logits and _logits_of(output) is not None and axis in (-1, np.ndim(output) - 1):
        output, from_logits = _logits_of(output), True
    if from_logits:
        return _SoftmaxCrossentropy.apply(target, output, axis=axis)
    # normalize so each sample's probabilities add up to 1, then clip (as Keras)
    output = ops.divide(output, ops.sum(output, axis=axis, keepdims=True))
    return ops.negative(ops.sum(ops.multiply(target, ops.log(_clipped(output))), axis=axis))


def sparse_categorical_crossentropy(target: Any, output: Any, from_logits: bool = False,
                                    axis: int = -1) -> Any:
    """Crossentropy between integer class ids `target` `(...)` (or `(..., 1)`) and `output`
    `(..., classes)`: one value per sample. Only `axis=-1` is supported, as in Keras."""
    if axis not in (-1, np.ndim(output) - 1):
        raise ValueError(
            f"ops.sparse_categorical_crossentropy: only axis=-1 is supported. Received: "
            f"axis={axis}."
        )
    t_shape, o_shape = np.shape(target), np.shape(output)
    if len(t_shape) == len(o_shape) and t_shape and t_shape[-1] == 1:
        target, t_shape = np.reshape(unwrap(target), t_shape[:-1]), t_shape[:-1]
    if len(o_shape) < 1 or t_shape != o_shape[:-1]:
        raise ValueError(
            "ops.sparse_categorical_crossentropy: `output` must have the shape of `target` plus "
            f"a class axis. Received: target.shape={np.shape(target)}, output.shape={o_shape}."
        )
    ids = np.asarray(unwrap(target))
    if np.size(ids) and (ids.min() < 0 or ids.max() >= o_shape[-1]):
        raise ValueError(
            f"ops.sparse_categorical_crossentropy: class ids must lie in [0, {o_shape[-1]}). "
            f"Received ids from {ids.min()} to {ids.max()}."
        )
    dtype = np.asarray(unwrap(output)).dtype
    return categorical_crossentropy(one_hot(ids, o_shape[-1], dtype=dtype), output,
                                    from_logits=from_logits)


def binary_crossentropy(target: Any, output: Any, from_logits: bool = False) -> Any:
    """Elementwise binary crossentropy between `target` in [0, 1] and `output` probabilities
    (logits with `from_logits=True`); not reduced, as Keras' op.

    Example:
        >>> binary_crossentropy(np.array([1.0]), np.array([0.0]), from_logits=True).round(4)
        array([0.6931])
    """
    from kernelnet import ops

    _check_same_shape("binary_crossentropy", target, output)
    if not from_logits and _logits_of(output) is not None:
        output, from_logits = _logits_of(output), True
    if from_logits:
        return _SigmoidCrossentropy.apply(target, output)
    p = _clipped(output)
    # -(t log p + (1 - t) log(1 - p))
    log_not_p = ops.log(ops.subtract(1.0, p))
    return ops.negative(ops.add(ops.multiply(target, ops.log(p)),
                                ops.multiply(ops.subtract(1.0, target), log_not_p)))
