"""Functional models: building the node graph from `KerasTensor`s, shapes, and (de)serialization."""

from __future__ import annotations

from typing import Any

from kernelnet.layers.base import KerasTensor, Layer
from kernelnet.layers.input_layer import InputLayer
from kernelnet.models.graph import Node


def _as_list(value: Any) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def build_graph(model, inputs: Any, outputs: Any) -> None:
    """Fills `model._nodes/_layers/_input_ids/_output_ids` from symbolic inputs and outputs."""
    input_list, output_list = _as_list(inputs), _as_list(outputs)
    for t in input_list + output_list:
        if not isinstance(t, KerasTensor):
            raise TypeError(
                f"Model(inputs, outputs) expects KerasTensors made with kernelnet.Input() and "
                f"layer calls. Received: {t!r} of type {type(t).__name__}."
            )
    for t in input_list:
        if not isinstance(t.layer, InputLayer):
            raise ValueError(
                f"Model inputs must come from kernelnet.Input(). Received a tensor produced by "
                f"layer {t.layer.name!r}."
            )
    ids: dict[int, int] = {id(t): i for i, t in enumerate(input_list)}
    nodes: list[Node] = []
    seen_layers: dict[int, str] = {}

    def visit(t: KerasTensor, path: tuple) -> int:
        if id(t) in ids:
            return ids[id(t)]
        if isinstance(t.layer, InputLayer) or t.layer is None:
            raise ValueError(
                f"Graph disconnected: cannot obtain value for tensor {t} at layer "
                f"{path[-1] if path else '?'!r}: it comes from input {t.layer.name!r}, which is "
                "not in the model's `inputs`."
            )
        in_ids = [visit(s, (*path, t.layer.name)) for s in t.inputs]
        if id(t.layer) in seen_layers:
            raise ValueError(
                f"Layer {t.layer.name!r} is called more than once in this model. kernelnet "
                "layers cache their forward pass for backward, so shared layers are not supported."
            )
        seen_layers[id(t.layer)] = t.layer.name
        ids[id(t)] = len(ids)
        multi = len(t.inputs) > 1 or getattr(t.layer, "_multi_input_layer", False)
        nodes.append(Node(t.layer, in_ids, ids[id(t)], multi))
        return ids[id(t)]

    output_ids = [visit(t, ()) for t in output_list]
    model._nodes = nodes
    model._input_ids = list(range(len(input_list)))
    model._output_ids = output_ids
    model._layers = [t.layer for t in input_list] + [n.layer for n in nodes]
    model._multi_input = isinstance(inputs, (list, tuple))
    model._multi_output = isinstance(outputs, (list, tuple))
    model._symbolic_inputs, model._symbolic_outputs = input_list, output_list
    shapes = [t.shape for t in input_list]
    model.batch_input_shape = shapes if model._multi_input else shapes[0]
    _check_unique_names(model._layers, model.name)
    model.built = True


def _check_unique_names(layers: list[Layer], model_name: str) -> None:
    names = [layer.name for layer in layers]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(
            f"All layer names in model {model_name!r} must be unique. Duplicated: {dupes}."
        )


def output_shapes(model, input_shape: Any) -> Any:
    """Propagates `input_shape` through the graph with each layer's `compute_output_shape`."""
    shapes = dict(zip(model._input_ids, input_shape if model._multi_input else [input_shape]))
    for node in model._nodes:
        args = [shapes[i] for i in node.in_ids]
        shapes[node.out_id] = node.layer.compute_output_shape(args if node.multi else args[0])
    out = [tuple(shapes[i]) for i in model._output_ids]
    return out if model._multi_output else out[0]


def get_config(model) -> dict:
    producer = {n.out_id: n.layer.name for n in model._nodes}
    producer.update({i: model._layers[i].name for i in model._input_ids})
    layers = []
    for layer in model._layers[: len(model._input_ids)]:
        layers.append(_layer_entry(layer, []))
    for node in model._nodes:
        layers.append(_layer_entry(node.layer, [producer[i] for i in node.in_ids]))
    return {
        "name": model.name,
        "trainable": model.trainable,
        "layers": layers,
        "input_layers": [producer[i] for i in model._input_ids],
        "output_layers": [producer[i] for i in model._output_ids],
        "multi_input": model._multi_input,
        "multi_output": model._multi_output,
    }


def _layer_entry(layer: Layer, inbound: list[str]) -> dict:
    from kernelnet import layers as layers_module

    entry = layers_module.serialize(layer)
    entry["name"] = layer.name
    entry["inbound_nodes"] = inbound
    return entry


def from_config(config: dict, custom_objects: dict | None = None):
    from kernelnet import layers as layers_module
    from kernelnet.models.model import Model

    tensors: dict[str, Any] = {}
    for entry in config["layers"]:
        layer = layers_module.deserialize(entry, custom_objects=custom_objects)
        if isinstance(layer, InputLayer):
            tensors[layer.name] = layer.output
            continue
        inbound = [tensors[name] for name in entry["inbound_nodes"]]
        multi = len(inbound) > 1 or getattr(layer, "_multi_input_layer", False)
        tensors[layer.name] = layer(inbound if multi else inbound[0])
    inputs = [tensors[n] for n in config["input_layers"]]
    outputs = [tensors[n] for n in config["output_layers"]]
    model = Model(inputs if config.get("multi_input") else inputs[0],
                  outputs if config.get("multi_output") else outputs[0], name=config["name"])
    # Each layer restored its own flag; set the model's without pushing it down onto them.
    model._trainable = config.get("trainable", True)
    return model
