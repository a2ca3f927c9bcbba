"""The `Loss` base class (Keras 3): `call(y_true, y_pred)` gives per-sample values, `__call__`
weights and reduces them; everything differentiable through `kernelnet.ops`.

A custom loss subclasses `Loss` and writes `call` with `kernelnet.ops`; the tape differentiates
it, so it trains. Built-in losses (`_BuiltinLoss`) keep their hand-written per-sample values
and gradient as one fused tape node, and a direct NumPy `value_and_grad` for the fast path.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from kernelnet import backend, ops
from kernelnet._typing import Array
from kernelnet.autodiff import tape
from kernelnet.autodiff.function import Function
from kernelnet.autodiff.tensor import Tensor, is_tracked, unwrap

_REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


def _shape(a) -> tuple:
    return tuple(int(d) for d in np.shape(a))


def _snake(name: str) -> str:
    """Keras' `auto_name`: 'MyHuberLoss' -> 'my_huber_loss'."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def _mean_last(values: Array) -> Array:
    """Per-sample mean over the last axis (element-wise losses); 1-D inputs are per-sample."""
    return values.mean(axis=-1) if values.ndim >= 2 else values


def _per_sample_size(y_pred: Array) -> int:
    return y_pred.shape[-1] if y_pred.ndim >= 2 else 1


def standardize_reduction(reduction, who: str):
    if reduction not in _REDUCTIONS:
        raise ValueError(
            f"Invalid `reduction` for {who}: expected one of {_REDUCTIONS}. "
            f"Received: reduction={reduction!r}."
        )
    return reduction


def _weights(name: str, values_shape: tuple, sample_weight, mask, reduction) -> Array | None:
    """Per-value factors from `sample_weight` and a boolean `mask` (Keras 3's `apply_mask`:
    with a mean reduction, valid entries weigh `total / valid` so the mean is over them)."""
    weights = None
    if sample_weight is not None:
        sw = np.asarray(unwrap(sample_weight), dtype=np.float64)
        ndim = len(values_shape)
        # Keras' squeeze_or_expand_to_same_rank: (n, 1) weights for (n,) values and back
        if sw.ndim == ndim + 1 and sw.shape[-1] == 1:
            sw = sw[..., 0]
        elif ndim == sw.ndim + 1 and sw.ndim >= 1:
            sw = sw[..., None]
        try:
            weights = np.broadcast_to(sw, values_shape)
        except ValueError:
            raise ValueError(
                f"Loss {name!r}: `sample_weight` must have one entry per sample "
                f"({values_shape[0] if values_shape else 1}). Received: "
                f"sample_weight.shape={_shape(sw)} for loss values of shape {values_shape}."
            ) from None
    if mask is not None:
        if reduction in ("mean", "sum_over_batch_size"):
            valid = int(mask.sum())
            factor = np.where(mask, mask.size / valid if valid else 0.0, 0.0)
        else:
            factor = mask.astype(np.float64)
        weights = factor if weights is None else weights * factor
    return weights


def _divisor(values_shape: tuple, sample_weight, reduction) -> float:
    if reduction == "sum":
        return 1.0
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        return float(np.sum(np.asarray(unwrap(sample_weight), dtype=np.float64)))
    return float(np.prod(values_shape))


def reduce_weighted_values(values, sample_weight=None, mask=None,
                           reduction="sum_over_batch_size", name: str = "loss"):
    """Keras 3's reduction: `sum(values * sample_weight)` divided by the number of values
    ("sum_over_batch_size"/"mean"), by the sum of the weights ("mean_with_sample_weight"), or
    not ("sum"); "none" returns the weighted values. A zero divisor gives 0 (divide_no_nan).
    Differentiable: Tensor values give a Tensor."""
    shape = _shape(values)
    weights = _weights(name, shape, sample_weight, mask, reduction)
    if not is_tracked(values):
        values = np.asarray(values, dtype=np.float64)  # plain arrays: report in float64
    if weights is not None:
        values = ops.multiply(values, weights.astype(values.dtype))
    if reduction in (None, "none") or shape in ((), (0,)):
        return values
    total = ops.sum(values)
    divisor = _divisor(shape, sample_weight, reduction)
    if divisor == 0:
        return ops.multiply(total, 0.0)
    return total if divisor == 1.0 else ops.divide(total, np.asarray(divisor, total.dtype))


class Loss:
    """Loss base class (Keras 3): subclass it and implement `call(y_true, y_pred)`, returning
    per-sample values written with `kernelnet.ops` (so that the loss can be differentiated).

    Args:
        name: name of the loss. Defaults to the class name in snake_case.
        reduction: "sum_over_batch_size" (the default: the weighted sum over the number of
            values), "mean" (the same), "sum", "mean_with_sample_weight" (divided by the sum of
            the sample weights) or "none"/None (per-sample values).
        dtype: kept for Keras compatibility (losses compute in y_pred's float dtype).

    Example:
        >>> from kernelnet import ops
        >>> class MeanSquaredError(Loss):
        ...     def call(self, y_true, y_pred):
        ...         return ops.mean(ops.square(y_pred - y_true), axis=-1)
    """

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        self.name = name or _snake(type(self).__name__)
        self.reduction = standardize_reduction(reduction, type(self).__name__)
        self.dtype = dtype

    def call(self, y_true, y_pred):
        raise NotImplementedError(
            f"{type(self).__name__} must implement `call(y_true, y_pred)` returning the "
            "per-sample loss values (written with kernelnet.ops so that it can be trained)."
        )

    def __call__(self, y_true, y_pred, sample_weight=None):
        """The weighted, reduced loss: a Python float for plain arrays, a Tensor (recorded by
        an active GradientTape) when `y_pred` is a Tensor."""
        y_pred = y_pred if is_tracked(y_pred) else self._as_pred(y_pred)
        if not is_tracked(y_true) and y_true is not None:
            y_true = np.asarray(y_true)
            if y_true.dtype.kind in "biuf":  # Keras casts targets to the loss dtype
                y_true = y_true.astype(y_pred.dtype, copy=False)
        values = self.call(y_true, y_pred)
        if not hasattr(values, "shape"):
            values = np.asarray(values)
        out = reduce_weighted_values(values, sample_weight, self._mask(y_true, y_pred),
                                     self.reduction, self.name)
        return float(out) if not is_tracked(out) and np.ndim(out) == 0 else out

    def _mask(self, y_true, y_pred) -> Array | None:
        """Boolean per-sample mask of entries that count (None: all count)."""
        return None

    def value_and_grad(self, y_true, y_pred, sample_weight=None) -> tuple[float, Array]:
        """Returns `(loss, d loss / d y_pred)` for a plain array `y_pred`, by running `call` on
        a watched Tensor (built-in losses override this with their direct formulas)."""
        if self.reduction in (None, "none"):
            raise ValueError(f"Loss {self.name!r} has reduction={self.reduction!r}: it has "
                             "no scalar value to differentiate.")
        pred = Tensor(self._as_pred(y_pred))
        with tape.GradientTape() as t:
            t.watch(pred)
            try:
                value = self(y_true, pred, sample_weight)
            except TypeError as e:
                raise TypeError(
                    f"Loss {self.name!r} could not be computed on a kernelnet Tensor, so "
                    f"kernelnet cannot compute its gradient for training ({e}). Write the loss "
                    "with kernelnet.ops (ops.mean, ops.square, ...) instead of NumPy functions."
                ) from e
        if not is_tracked(value):
            raise TypeError(
                f"Loss {self.name!r} returned a value that does not depend on y_pred through "
                "kernelnet.ops, so kernelnet cannot compute its gradient for training. Write "
                "the loss with kernelnet.ops (ops.mean, ops.square, ...)."
            )
        grad = t.gradient(value, pred)
        grad = np.zeros_like(pred.value) if grad is None else grad
        return float(value), grad

    def _as_pred(self, y_pred) -> Array:
        y_pred = np.asarray(y_pred)
        if y_pred.dtype.kind not in "biuf" or y_pred.ndim == 0:
            raise ValueError(
                f"Loss {self.name!r} expects numeric predictions with a batch axis. Received: "
                f"y_pred with shape {_shape(y_pred)} and dtype {str(y_pred.dtype)!r}."
            )
        return y_pred if y_pred.dtype.kind == "f" else y_pred.astype(backend.floatx())

    def _as_targets(self, y_true, y_pred) -> Array:
        y_true = np.asarray(unwrap(y_true))
        if y_true.dtype.kind not in "biuf" or y_true.ndim == 0:
            raise ValueError(
                f"Loss {self.name!r} expects numeric targets with a batch axis. Received: "
                f"y_true with shape {_shape(y_true)} and dtype {str(y_true.dtype)!r}."
            )
        if y_true.shape[0] != y_pred.shape[0]:
            raise ValueError(
                f"Loss {self.name!r} received {y_true.shape[0]} targets for {y_pred.shape[0]} "
                "predictions: y_true and y_pred must have the same batch size. Received: "
                f"y_true.shape={_shape(y_true)}, y_pred.shape={_shape(y_pred)}."
            )
        return y_true.astype(y_pred.dtype, copy=False)

    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config: dict) -> Loss:
        return cls(**config)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class _Values(Function):
    """A built-in loss's per-sample values as one tape node; backward is its `_grad`."""

    @staticmethod
    def forward(ctx, y_pred, *, loss, y_true):
        ctx.loss, ctx.y_true, ctx.y_pred = loss, y_true, y_pred
        return loss._values(y_true, y_pred)

    @staticmethod
    def backward(ctx, g):
        return ctx.loss._apply_scale(ctx.loss._grad(ctx.y_true, ctx.y_pred), g)


class _BuiltinLoss(Loss):
    """Built-in losses: subclasses implement `_prepare`, `_values` and `_grad` in NumPy."""

    def _prepare(self, y_true, y_pred) -> tuple[Array, Array]:
        """Validates shapes; returns float `(y_true, y_pred)` of y_pred's dtype and shape."""
        y_pred = self._as_pred(y_pred)
        y_true = self._as_targets(y_true, y_pred)
        if y_true.shape != y_pred.shape:
            if y_true.size == y_pred.size and y_true.squeeze().shape == y_pred.squeeze().shape:
                return y_true.reshape(y_pred.shape), y_pred  # (n,) vs (n, 1)
            raise ValueError(
                f"Loss {self.name!r} expects targets with the same shape as the model output "
                f"(batch, {', '.join(str(d) for d in y_pred.shape[1:])}). Received targets of "
                f"shape {_shape(y_true)}."
            )
        return y_true, y_pred

    def _values(self, y_true: Array, y_pred: Array) -> Array:
        """Per-sample loss values, shape `y_pred.shape[:-1]` (or `(n,)` for 1-D outputs)."""
        raise NotImplementedError

    def _grad(self, y_true: Array, y_pred: Array) -> Array:
        """Gradient of `sum(_values(...))` wrt y_pred (a new array)."""
        raise NotImplementedError

    def _target_mask(self, y_true: Array) -> Array | None:
        """Mask from the prepared targets (see `SparseCategoricalCrossentropy`)."""
        return None

    def call(self, y_true, y_pred):
        y_true, pred = self._prepare(y_true, unwrap(y_pred))
        fused = self._fused_logits(y_true, y_pred)
        if fused is not None:
            return fused
        return _Values.apply(y_pred if is_tracked(y_pred) else pred, loss=self, y_true=y_true)

    def _fused_logits(self, y_true: Array, y_pred):
        """A tape node from the logits behind an output softmax/sigmoid (crossentropies)."""
        return None

    def _own_call(self) -> bool:
        """True unless a subclass replaced `call` (then the generic tape path is used)."""
        return type(self).call is _BuiltinLoss.call

    def value_and_grad(self, y_true, y_pred, sample_weight=None) -> tuple[float, Array]:
        """Returns `(loss, d loss / d y_pred)`; the gradient has y_pred's shape and dtype."""
        if not self._own_call():
            return super().value_and_grad(y_true, y_pred, sample_weight)
        y_true, y_pred = self._prepare(y_true, y_pred)
        values = self._values(y_true, y_pred)
        scale = self._scale(y_true, values, sample_weight)
        return self._reduce(values, scale), self._apply_scale(self._grad(y_true, y_pred), scale)

    def _reduce(self, values: Array, scale) -> float:
        return float(np.sum(values * scale, dtype=np.float64))

    def _scale(self, y_true: Array, values: Array, sample_weight) -> Array | float:
        """Per-value factor of d(loss)/d(value): weights and mask over the divisor."""
        if self.reduction in (None, "none"):
            raise ValueError(f"Loss {self.name!r} has reduction={self.reduction!r}: it has "
                             "no scalar value to differentiate.")
        weights = _weights(self.name, values.shape, sample_weight, self._target_mask(y_true),
                           self.reduction)
        divisor = _divisor(values.shape, sample_weight, self.reduction)
        divisor = divisor if divisor else np.inf  # divide_no_nan: a zero divisor gives 0
        return 1.0 / divisor if weights is None else weights / divisor

    @staticmethod
    def _apply_scale(grad: Array, scale) -> Array:
        if np.ndim(scale) == 0:
            grad *= grad.dtype.type(scale)
        else:
            scale = np.asarray(scale)
            extra = grad.ndim - scale.ndim
            grad *= scale.reshape(scale.shape + (1,) * extra).astype(grad.dtype)
        return grad

    def _per_sample(self, y_true, y_pred) -> Array:
        return self._values(*self._prepare(y_true, y_pred))


class LossFunctionWrapper(Loss):
    """Wraps a function `fn(y_true, y_pred, **kwargs) -> per-sample values` (Keras 3). It trains
    when written with `kernelnet.ops`."""

    def __init__(self, fn: Callable, reduction="sum_over_batch_size", name=None, dtype=None,
                 **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", "loss"), reduction=reduction,
                         dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        if not is_tracked(y_true):
            y_true = self._as_targets(y_true, y_pred)
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        return {**super().get_config(), "fn": self.name}
