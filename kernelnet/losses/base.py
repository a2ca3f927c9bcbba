"""The `Loss` base class: per-sample values, reduction, validation and the gradient protocol."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from kernelnet import backend
from kernelnet._typing import Array

_REDUCTIONS = ("sum_over_batch_size", "sum")


def _shape(a) -> tuple:
    return tuple(int(d) for d in np.shape(a))


def _mean_last(values: Array) -> Array:
    """Per-sample mean over the last axis (element-wise losses); 1-D inputs are per-sample."""
    return values.mean(axis=-1) if values.ndim >= 2 else values


def _per_sample_size(y_pred: Array) -> int:
    return y_pred.shape[-1] if y_pred.ndim >= 2 else 1


class Loss:
    """Base class: subclasses implement `_prepare`, `_values` and `_grad`.

    Args:
        name: name of the loss (used in messages and configs).
        reduction: "sum_over_batch_size" (mean over samples, the default) or "sum".
    """

    def __init__(self, name=None, reduction="sum_over_batch_size"):
        if reduction not in _REDUCTIONS:
            raise ValueError(
                f"Invalid `reduction` for {type(self).__name__}: expected one of {_REDUCTIONS}. "
                f"Received: reduction={reduction!r}."
            )
        self.name = name or type(self).__name__.lower()
        self.reduction = reduction

    # -- subclass hooks -------------------------------------------------------------------------
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

    def _mask(self, y_true: Array) -> Array | None:
        """Boolean per-sample mask of entries that count (None: all count)."""
        return None

    # -- public API -----------------------------------------------------------------------------
    def __call__(self, y_true, y_pred, sample_weight=None) -> float:
        """Returns the reduced loss as a Python float."""
        y_true, y_pred = self._prepare(y_true, y_pred)
        values = self._values(y_true, y_pred)
        return self._reduce(values, self._scale(y_true, values, sample_weight))

    def value_and_grad(self, y_true, y_pred, sample_weight=None) -> tuple[float, Array]:
        """Returns `(loss, d loss / d y_pred)`; the gradient has y_pred's shape and dtype."""
        y_true, y_pred = self._prepare(y_true, y_pred)
        values = self._values(y_true, y_pred)
        scale = self._scale(y_true, values, sample_weight)
        return self._reduce(values, scale), self._apply_scale(self._grad(y_true, y_pred), scale)

    def _reduce(self, values: Array, scale) -> float:
        return float(np.sum(values * scale, dtype=np.float64))

    def _scale(self, y_true: Array, values: Array, sample_weight) -> Array | float:
        """Per-sample factor of d(loss)/d(value): sample weights and mask / divisor."""
        weights = None
        if sample_weight is not None:
            sw = np.asarray(sample_weight, dtype=np.float64)
            if sw.ndim == 0 or sw.shape[0] != values.shape[0]:
                raise ValueError(
                    f"Loss {self.name!r}: `sample_weight` must have one entry per sample "
                    f"({values.shape[0]}). Received: sample_weight.shape={_shape(sw)}."
                )
            sw = sw.reshape(sw.shape[:1] + (1,) * (values.ndim - 1)) if sw.size == len(sw) else sw
            weights = np.broadcast_to(sw, values.shape)
        mask = self._mask(y_true)
        count = values.size
        if mask is not None:
            weights = mask.astype(np.float64) if weights is None else weights * mask
            count = int(mask.sum())
        divisor = max(count, 1) if self.reduction == "sum_over_batch_size" else 1
        return 1.0 / divisor if weights is None else weights / divisor

    @staticmethod
    def _apply_scale(grad: Array, scale) -> Array:
        if np.ndim(scale) == 0:
            grad *= grad.dtype.type(scale)
        else:
            extra = grad.ndim - scale.ndim
            grad *= scale.reshape(scale.shape + (1,) * extra).astype(grad.dtype)
        return grad

    def _as_pred(self, y_pred) -> Array:
        y_pred = np.asarray(y_pred)
        if y_pred.dtype.kind not in "biuf" or y_pred.ndim == 0:
            raise ValueError(
                f"Loss {self.name!r} expects numeric predictions with a batch axis. Received: "
                f"y_pred with shape {_shape(y_pred)} and dtype {str(y_pred.dtype)!r}."
            )
        return y_pred if y_pred.dtype.kind == "f" else y_pred.astype(backend.floatx())

    def _as_targets(self, y_true, y_pred: Array) -> Array:
        y_true = np.asarray(y_true)
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

    def _per_sample(self, y_true, y_pred) -> Array:
        return self._values(*self._prepare(y_true, y_pred))

    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config: dict) -> Loss:
        return cls(**config)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class LossFunctionWrapper(Loss):
    """Wraps a plain function `f(y_true, y_pred) -> per-sample values` (value only, no gradient).

    Such a loss can be evaluated but not trained with: kernelnet cannot differentiate arbitrary
    Python code. Subclass `Loss` and implement `_values` and `_grad` to train with a custom loss.
    """

    def __init__(self, fn: Callable, name=None, reduction="sum_over_batch_size"):
        super().__init__(name=name or getattr(fn, "__name__", "loss"), reduction=reduction)
        self.fn = fn

    def _prepare(self, y_true, y_pred):
        y_pred = self._as_pred(y_pred)
        return self._as_targets(y_true, y_pred), y_pred

    def _values(self, y_true, y_pred):
        return np.asarray(self.fn(y_true, y_pred), dtype=np.float64)

    def _grad(self, y_true, y_pred):
        raise TypeError(
            f"Loss {self.name!r} is a plain function, so kernelnet cannot compute its gradient "
            "for training. Use a built-in loss (e.g. loss='mse'), or subclass "
            "kernelnet.losses.Loss and implement `_values` and `_grad`."
        )

    def get_config(self):
        return {**super().get_config(), "fn": self.name}
