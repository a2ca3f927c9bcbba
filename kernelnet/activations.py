"""Activation functions by name, as Keras spells them.

`get(identifier)` returns an `ActivationFunction`: a small object with `forward(z)` and
`backward(grad)` that layers hold for their `activation=` argument. The module-level functions
(`relu(x)`, `softmax(x)`, ...) are the plain forward maps, as `keras.activations.relu` is.
"""

from __future__ import annotations

from collections.abc import Callable

from kernelnet._typing import Array
from kernelnet.ops import nn
from kernelnet.utils.registry import get_from_registry


def gelu(x, approximate: bool = False):
    """Keras `activations.gelu`: the exact erf form by default (`ops.gelu` defaults to tanh)."""
    return nn.gelu(x, approximate=approximate)


# name -> (forward, gradient); gradient(grad, z, y) -> dz
_REGISTRY: dict[str, tuple[Callable, Callable]] = {
    "linear": (nn.linear, nn.linear_grad),
    "relu": (nn.relu, nn.relu_grad),
    "relu6": (nn.relu6, nn.relu6_grad),
    "leaky_relu": (nn.leaky_relu, nn.leaky_relu_grad),
    "elu": (nn.elu, nn.elu_grad),
    "selu": (nn.selu, nn.selu_grad),
    "sigmoid": (nn.sigmoid, nn.sigmoid_grad),
    "hard_sigmoid": (nn.hard_sigmoid, nn.hard_sigmoid_grad),
    "hard_swish": (nn.hard_swish, nn.hard_swish_grad),
    "hard_silu": (nn.hard_swish, nn.hard_swish_grad),
    "tanh": (nn.tanh, nn.tanh_grad),
    "softplus": (nn.softplus, nn.softplus_grad),
    "softsign": (nn.softsign, nn.softsign_grad),
    "silu": (nn.silu, nn.silu_grad),
    "swish": (nn.silu, nn.silu_grad),
    "exponential": (nn.exponential, nn.exponential_grad),
    "gelu": (gelu, nn.gelu_grad),
    "softmax": (nn.softmax, nn.softmax_grad),
}

linear = nn.linear
relu = nn.relu
relu6 = nn.relu6
leaky_relu = nn.leaky_relu
elu = nn.elu
selu = nn.selu
sigmoid = nn.sigmoid
hard_sigmoid = nn.hard_sigmoid
hard_swish = hard_silu = nn.hard_swish
tanh = nn.tanh
softplus = nn.softplus
softsign = nn.softsign
silu = swish = nn.silu
exponential = nn.exponential
softmax = nn.softmax


class ActivationFunction:
    """An activation as a stateless pair: `y = forward(z)`, then `dz = backward(dL/dy, z, y)`.

    Built from a name in the registry, or from a user callable `f(z) -> y` (which then has no
    backward and is usable for inference only). What backward reads (`z`, `y`) is kept by the
    caller, in its per-call context, so one object serves concurrent calls.
    """

    def __init__(self, name: str, fn: Callable, grad_fn: Callable | None):
        self.name = name
        self.fn = fn
        self.grad_fn = grad_fn

    def forward(self, z: Array) -> Array:
        return self.fn(z)

    def backward(self, grad: Array, z: Array | None, y: Array | None) -> Array:
        if self.grad_fn is None:
            raise NotImplementedError(
                f"The custom activation {self.name!r} has no gradient; training through it is "
                "not supported. Use a built-in activation name or an Activation layer subclass."
            )
        if self.grad_fn is nn.linear_grad:
            return grad
        return self.grad_fn(grad, z, y)

    @property
    def is_linear(self) -> bool:
        return self.fn is nn.linear

    def __repr__(self) -> str:
        return f"ActivationFunction({self.name!r})"


def get(identifier: str | Callable | None) -> ActivationFunction:
    """Returns a fresh `ActivationFunction` for a name, None (linear) or a callable."""
    if identifier is None:
        identifier = "linear"
    if isinstance(identifier, ActivationFunction):
        return ActivationFunction(identifier.name, identifier.fn, identifier.grad_fn)
    if isinstance(identifier, str):
        key = identifier.lower()
        get_from_registry(key, _REGISTRY, "activation")  # raises with "did you mean"
        fn, grad_fn = _REGISTRY[key]
        return ActivationFunction(key, fn, grad_fn)
    if callable(identifier):
        for name, (fn, grad_fn) in _REGISTRY.items():
            if fn is identifier:
                return ActivationFunction(name, fn, grad_fn)
        return ActivationFunction(getattr(identifier, "__name__", "custom"), identifier, None)
    raise TypeError(
        "Could not interpret activation identifier: expected a string, None or a callable. "
        f"Received: activation={identifier!r}."
    )


def serialize(identifier: str | Callable | None) -> str | None:
    """The JSON-able name of an activation argument (None stays None)."""
    if identifier is None or isinstance(identifier, str):
        return identifier
    return get(identifier).name
