"""The layer graph a model runs: nodes in topological order, forward and reverse-mode backward.

Both `Sequential` (a chain) and functional models (a DAG built from `KerasTensor`s) store their
layers as `Node`s over integer tensor ids, so one forward and one backward serve both.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

from kernelnet._typing import Array


@dataclass
class Node:
    """One layer call: reads tensors `in_ids`, writes tensor `out_id`."""

    layer: object
    in_ids: list[int]
    out_id: int
    multi: bool  # the layer takes a list of inputs (merging layers)


def run_forward(nodes: list[Node], input_ids: list[int], output_ids: list[int],
                inputs: list[Array], training: bool) -> list[Array]:
    """Evaluates the graph; frees each intermediate once its last consumer has run."""
    last_use = {}
    for step, node in enumerate(nodes):
        for tid in node.in_ids:
            last_use[tid] = step
    keep = set(output_ids)
    values = dict(zip(input_ids, inputs))
    for step, node in enumerate(nodes):
        args = [values[tid] for tid in node.in_ids]
        values[node.out_id] = node.layer.forward(args if node.multi else args[0],
                                                 training=training)
        if getattr(node.layer, "_cache_free", False):
            node.layer.release_cache()
        for tid in node.in_ids:
            if last_use[tid] == step and tid not in keep:
                values.pop(tid, None)
    return [values[tid] for tid in output_ids]


def _needs_gradient(nodes: list[Node], input_ids: list[int], inputs_need_grad: bool) -> set[int]:
    """Tensor ids whose gradient is needed: those with a trainable weight (or a model input
    that needs a gradient) somewhere upstream."""
    needed = set(input_ids) if inputs_need_grad else set()
    for node in nodes:
        if node.layer.trainable_weights or any(tid in needed for tid in node.in_ids):
            needed.add(node.out_id)
    return needed


def run_backward(nodes: list[Node], input_ids: list[int], output_ids: list[int],
                 output_grads: list[Array], inputs_need_grad: bool) -> list[Array | None]:
    """Reverse-topological backward; sums gradients of tensors read by several layers.

    Layers with nothing trainable upstream or inside are not visited at all, and the lowest
    layer that is visited is told to skip its input gradient (`_skip_input_grad`).
    """
    needed = _needs_gradient(nodes, input_ids, inputs_need_grad)
    grads = dict(zip(output_ids, output_grads))
    for node in reversed(nodes):
        grad = grads.pop(node.out_id, None)
        if grad is None or node.out_id not in needed:
            continue
        node.layer._skip_input_grad = not any(tid in needed for tid in node.in_ids)
        dx = node.layer.backward(grad)
        if dx is None:
            continue
        for tid, d in zip(node.in_ids, dx if node.multi else [dx]):
            if tid in needed and d is not None:
                grads[tid] = d if tid not in grads else grads[tid] + d
    return [grads.get(tid) for tid in input_ids]


def all_layers(layer) -> list:
    """`layer` and every layer nested inside it (models inside models)."""
    found = [layer]
    for inner in getattr(layer, "_layers", []):
        found += all_layers(inner)
    return found


def leaves(layer) -> list:
    """The layers inside `layer` that hold weights themselves (nested models flattened), in
    the order of `Model.weights`."""
    return [inner for inner in all_layers(layer) if not hasattr(inner, "_layers")]


@contextmanager
def cache_free(model):
    """Within the block, layers of `model` (nested ones included) keep no backward cache.

    Layers opt in by reading `self._cache_free` in forward; a backward after such a forward
    is not supported, which is why only predict/evaluate use it.
    """
    layers = all_layers(model)
    for layer in layers:
        layer._cache_free = True
    try:
        yield
    finally:
        for layer in layers:
            layer._cache_free = False
