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

from kernelnet._typing import Array
from kernelnet.losses.base import Loss, LossFunctionWrapper
from kernelnet.losses.crossentropy import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    SparseCategoricalCrossentropy,
)
from kernelnet.losses.regression import Huber, KLDivergence, MeanAbsoluteError, MeanSquaredError
from kernelnet.utils import registry
from kernelnet.utils.registry import get_from_registry


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0) -> Array:
    return CategoricalCrossentropy(from_logits, label_smoothing).call(y_true, y_pred)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None) -> Array:
    return SparseCategoricalCrossentropy(from_logits, ignore_class).call(y_true, y_pred)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0) -> Array:
    return BinaryCrossentropy(from_logits, label_smoothing).call(y_true, y_pred)


def mean_squared_error(y_true, y_pred) -> Array:
    return MeanSquaredError().call(y_true, y_pred)


def mean_absolute_error(y_true, y_pred) -> Array:
    return MeanAbsoluteError().call(y_true, y_pred)


def huber(y_true, y_pred, delta=1.0) -> Array:
    return Huber(delta).call(y_true, y_pred)


def kl_divergence(y_true, y_pred) -> Array:
    return KLDivergence().call(y_true, y_pred)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
kld = KLD = kl_divergence

# Class names ("CategoricalCrossentropy") and Keras' function names both resolve.
_REGISTRY = {cls.__name__: cls for cls in (
    CategoricalCrossentropy, SparseCategoricalCrossentropy, BinaryCrossentropy,
    MeanSquaredError, MeanAbsoluteError, Huber, KLDivergence)}
_REGISTRY.update({
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
    "huber": Huber, "kl_divergence": KLDivergence, "kld": KLDivergence,
    "kullback_leibler_divergence": KLDivergence,
})
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
        return registry.deserialize(identifier, _REGISTRY, "loss")
    if isinstance(identifier, str):
        return get_from_registry(identifier, _REGISTRY, "loss")()
    if callable(identifier):
        cls = _FUNCTIONS.get(identifier)
        return cls() if cls is not None else LossFunctionWrapper(identifier)
    raise TypeError(
        "Could not interpret loss identifier: expected a name such as "
        "'categorical_crossentropy', a config dict, a Loss or a function. "
        f"Received: {identifier!r} of type {type(identifier).__name__}."
    )
