"""DepthwiseConv2D, SeparableConv2D and Conv2DTranspose over NHWC images (Keras' weights).

The math lives in `kernelnet.ops.depthwise`, `ops.transposed` and `ops.conv`; this module holds
the weights, validates arguments and shapes, and applies the activation. Weight layouts are
Keras': depthwise `kernel` `(kh, kw, c_in, depth_multiplier)`; separable `depthwise_kernel`
`(kh, kw, c_in, m)` then `pointwise_kernel` `(1, 1, c_in * m, filters)`; transposed `kernel`
`(kh, kw, filters, c_in)`.
"""

from __future__ import annotations

import numpy as np  # noqa: F401 - the examples use it

from kernelnet import activations, initializers, ops
from kernelnet._typing import Array, Shape
from kernelnet.layers.base import Layer, LayerContext
from kernelnet.layers.convolutional import check_data_format, check_image_input, spatial_output
from kernelnet.layers.core import activation_grad, apply_activation
from kernelnet.utils import validation


class _SpatialConv(Layer):
    """Arguments shared by the layers here: kernel size, strides, padding, dilation,
    activation, bias."""

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True,
                 bias_initializer="zeros", **kwargs):
        for arg in [k for k in kwargs if k.endswith(("_regularizer", "_constraint"))]:
            if kwargs.pop(arg) is not None:
                raise ValueError(f"Argument `{arg}` of {type(self).__name__} is not supported "
                                 "by kernelnet; leave it as None.")
        super().__init__(**kwargs)
        self.kernel_size = validation.standardize_tuple(kernel_size, 2, "kernel_size", self)
        self.strides = validation.standardize_tuple(strides, 2, "strides", self)
        self.padding = validation.standardize_padding(padding, self)
        self.data_format = check_data_format(data_format, self)
        self.dilation_rate = validation.standardize_tuple(dilation_rate, 2, "dilation_rate", self)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                f"`strides > 1` not supported in conjunction with `dilation_rate > 1` in "
                f"{type(self).__name__}. Received: strides={self.strides} and "
                f"dilation_rate={self.dilation_rate}."
            )
        self.activation = activations.serialize(activation)
        self._act = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.bias_initializer = bias_initializer

    def _channels(self, input_shape: Shape) -> int:
        check_image_input(self, input_shape)
        if input_shape[-1] is None:
            raise ValueError(f"{validation.describe(self)} needs a known number of input "
                             f"channels. Received input with shape {tuple(input_shape)}.")
        self.compute_output_shape(input_shape)  # raises early for an empty output
        return int(input_shape[-1])

    def _check_channels(self, x: Array, channels: int) -> None:
        if x.ndim != 4 or x.shape[-1] != channels:
            check_image_input(self, x.shape)
            raise ValueError(
                f"{validation.describe(self)} was built for inputs with {channels} channels but "
                f"received input with shape {tuple(int(d) for d in x.shape)}. A layer's input "
                "channels are fixed after its first call."
            )

    def _weights_out(self, grads: list) -> list:
        """The weight gradients in `trainable_weights` order (bias last, when used)."""
        if not self.trainable:
            return []
        return grads if self.use_bias else grads[:-1]

    def get_config(self) -> dict:
        return {**super().get_config(), "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding,
                "data_format": self.data_format, "dilation_rate": self.dilation_rate,
                "activation": self.activation, "use_bias": self.use_bias,
                "bias_initializer": initializers.serialize(self.bias_initializer)}


class DepthwiseConv2D(_SpatialConv):
    """Depthwise 2D convolution: each input channel is convolved with its own
    `depth_multiplier` filters (no sum over channels), `y = activation(dwconv(x) + bias)`.

    Output channel `c * depth_multiplier + k` comes from input channel c and filter k.

    Args:
        kernel_size: int or tuple of 2 ints.
        strides, padding, data_format, dilation_rate, activation, use_bias: as `Conv2D`.
        depth_multiplier: int > 0, filters per input channel.
        depthwise_initializer: initializer of `kernel` `(kh, kw, c_in, depth_multiplier)`.
        bias_initializer: initializer of the bias `(c_in * depth_multiplier,)`.

    Example:
        >>> DepthwiseConv2D(3, padding="same", depth_multiplier=2)(np.ones((1, 5, 5, 3))).shape
        (1, 5, 5, 6)
    """

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate, activation,
                         use_bias, bias_initializer, **kwargs)
        self.depth_multiplier = validation.check_positive_int(depth_multiplier,
                                                              "depth_multiplier", self)
        self.depthwise_initializer = depthwise_initializer

    def build(self, input_shape: Shape) -> None:
        c = self._channels(input_shape)
        kh, kw = self.kernel_size
        self.kernel = self.add_weight((kh, kw, c, self.depth_multiplier),
                                      self.depthwise_initializer, name="kernel")
        self.bias = (self.add_weight((c * self.depth_multiplier,), self.bias_initializer,
                                     name="bias") if self.use_bias else None)
        self.built = True

    def forward(self, ctx: LayerContext | None, x: Array, training: bool = False) -> Array:
        self._check_channels(x, self.kernel.shape[2])
        z, cache = ops.depthwise.depthwise_conv2d_forward(
            x, self.kernel.value, None if self.bias is None else self.bias.value, self.strides,
            self.padding, self.dilation_rate)
        if ctx is not None:
            ctx.cache = cache
        return apply_activation(self._act, ctx, z)

    def backward(self, ctx: LayerContext, grad: Array) -> tuple[Array | None, list[Array]]:
        grad = activation_grad(self._act, ctx, grad)
        dx, dk, db = ops.depthwise.depthwise_conv2d_backward(
            grad, ctx.cache, need_dx=ctx.needs_input_grad[0], need_dkernel=self.trainable)
        return dx, self._weights_out([dk, db])

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        check_image_input(self, input_shape)
        oh, ow = spatial_output(self, input_shape, self.kernel_size, self.strides, self.padding,
                                self.dilation_rate)
        c = input_shape[3]
        return (input_shape[0], oh, ow, None if c is None else c * self.depth_multiplier)

    def compute_macs(self, input_shape: Shape) -> int:
        _, oh, ow, c = self.compute_output_shape(input_shape)
        return int(oh * ow * self.kernel_size[0] * self.kernel_size[1] * c)

    def get_config(self) -> dict:
        return {**super().get_config(), "depth_multiplier": self.depth_multiplier,
                "depthwise_initializer": initializers.serialize(self.depthwise_initializer)}


class SeparableConv2D(_SpatialConv):
    """Depthwise separable 2D convolution: a depthwise convolution (`depth_multiplier` filters
    per channel) then a 1x1 convolution mixing channels into `filters` outputs.

    Args:
        filters: int > 0, output channels.
        kernel_size, strides, padding, data_format, dilation_rate, depth_multiplier,
            activation, use_bias: as `DepthwiseConv2D` / `Conv2D`.
        depthwise_initializer, pointwise_initializer, bias_initializer: initializers of
            `depthwise_kernel`, `pointwise_kernel` and `bias`.

    Example:
        >>> SeparableConv2D(8, 3, padding="same")(np.ones((2, 6, 6, 4))).shape
        (2, 6, 6, 8)
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate, activation,
                         use_bias, bias_initializer, **kwargs)
        self.filters = validation.check_positive_int(filters, "filters", self)
        self.depth_multiplier = validation.check_positive_int(depth_multiplier,
                                                              "depth_multiplier", self)
        self.depthwise_initializer = depthwise_initializer
        self.pointwise_initializer = pointwise_initializer

    def build(self, input_shape: Shape) -> None:
        c = self._channels(input_shape)
        kh, kw = self.kernel_size
        m = self.depth_multiplier
        self.depthwise_kernel = self.add_weight((kh, kw, c, m), self.depthwise_initializer,
                                                name="depthwise_kernel")
        self.pointwise_kernel = self.add_weight((1, 1, c * m, self.filters),
                                                self.pointwise_initializer,
                                                name="pointwise_kernel")
        self.bias = (self.add_weight((self.filters,), self.bias_initializer, name="bias")
                     if self.use_bias else None)
        self.built = True

    def forward(self, ctx: LayerContext | None, x: Array, training: bool = False) -> Array:
        self._check_channels(x, self.depthwise_kernel.shape[2])
        h, dw_cache = ops.depthwise.depthwise_conv2d_forward(
            x, self.depthwise_kernel.value, None, self.strides, self.padding, self.dilation_rate)
        z, pw_cache = ops.conv2d_forward(h, self.pointwise_kernel.value,
                                         None if self.bias is None else self.bias.value)
        if ctx is not None:
            ctx.dw_cache, ctx.pw_cache = dw_cache, pw_cache
        return apply_activation(self._act, ctx, z)

    def backward(self, ctx: LayerContext, grad: Array) -> tuple[Array | None, list[Array]]:
        grad = activation_grad(self._act, ctx, grad)
        need_h = ctx.needs_input_grad[0] or self.trainable
        dh, dpw, db = ops.conv2d_backward(grad, ctx.pw_cache, need_dx=need_h,
                                          need_dkernel=self.trainable)
        dx, ddw, _ = (ops.depthwise.depthwise_conv2d_backward(
            dh, ctx.dw_cache, need_dx=ctx.needs_input_grad[0], need_dkernel=self.trainable)
            if dh is not None else (None, None, None))
        return dx, self._weights_out([ddw, dpw, db])

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        check_image_input(self, input_shape)
        oh, ow = spatial_output(self, input_shape, self.kernel_size, self.strides, self.padding,
                                self.dilation_rate)
        return (input_shape[0], oh, ow, self.filters)

    def compute_macs(self, input_shape: Shape) -> int:
        _, oh, ow, f = self.compute_output_shape(input_shape)
        cm = input_shape[-1] * self.depth_multiplier
        return int(oh * ow * cm * (self.kernel_size[0] * self.kernel_size[1] + f))

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters,
                "depth_multiplier": self.depth_multiplier,
                "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
                "pointwise_initializer": initializers.serialize(self.pointwise_initializer)}


class Conv2DTranspose(_SpatialConv):
    """Transposed 2D convolution (the adjoint of `Conv2D`, "deconvolution"): upsamples by
    `strides`. Output size per axis: `size * stride` for "same", `size * stride +
    max(kernel - stride, 0)` for "valid"; with `output_padding` p: `(size - 1) * stride +
    kernel - 2 * pad + p` (pad = kernel // 2 for "same", 0 for "valid"), as in Keras.

    Args:
        filters: int > 0, output channels.
        kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias: as
            `Conv2D`.
        output_padding: None, or an int / tuple of 2 ints smaller than the strides.
        kernel_initializer, bias_initializer: initializers of `kernel`
            `(kh, kw, filters, c_in)` and `bias`.

    Example:
        >>> Conv2DTranspose(4, 3, strides=2, padding="same")(np.ones((1, 5, 5, 2))).shape
        (1, 10, 10, 4)
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid",
                 output_padding=None, data_format=None, dilation_rate=(1, 1), activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 **kwargs):
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate, activation,
                         use_bias, bias_initializer, **kwargs)
        self.filters = validation.check_positive_int(filters, "filters", self)
        self.output_padding = (None if output_padding is None else validation.standardize_tuple(
            output_padding, 2, "output_padding", self, allow_zero=True))
        if self.output_padding is not None and any(
                p >= s for p, s in zip(self.output_padding, self.strides)):
            raise ValueError(
                f"Strides must be greater than output padding. Received strides={self.strides}, "
                f"output_padding={self.output_padding}."
            )
        self.kernel_initializer = kernel_initializer

    def build(self, input_shape: Shape) -> None:
        c = self._channels(input_shape)
        kh, kw = self.kernel_size
        self.kernel = self.add_weight((kh, kw, self.filters, c), self.kernel_initializer,
                                      name="kernel")
        self.bias = (self.add_weight((self.filters,), self.bias_initializer, name="bias")
                     if self.use_bias else None)
        self.built = True

    def forward(self, ctx: LayerContext | None, x: Array, training: bool = False) -> Array:
        self._check_channels(x, self.kernel.shape[3])
        z, cache = ops.transposed.conv2d_transpose_forward(
            x, self.kernel.value, None if self.bias is None else self.bias.value, self.strides,
            self.padding, self.output_padding, self.dilation_rate)
        if ctx is not None:
            ctx.cache = cache
        return apply_activation(self._act, ctx, z)

    def backward(self, ctx: LayerContext, grad: Array) -> tuple[Array | None, list[Array]]:
        grad = activation_grad(self._act, ctx, grad)
        dx, dk, db = ops.transposed.conv2d_transpose_backward(
            grad, ctx.cache, need_dx=ctx.needs_input_grad[0], need_dkernel=self.trainable)
        return dx, self._weights_out([dk, db])

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        check_image_input(self, input_shape)
        pads = self.output_padding or (None, None)
        hw = tuple(ops.transposed.output_length(size, k, s, self.padding, p, d)
                   for size, k, s, p, d in zip(input_shape[1:3], self.kernel_size,
                                               self.strides, pads, self.dilation_rate))
        return (input_shape[0], *hw, self.filters)

    def compute_macs(self, input_shape: Shape) -> int:
        return int(input_shape[1] * input_shape[2] * input_shape[3] * self.filters
                   * self.kernel_size[0] * self.kernel_size[1])

    def get_config(self) -> dict:
        padding = None if self.output_padding is None else list(self.output_padding)
        return {**super().get_config(), "filters": self.filters, "output_padding": padding,
                "kernel_initializer": initializers.serialize(self.kernel_initializer)}

