"""Pooling layers over NHWC images: MaxPooling2D, AveragePooling2D and their global versions.

The math lives in `kernelnet.ops.pool`; these layers validate arguments and shapes and keep the
cache between forward and backward (on the call's context).
"""

from __future__ import annotations

import numpy as np  # noqa: F401  (the doctests use np)

from kernelnet import ops
from kernelnet._typing import Array, Shape
from kernelnet.layers.base import Layer, LayerContext
from kernelnet.layers.convolutional import check_data_format, check_image_input, spatial_output
from kernelnet.utils import validation


class _Pooling2D(Layer):
    """Shared argument handling for MaxPooling2D and AveragePooling2D."""

    _forward_op = staticmethod(ops.max_pool2d_forward)
    _backward_op = staticmethod(ops.max_pool2d_backward)
    _inference_op = staticmethod(ops.max_pool2d)

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.pool_size = validation.standardize_tuple(pool_size, 2, "pool_size", self)
        self.strides = (self.pool_size if strides is None
                        else validation.standardize_tuple(strides, 2, "strides", self))
        self.padding = validation.standardize_padding(padding, self)
        self.data_format = check_data_format(data_format, self)

    def build(self, input_shape: Shape) -> None:
        self.compute_output_shape(input_shape)  # raises early for bad rank or empty output
        self.built = True

    def forward(self, ctx: LayerContext | None, x: Array, training: bool = False) -> Array:
        self.compute_output_shape(x.shape)
        if ctx is None and self._inference_op is not None:
            return self._inference_op(x, self.pool_size, self.strides, self.padding)
        y, cache = self._forward_op(x, self.pool_size, self.strides, self.padding)
        if ctx is not None:
            ctx.cache = cache
        return y

    def backward(self, ctx: LayerContext, grad: Array) -> tuple[Array | None, list]:
        if not ctx.needs_input_grad[0]:
            return None, []
        return self._backward_op(grad, ctx.cache), []

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        check_image_input(self, input_shape)
        oh, ow = spatial_output(self, input_shape, self.pool_size, self.strides, self.padding,
                                arg="pool_size")
        return (input_shape[0], oh, ow, input_shape[3])

    def get_config(self) -> dict:
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides,
                "padding": self.padding, "data_format": self.data_format}


class MaxPooling2D(_Pooling2D):
    """Max over `pool_size` windows moved by `strides` (defaults to `pool_size`).

    Output size: `floor((size - pool) / stride) + 1` for `"valid"`, `ceil(size / stride)` for
    `"same"` (padding never wins the max). On ties the whole gradient goes to the first maximum.

    Args:
        pool_size: int or tuple of 2 ints. Defaults to (2, 2).
        strides: int, tuple of 2 ints, or None (= pool_size).
        padding: `"valid"` or `"same"`.
        data_format: None or `"channels_last"`.

    Input shape:
        `(batch, height, width, channels)`.
    Output shape:
        `(batch, pooled_height, pooled_width, channels)`.

    Example:
        >>> MaxPooling2D()(np.zeros((2, 28, 28, 8))).shape
        (2, 14, 14, 8)
    """


class AveragePooling2D(_Pooling2D):
    """Mean over `pool_size` windows moved by `strides` (defaults to `pool_size`).

    Output size as in MaxPooling2D. With `"same"` padding, each window is divided by its number
    of real (non-padded) pixels, as in Keras.

    Args:
        pool_size: int or tuple of 2 ints. Defaults to (2, 2).
        strides: int, tuple of 2 ints, or None (= pool_size).
        padding: `"valid"` or `"same"`.
        data_format: None or `"channels_last"`.

    Input shape:
        `(batch, height, width, channels)`.
    Output shape:
        `(batch, pooled_height, pooled_width, channels)`.

    Example:
        >>> AveragePooling2D(3, strides=1, padding="same")(np.ones((1, 4, 4, 2))).shape
        (1, 4, 4, 2)
    """

    _forward_op = staticmethod(ops.avg_pool2d_forward)
    _backward_op = staticmethod(ops.avg_pool2d_backward)
    _inference_op = None


class _GlobalPooling2D(Layer):
    """Shared argument handling for the global pooling layers."""

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = check_data_format(data_format, self)
        self.keepdims = bool(keepdims)

    def build(self, input_shape: Shape) -> None:
        check_image_input(self, input_shape)
        self.built = True

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        check_image_input(self, input_shape)
        n, c = input_shape[0], input_shape[3]
        return (n, 1, 1, c) if self.keepdims else (n, c)

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format,
                "keepdims": self.keepdims}


class GlobalAveragePooling2D(_GlobalPooling2D):
    """Mean over height and width.

    Args:
        data_format: None or `"channels_last"`.
        keepdims: keep the spatial axes (as size 1).

    Input shape:
        `(batch, height, width, channels)`.
    Output shape:
        `(batch, channels)`, or `(batch, 1, 1, channels)` with keepdims.

    Example:
        >>> GlobalAveragePooling2D()(np.ones((2, 7, 7, 16))).shape
        (2, 16)
    """

    def forward(self, ctx: LayerContext | None, x: Array, training: bool = False) -> Array:
        check_image_input(self, x.shape)
        if ctx is not None:
            ctx.x_shape = x.shape
        return ops.global_avg_pool2d(x, self.keepdims)

    def backward(self, ctx: LayerContext, grad: Array) -> tuple[Array | None, list]:
        if not ctx.needs_input_grad[0]:
            return None, []
        return ops.global_avg_pool2d_backward(grad, ctx.x_shape), []


class GlobalMaxPooling2D(_GlobalPooling2D):
    """Max over height and width (the gradient goes to the first maximum of each channel).

    Args:
        data_format: None or `"channels_last"`.
        keepdims: keep the spatial axes (as size 1).

    Input shape:
        `(batch, height, width, channels)`.
    Output shape:
        `(batch, channels)`, or `(batch, 1, 1, channels)` with keepdims.

    Example:
        >>> GlobalMaxPooling2D(keepdims=True)(np.ones((2, 7, 7, 16))).shape
        (2, 1, 1, 16)
    """

    def forward(self, ctx: LayerContext | None, x: Array, training: bool = False) -> Array:
        check_image_input(self, x.shape)
        y, cache = ops.global_max_pool2d_forward(x, self.keepdims)
        if ctx is not None:
            ctx.cache = cache
        return y

    def backward(self, ctx: LayerContext, grad: Array) -> tuple[Array | None, list]:
        if not ctx.needs_input_grad[0]:
            return None, []
        return ops.global_max_pool2d_backward(grad, ctx.cache), []
