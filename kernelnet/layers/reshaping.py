"""Spatial reshaping layers over NHWC images: ZeroPadding2D, Cropping2D, UpSampling2D."""

from __future__ import annotations

from typing import Any

import numpy as np

from kernelnet import ops
from kernelnet._typing import Array, Shape
from kernelnet.layers.base import Layer, LayerContext
from kernelnet.layers.convolutional import check_data_format, check_image_input
from kernelnet.utils import validation


def _pairs(value: Any, arg: str, who: Layer) -> tuple[tuple[int, int], tuple[int, int]]:
    """int | (sym_h, sym_w) | ((top, bottom), (left, right)) -> ((top, bottom), (left, right))."""
    try:
        if isinstance(value, (int, np.integer)):
            value = (value, value)
        h, w = value
        h = (h, h) if isinstance(h, (int, np.integer)) else h
        w = (w, w) if isinstance(w, (int, np.integer)) else w
        (t, b), (l, r) = h, w
        result = tuple(validation.standardize_tuple(p, 2, arg, who, allow_zero=True)
                       for p in ((t, b), (l, r)))
    except (TypeError, ValueError):
        raise ValueError(
            f"The `{arg}` argument of {type(who).__name__} must be an int, a tuple of 2 ints or "
            f"a tuple of 2 tuples of 2 non-negative ints. Received: {arg}={value!r}."
        ) from None
    return result


class ZeroPadding2D(Layer):
    """Adds rows and columns of zeros around NHWC images.

    Args:
        padding: int (all sides), `(sym_height, sym_width)`, or
            `((top, bottom), (left, right))`.
        data_format: None or `"channels_last"`.

    Input shape:
        `(batch, height, width, channels)`.
    Output shape:
        `(batch, height + top + bottom, width + left + right, channels)`.

    Example:
        >>> ZeroPadding2D(((1, 0), (2, 3)))(np.ones((1, 2, 2, 1))).shape
        (1, 3, 7, 1)
    """

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = _pairs(padding, "padding", self)
        self.data_format = check_data_format(data_format, self)

    def build(self, input_shape: Shape) -> None:
        check_image_input(self, input_shape)
        self.built = True

    def forward(self, ctx: LayerContext | None, x: Array, training: bool = False) -> Array:
        check_image_input(self, x.shape)
        (t, b), (l, r) = self.padding
        n, h, w, c = x.shape
        y = ops.array_module(x).zeros((n, h + t + b, w + l + r, c), dtype=x.dtype)
        y[:, t:t + h, l:l + w, :] = x
        return y

    def backward(self, ctx: LayerContext, grad: Array) -> tuple[Array | None, list]:
        if not ctx.needs_input_grad[0]:
            return None, []
        (t, b), (l, r) = self.padding
        return grad[:, t:grad.shape[1] - b, l:grad.shape[2] - r, :].copy(), []

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        check_image_input(self, input_shape)
        (t, b), (l, r) = self.padding
        n, h, w, c = input_shape
        return (n, None if h is None else h + t + b, None if w is None else w + l + r, c)

    def get_config(self) -> dict:
        return {**super().get_config(), "padding": self.padding, "data_format": self.data_format}


class Cropping2D(Layer):
    """Removes rows and columns at the borders of NHWC images.

    Args:
        cropping: int, `(sym_height, sym_width)`, or `((top, bottom), (left, right))`.
        data_format: None or `"channels_last"`.

    Example:
        >>> Cropping2D(((1, 0), (2, 3)))(np.ones((1, 4, 8, 1))).shape
        (1, 3, 3, 1)
    """

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.cropping = _pairs(cropping, "cropping", self)
        self.data_format = check_data_format(data_format, self)

    def build(self, input_shape: Shape) -> None:
        self.compute_output_shape(input_shape)
        self.built = True

    def forward(self, ctx: LayerContext | None, x: Array, training: bool = False) -> Array:
        self.compute_output_shape(x.shape)
        (t, b), (l, r) = self.cropping
        if ctx is not None:
            ctx.x_shape = x.shape
        return x[:, t:x.shape[1] - b, l:x.shape[2] - r, :].copy()

    def backward(self, ctx: LayerContext, grad: Array) -> tuple[Array | None, list]:
        if not ctx.needs_input_grad[0]:
            return None, []
        (t, b), (l, r) = self.cropping
        dx = ops.array_module(grad).zeros(ctx.x_shape, dtype=grad.dtype)
        dx[:, t:dx.shape[1] - b, l:dx.shape[2] - r, :] = grad
        return dx, []

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        check_image_input(self, input_shape)
        (t, b), (l, r) = self.cropping
        n, h, w, c = input_shape
        oh = None if h is None else h - t - b
        ow = None if w is None else w - l - r
        if (oh is not None and oh <= 0) or (ow is not None and ow <= 0):
            raise ValueError(
                f"{validation.describe(self)} would produce an empty output: cropping="
                f"{self.cropping} removes all of input spatial size {(h, w)}."
            )
        return (n, oh, ow, c)

    def get_config(self) -> dict:
        return {**super().get_config(), "cropping": self.cropping,
                "data_format": self.data_format}


class UpSampling2D(Layer):
    """Repeats rows and columns of NHWC images `size` times (nearest-neighbour upsampling).

    Args:
        size: int or tuple of 2 ints, the upsampling factors for rows and columns.
        data_format: None or `"channels_last"`.
        interpolation: only `"nearest"` is supported.

    Example:
        >>> UpSampling2D(2)(np.arange(4.0).reshape(1, 2, 2, 1))[0, :, :, 0].tolist()[0]
        [0.0, 0.0, 1.0, 1.0]
    """

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        self.size = validation.standardize_tuple(size, 2, "size", self)
        self.data_format = check_data_format(data_format, self)
        if interpolation != "nearest":
            raise ValueError(
                f'UpSampling2D in kernelnet supports only interpolation="nearest". '
                f"Received: interpolation={interpolation!r}."
            )
        self.interpolation = interpolation

    def build(self, input_shape: Shape) -> None:
        check_image_input(self, input_shape)
        self.built = True

    def forward(self, ctx: LayerContext | None, x: Array, training: bool = False) -> Array:
        check_image_input(self, x.shape)
        n, h, w, c = x.shape
        sh, sw = self.size
        y = ops.array_module(x).empty((n, h, sh, w, sw, c), dtype=x.dtype)
        y[...] = x[:, :, None, :, None, :]
        return y.reshape(n, h * sh, w * sw, c)

    def backward(self, ctx: LayerContext, grad: Array) -> tuple[Array | None, list]:
        if not ctx.needs_input_grad[0]:
            return None, []
        n, h, w, c = grad.shape
        sh, sw = self.size
        return grad.reshape(n, h // sh, sh, w // sw, sw, c).sum(axis=(2, 4)), []

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        check_image_input(self, input_shape)
        n, h, w, c = input_shape
        sh, sw = self.size
        return (n, None if h is None else h * sh, None if w is None else w * sw, c)

    def get_config(self) -> dict:
        return {**super().get_config(), "size": self.size, "data_format": self.data_format,
                "interpolation": self.interpolation}
