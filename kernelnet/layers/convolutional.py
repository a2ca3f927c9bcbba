"""Conv2D: 2D convolution over NHWC images (kernel `(kh, kw, c_in, filters)`, as in Keras).

The math lives in `kernelnet.ops.conv` (im2col + one matmul); this module holds the weights,
validates arguments and input shapes, and applies the activation.
"""

from __future__ import annotations

from typing import Any

import numpy as np  # noqa: F401 (the doctests use np)

from kernelnet import activations, initializers, ops
from kernelnet._typing import Array, Shape
from kernelnet.activations import ActivationFunction
from kernelnet.layers.base import Layer, LayerContext
from kernelnet.layers.core import activation_grad, apply_activation, in_place
from kernelnet.utils import validation

_IMAGE_LAYOUT = "(batch, height, width, channels)"
_IMAGE_HINT = "If these are single-channel images, add a channel axis: x[..., np.newaxis]."
_UNSUPPORTED = ("kernel_regularizer", "bias_regularizer", "activity_regularizer",
                "kernel_constraint", "bias_constraint")


def check_image_input(layer: Layer, input_shape: Shape) -> None:
    """Raises the Keras-style error unless `input_shape` is 4D NHWC."""
    validation.check_ndim(layer, tuple(input_shape), 4, _IMAGE_LAYOUT, _IMAGE_HINT)


def check_data_format(data_format: Any, who: Any) -> str:
    """kernelnet is channels-last only; returns "channels_last"."""
    if data_format not in (None, "channels_last"):
        raise ValueError(
            f"Invalid `data_format` for {type(who).__name__}: kernelnet only supports "
            f'"channels_last" (NHWC). Received: data_format={data_format!r}. Transpose '
            "channels-first data with x.transpose(0, 2, 3, 1)."
        )
    return "channels_last"


def check_strides_and_groups(layer: Any, kind: str, groups: Any) -> int:
    """Keras' checks of a convolution's `strides` with `dilation_rate` and of `groups`
    against `filters`; returns `groups`."""
    if max(layer.strides) > 1 and max(layer.dilation_rate) > 1:
        raise ValueError(
            f"`strides > 1` not supported in conjunction with `dilation_rate > 1` in {kind}. "
            f"Received: strides={layer.strides} and dilation_rate={layer.dilation_rate}."
        )
    groups = validation.check_positive_int(groups, "groups", layer)
    if layer.filters % groups:
        raise ValueError(
            f"The number of filters must be evenly divisible by the number of groups. "
            f"Received: groups={groups}, filters={layer.filters}."
        )
    return groups


def spatial_output(layer: Layer, input_shape: Shape, window: tuple, strides: tuple,
                   padding: str, dilation: tuple = (1, 1), arg: str = "kernel_size") -> tuple:
    """(oh, ow) for NHWC `input_shape` (None stays None); raises if an output size is <= 0."""
    out = []
    for size, k, s, d in zip(tuple(input_shape)[1:3], window, strides, dilation):
        out.append(None if size is None else ops.conv_output_size(size, k, s, padding, d))
    if any(o is not None and o <= 0 for o in out):
        dilated = f" with dilation_rate={dilation}" if dilation != (1, 1) else ""
        raise ValueError(
            f"{validation.describe(layer)} would produce an empty output: input spatial size "
            f"{tuple(input_shape)[1:3]} is smaller than {arg}={window}{dilated} with "
            f'padding={padding!r}. Use padding="same" or a smaller {arg}.'
        )
    return tuple(out)


class Conv2D(Layer):
    """2D convolution (cross-correlation) over NHWC images: `y = activation(conv(x) + bias)`.

    Slides `filters` kernels of size `kernel_size` over height and width. With `padding="valid"`
    the output size is `floor((size - dilation * (kernel - 1) - 1) / stride) + 1`; with
    `padding="same"` it is `ceil(size / stride)` (zero padding, the extra pixel bottom/right).

    Args:
        filters: int > 0, number of output channels.
        kernel_size: int or tuple of 2 ints, `(kernel_height, kernel_width)`.
        strides: int or tuple of 2 ints. Defaults to 1.
        padding: `"valid"` or `"same"`.
        data_format: None or `"channels_last"` (the only layout kernelnet supports).
        dilation_rate: int or tuple of 2 ints; cannot be combined with strides > 1 (as in Keras).
        groups: int > 0 dividing `filters` and the input channels: group k's
            `filters / groups` filters see only input channels `k * c_in / groups ...`
            (one batched product, `ops.depthwise.grouped_conv2d_forward`).
        activation: name (e.g. `"relu"`), callable, or None for linear output.
        use_bias: whether to add a learned bias per filter.
        kernel_initializer: name or initializer. Defaults to `"glorot_uniform"`.
        bias_initializer: name or initializer. Defaults to `"zeros"`.

    Input shape:
        `(batch, height, width, channels)`.
    Output shape:
        `(batch, new_height, new_width, filters)`.

    Example:
        >>> Conv2D(8, 3, padding="same")(np.zeros((2, 28, 28, 1))).shape
        (2, 28, 28, 8)
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        for arg in _UNSUPPORTED:
            if kwargs.pop(arg, None) is not None:
                raise ValueError(
                    f"Argument `{arg}` of Conv2D is not supported by kernelnet; leave it as None."
                )
        super().__init__(**kwargs)
        self.filters = validation.check_positive_int(filters, "filters", self)
        self.kernel_size = validation.standardize_tuple(kernel_size, 2, "kernel_size", self)
        self.strides = validation.standardize_tuple(strides, 2, "strides", self)
        self.padding = validation.standardize_padding(padding, self)
        self.data_format = check_data_format(data_format, self)
        self.dilation_rate = validation.standardize_tuple(dilation_rate, 2, "dilation_rate", self)
        self.groups = check_strides_and_groups(self, "Conv2D", groups)
        self.activation = activations.serialize(activation)
        self._act = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer

    def build(self, input_shape: Shape) -> None:
        check_image_input(self, input_shape)
        if input_shape[-1] is None:
            raise ValueError(
                f"{validation.describe(self)} needs a known number of input channels. "
                f"Received input with shape {tuple(input_shape)}."
            )
        if input_shape[-1] % self.groups:
            raise ValueError(
                f"{validation.describe(self)}: the number of input channels must be evenly "
                f"divisible by the number of groups. Received groups={self.groups}, but the "
                f"input has {input_shape[-1]} channels (input shape {tuple(input_shape)})."
            )
        self.compute_output_shape(input_shape)  # raises early if the output would be empty
        kh, kw = self.kernel_size
        self.kernel = self.add_weight((kh, kw, int(input_shape[-1]) // self.groups, self.filters),
                                      self.kernel_initializer, name="kernel")
        self.bias = (self.add_weight((self.filters,), self.bias_initializer, name="bias")
                     if self.use_bias else None)
        self.built = True

    def forward(self, ctx: LayerContext | None, x: Array, training: bool = False) -> Array:
        return self.convolve(ctx, x, self.kernel.value,
                             None if self.bias is None else self.bias.value)

    def convolve(self, ctx: LayerContext | None, x: Array, kernel: Array,
                 bias: Array | None, act: ActivationFunction | None = None) -> Array:
        """The layer's forward with `kernel` and `bias` in place of its weights (same shapes),
        and `act` in place of its activation when given (`models.fusion` passes them with a
        following BatchNormalization and Activation folded in)."""
        act = self._act if act is None else act
        if x.ndim != 4 or x.shape[-1] != kernel.shape[2] * self.groups:
            check_image_input(self, x.shape)
            raise ValueError(
                f"{validation.describe(self)} was built for inputs with "
                f"{self.kernel.shape[2] * self.groups} "
                f"channels (kernel shape {self.kernel.shape}) but received input with shape "
                f"{tuple(int(d) for d in x.shape)}. A layer's input channels are fixed after its "
                "first call."
            )
        self.compute_output_shape(x.shape)
        if self.groups > 1:
            z, cache = ops.depthwise.grouped_conv2d_forward(
                x, kernel, bias, self.groups, self.strides, self.padding, self.dilation_rate)
            if ctx is not None:
                ctx.cache = cache
            return apply_activation(act, ctx, z)
        if ctx is None:  # no backward follows: nothing kept; the activation runs per chunk
            return ops.conv2d(x, kernel, bias, self.strides, self.padding, self.dilation_rate,
                              epilogue=None if act.is_linear else in_place(act))
        z, ctx.cache = ops.conv2d_forward(x, kernel, bias, self.strides, self.padding,
                                          self.dilation_rate)
        return apply_activation(act, ctx, z)

    def backward(self, ctx: LayerContext, grad: Array) -> tuple[Array | None, list[Array]]:
        grad = activation_grad(self._act, ctx, grad)
        backward = (ops.depthwise.grouped_conv2d_backward if self.groups > 1
                    else ops.conv2d_backward)
        dx, dkernel, dbias = backward(grad, ctx.cache,
                                                 need_dx=ctx.needs_input_grad[0],
                                                 need_dkernel=self.trainable)
        if not self.trainable:
            return dx, []
        return dx, [dkernel, dbias] if self.use_bias else [dkernel]

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        check_image_input(self, input_shape)
        oh, ow = spatial_output(self, input_shape, self.kernel_size, self.strides, self.padding,
                                self.dilation_rate)
        return (input_shape[0], oh, ow, self.filters)

    def compute_macs(self, input_shape: Shape) -> int:
        _, oh, ow, _ = self.compute_output_shape(input_shape)
        kh, kw = self.kernel_size
        return int(oh * ow * kh * kw * input_shape[-1] // self.groups * self.filters)

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding,
                "data_format": self.data_format, "dilation_rate": self.dilation_rate,
                "groups": self.groups, "activation": self.activation, "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer)}
