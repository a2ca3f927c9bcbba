"""Optimizers with Keras 3 names, defaults and formulas, plus Keras 2 spellings.

    opt = optimizers.get("adam")                       # fresh Adam()
    opt = optimizers.rmsprop(lr=0.0001, decay=1e-6)    # Keras 2 spelling, same class
    opt.apply(grads, variables)                        # in place (Variables or arrays)
    opt.apply_gradients(zip(grads, variables))         # the same; iterations += 1
"""

from __future__ import annotations

from kernelnet.optimizers import schedules
from kernelnet.optimizers.adam import Adam, AdamW
from kernelnet.optimizers.adaptive import Adadelta, Adagrad, RMSprop
from kernelnet.optimizers.base import Optimizer
from kernelnet.optimizers.schedules import LearningRateSchedule
from kernelnet.optimizers.sgd import SGD
from kernelnet.utils import registry
from kernelnet.utils.registry import get_from_registry

# Keras 2 lower-case names: thin aliases, no second implementation.
sgd = SGD
adam = Adam
adamw = AdamW
rmsprop = RMSprop
adagrad = Adagrad
adadelta = Adadelta

_REGISTRY = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop,
             "adagrad": Adagrad, "adadelta": Adadelta}


def serialize(optimizer: Optimizer) -> dict:
    """`{"class_name": "Adam", "config": {...}}`, JSON-able."""
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config: dict) -> Optimizer:
    """Inverse of `serialize`."""
    return registry.deserialize(config, _REGISTRY, "optimizer")


def get(identifier) -> Optimizer:
    """Returns an optimizer for a name (case-insensitive), a config dict or an instance.

    Names give a fresh instance with Keras defaults; instances are returned as they are.
    Unknown names raise ValueError with a "did you mean" hint.
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        return get_from_registry(identifier, _REGISTRY, "optimizer")()
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    raise TypeError(
        "Could not interpret optimizer identifier: expected a name such as 'adam', a config "
        f"dict or an Optimizer instance. Received: {identifier!r} of type "
        f"{type(identifier).__name__}."
    )


__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta",
           "LearningRateSchedule", "schedules", "sgd", "adam", "adamw", "rmsprop", "adagrad",
           "adadelta", "get", "serialize", "deserialize"]
