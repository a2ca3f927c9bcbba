"""Adam (with AMSGrad) and AdamW, following Keras 3's `adam.py` / `adamw.py` update order."""

from __future__ import annotations

import math

import numpy as np

from kernelnet._typing import Array
from kernelnet.optimizers.base import Optimizer, check_epsilon
from kernelnet.utils.validation import check_rate


class Adam(Optimizer):
    """Adam: adaptive moment estimation (Kingma & Ba, 2014).

    With `t = iterations + 1`:
    `m = m + (1 - beta_1) * (g - m)`, `v = v + (1 - beta_2) * (g^2 - v)`,
    `alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)`, `w = w - alpha * m / (sqrt(v) + epsilon)`.
    With `amsgrad=True`, `v` in the last formula is replaced by the running maximum `v_hat`.

    Args:
        learning_rate: float or schedule. Defaults to 0.001.
        beta_1: decay of the first moment, in [0, 1). Defaults to 0.9.
        beta_2: decay of the second moment, in [0, 1). Defaults to 0.999.
        epsilon: "epsilon hat" of the paper. Defaults to 1e-7 (Keras).
        amsgrad: whether to use the AMSGrad variant.
        **kwargs: shared optimizer arguments (`lr`, `decay`, `clipnorm`, ... see `Optimizer`).
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        who = type(self).__name__
        self.beta_1 = check_rate(beta_1, "beta_1", who)
        self.beta_2 = check_rate(beta_2, "beta_2", who)
        self.epsilon = check_epsilon(epsilon, who)
        self.amsgrad = bool(amsgrad)

    def slot_names(self) -> tuple[str, ...]:
        return ("m", "v", "v_hat") if self.amsgrad else ("m", "v")

    def update_step(self, grad: Array, weight: Array, slots: dict, lr: float) -> None:
        dt = weight.dtype.type
        t = int(self.iterations.value) + 1
        alpha = dt(lr * math.sqrt(1 - self.beta_2**t) / (1 - self.beta_1**t))
        m, v = slots["m"], slots["v"]
        s = self._scratch(weight)
        # m = m + (1 - beta_1) * (g - m)
        np.subtract(grad, m, out=s)
        s *= dt(1 - self.beta_1)
        m += s
        # v = v + (1 - beta_2) * (g^2 - v)
        np.multiply(grad, grad, out=s)
        s -= v
        s *= dt(1 - self.beta_2)
        v += s
        if self.amsgrad:
            # v_hat = max(v_hat, v)
            v = np.maximum(slots["v_hat"], v, out=slots["v_hat"])
        # w = w - alpha * m / (sqrt(v) + epsilon)
        np.sqrt(v, out=s)
        s += dt(self.epsilon)
        np.divide(m, s, out=s)
        s *= alpha
        weight -= s

    def get_config(self) -> dict:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019).

    Before each Adam step: `w = w - w * weight_decay * lr` (done by the `Optimizer` base).

    Args:
        learning_rate: float or schedule. Defaults to 0.001.
        weight_decay: float > 0. Defaults to 0.004 (Keras 3).
        beta_1, beta_2, epsilon, amsgrad: as in `Adam`.
    """

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, **kwargs):
        if weight_decay is None:
            raise ValueError(
                "Argument `weight_decay` of AdamW must be a positive float. "
                "Received: weight_decay=None. Use Adam for no weight decay."
            )
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad,
                         weight_decay=weight_decay, **kwargs)
