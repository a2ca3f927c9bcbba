"""Stochastic gradient descent with optional (Nesterov) momentum, as in Keras 3."""

from __future__ import annotations

import numpy as np

from kernelnet._typing import Array
from kernelnet.optimizers.base import Optimizer
from kernelnet.utils.validation import check_rate


class SGD(Optimizer):
    """Gradient descent with momentum.

    Without momentum: `w = w - lr * g`. With momentum (Keras 3 formulation):
    `m = momentum * m - lr * g`, then `w = w + m` or, with Nesterov,
    `w = w + momentum * m - lr * g`.

    Args:
        learning_rate: float or schedule. Defaults to 0.01.
        momentum: float in [0, 1]. Defaults to 0.0 (plain SGD, no slot).
        nesterov: whether to use Nesterov momentum.
        **kwargs: shared optimizer arguments (`lr`, `decay`, `clipnorm`, ... see `Optimizer`).

    Example:
        >>> w = np.array([1.0, 2.0])
        >>> SGD(0.1).apply([np.array([1.0, -1.0])], [w])
        >>> w
        array([0.9, 2.1])
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.momentum = check_rate(momentum, "momentum", "SGD", upper_inclusive=True)
        self.nesterov = bool(nesterov)

    def slot_names(self) -> tuple[str, ...]:
        return ("momentum",) if self.momentum > 0 else ()

    def update_step(self, grad: Array, weight: Array, slots: dict, lr: float) -> None:
        dt = weight.dtype.type
        lr_g = np.multiply(grad, dt(lr), out=self._scratch(weight))
        if self.momentum == 0:
            # w = w - lr * g
            weight -= lr_g
            return
        m = slots["momentum"]
        # m = momentum * m - lr * g
        m *= dt(self.momentum)
        m -= lr_g
        if self.nesterov:
            # w = w + momentum * m - lr * g
            step = np.multiply(m, dt(self.momentum), out=self._scratch(weight, 1))
            step -= lr_g
            weight += step
        else:
            # w = w + m
            weight += m

    def get_config(self) -> dict:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
