"""Losses: mean value over the batch and its gradient wrt the model output (Keras 3 formulas).

    loss = losses.get("categorical_crossentropy")
    value = loss(y_true, y_pred)                          # float
    value, grad = loss.value_and_grad(y_true, y_pred)     # grad = d(mean loss)/d(y_pred)
    value, grad = loss.value_and_logits_grad(y, probs)    # fused softmax/sigmoid + crossentropy

Each loss computes a per-sample value (the mean over the last axis for element-wise losses, as in
Keras), then reduces with "sum_over_batch_size" (the mean over samples) or "sum". Probabilities
are clipped to [eps, 1 - eps] with `backend.epsilon()`, and categorical predictions are
renormalized to sum to 1, as Keras does; the gradients are those of exactly that function.
Sparse versus one-hot targets are never guessed: the loss says which one it expects.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from kernelnet import backend
from kernelnet._typing import Array
from kernelnet.ops import nn
from kernelnet.utils.registry import get_from_registry
from kernelnet.utils.validation import check_rate

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


class _FusedMixin:
    """`value_and_logits_grad`: gradient wrt the logits of the final softmax/sigmoid."""

    def value_and_logits_grad(self, y_true, y_pred, sample_weight=None) -> tuple[float, Array]:
        """Returns `(loss, d loss / d logits)` where `y_pred = softmax(logits)` (or sigmoid).

        The fused gradient `(p - y) / n` skips the softmax Jacobian (Keras 3 uses the logits
        for the same reason). `y_pred` are the probabilities the model output.
        """
        if self.from_logits:
            raise ValueError(
                f"Loss {self.name!r} was created with from_logits=True; "
                "value_and_logits_grad() expects probabilities. Use value_and_grad()."
            )
        y_true, y_pred = self._prepare(y_true, y_pred)
        values = self._values(y_true, y_pred)
        scale = self._scale(y_true, values, sample_weight)
        return self._reduce(values, scale), self._apply_scale(self._logits_grad(y_true, y_pred),
                                                              scale)


class CategoricalCrossentropy(_FusedMixin, Loss):
    """Crossentropy between one-hot (or soft) targets and predicted class probabilities.

    Per sample: `-sum(y * log(p))` with `p` renormalized and clipped (or `log_softmax(logits)`
    with `from_logits=True`). `label_smoothing` replaces `y` by `y * (1 - s) + s / classes`.

    Args:
        from_logits: whether `y_pred` are logits rather than probabilities.
        label_smoothing: float in [0, 1].
        name, reduction: see `Loss`.
    """

    def __init__(self, from_logits=False, label_smoothing=0.0, name="categorical_crossentropy",
                 reduction="sum_over_batch_size"):
        super().__init__(name=name, reduction=reduction)
        self.from_logits = bool(from_logits)
        self.label_smoothing = check_rate(label_smoothing, "label_smoothing",
                                          type(self).__name__, upper_inclusive=True)

    def _prepare(self, y_true, y_pred):
        y_pred = self._as_pred(y_pred)
        y_true = self._as_targets(y_true, y_pred)
        if y_true.shape != y_pred.shape:
            k = y_pred.shape[-1]
            raise ValueError(
                f"Loss {self.name!r} expects one-hot targets with the same shape as the model "
                f"output (batch, {', '.join(str(d) for d in y_pred.shape[1:])}). Received "
                f"targets of shape {_shape(y_true)}. If your targets are integer class ids, use "
                'loss="sparse_categorical_crossentropy" or convert them with '
                f"kernelnet.utils.to_categorical(y, {k})."
            )
        if self.label_smoothing:
            s = self.label_smoothing
            y_true = y_true * y_pred.dtype.type(1 - s) + y_pred.dtype.type(s / y_pred.shape[-1])
        return y_true, y_pred

    def _values(self, y_true, y_pred):
        if self.from_logits:
            return -np.sum(y_true * nn.log_softmax(y_pred), axis=-1)
        eps = backend.epsilon()
        q = np.clip(y_pred / y_pred.sum(axis=-1, keepdims=True), eps, 1 - eps)
        return -np.sum(y_true * np.log(q), axis=-1)

    def _grad(self, y_true, y_pred):
        if self.from_logits:
            return self._logits_grad(y_true, nn.softmax(y_pred))
        eps = backend.epsilon()
        s = y_pred.sum(axis=-1, keepdims=True)
        q = y_pred / s
        inside = (q >= eps) & (q <= 1 - eps)  # the clip passes gradient only inside the range
        # dL/dq = -y / q (inside the clip range)
        dq = np.where(inside, -y_true / np.clip(q, eps, 1 - eps), 0).astype(y_pred.dtype)
        # q = p / sum(p)  =>  dL/dp = (dq - <dq, q>) / sum(p)
        return (dq - np.sum(dq * q, axis=-1, keepdims=True)) / s

    def _logits_grad(self, y_true, probs):
        # d/dz of -sum(y * log softmax(z)) = p * sum(y) - y   (= p - y for one-hot y)
        return probs * y_true.sum(axis=-1, keepdims=True) - y_true

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing}


class SparseCategoricalCrossentropy(CategoricalCrossentropy):
    """Crossentropy with integer class ids as targets: `-log(p[y])`.

    Targets have shape `(batch,)` or `(batch, 1)` with values in `[0, classes)`.

    Args:
        from_logits: whether `y_pred` are logits rather than probabilities.
        ignore_class: optional class id whose samples are left out (loss and gradient 0, and
            the mean is over the other samples, as in Keras 3).
        name, reduction: see `Loss`.
    """

    def __init__(self, from_logits=False, ignore_class=None,
                 name="sparse_categorical_crossentropy", reduction="sum_over_batch_size"):
        super().__init__(from_logits=from_logits, name=name, reduction=reduction)
        self.ignore_class = None if ignore_class is None else int(ignore_class)

    def _prepare(self, y_true, y_pred):
        y_pred = self._as_pred(y_pred)
        labels = self._labels(y_true, y_pred)
        ignored = None if self.ignore_class is None else labels == self.ignore_class
        onehot = np.zeros_like(y_pred)
        index = labels if ignored is None else np.where(ignored, 0, labels)
        np.put_along_axis(onehot, index[..., None], 1, axis=-1)
        if ignored is not None:
            onehot[ignored] = 0
        return onehot, y_pred

    def _mask(self, y_true):
        # ignored samples are the all-zero rows of the one-hot targets built by _prepare
        return None if self.ignore_class is None else y_true.any(axis=-1)

    def _labels(self, y_true, y_pred) -> Array:
        """Validates integer class ids; returns them shaped `y_pred.shape[:-1]` (int64)."""
        y = np.asarray(y_true)
        k, lead = y_pred.shape[-1], y_pred.shape[:-1]
        if y.ndim and y.shape[0] != y_pred.shape[0]:
            self._as_targets(y, y_pred)  # raises the batch-size message
        if y.shape not in (lead, lead + (1,)):
            hint = ""
            if y.shape == y_pred.shape:
                hint = (' These look like one-hot targets: use loss="categorical_crossentropy", '
                        "or pass integer ids with np.argmax(y, axis=-1).")
            dims = "".join(f", {d}" for d in lead[1:]) or ","
            raise ValueError(
                f"Loss {self.name!r} expects integer class ids of shape (batch{dims}) or "
                f"(batch{dims.rstrip(',')}, 1). Received targets of shape {_shape(y)}.{hint}"
            )
        y = y.reshape(lead)
        if y.dtype.kind == "f" and not np.all(np.isfinite(y) & (y == np.round(y))):
            bad = float(y[~(np.isfinite(y) & (y == np.round(y)))].flat[0])
            raise ValueError(
                f"Loss {self.name!r} expects integer class ids. Received a non-integer label "
                f"value {bad!r}. For one-hot or soft targets use "
                'loss="categorical_crossentropy".'
            )
        if y.dtype.kind not in "biuf":
            raise ValueError(f"Loss {self.name!r} expects integer class ids. Received dtype "
                             f"{str(y.dtype)!r}.")
        labels = y.astype(np.int64)
        valid = labels if self.ignore_class is None else labels[labels != self.ignore_class]
        out_of_range = (valid < 0) | (valid >= k)
        if np.any(out_of_range):
            raise ValueError(
                f"Loss {self.name!r} received a label value of {int(valid[out_of_range][0])} "
                f"which is outside the valid range of [0, {k}). The model output has {k} "
                "classes; check the labels or the size of the last layer."
            )
        return labels

    def get_config(self):
        config = super().get_config()
        del config["label_smoothing"]
        return {**config, "ignore_class": self.ignore_class}


class BinaryCrossentropy(_FusedMixin, Loss):
    """Crossentropy for 0/1 targets and sigmoid probabilities (one or several labels).

    Element-wise `-(y * log(p) + (1 - y) * log(1 - p))` with `p` clipped to [eps, 1 - eps], then
    the mean over the last axis. `label_smoothing` replaces `y` by `y * (1 - s) + s / 2`.
    Targets of shape `(batch,)` are accepted for outputs of shape `(batch, 1)`.

    Args:
        from_logits: whether `y_pred` are logits rather than probabilities.
        label_smoothing: float in [0, 1].
        name, reduction: see `Loss`.
    """

    def __init__(self, from_logits=False, label_smoothing=0.0, name="binary_crossentropy",
                 reduction="sum_over_batch_size"):
        super().__init__(name=name, reduction=reduction)
        self.from_logits = bool(from_logits)
        self.label_smoothing = check_rate(label_smoothing, "label_smoothing",
                                          type(self).__name__, upper_inclusive=True)

    def _prepare(self, y_true, y_pred):
        y_true, y_pred = super()._prepare(y_true, y_pred)
        if self.label_smoothing:
            s = self.label_smoothing
            y_true = y_true * y_pred.dtype.type(1 - s) + y_pred.dtype.type(s / 2)
        return y_true, y_pred

    def _values(self, y_true, y_pred):
        if self.from_logits:
            # log(1 + exp(z)) - y * z, written stably: max(z, 0) - z * y + log1p(exp(-|z|))
            z = y_pred
            return _mean_last(np.maximum(z, 0) - z * y_true + np.log1p(np.exp(-np.abs(z))))
        eps = backend.epsilon()
        p = np.clip(y_pred, eps, 1 - eps)
        return _mean_last(-(y_true * np.log(p) + (1 - y_true) * np.log(1 - p)))

    def _grad(self, y_true, y_pred):
        k = y_pred.dtype.type(_per_sample_size(y_pred))
        if self.from_logits:
            return (nn.sigmoid(y_pred) - y_true) / k
        eps = backend.epsilon()
        inside = (y_pred >= eps) & (y_pred <= 1 - eps)
        p = np.clip(y_pred, eps, 1 - eps)
        # dL/dp = -y / p + (1 - y) / (1 - p) = (p - y) / (p * (1 - p))
        return np.where(inside, (p - y_true) / (p * (1 - p)) / k, 0).astype(y_pred.dtype)

    def _logits_grad(self, y_true, probs):
        # d/dz of the crossentropy of sigmoid(z): (p - y), averaged over the last axis
        return (probs - y_true) / probs.dtype.type(_per_sample_size(probs))

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing}


class MeanSquaredError(Loss):
    """`mean((y_true - y_pred)^2)` over the last axis, per sample."""

    def __init__(self, name="mean_squared_error", reduction="sum_over_batch_size"):
        super().__init__(name=name, reduction=reduction)

    def _values(self, y_true, y_pred):
        return _mean_last(np.square(y_pred - y_true))

    def _grad(self, y_true, y_pred):
        # d/dp mean((p - y)^2) = 2 (p - y) / k
        return (y_pred - y_true) * y_pred.dtype.type(2 / _per_sample_size(y_pred))


class MeanAbsoluteError(Loss):
    """`mean(|y_true - y_pred|)` over the last axis, per sample (subgradient 0 at equality)."""

    def __init__(self, name="mean_absolute_error", reduction="sum_over_batch_size"):
        super().__init__(name=name, reduction=reduction)

    def _values(self, y_true, y_pred):
        return _mean_last(np.abs(y_pred - y_true))

    def _grad(self, y_true, y_pred):
        return np.sign(y_pred - y_true) / y_pred.dtype.type(_per_sample_size(y_pred))


class Huber(Loss):
    """`0.5 x^2` if `|x| <= delta` else `delta * (|x| - 0.5 delta)`, `x = y_pred - y_true`.

    Args:
        delta: float > 0, where the loss turns from quadratic to linear. Defaults to 1.0.
    """

    def __init__(self, delta=1.0, name="huber_loss", reduction="sum_over_batch_size"):
        super().__init__(name=name, reduction=reduction)
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


class KLDivergence(Loss):
    """`sum(y * log(y / p))` over the last axis, with `y` and `p` clipped to [eps, 1]."""

    def __init__(self, name="kl_divergence", reduction="sum_over_batch_size"):
        super().__init__(name=name, reduction=reduction)

    def _values(self, y_true, y_pred):
        eps = backend.epsilon()
        y, p = np.clip(y_true, eps, 1), np.clip(y_pred, eps, 1)
        return np.sum(y * np.log(y / p), axis=-1)

    def _grad(self, y_true, y_pred):
        eps = backend.epsilon()
        y, p = np.clip(y_true, eps, 1), np.clip(y_pred, eps, 1)
        return np.where((y_pred >= eps) & (y_pred <= 1), -y / p, 0).astype(y_pred.dtype)


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


# -- functional forms (per-sample values, as Keras' functions return) ------------------------------
def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0) -> Array:
    return CategoricalCrossentropy(from_logits, label_smoothing)._per_sample(y_true, y_pred)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None) -> Array:
    return SparseCategoricalCrossentropy(from_logits, ignore_class)._per_sample(y_true, y_pred)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0) -> Array:
    return BinaryCrossentropy(from_logits, label_smoothing)._per_sample(y_true, y_pred)


def mean_squared_error(y_true, y_pred) -> Array:
    return MeanSquaredError()._per_sample(y_true, y_pred)


def mean_absolute_error(y_true, y_pred) -> Array:
    return MeanAbsoluteError()._per_sample(y_true, y_pred)


def huber(y_true, y_pred, delta=1.0) -> Array:
    return Huber(delta)._per_sample(y_true, y_pred)


def kl_divergence(y_true, y_pred) -> Array:
    return KLDivergence()._per_sample(y_true, y_pred)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
kld = KLD = kl_divergence

_CLASSES = {cls.__name__.lower(): cls for cls in (
    CategoricalCrossentropy, SparseCategoricalCrossentropy, BinaryCrossentropy,
    MeanSquaredError, MeanAbsoluteError, Huber, KLDivergence)}
_REGISTRY = {
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
    "huber": Huber, "kl_divergence": KLDivergence, "kld": KLDivergence,
    "kullback_leibler_divergence": KLDivergence,
}
_FUNCTIONS = {categorical_crossentropy: CategoricalCrossentropy,
              sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
              binary_crossentropy: BinaryCrossentropy, mean_squared_error: MeanSquaredError,
              mean_absolute_error: MeanAbsoluteError, huber: Huber, kl_divergence: KLDivergence}


def serialize(loss: Loss) -> dict | str:
    """`{"class_name", "config"}`; a wrapped plain function serializes as its name."""
    if isinstance(loss, LossFunctionWrapper):
        return loss.name
    return {"class_name": type(loss).__name__, "config": loss.get_config()}


def deserialize(config) -> Loss:
    return get(config)


def get(identifier) -> Loss:
    """Returns a Loss for a name, config dict, Loss instance/class or plain function.

    Keras' functions (`losses.categorical_crossentropy`, as Keras 2 scripts pass them) map to
    their trainable classes; other callables are wrapped (value only, no gradient).
    """
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if isinstance(identifier, dict):
        name = identifier.get("class_name")
        cls = _CLASSES.get(str(name).lower()) or get_from_registry(name, _REGISTRY, "loss")
        return cls.from_config(dict(identifier.get("config") or {}))
    if isinstance(identifier, str):
        cls = _CLASSES.get(identifier.lower()) or get_from_registry(identifier, _REGISTRY, "loss")
        return cls()
    if callable(identifier):
        cls = _FUNCTIONS.get(identifier)
        return cls() if cls is not None else LossFunctionWrapper(identifier)
    raise TypeError(
        "Could not interpret loss identifier: expected a name such as "
        "'categorical_crossentropy', a config dict, a Loss or a function. "
        f"Received: {identifier!r} of type {type(identifier).__name__}."
    )
