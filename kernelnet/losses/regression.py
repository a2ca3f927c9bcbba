"""Regression and distribution losses: MSE, MAE, Huber, KL divergence."""

from __future__ import annotations

import numpy as np

from kernelnet import backend
from kernelnet.losses.base import _BuiltinLoss, _mean_last, _per_sample_size


class MeanSquaredError(_BuiltinLoss):
    """`mean((y_true - y_pred)^2)` over the last axis, per sample."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def _values(self, y_true, y_pred):
        return _mean_last(np.square(y_pred - y_true))

    def _grad(self, y_true, y_pred):
        # d/dp mean((p - y)^2) = 2 (p - y) / k
        return (y_pred - y_true) * y_pred.dtype.type(2 / _per_sample_size(y_pred))


class MeanAbsoluteError(_BuiltinLoss):
    """`mean(|y_true - y_pred|)` over the last axis, per sample (subgradient 0 at equality)."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def _values(self, y_true, y_pred):
        return _mean_last(np.abs(y_pred - y_true))

    def _grad(self, y_true, y_pred):
        return np.sign(y_pred - y_true) / y_pred.dtype.type(_per_sample_size(y_pred))


class Huber(_BuiltinLoss):
    """`0.5 x^2` if `|x| <= delta` else `delta * (|x| - 0.5 delta)`, `x = y_pred - y_true`.

    Args:
        delta: float > 0, where the loss turns from quadratic to linear. Defaults to 1.0.
    """

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss",
                 dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if not delta > 0:
            raise ValueError(f"Invalid value for argument `delta` of Huber: expected a positive "
                             f"float. Received: delta={delta!r}.")
        self.delta = float(delta)

    def _values(self, y_true, y_pred):
        x = np.abs(y_pred - y_true)
        d = y_pred.dtype.type(self.delta)
        return _mean_last(np.where(x <= d, 0.5 * x * x, d * (x - 0.5 * d)).astype(y_pred.dtype))

    def _grad(self, y_true, y_pred):
        d = y_pred.dtype.type(self.delta)
        return np.clip(y_pred - y_true, -d, d) / y_pred.dtype.type(_per_sample_size(y_pred))

    def get_config(self):
        return {**super().get_config(), "delta": self.delta}


class KLDivergence(_BuiltinLoss):
    """`sum(y * log(y / p))` over the last axis, with `y` and `p` clipped to [eps, 1]."""

    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def _values(self, y_true, y_pred):
        eps = backend.epsilon()
        y, p = np.clip(y_true, eps, 1), np.clip(y_pred, eps, 1)
        return np.sum(y * np.log(y / p), axis=-1)

    def _grad(self, y_true, y_pred):
        eps = backend.epsilon()
        y, p = np.clip(y_true, eps, 1), np.clip(y_pred, eps, 1)
        return np.where((y_pred >= eps) & (y_pred <= 1), -y / p, 0).astype(y_pred.dtype)
