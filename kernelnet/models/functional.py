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
        if id(t) in ids:  # reached again through another path while visiting its inputs
            return ids[id(t)]
        ids[id(t)] = len(ids)
        multi = t.multi or len(t.inputs) > 1
        nodes.append(Node(t.layer, in_ids, ids[id(t)], multi))
        return ids[id(t)]

    output_ids = [visit(t, ()) for t in output_list]
    model._nodes = nodes
    model._input_ids = list(range(len(input_list)))
    model._output_ids = output_ids
    # each layer once, in order of first call (a shared layer is called by several nodes)
    model._layers = list({id(layer): layer for layer in
                          [t.layer for t in input_list] + [n.layer for n in nodes]}.values())
    # a list of one input takes a bare array too (Keras 3 flattens it)
    model._multi_input = isinstance(inputs, (list, tuple)) and len(input_list) > 1
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
    """The graph as a list of calls in order. A shared layer's config is stored at its first
    call; each later call is `{"call_of": name, "inbound_nodes": [...]}`, and its output is
    referred to as `"name:k"` (the k-th call)."""
    producer = {i: model._layers[i].name for i in model._input_ids}
    layers = [_layer_entry(model._layers[i], []) for i in range(len(model._input_ids))]
    calls: dict[int, int] = {}
    for node in model._nodes:
        k = calls[id(node.layer)] = calls.get(id(node.layer), -1) + 1
        inbound = [producer[i] for i in node.in_ids]
        if k == 0:
            layers.append(_layer_entry(node.layer, inbound))
            producer[node.out_id] = node.layer.name
        else:
            layers.append({"call_of": node.layer.name, "inbound_nodes": inbound})
            producer[node.out_id] = f"{node.layer.name}:{k}"
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
    made: dict[str, Any] = {}
    calls: dict[str, int] = {}
    for entry in config["layers"]:
        if "call_of" in entry:  # a later call of a shared layer
            name = str(entry["call_of"])
            if name not in made:
                raise ValueError(f"Model config calls layer {name!r} before defining it.")
            layer = made[name]
        else:
            layer = made[entry.get("name", "")] = layers_module.deserialize(
                entry, custom_objects=custom_objects)
        if isinstance(layer, InputLayer):
            tensors[layer.name] = layer.output
            continue
        inbound = [tensors[name] for name in entry["inbound_nodes"]]
        k = calls[layer.name] = calls.get(layer.name, -1) + 1
        multi = len(inbound) > 1 or getattr(layer, "_multi_input_layer", False)
        tensors[layer.name if k == 0 else f"{layer.name}:{k}"] = layer(
            inbound if multi else inbound[0])
    inputs = [tensors[n] for n in config["input_layers"]]
    outputs = [tensors[n] for n in config["output_layers"]]
    model = Model(inputs if config.get("multi_input") else inputs[0],
                  outputs if config.get("multi_output") else outputs[0], name=config["name"])
    # Each layer restored its own flag; set the model's without pushing it down onto them.
    model._trainable = config.get("trainable", True)
    return model
