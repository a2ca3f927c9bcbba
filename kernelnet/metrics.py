"""Stateful metrics (Keras 3 API and names): running sample-weighted means across batches.

    metric = metrics.get("acc", loss="categorical_crossentropy")   # CategoricalAccuracy named 'acc'
    metric.update_state(y_true, y_pred)   # once per batch
    metric.result()                       # mean over all samples seen since reset_state()

'accuracy'/'acc' resolve from the loss as in Keras 2: categorical crossentropy -> categorical
accuracy, sparse -> sparse categorical, binary -> binary. For other losses (or none) the choice is
made from the shapes of each batch, as Keras does: a single output unit -> binary accuracy,
integer ids against several outputs -> sparse categorical, matching shapes -> categorical.
The metric keeps the name the user gave, so history keys are 'acc'/'val_acc' or 'accuracy'.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from kernelnet import backend, losses
from kernelnet._typing import Array
from kernelnet.autodiff.tensor import Variable
from kernelnet.losses.base import _snake
from kernelnet.utils.registry import get_from_registry


class Metric:
    """Metric base class (Keras 3): state in variables made with `add_variable`, updated by
    `update_state(y_true, y_pred, sample_weight=None)`, read by `result()`, zeroed by
    `reset_state()`.

    Args:
        dtype: dtype of the metric's variables. Defaults to `backend.floatx()`.
        name: name of the metric (its history key). Defaults to the class name in snake_case.

    Example:
        >>> class Total(Metric):
        ...     def __init__(self, name="total", **kwargs):
        ...         super().__init__(name=name, **kwargs)
        ...         self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        ...     def update_state(self, y_true, y_pred, sample_weight=None):
        ...         self.total.assign_add(np.sum(y_pred))
        ...     def result(self):
        ...         return float(self.total.value)
        >>> m = Total(); m.update_state(None, np.ones(3)); m.result()
        3.0
    """

    def __init__(self, dtype=None, name=None):
        self.name = name or _snake(type(self).__name__)
        self.dtype = dtype
        self._variables = getattr(self, "_variables", [])

    def add_variable(self, shape, initializer, dtype=None, aggregation="sum",
                     name=None) -> Variable:
        """A non-trainable `Variable` holding metric state; `reset_state` zeroes it."""
        variable = Variable(initializer, shape=tuple(shape),
                            dtype=dtype or self.dtype or backend.floatx(), trainable=False,
                            name=name)
        if not hasattr(self, "_variables"):
            self._variables = []
        self._variables.append(variable)
        return variable

    def add_weight(self, shape=(), initializer=None, dtype=None, name=None) -> Variable:
        """Keras' older spelling of `add_variable` (zeros by default)."""
        return self.add_variable(shape, initializer or "zeros", dtype=dtype, name=name)

    @property
    def variables(self) -> list[Variable]:
        return list(getattr(self, "_variables", []))

    def reset_state(self) -> None:
        """Sets every state variable to zeros (Keras 3's default)."""
        for variable in self.variables:
            variable.value[...] = 0

    def update_state(self, *args, **kwargs) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement `update_state`.")

    def result(self):
        raise NotImplementedError(f"{type(self).__name__} must implement `result`.")

    def __call__(self, *args, **kwargs):
        """Updates the state with one batch and returns the running result."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict) -> Metric:
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"


class Mean(Metric):
    """Running (weighted) mean of values, e.g. the batch losses of an epoch.

    `update_state(values, sample_weight=None)`; pass `sample_weight=batch_size` with a batch's mean
    loss to get the per-sample mean over the epoch, as Keras' loss tracker does. Totals are
    accumulated in float64.
    """

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), "zeros", dtype="float64", name="total")
        self.count = self.add_variable((), "zeros", dtype="float64", name="count")

    def update_state(self, values, sample_weight=None) -> None:
        if isinstance(values, float) and isinstance(sample_weight, (int, float)):
            self.total.value[...] += values * sample_weight  # a batch's mean loss, per step
            self.count.value[...] += sample_weight
            return
        values = np.asarray(values, dtype=np.float64)
        if sample_weight is None:
            self.total.value[...] += values.sum()
            self.count.value[...] += values.size
            return
        sw = np.asarray(sample_weight, dtype=np.float64)
        if sw.ndim and values.ndim > sw.ndim:
            sw = sw.reshape(sw.shape + (1,) * (values.ndim - sw.ndim))
        elif sw.ndim > values.ndim and sw.shape[-1] == 1:
            sw = sw.reshape(sw.shape[:values.ndim])
        try:
            sw = np.broadcast_to(sw, values.shape)
        except ValueError:
            raise ValueError(
                f"Metric {self.name!r}: `sample_weight` must have one entry per sample "
                f"({len(values) if values.ndim else 1}). Received: "
                f"sample_weight.shape={tuple(np.shape(sample_weight))}."
            ) from None
        self.total.value[...] += np.sum(values * sw)
        self.count.value[...] += np.sum(sw)

    def result(self) -> float:
        count = float(self.count.value)
        return float(self.total.value) / count if count else 0.0


class MeanMetricWrapper(Mean):
    """Averages the per-sample values of `fn(y_true, y_pred, **kwargs)` across batches,
    weighted by `sample_weight`."""

    def __init__(self, fn: Callable, name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", "metric"), dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        values = self._fn(np.asarray(y_true), np.asarray(y_pred), **self._fn_kwargs)
        super().update_state(values, sample_weight)

    def get_config(self) -> dict:
        return {"name": self.name, **self._fn_kwargs}


# -- functional forms: per-sample values --------------------------------------------------------
def _arrays(y_true, y_pred, who: str) -> tuple[Array, Array]:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim == 0 or y_pred.ndim == 0 or len(y_true) != len(y_pred):
        raise ValueError(
            f"Metric {who!r} expects y_true and y_pred with the same batch size. Received: "
            f"y_true.shape={np.shape(y_true)}, y_pred.shape={np.shape(y_pred)}."
        )
    return y_true, y_pred


def _same_shape(y_true: Array, y_pred: Array, who: str, hint: str = "") -> Array:
    """Returns y_true reshaped to y_pred's shape ((n,) vs (n, 1) allowed), else raises."""
    if y_true.shape != y_pred.shape:
        if y_true.size != y_pred.size or y_true.squeeze().shape != y_pred.squeeze().shape:
            raise ValueError(
                f"Metric {who!r} expects targets with the same shape as the predictions "
                f"{tuple(y_pred.shape)}. Received targets of shape {tuple(y_true.shape)}.{hint}"
            )
        y_true = y_true.reshape(y_pred.shape)
    return y_true


def _per_sample(values: Array) -> Array:
    return values.reshape(len(values), -1).mean(axis=1) if values.ndim > 1 else values


def _sparse_labels(y_true: Array, y_pred: Array, who: str) -> Array:
    lead = y_pred.shape[:-1]
    if y_true.shape not in (lead, lead + (1,)):
        raise ValueError(
            f"Metric {who!r} expects integer class ids of shape {lead} or {lead + (1,)}. "
            f"Received targets of shape {tuple(y_true.shape)}. For one-hot targets use "
            "'categorical_accuracy'."
        )
    return y_true.reshape(lead)


def accuracy(y_true, y_pred) -> Array:
    """Exact element-wise match, averaged per sample."""
    y_true, y_pred = _arrays(y_true, y_pred, "accuracy")
    y_true = _same_shape(y_true, y_pred, "accuracy")
    return _per_sample((y_true == y_pred).astype(np.float64))


def categorical_accuracy(y_true, y_pred) -> Array:
    """1.0 where `argmax(y_true) == argmax(y_pred)` (one-hot targets)."""
    y_true, y_pred = _arrays(y_true, y_pred, "categorical_accuracy")
    hint = " For integer class ids use 'sparse_categorical_accuracy'."
    y_true = _same_shape(y_true, y_pred, "categorical_accuracy", hint)
    return (np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)).astype(np.float64)


def sparse_categorical_accuracy(y_true, y_pred) -> Array:
    """1.0 where the integer class id `y_true` equals `argmax(y_pred)`."""
    y_true, y_pred = _arrays(y_true, y_pred, "sparse_categorical_accuracy")
    labels = _sparse_labels(y_true, y_pred, "sparse_categorical_accuracy")
    return (labels == np.argmax(y_pred, axis=-1)).astype(np.float64)


def binary_accuracy(y_true, y_pred, threshold=0.5) -> Array:
    """Mean over the last axis of `(y_pred > threshold) == y_true`."""
    y_true, y_pred = _arrays(y_true, y_pred, "binary_accuracy")
    y_true = _same_shape(y_true, y_pred, "binary_accuracy")
    return _per_sample((y_true == (y_pred > threshold)).astype(np.float64))


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5) -> Array:
    """1.0 where the true class is among the `k` highest scores (ties count as inside)."""
    y_true, y_pred = _arrays(y_true, y_pred, "sparse_top_k_categorical_accuracy")
    labels = _sparse_labels(y_true, y_pred, "sparse_top_k_categorical_accuracy").astype(np.int64)
    target = np.take_along_axis(y_pred, labels[..., None], axis=-1)
    return (np.sum(y_pred > target, axis=-1) < k).astype(np.float64)


def top_k_categorical_accuracy(y_true, y_pred, k=5) -> Array:
    """1.0 where `argmax(y_true)` is among the `k` highest scores of `y_pred`."""
    y_true, y_pred = _arrays(y_true, y_pred, "top_k_categorical_accuracy")
    y_true = _same_shape(y_true, y_pred, "top_k_categorical_accuracy")
    return sparse_top_k_categorical_accuracy(np.argmax(y_true, axis=-1), y_pred, k)


def _inferred_accuracy(y_true, y_pred) -> Array:
    """Keras' shape rule for 'accuracy' when the loss does not decide it."""
    y_true, y_pred = _arrays(y_true, y_pred, "accuracy")
    if y_pred.ndim == 1 or y_pred.shape[-1] == 1:
        return binary_accuracy(y_true, y_pred)
    if y_true.shape in (y_pred.shape[:-1], y_pred.shape[:-1] + (1,)):
        return sparse_categorical_accuracy(y_true, y_pred)
    return categorical_accuracy(y_true, y_pred)


mean_squared_error = mse = losses.mean_squared_error
mean_absolute_error = mae = losses.mean_absolute_error
categorical_crossentropy = losses.categorical_crossentropy
sparse_categorical_crossentropy = losses.sparse_categorical_crossentropy
binary_crossentropy = losses.binary_crossentropy


# -- classes ------------------------------------------------------------------------------------
class Accuracy(MeanMetricWrapper):
    """How often predictions equal targets exactly (use the class-aware accuracies for scores)."""

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name=name, dtype=dtype)


class CategoricalAccuracy(MeanMetricWrapper):
    """How often `argmax(y_pred)` matches the one-hot `y_true`."""

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often `argmax(y_pred)` matches the integer class id `y_true`."""

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


class BinaryAccuracy(MeanMetricWrapper):
    """How often `y_pred > threshold` matches the 0/1 `y_true`."""

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the one-hot target class is in the top `k` predictions."""

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=k)


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer target class is in the top `k` predictions."""

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None):
        super().__init__(sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=k)


class MeanSquaredError(MeanMetricWrapper):
    """Running mean of the per-sample mean squared error."""

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    """Running mean of the per-sample mean absolute error."""

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name=name, dtype=dtype)


_CLASSES = {cls.__name__.lower(): cls for cls in (
    Accuracy, CategoricalAccuracy, SparseCategoricalAccuracy, BinaryAccuracy,
    TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy, MeanSquaredError, MeanAbsoluteError,
    Mean)}
_REGISTRY = {
    "accuracy": Accuracy, "acc": Accuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "binary_accuracy": BinaryAccuracy,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
    "categorical_crossentropy": categorical_crossentropy,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
    "binary_crossentropy": binary_crossentropy,
}


def _accuracy_for(loss, name: str) -> Metric:
    """'accuracy'/'acc' -> the accuracy that fits the loss (Keras 2 rule), named `name`."""
    try:
        loss = None if loss is None else losses.get(loss)
    except (TypeError, ValueError):
        loss = None
    # Sparse first: SparseCategoricalCrossentropy subclasses CategoricalCrossentropy.
    if isinstance(loss, losses.SparseCategoricalCrossentropy):
        return SparseCategoricalAccuracy(name=name)
    if isinstance(loss, losses.CategoricalCrossentropy):
        return CategoricalAccuracy(name=name)
    if isinstance(loss, losses.BinaryCrossentropy):
        return BinaryAccuracy(name=name)
    return MeanMetricWrapper(_inferred_accuracy, name=name)


def get(identifier, loss=None) -> Metric:
    """Returns a fresh Metric for a name, config dict, Metric class or function (or the instance).

    Args:
        identifier: e.g. 'acc', 'accuracy', 'mse', 'top_k_categorical_accuracy', a Metric, or a
            function `f(y_true, y_pred) -> per-sample values` (named after `f.__name__`).
        loss: the compiled loss (name, Loss or function), used to resolve 'acc'/'accuracy'.
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, dict):
        name = str(identifier.get("class_name"))
        cls = _CLASSES.get(name.lower()) or get_from_registry(name, _REGISTRY, "metric")
        return cls.from_config(dict(identifier.get("config") or {}))
    if isinstance(identifier, str):
        if identifier.lower() in ("acc", "accuracy"):
            return _accuracy_for(loss, identifier)
        if identifier.lower() in _CLASSES:
            return _CLASSES[identifier.lower()]()
        found = get_from_registry(identifier, _REGISTRY, "metric")
        if isinstance(found, type):
            return found(name=identifier)
        return MeanMetricWrapper(found, name=identifier)
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise TypeError(
        "Could not interpret metric identifier: expected a name such as 'accuracy', a Metric "
        f"or a function. Received: {identifier!r} of type {type(identifier).__name__}."
    )


def serialize(metric: Metric) -> dict:
    return {"class_name": type(metric).__name__, "config": metric.get_config()}
