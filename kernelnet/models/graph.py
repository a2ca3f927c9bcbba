"""The layer graph a model runs: nodes in topological order.

Both `Sequential` (a chain) and functional models (a DAG built from `KerasTensor`s) store their
layers as `Node`s over integer tensor ids, so one forward serves both. A layer may appear in
several nodes (a shared layer): each node is one call. Gradients come from the tape that the
calls record (see `Model.compute_gradients`), not from a walk of this graph.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Node:
    """One layer call: reads tensors `in_ids`, writes tensor `out_id`."""

    layer: object
    in_ids: list[int]
    out_id: int
    multi: bool  # the layer takes a list of inputs (merging layers)


def run(nodes: list[Node], input_ids: list[int], output_ids: list[int], inputs: list,
        training: bool) -> list:
    """Calls every node's layer in order; drops each intermediate once its last consumer has
    run (under a tape, the recorded calls keep what their backward needs)."""
    last_use = {}
    for step, node in enumerate(nodes):
        for tid in node.in_ids:
            last_use[tid] = step
    keep = set(output_ids)
    values = dict(zip(input_ids, inputs))
    for step, node in enumerate(nodes):
        args = [values[tid] for tid in node.in_ids]
        values[node.out_id] = node.layer(args if node.multi else args[0], training=training)
        for tid in node.in_ids:
            if last_use[tid] == step and tid not in keep:
                values.pop(tid, None)
    return [values[tid] for tid in output_ids]


def all_layers(layer) -> list:
    """`layer` and every layer nested inside it (models inside models), each once."""
    return layer._flatten_layers()


def leaves(layer) -> list:
    """The layers inside `layer` that hold weights themselves (nested models flattened), in
    the order of `Model.weights`."""
    return [inner for inner in all_layers(layer) if not hasattr(inner, "_nodes")]
