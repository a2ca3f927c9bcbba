"""Per-parameter adaptive optimizers: RMSprop, Adagrad, Adadelta (Keras 3 formulas).

NOTE: Keras 3 puts epsilon inside the square root for these three (`sqrt(v + eps)`), unlike Adam's
`sqrt(v) + eps`; we follow Keras so that results match it.
"""

from __future__ import annotations

import numpy as np

from kernelnet._typing import Array
from kernelnet.optimizers.base import Optimizer, check_epsilon, check_non_negative
from kernelnet.utils.validation import check_rate


class RMSprop(Optimizer):
    """RMSprop (Hinton, 2012): divide the gradient by a running RMS of recent gradients.

    `v = rho * v + (1 - rho) * g^2`, `inc = lr * g / sqrt(v + epsilon)`; with `centered=True`
    the running mean `a` of `g` is tracked and `v - a^2` replaces `v`. With `momentum > 0`:
    `mom = momentum * mom + inc`, `w = w - mom`; else `w = w - inc`.

    Args:
        learning_rate: float or schedule. Defaults to 0.001.
        rho: discounting factor for old gradients, in [0, 1]. Defaults to 0.9.
        momentum: float in [0, 1]. Defaults to 0.0.
        epsilon: small constant inside the square root. Defaults to 1e-7.
        centered: normalize by the estimated variance instead of the second moment.
        **kwargs: shared optimizer arguments (`lr`, `decay`, `clipnorm`, ... see `Optimizer`).

    Example:
        >>> opt = RMSprop(lr=0.0001, decay=1e-6)   # Keras 2 spelling
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho = check_rate(rho, "rho", "RMSprop", upper_inclusive=True)
        self.momentum = check_rate(momentum, "momentum", "RMSprop", upper_inclusive=True)
        self.epsilon = check_epsilon(epsilon, "RMSprop")
        self.centered = bool(centered)

    def slot_names(self) -> tuple[str, ...]:
        names = ("velocity",)
        if self.momentum > 0:
            names += ("momentum",)
        if self.centered:
            names += ("average_gradient",)
        return names

    def update_step(self, grad: Array, weight: Array, slots: dict, lr: float) -> None:
        dt = weight.dtype.type
        rho, v = dt(self.rho), slots["velocity"]
        s = self._scratch(weight)
        # v = rho * v + (1 - rho) * g^2
        v *= rho
        np.multiply(grad, grad, out=s)
        s *= dt(1 - self.rho)
        v += s
        if self.centered:
            a = slots["average_gradient"]
            # a = rho * a + (1 - rho) * g
            a *= rho
            np.multiply(grad, dt(1 - self.rho), out=s)
            a += s
            # denominator = v - a^2 + epsilon
            np.multiply(a, a, out=s)
            np.subtract(v, s, out=s)
            s += dt(self.epsilon)
        else:
            # denominator = v + epsilon
            np.add(v, dt(self.epsilon), out=s)
        # inc = lr * g / sqrt(denominator)
        np.sqrt(s, out=s)
        np.divide(grad, s, out=s)
        s *= dt(lr)
        if self.momentum > 0:
            mom = slots["momentum"]
            # mom = momentum * mom + inc; w = w - mom
            mom *= dt(self.momentum)
            mom += s
            weight -= mom
        else:
            # w = w - inc
            weight -= s

    def get_config(self) -> dict:
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011): per-parameter rates shrinking with the sum of squared grads.

    `acc = acc + g^2`, `w = w - lr * g / sqrt(acc + epsilon)`, with `acc` starting at
    `initial_accumulator_value`.

    Args:
        learning_rate: float or schedule. Defaults to 0.001 (Keras 3; Keras 2 used 0.01).
        initial_accumulator_value: starting value of the accumulator, >= 0. Defaults to 0.1.
        epsilon: small constant inside the square root. Defaults to 1e-7.
        **kwargs: shared optimizer arguments (`lr`, `decay`, `clipnorm`, ... see `Optimizer`).
    """

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value = check_non_negative(
            initial_accumulator_value, "initial_accumulator_value", "Adagrad")
        self.epsilon = check_epsilon(epsilon, "Adagrad")

    def slot_names(self) -> tuple[str, ...]:
        return ("accumulator",)

    def build_slots(self, weight: Array) -> dict[str, Array]:
        return {"accumulator": np.full_like(weight, self.initial_accumulator_value)}

    def update_step(self, grad: Array, weight: Array, slots: dict, lr: float) -> None:
        dt = weight.dtype.type
        acc = slots["accumulator"]
        s = self._scratch(weight)
        # acc = acc + g^2
        np.multiply(grad, grad, out=s)
        acc += s
        # w = w - lr * g / sqrt(acc + epsilon)
        np.add(acc, dt(self.epsilon), out=s)
        np.sqrt(s, out=s)
        np.divide(grad, s, out=s)
        s *= dt(lr)
        weight -= s

    def get_config(self) -> dict:
        return {**super().get_config(), "epsilon": self.epsilon,
                "initial_accumulator_value": self.initial_accumulator_value}


class Adadelta(Optimizer):
    """Adadelta (Zeiler, 2012): step sizes from running averages of squared grads and updates.

    `acc_g = rho * acc_g + (1 - rho) * g^2`,
    `delta = -sqrt(acc_delta + epsilon) * g / sqrt(acc_g + epsilon)`,
    `acc_delta = rho * acc_delta + (1 - rho) * delta^2`, `w = w + lr * delta`.

    NOTE: the default learning rate is Keras 3's 0.001. Keras 2 tutorials that wrote
    `optimizer='adadelta'` (e.g. mnist_cnn.py) were tuned for 1.0, the paper's form; pass
    `Adadelta(learning_rate=1.0)` explicitly to reproduce them.

    Args:
        learning_rate: float or schedule. Defaults to 0.001.
        rho: decay rate in [0, 1]. Defaults to 0.95.
        epsilon: small constant inside the square roots. Defaults to 1e-7.
        **kwargs: shared optimizer arguments (`lr`, `decay`, `clipnorm`, ... see `Optimizer`).
    """

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho = check_rate(rho, "rho", "Adadelta", upper_inclusive=True)
        self.epsilon = check_epsilon(epsilon, "Adadelta")

    def slot_names(self) -> tuple[str, ...]:
        return ("accumulated_grad", "accumulated_delta_var")

    def update_step(self, grad: Array, weight: Array, slots: dict, lr: float) -> None:
        dt = weight.dtype.type
        rho, eps = dt(self.rho), dt(self.epsilon)
        acc_g, acc_delta = slots["accumulated_grad"], slots["accumulated_delta_var"]
        delta, s = self._scratch(weight), self._scratch(weight, 1)
        # acc_g = rho * acc_g + (1 - rho) * g^2
        acc_g *= rho
        np.multiply(grad, grad, out=s)
        s *= dt(1 - self.rho)
        acc_g += s
        # delta = -sqrt(acc_delta + epsilon) * g / sqrt(acc_g + epsilon)
        np.add(acc_delta, eps, out=delta)
        np.sqrt(delta, out=delta)
        delta *= grad
        np.add(acc_g, eps, out=s)
        np.sqrt(s, out=s)
        delta /= s
        np.negative(delta, out=delta)
        # acc_delta = rho * acc_delta + (1 - rho) * delta^2
        acc_delta *= rho
        np.multiply(delta, delta, out=s)
        s *= dt(1 - self.rho)
        acc_delta += s
        # w = w + lr * delta
        delta *= dt(lr)
        weight += delta

    def get_config(self) -> dict:
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}
