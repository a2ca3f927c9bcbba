"""`InputLayer` and `Input()`: the entry points of functional models."""

from __future__ import annotations

from kernelnet._typing import Array, Shape
from kernelnet.layers.base import KerasTensor, Layer, LayerContext


class InputLayer(Layer):
    """The placeholder layer behind `Input()`; identity on arrays.

    Args:
        shape: shape of one sample, without the batch axis (Keras 3 name; `input_shape` works too).
        batch_size: optional fixed batch size.
    """

    def __init__(self, shape: Shape | None = None, batch_size: int | None = None,
                 name: str | None = None, **kwargs):
        if shape is not None:
            kwargs["input_shape"] = tuple(shape)
        super().__init__(name=name, batch_size=batch_size, **kwargs)
        if self.batch_input_shape is None:
            raise ValueError(
                f"InputLayer {self.name!r} needs a `shape` (one sample, without the batch axis). "
                "Received: shape=None."
            )
        self.built = True
        self._inbound.append(KerasTensor(self.batch_input_shape, layer=self, inputs=[],
                                         dtype=self.dtype, name=self.name))

    def forward(self, ctx: LayerContext | None, x: Array, training: bool = False) -> Array:
        return x

    def backward(self, ctx: LayerContext, grad: Array) -> tuple[Array | None, list]:
        return (grad.copy() if ctx.needs_input_grad[0] else None), []

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)


def Input(shape: Shape | None = None, batch_size: int | None = None, dtype: str | None = None,
          name: str | None = None, batch_shape: Shape | None = None) -> KerasTensor:
    """Returns a symbolic input tensor for a functional `Model(inputs, outputs)`.

    Example:
        >>> Input(shape=(28, 28, 1)).shape
        (None, 28, 28, 1)
    """
    if batch_shape is not None:
        layer = InputLayer(batch_input_shape=tuple(batch_shape), dtype=dtype, name=name)
    else:
        layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, name=name)
    return layer.output
