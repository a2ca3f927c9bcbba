"""1D convolution and pooling over `(batch, steps, channels)` sequences, as Keras'.

Each is the 2D layer's math on a height-1 image: `x[:, None]` is `(batch, 1, steps, channels)`
and a kernel `(k, c_in, filters)` is `(1, k, c_in, filters)`, so the im2col kernels, their
backward and their tests serve both. "causal" padding pads `dilation * (k - 1)` steps on the
left only, so output t sees inputs up to t.
"""

from __future__ import annotations

import numpy as np  # noqa: F401 - the examples use it

from kernelnet import activations, initializers, ops
from kernelnet._typing import Array, Shape
from kernelnet.layers.base import Layer, LayerContext
from kernelnet.layers.convolutional import check_strides_and_groups
from kernelnet.layers.core import activation_grad, apply_activation
from kernelnet.utils import validation

_LAYOUT = "(batch, steps, channels)"
_HINT = "For a batch of 1D signals without channels, add an axis: x[..., np.newaxis]."


def _check_sequence(layer: Layer, shape: Shape) -> None:
    validation.check_ndim(layer, tuple(shape), 3, _LAYOUT, _HINT)


def _check_channels_last(layer: Layer, data_format) -> str:
    if data_format not in (None, "channels_last"):
        raise ValueError(
            f"Invalid `data_format` for {type(layer).__name__}: kernelnet only supports "
            f'"channels_last" (batch, steps, channels). Received: data_format={data_format!r}.'
        )
    return "channels_last"


def _steps(layer: Layer, size: int | None, k: int, s: int, padding: str, d: int = 1):
    if size is None:
        return None
    out = (-(-size // s) if padding == "same"
           else ops.conv_output_size(size + (d * (k - 1) if padding == "causal" else 0),
                                     k, s, "valid", d))
    if out <= 0:
        raise ValueError(
            f"{validation.describe(layer)} would produce an empty output: {size} steps are "
            f"fewer than the (dilated) window {d * (k - 1) + 1} with padding={padding!r}."
        )
    return out


class Conv1D(Layer):
    """1D convolution over sequences: `y = activation(conv1d(x) + bias)`.

    Args:
        filters: int > 0, output channels.
        kernel_size: int (or a 1-tuple), the window length.
        strides: int, step of the window.
        padding: "valid", "same" or "causal".
        data_format: None or "channels_last".
        dilation_rate: int; cannot be combined with strides > 1.
        groups: int > 0 dividing `filters` and the input channels.
        activation, use_bias, kernel_initializer, bias_initializer: as `Conv2D`; the kernel is
            `(kernel_size, c_in / groups, filters)`.

    Example:
        >>> Conv1D(4, 3, padding="causal")(np.ones((2, 10, 3))).shape
        (2, 10, 4)
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.filters = validation.check_positive_int(filters, "filters", self)
        self.kernel_size = validation.standardize_tuple(kernel_size, 1, "kernel_size", self)
        self.strides = validation.standardize_tuple(strides, 1, "strides", self)
        self.padding = validation.standardize_padding(padding, self, ("valid", "same", "causal"))
        self.data_format = _check_channels_last(self, data_format)
        self.dilation_rate = validation.standardize_tuple(dilation_rate, 1, "dilation_rate", self)
        self.groups = check_strides_and_groups(self, "Conv1D", groups)
        self.activation = activations.serialize(activation)
        self._act = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer

    def build(self, input_shape: Shape) -> None:
        _check_sequence(self, input_shape)
        c = input_shape[-1]
        if c is None or c % self.groups:
            raise ValueError(
                f"{validation.describe(self)} needs a known number of input channels divisible "
                f"by groups={self.groups}. Received input with shape {tuple(input_shape)}."
            )
        self.compute_output_shape(input_shape)
        self.kernel = self.add_weight((self.kernel_size[0], c // self.groups, self.filters),
                                      self.kernel_initializer, name="kernel")
        self.bias = (self.add_weight((self.filters,), self.bias_initializer, name="bias")
                     if self.use_bias else None)
        self.built = True

    def _padding(self):
        if self.padding != "causal":
            return self.padding
        return ((0, 0), (self.dilation_rate[0] * (self.kernel_size[0] - 1), 0))

    def forward(self, ctx: LayerContext | None, x: Array, training: bool = False) -> Array:
        k = self.kernel.value
        if x.ndim != 3 or x.shape[-1] != k.shape[1] * self.groups:
            _check_sequence(self, x.shape)
            raise ValueError(
                f"{validation.describe(self)} was built for inputs with "
                f"{k.shape[1] * self.groups} channels but received input with shape "
                f"{tuple(x.shape)}."
            )
        self.compute_output_shape(x.shape)
        bias = None if self.bias is None else self.bias.value
        args = ((1, self.strides[0]), self._padding(), (1, self.dilation_rate[0]))
        if self.groups > 1:
            z, cache = ops.depthwise.grouped_conv2d_forward(x[:, None], k[None], bias,
                                                            self.groups, *args)
        else:
            z, cache = ops.conv2d_forward(x[:, None], k[None], bias, *args)
        if ctx is not None:
            ctx.cache = cache
        return apply_activation(self._act, ctx, z[:, 0])

    def backward(self, ctx: LayerContext, grad: Array) -> tuple[Array | None, list[Array]]:
        grad = activation_grad(self._act, ctx, grad)
        backward = (ops.depthwise.grouped_conv2d_backward if self.groups > 1
                    else ops.conv2d_backward)
        dx, dk, db = backward(grad[:, None], ctx.cache, need_dx=ctx.needs_input_grad[0],
                              need_dkernel=self.trainable)
        dx = None if dx is None else dx[:, 0]
        if not self.trainable:
            return dx, []
        return dx, [dk[0], db] if self.use_bias else [dk[0]]

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        _check_sequence(self, input_shape)
        steps = _steps(self, input_shape[1], self.kernel_size[0], self.strides[0], self.padding,
                       self.dilation_rate[0])
        return (input_shape[0], steps, self.filters)

    def compute_macs(self, input_shape: Shape) -> int:
        steps = self.compute_output_shape(input_shape)[1]
        return int(steps * self.kernel_size[0] * input_shape[-1] // self.groups * self.filters)

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding,
                "data_format": self.data_format, "dilation_rate": self.dilation_rate,
                "groups": self.groups, "activation": self.activation, "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer)}


class _Pooling1D(Layer):
    _forward_op = staticmethod(ops.max_pool2d_forward)
    _backward_op = staticmethod(ops.max_pool2d_backward)

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = validation.standardize_tuple(pool_size, 1, "pool_size", self)
        self.strides = (self.pool_size if strides is None
                        else validation.standardize_tuple(strides, 1, "strides", self))
        self.padding = validation.standardize_padding(padding, self)
        self.data_format = _check_channels_last(self, data_format)

    def forward(self, ctx: LayerContext | None, x: Array, training: bool = False) -> Array:
        self.compute_output_shape(x.shape)
        y, cache = self._forward_op(x[:, None], (1, self.pool_size[0]), (1, self.strides[0]),
                                    self.padding)
        if ctx is not None:
            ctx.cache = cache
        return y[:, 0]

    def backward(self, ctx: LayerContext, grad: Array) -> tuple[Array | None, list]:
        if not ctx.needs_input_grad[0]:
            return None, []
        return self._backward_op(grad[:, None], ctx.cache)[:, 0], []

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        _check_sequence(self, input_shape)
        steps = _steps(self, input_shape[1], self.pool_size[0], self.strides[0], self.padding)
        return (input_shape[0], steps, input_shape[2])

    def get_config(self) -> dict:
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides,
                "padding": self.padding, "data_format": self.data_format}


class MaxPooling1D(_Pooling1D):
    """Max over windows of `pool_size` steps moved by `strides` (defaults to `pool_size`).

    Example:
        >>> MaxPooling1D()(np.zeros((2, 10, 3))).shape
        (2, 5, 3)
    """


class AveragePooling1D(_Pooling1D):
    """Mean over windows of `pool_size` steps ("same": over the real, unpadded steps).

    Example:
        >>> AveragePooling1D(3, strides=1, padding="same")(np.ones((2, 10, 3))).shape
        (2, 10, 3)
    """

    _forward_op = staticmethod(ops.avg_pool2d_forward)
    _backward_op = staticmethod(ops.avg_pool2d_backward)


class _GlobalPooling1D(Layer):
    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _check_channels_last(self, data_format)
        self.keepdims = bool(keepdims)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        _check_sequence(self, input_shape)
        return ((input_shape[0], 1, input_shape[2]) if self.keepdims
                else (input_shape[0], input_shape[2]))

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format,
                "keepdims": self.keepdims}


class GlobalAveragePooling1D(_GlobalPooling1D):
    """Mean over the steps: `(batch, steps, channels) -> (batch, channels)`.

    Example:
        >>> GlobalAveragePooling1D()(np.ones((2, 10, 3))).shape
        (2, 3)
    """

    def forward(self, ctx: LayerContext | None, x: Array, training: bool = False) -> Array:
        _check_sequence(self, x.shape)
        if ctx is not None:
            ctx.x_shape = x.shape
        return x.mean(axis=1, keepdims=self.keepdims)

    def backward(self, ctx: LayerContext, grad: Array) -> tuple[Array | None, list]:
        if not ctx.needs_input_grad[0]:
            return None, []
        n, steps, c = ctx.x_shape
        return ops.global_avg_pool2d_backward(grad, (n, 1, steps, c))[:, 0], []


class GlobalMaxPooling1D(_GlobalPooling1D):
    """Max over the steps (the gradient goes to the first maximum of each channel).

    Example:
        >>> GlobalMaxPooling1D(keepdims=True)(np.ones((2, 10, 3))).shape
        (2, 1, 3)
    """

    def forward(self, ctx: LayerContext | None, x: Array, training: bool = False) -> Array:
        _check_sequence(self, x.shape)
        y, cache = ops.global_max_pool2d_forward(x[:, None], True)
        if ctx is not None:
            ctx.cache = cache
        return y[:, 0] if self.keepdims else y[:, 0, 0]

    def backward(self, ctx: LayerContext, grad: Array) -> tuple[Array | None, list]:
        if not ctx.needs_input_grad[0]:
            return None, []
        g = grad.reshape(grad.shape[0], 1, 1, grad.shape[-1])
        return ops.global_max_pool2d_backward(g, ctx.cache)[:, 0], []
