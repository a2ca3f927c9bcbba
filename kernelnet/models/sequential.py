"""`Sequential`: a plain stack of layers, each feeding the next."""

from __future__ import annotations

from typing import Any

from kernelnet._typing import Shape
from kernelnet.layers.base import KerasTensor, Layer
from kernelnet.layers.input_layer import InputLayer
from kernelnet.models import functional
from kernelnet.models.graph import Node
from kernelnet.models.model import Model


class Sequential(Model):
    """A linear stack of layers.

    The model is built as soon as its input shape is known: from `input_shape=` on the first layer,
    an `Input(shape)`/`InputLayer` first item, `build(input_shape)`, or the first batch of data.

    Args:
        layers: optional list of layers to add.
        name: model name. Defaults to "sequential", "sequential_1", ...

    Example:
        >>> from kernelnet import layers
        >>> model = Sequential([layers.Dense(4, input_shape=(3,)), layers.Dense(1)])
        >>> model.count_params()
        21
    """

    def __init__(self, layers: list | None = None, name: str | None = None, **kwargs: Any):
        super().__init__(name=name, **kwargs)
        self._sample_shape: Shape | None = None  # batch shape, once known
        self._input_layer: InputLayer | None = None
        for layer in layers or []:
            self.add(layer)

    def add(self, layer: Any) -> None:
        """Appends a layer (or sets the input shape, for an `Input`/`InputLayer`)."""
        if isinstance(layer, KerasTensor) and isinstance(layer.layer, InputLayer):
            layer = layer.layer
        if isinstance(layer, InputLayer):
            if self._layers:
                raise ValueError(
                    f"An InputLayer can only be the first item of Sequential {self.name!r}; "
                    f"the model already has {len(self._layers)} layers."
                )
            self._sample_shape = layer.batch_input_shape
            self._input_layer = layer
            self._try_build()
            return
        if not isinstance(layer, Layer):
            raise TypeError(
                f"Sequential.add() expects a kernelnet Layer. Received: {layer!r} "
                f"of type {type(layer).__name__}."
            )
        if not self._layers and self._sample_shape is None and layer.batch_input_shape:
            self._sample_shape = tuple(layer.batch_input_shape)
        self._layers.append(layer)
        functional._check_unique_names(self._layers, self.name)
        self._try_build()

    def pop(self) -> Layer:
        """Removes and returns the last layer."""
        if not self._layers:
            raise TypeError(f"There are no layers in Sequential {self.name!r} to pop.")
        layer = self._layers.pop()
        self.built = False
        self._try_build()
        return layer

    def _try_build(self) -> None:
        if self._sample_shape is not None and self._layers:
            self.build(self._sample_shape)

    def build(self, input_shape: Shape | None = None) -> None:
        """Builds every layer for batches of `input_shape` (batch axis included)."""
        if input_shape is None:
            input_shape = self._sample_shape
        if input_shape is None:
            raise ValueError(
                f"Sequential {self.name!r} cannot be built without an input shape. Pass "
                "`input_shape=` to the first layer, add an `Input(shape)`, or call build()."
            )
        if not self._layers:
            raise ValueError(f"Sequential {self.name!r} has no layers to build.")
        input_shape = tuple(input_shape)
        self._check_input_shape(input_shape)
        self._connect((None, *input_shape[1:]))
        self._sample_shape = (None, *input_shape[1:])
        self.batch_input_shape = self._sample_shape
        self._nodes = [Node(layer, [i], i + 1, False) for i, layer in enumerate(self._layers)]
        self._input_ids, self._output_ids = [0], [len(self._layers)]
        self.built = True

    def _connect(self, shape: Shape) -> None:
        """Calls the layers on a symbolic input (building them), so that `model.inputs` and
        each `layer.output` exist, as in Keras: `Model(model.inputs, layer.output)` is a
        feature extractor."""
        for layer, t in getattr(self, "_symbolic_calls", []):  # from an earlier build
            if t in layer._inbound:
                layer._inbound.remove(t)
        inp = self._input_layer
        if inp is None or tuple(inp.batch_input_shape[1:]) != tuple(shape[1:]):
            inp = InputLayer(batch_input_shape=shape, dtype=self.dtype,
                             name=f"{self.name}_input")
        t = inp.output
        self._symbolic_inputs, self._symbolic_calls = [t], []
        for layer in self._layers:
            t = layer(t)
            self._symbolic_calls.append((layer, t))
        self._symbolic_outputs = [t]

    def _check_input_shape(self, input_shape: Shape) -> None:
        expected = self._sample_shape
        if expected is None or not self.built:
            return
        if len(expected) != len(input_shape) or any(
            e is not None and e != r for e, r in zip(expected[1:], input_shape[1:])
        ):
            raise ValueError(
                f"Input 0 of model {self.name!r} is incompatible: expected shape "
                f"{tuple(expected)}, received {tuple(input_shape)}."
            )

    def call(self, inputs, training: bool = False):
        if tuple(inputs.shape[1:]) != tuple(self._sample_shape[1:]):
            self._check_input_shape(inputs.shape)
        return super().call(inputs, training=training)

    call._runs_graph = True

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if not self.built:
            self.build(input_shape)
        return functional.output_shapes(self, tuple(input_shape))

    def get_config(self) -> dict:
        from kernelnet import layers as layers_module

        config = {"name": self.name, "trainable": self.trainable,
                  "layers": [layers_module.serialize(layer) for layer in self._layers]}
        if self._sample_shape is not None:
            config["batch_input_shape"] = list(self._sample_shape)
        return config

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> Sequential:
        from kernelnet import layers as layers_module

        model = cls(name=config.get("name"))
        if config.get("batch_input_shape"):
            model._sample_shape = tuple(config["batch_input_shape"])
        for entry in config["layers"]:
            model.add(layers_module.deserialize(entry, custom_objects=custom_objects))
        # Each layer restored its own flag; set the model's without pushing it down onto them.
        model._trainable = config.get("trainable", True)
        return model
