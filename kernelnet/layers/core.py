"""Core layers: Dense, Activation, Flatten, Reshape, Permute, Dropout and Lambda.

Shape letters: n = batch, f = input features (last axis), u = units, m = rows after folding
every leading axis into one (m = n * positions).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from kernelnet import activations, backend, initializers
from kernelnet._typing import Array, Shape
from kernelnet.autodiff.tensor import Tensor
from kernelnet.layers.base import Layer, LayerContext, share_generator
from kernelnet.ops import nn
from kernelnet.utils import validation


def apply_activation(act: activations.ActivationFunction, ctx: LayerContext | None,
                     z: Array) -> Array:
    """`act.forward(z)` for a freshly computed `z` that nobody else holds; keeps on `ctx` what
    `activation_grad` reads.

    relu and tanh are applied in place: their gradients read only the output, so `z` need not
    be kept (half the activation memory, no extra allocation). With `ctx.linear_output` the
    caller applies the activation itself (see `Layer.__call__`), so `z` is returned.
    """
    if act.is_linear or (ctx is not None and ctx.linear_output):
        return z
    if act.fn is nn.relu:
        y = nn.relu_into(z, z)
        z = None
    elif act.fn is nn.tanh:
        y = np.tanh(z, out=z)
        z = None
    else:
        y = act.forward(z)
    if ctx is not None:
        ctx.act_z, ctx.act_y = z, y
    return y


def in_place(act: activations.ActivationFunction) -> Callable[[Array], None]:
    """`act` as a function that overwrites its argument with the activation (a convolution's
    `epilogue`, applied to each chunk of the output while it is in cache)."""
    def apply(block: Array) -> None:
        y = apply_activation(act, None, block)
        if y is not block:
            block[...] = y
    return apply


def activation_grad(act: activations.ActivationFunction, ctx: LayerContext, grad: Array) -> Array:
    """dL/dz from dL/dy through the activation `apply_activation` applied in this call."""
    if act.is_linear or ctx.linear_output:
        return grad
    return act.backward(grad, ctx.act_z, ctx.act_y)


class Dense(Layer):
    """Densely connected layer: `y = activation(x @ kernel + bias)` on the last axis.

    Inputs with more than two axes are handled as Keras does: the kernel acts on the last axis
    at every position (one matmul over the input folded to 2-D).

    Args:
        units: int > 0, size of the output's last axis.
        activation: name (e.g. `"relu"`), callable, or None for linear output.
        use_bias: whether to add a learned bias.
        kernel_initializer: name or initializer. Defaults to `"glorot_uniform"`.
        bias_initializer: name or initializer. Defaults to `"zeros"`.

    Input shape:
        `(batch, ..., features)`.
    Output shape:
        `(batch, ..., units)`.

    Example:
        >>> Dense(4)(np.zeros((2, 3))).shape
        (2, 4)
    """

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.units = validation.check_positive_int(units, "units", self)
        self.activation = activations.serialize(activation)
        self._act = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(
                f"{validation.describe(self)} expects input of shape (batch, ..., features) with a "
                f"known last axis. Received input with shape {tuple(input_shape)}."
            )
        self.kernel = self.add_weight((input_shape[-1], self.units), self.kernel_initializer,
                                      name="kernel")
        self.bias = (self.add_weight((self.units,), self.bias_initializer, name="bias")
                     if self.use_bias else None)
        self.built = True

    def forward(self, ctx: LayerContext | None, x: Array, training: bool = False) -> Array:
        kernel = self.kernel.value
        f = kernel.shape[0]
        if x.ndim < 2 or x.shape[-1] != f:
            raise ValueError(
                f"{validation.describe(self)} was built for inputs with {f} features but received "
                f"shape {tuple(int(d) for d in x.shape)}. A layer's input size is fixed after its "
                "first call; check the layers before it (Flatten output changed?)."
            )
        x2 = x.reshape(-1, f)                            # (m, f)
        z = x2 @ kernel                                  # (m, u)
        if self.bias is not None:
            nn.add_bias(z, self.bias.value)
        if ctx is not None:
            ctx.x2 = x2
        return apply_activation(self._act, ctx, z.reshape(*x.shape[:-1], self.units))

    def backward(self, ctx: LayerContext, grad: Array) -> tuple[Array | None, list[Array]]:
        grad = activation_grad(self._act, ctx, grad)
        g2 = grad.reshape(-1, self.units)                # (m, u)
        weight_grads = []
        if self.trainable:
            dkernel = ctx.x2.T @ g2                      # (f, u)
            weight_grads = [dkernel, nn.sum_rows(g2)] if self.use_bias else [dkernel]
        if not ctx.needs_input_grad[0]:
            return None, weight_grads
        kernel = self.kernel.value
        return (g2 @ kernel.T).reshape(*grad.shape[:-1], kernel.shape[0]), weight_grads

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (*tuple(input_shape)[:-1], self.units)

    def compute_macs(self, input_shape: Shape) -> int:
        positions = math.prod(d for d in input_shape[1:-1] if d is not None)
        return int(positions * input_shape[-1] * self.units)

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units, "activation": self.activation,
                "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer)}


class Activation(Layer):
    """Applies an activation function elementwise (softmax: over the last axis).

    Args:
        activation: name (e.g. `"relu"`), callable, or None (identity).

    Example:
        >>> Activation("relu")(np.array([[-1.0, 2.0]])).tolist()
        [[0.0, 2.0]]
    """

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.serialize(activation)
        self._act = activations.get(activation)

    def forward(self, ctx: LayerContext | None, x: Array, training: bool = False) -> Array:
        if ctx is not None and ctx.linear_output:
            return x                                     # the caller applies the activation
        y = self._act.forward(x)
        if ctx is not None:
            ctx.z, ctx.y = x, y
        return y

    def backward(self, ctx: LayerContext, grad: Array) -> tuple[Array | None, list]:
        if not ctx.needs_input_grad[0]:
            return None, []
        dx = grad if ctx.linear_output else self._act.backward(grad, ctx.z, ctx.y)
        return (dx.copy() if dx is grad else dx), []     # never hand back `grad` itself

    def get_config(self) -> dict:
        return {**super().get_config(), "activation": self.activation}


class Identity(Layer):
    """Returns its input unchanged (a placeholder, as `keras.layers.Identity`).

    Example:
        >>> Identity()(np.ones((2, 3))).shape
        (2, 3)
    """

    def forward(self, ctx: LayerContext | None, x: Array, training: bool = False) -> Array:
        return x

    def backward(self, ctx: LayerContext, grad: Array) -> tuple[Array | None, list]:
        return (grad.copy() if ctx.needs_input_grad[0] else None), []


class Flatten(Layer):
    """Flattens every axis but the batch axis: `(n, d1, d2, ...) -> (n, d1 * d2 * ...)`.

    Example:
        >>> Flatten()(np.zeros((2, 3, 4, 5))).shape
        (2, 60)
    """

    def forward(self, ctx: LayerContext | None, x: Array, training: bool = False) -> Array:
        if ctx is not None:
            ctx.x_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, ctx: LayerContext, grad: Array) -> tuple[Array | None, list]:
        return (grad.reshape(ctx.x_shape).copy() if ctx.needs_input_grad[0] else None), []

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        rest = input_shape[1:]
        return (input_shape[0], None if None in rest else math.prod(rest))


class Reshape(Layer):
    """Reshapes each sample to `target_shape` (the batch axis is kept).

    Args:
        target_shape: tuple of ints, without the batch axis; one entry may be -1 (inferred).

    Example:
        >>> Reshape((-1, 2))(np.zeros((3, 8))).shape
        (3, 4, 2)
    """

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        target = tuple(target_shape) if isinstance(target_shape, (list, tuple)) else None
        if (target is None or not target
                or not all(isinstance(d, (int, np.integer)) and (d > 0 or d == -1) for d in target)
                or sum(d == -1 for d in target) > 1):
            raise ValueError(
                "The `target_shape` argument of Reshape must be a tuple of positive ints with at "
                f"most one -1. Received: target_shape={target_shape!r}."
            )
        self.target_shape = tuple(int(d) for d in target)

    def _resolve(self, input_shape: Shape) -> tuple:
        """`target_shape` with -1 filled in; raises if the sizes cannot match."""
        rest = input_shape[1:]
        if None in rest:
            return tuple(None if d == -1 else d for d in self.target_shape)
        size = math.prod(rest)
        known = math.prod(d for d in self.target_shape if d != -1)
        if (-1 in self.target_shape and size % known) or (
                -1 not in self.target_shape and size != known):
            raise ValueError(
                f"{validation.describe(self)} cannot reshape input of shape "
                f"{tuple(input_shape)} ({size} values per sample) to "
                f"target_shape={self.target_shape}. The product of `target_shape` must equal "
                f"{size}."
            )
        return tuple(size // known if d == -1 else d for d in self.target_shape)

    def build(self, input_shape: Shape) -> None:
        self._resolve(input_shape)
        self.built = True

    def forward(self, ctx: LayerContext | None, x: Array, training: bool = False) -> Array:
        if ctx is not None:
            ctx.x_shape = x.shape
        return x.reshape(x.shape[0], *self._resolve(x.shape))

    def backward(self, ctx: LayerContext, grad: Array) -> tuple[Array | None, list]:
        return (grad.reshape(ctx.x_shape).copy() if ctx.needs_input_grad[0] else None), []

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (input_shape[0], *self._resolve(input_shape))

    def get_config(self) -> dict:
        return {**super().get_config(), "target_shape": list(self.target_shape)}


class Permute(Layer):
    """Permutes the non-batch axes; `dims` is 1-indexed as in Keras (`(2, 1)` swaps them).

    Example:
        >>> Permute((2, 1))(np.zeros((2, 3, 4))).shape
        (2, 4, 3)
    """

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        dims = tuple(dims) if isinstance(dims, (list, tuple)) else None
        if dims is None or sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(
                "The `dims` argument of Permute must be a permutation of 1..k (the batch axis is "
                f"not included). Received: dims={dims!r}."
            )
        self.dims = tuple(int(d) for d in dims)

    def build(self, input_shape: Shape) -> None:
        validation.check_ndim(self, input_shape, len(self.dims) + 1,
                              f"(batch, {len(self.dims)} axes) to match dims={self.dims}")
        self.built = True

    def forward(self, ctx: LayerContext | None, x: Array, training: bool = False) -> Array:
        return np.transpose(x, (0, *self.dims))

    def backward(self, ctx: LayerContext, grad: Array) -> tuple[Array | None, list]:
        if not ctx.needs_input_grad[0]:
            return None, []
        inverse = np.argsort((0, *self.dims))
        return np.transpose(grad, inverse).copy(), []

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (input_shape[0], *(input_shape[d] for d in self.dims))

    def get_config(self) -> dict:
        return {**super().get_config(), "dims": list(self.dims)}


class Dropout(Layer):
    """Inverted dropout: in training, zeroes inputs with probability `rate` and scales the rest.

    At inference (`training=False`) the layer is the identity, so no rescaling is needed.

    Args:
        rate: float in [0, 1), fraction of the inputs to drop.
        noise_shape: shape of the mask, broadcast against the input (None entries take the
            input's size), e.g. `(None, 1, 1, None)` drops whole feature maps.
        seed: int for a layer-owned generator; None uses `kernelnet.backend.rng()`.

    Example:
        >>> Dropout(0.5)(np.ones((2, 3))).tolist()
        [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = validation.check_rate(rate, "rate", self)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self._rng = None if seed is None else np.random.default_rng(seed)

    def _generator(self) -> np.random.Generator:
        # Asked at every call: utils.set_random_seed() replaces the library generator, and a
        # parallel training share runs with generators of its own (base.share_generators).
        return share_generator(self) or (self._rng if self._rng is not None else backend.rng())

    def _mask_shape(self, shape: tuple) -> tuple:
        if self.noise_shape is None:
            return shape
        if len(self.noise_shape) != len(shape):
            raise ValueError(
                f"{validation.describe(self)} has noise_shape={self.noise_shape}, which does not "
                f"match the rank of its input of shape {shape}."
            )
        return tuple(s if d is None else int(d) for d, s in zip(self.noise_shape, shape))

    def forward(self, ctx: LayerContext | None, x: Array, training: bool = False) -> Array:
        mask = None
        if training and self.rate != 0:
            mask = nn.dropout_mask(self._mask_shape(x.shape), self.rate, self._generator(),
                                   x.dtype)
        if ctx is not None:
            ctx.mask = mask
        return x if mask is None else x * mask

    def backward(self, ctx: LayerContext, grad: Array) -> tuple[Array | None, list]:
        if not ctx.needs_input_grad[0]:
            return None, []
        return (grad.copy() if ctx.mask is None else grad * ctx.mask), []

    def get_config(self) -> dict:
        noise = None if self.noise_shape is None else list(self.noise_shape)
        return {**super().get_config(), "rate": self.rate, "noise_shape": noise,
                "seed": self.seed}


class Lambda(Layer):
    """Wraps a function `f(x, **arguments)` as a layer without weights.

    A function made of `kernelnet.ops` trains (the ops record themselves); a NumPy function
    serves inference only.

    Args:
        function: callable on the input tensor.
        output_shape: output shape without the batch axis; inferred by calling `function` on
            zeros when None.
        arguments: extra keyword arguments for `function`.

    Example:
        >>> Lambda(lambda x: 2 * x)(np.ones((1, 2))).tolist()
        [[2.0, 2.0]]
    """

    def __init__(self, function: Callable, output_shape=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(
                f"The `function` argument of Lambda must be callable. Received: function="
                f"{function!r}."
            )
        self.function = function
        self.output_shape = None if output_shape is None else tuple(output_shape)
        self.arguments = dict(arguments or {})

    _tensor_inputs = False

    def call(self, inputs, training=None):
        try:
            return self.function(inputs, **self.arguments)
        except TypeError as error:
            if not any(isinstance(x, Tensor) for x in
                       (inputs if isinstance(inputs, (list, tuple)) else [inputs])):
                raise
            raise TypeError(
                f"{validation.describe(self)}: its function failed on a Tensor ({error}). To "
                "train through a Lambda, write the function with kernelnet.ops (ops.exp, "
                "ops.sum, ...) instead of NumPy; a NumPy function serves predict() only."
            ) from error

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if self.output_shape is not None:
            return (input_shape[0], *self.output_shape)
        probe = np.zeros(tuple(1 if d is None else d for d in input_shape), dtype=self.dtype)
        return (input_shape[0], *np.shape(self.function(probe, **self.arguments))[1:])

    def get_config(self) -> dict:
        shape = None if self.output_shape is None else list(self.output_shape)
        return {**super().get_config(), "function": getattr(self.function, "__name__", "lambda"),
                "output_shape": shape, "arguments": self.arguments}

    @classmethod
    def from_config(cls, config: dict) -> Lambda:
        raise ValueError(
            f"Cannot rebuild Lambda layer {config.get('name')!r} from its config: the wrapped "
            f"function {config.get('function')!r} is Python code, which kernelnet does not "
            "serialize. Rebuild the model in code and load its weights with load_weights()."
        )
