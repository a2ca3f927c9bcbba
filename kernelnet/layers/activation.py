"""Activation layers with hyperparameters: ReLU, LeakyReLU, ELU, Softmax and PReLU.

Plain activations without arguments are `Activation("name")` (core.py); these layers exist for
the Keras classes that carry arguments (`LeakyReLU(negative_slope=0.1)`).
"""

from __future__ import annotations

import numpy as np

from kernelnet import initializers
from kernelnet._typing import Array, Shape
from kernelnet.layers.base import Layer, LayerContext
from kernelnet.ops import nn
from kernelnet.utils import validation


def _check_non_negative(value, arg: str, who: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or value < 0:
        raise ValueError(
            f"Invalid value for argument `{arg}` of {who}: expected a non-negative number. "
            f"Received: {arg}={value!r}."
        )
    return float(value)


class ReLU(Layer):
    """Rectified linear unit with Keras' options.

    `y = max_value` for `x >= max_value`, `y = x` for `threshold <= x < max_value`, and
    `y = negative_slope * (x - threshold)` otherwise.

    Args:
        max_value: float >= 0 or None (no upper bound).
        negative_slope: float >= 0, slope below the threshold.
        threshold: float >= 0, where the unit starts passing its input through.

    Example:
        >>> ReLU(max_value=6.0)(np.array([[-1.0, 3.0, 9.0]])).tolist()
        [[0.0, 3.0, 6.0]]
    """

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.max_value = None if max_value is None else _check_non_negative(
            max_value, "max_value", "ReLU")
        self.negative_slope = _check_non_negative(negative_slope, "negative_slope", "ReLU")
        self.threshold = _check_non_negative(threshold, "threshold", "ReLU")

    def forward(self, ctx: LayerContext | None, x: Array, training: bool = False) -> Array:
        below = x < self.threshold
        low = ((x - x.dtype.type(self.threshold)) * x.dtype.type(self.negative_slope)
               if self.negative_slope else x.dtype.type(0))     # avoids -0.0 for plain ReLU
        y = np.where(below, low, x)
        slope = np.where(below, x.dtype.type(self.negative_slope), x.dtype.type(1))
        if self.max_value is not None:
            clipped = y >= self.max_value
            y = np.where(clipped, x.dtype.type(self.max_value), y)
            slope = np.where(clipped, x.dtype.type(0), slope)
        if ctx is not None:
            ctx.slope = slope                                # dy/dx per element
        return y

    def backward(self, ctx: LayerContext, grad: Array) -> tuple[Array | None, list]:
        return (grad * ctx.slope if ctx.needs_input_grad[0] else None), []

    def get_config(self) -> dict:
        return {**super().get_config(), "max_value": self.max_value,
                "negative_slope": self.negative_slope, "threshold": self.threshold}


class LeakyReLU(Layer):
    """Leaky ReLU: `y = x` for `x > 0`, `negative_slope * x` otherwise.

    Args:
        negative_slope: float >= 0. Defaults to 0.3 (Keras). The Keras 2 name `alpha=` is
            accepted as an alias.

    Example:
        >>> LeakyReLU(0.5)(np.array([[-2.0, 2.0]])).tolist()
        [[-1.0, 2.0]]
    """

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:                                # Keras 2 spelling
            negative_slope = kwargs.pop("alpha")
        super().__init__(**kwargs)
        self.negative_slope = _check_non_negative(negative_slope, "negative_slope", "LeakyReLU")

    def forward(self, ctx: LayerContext | None, x: Array, training: bool = False) -> Array:
        if ctx is not None:
            ctx.x = x
        return nn.leaky_relu(x, self.negative_slope)

    def backward(self, ctx: LayerContext, grad: Array) -> tuple[Array | None, list]:
        if not ctx.needs_input_grad[0]:
            return None, []
        return nn.leaky_relu_grad(grad, ctx.x, None, self.negative_slope), []

    def get_config(self) -> dict:
        return {**super().get_config(), "negative_slope": self.negative_slope}


class ELU(Layer):
    """Exponential linear unit: `y = x` for `x > 0`, `alpha * (exp(x) - 1)` otherwise.

    Args:
        alpha: float, the negative saturation value. Defaults to 1.0.

    Example:
        >>> ELU()(np.array([[0.0, 2.0]])).tolist()
        [[0.0, 2.0]]
    """

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = float(alpha)

    def forward(self, ctx: LayerContext | None, x: Array, training: bool = False) -> Array:
        y = nn.elu(x, self.alpha).astype(x.dtype, copy=False)
        if ctx is not None:
            ctx.x, ctx.y = x, y
        return y

    def backward(self, ctx: LayerContext, grad: Array) -> tuple[Array | None, list]:
        if not ctx.needs_input_grad[0]:
            return None, []
        return nn.elu_grad(grad, ctx.x, ctx.y, self.alpha), []

    def get_config(self) -> dict:
        return {**super().get_config(), "alpha": self.alpha}


class Softmax(Layer):
    """Softmax over `axis`: `y = exp(x) / sum(exp(x), axis)`, computed with the max-shift.

    Args:
        axis: int, the axis that sums to 1. Defaults to -1.

    Example:
        >>> Softmax()(np.zeros((1, 4))).tolist()
        [[0.25, 0.25, 0.25, 0.25]]
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise ValueError(
                f"The `axis` argument of Softmax must be an int. Received: axis={axis!r}."
            )
        self.axis = int(axis)

    def forward(self, ctx: LayerContext | None, x: Array, training: bool = False) -> Array:
        y = nn.softmax(x, self.axis)
        if ctx is not None:
            ctx.y = y
        return y

    def backward(self, ctx: LayerContext, grad: Array) -> tuple[Array | None, list]:
        if not ctx.needs_input_grad[0]:
            return None, []
        return nn.softmax_grad(grad, None, ctx.y, self.axis), []

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis}


class PReLU(Layer):
    """Parametric ReLU: `y = x` for `x > 0`, `alpha * x` otherwise, with a learned `alpha`.

    Args:
        alpha_initializer: name or initializer for `alpha`. Defaults to `"zeros"`.
        shared_axes: axes (1-indexed, batch excluded) along which `alpha` is shared, e.g.
            `[1, 2]` for one slope per channel of NHWC maps.

    Input shape:
        any; `alpha` has the input's shape without the batch axis (1 on shared axes).

    Example:
        >>> PReLU()(np.array([[-1.0, 2.0]])).tolist()
        [[-0.0, 2.0]]
    """

    def __init__(self, alpha_initializer="zeros", shared_axes=None, **kwargs):
        super().__init__(**kwargs)
        self.alpha_initializer = alpha_initializer
        if shared_axes is not None and not isinstance(shared_axes, (list, tuple)):
            shared_axes = [shared_axes]
        self.shared_axes = None if shared_axes is None else [int(a) for a in shared_axes]

    def build(self, input_shape: Shape) -> None:
        shape = list(input_shape[1:])
        for a in self.shared_axes or []:
            if not 1 <= a <= len(shape):
                raise ValueError(
                    f"{validation.describe(self)} got shared_axes={self.shared_axes} for input "
                    f"of shape {tuple(input_shape)}. Expected axes in 1..{len(shape)}."
                )
            shape[a - 1] = 1
        if None in shape:
            raise ValueError(
                f"{validation.describe(self)} needs every non-shared input axis to be known. "
                f"Received input with shape {tuple(input_shape)}."
            )
        self.alpha = self.add_weight(tuple(shape), self.alpha_initializer, name="alpha")
        self.built = True

    def forward(self, ctx: LayerContext | None, x: Array, training: bool = False) -> Array:
        if ctx is not None:
            ctx.x = x
        return np.where(x > 0, x, self.alpha.value * x)

    def backward(self, ctx: LayerContext, grad: Array) -> tuple[Array | None, list]:
        alpha = self.alpha.value
        positive = ctx.x > 0
        weight_grads = []
        if self.trainable:
            dalpha = np.where(positive, 0, grad * ctx.x)
            shared = tuple(i for i, (d, s) in enumerate(zip(dalpha.shape, (1, *alpha.shape)))
                           if s == 1 and d != 1)
            weight_grads = [dalpha.sum(axis=shared, keepdims=True).reshape(alpha.shape)]
        dx = np.where(positive, grad, grad * alpha) if ctx.needs_input_grad[0] else None
        return dx, weight_grads

    def get_config(self) -> dict:
        return {**super().get_config(),
                "alpha_initializer": initializers.serialize(self.alpha_initializer),
                "shared_axes": self.shared_axes}
