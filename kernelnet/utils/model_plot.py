"""`plot_model` and `model_to_dot`: a model's layer graph drawn by Graphviz, as in Keras.

pydot (the `graph` extra: `pip install kernelnet[graph]`) builds the graph; rendering it to a
file needs Graphviz's `dot` program (`apt-get install graphviz`, `brew install graphviz`).
"""

from __future__ import annotations

import os
from typing import Any


def _pydot() -> Any:
    try:
        import pydot
    except ImportError as err:
        raise ImportError(
            "plot_model() and model_to_dot() need pydot, which is not installed. Install it "
            "with `pip install kernelnet[graph]` (or `pip install pydot`), and Graphviz's `dot` "
            "program (e.g. `apt-get install graphviz`) to render files."
        ) from err
    return pydot


def _shape_text(shape: Any) -> str:
    if isinstance(shape, list):
        return "[" + ", ".join(_shape_text(s) for s in shape) + "]"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def _graph(model: Any) -> tuple[list, list]:
    """`(layer, input_shape, output_shape)` per drawn layer and `(src, dst)` edges by name."""
    if not getattr(model, "built", False):
        raise ValueError(
            f"Model {model.name!r} is not built yet, so its graph is unknown. Build it first "
            "(call it on data, call build(input_shape), or give the first layer input_shape=)."
        )
    from kernelnet.models import Sequential

    entries, edges, shapes, producer = [], [], {}, {}
    inputs = model.batch_input_shape if model._multi_input else [model.batch_input_shape]
    for tid, shape in zip(model._input_ids, inputs):
        shapes[tid] = tuple(shape)
        if not isinstance(model, Sequential):              # draw the InputLayer too
            layer = model._layers[tid]
            entries.append((layer, shape, shape))
            producer[tid] = layer.name
    for node in model._nodes:
        in_shapes = [shapes[i] for i in node.in_ids]
        in_shape = in_shapes if node.multi else in_shapes[0]
        shapes[node.out_id] = tuple(node.layer.compute_output_shape(in_shape))
        entries.append((node.layer, in_shape, shapes[node.out_id]))
        edges += [(producer[i], node.layer.name) for i in node.in_ids if i in producer]
        producer[node.out_id] = node.layer.name
    return entries, edges


def model_to_dot(model: Any, show_shapes: bool = False, show_dtype: bool = False,
                 show_layer_names: bool = True, rankdir: str = "TB",
                 expand_nested: bool = False, dpi: int = 200,
                 show_layer_activations: bool = False, show_trainable: bool = False,
                 **kwargs: Any) -> Any:
    """Returns the model's layer graph as a `pydot.Dot` (arguments as `plot_model`)."""
    pydot = _pydot()
    if rankdir not in ("TB", "LR"):
        raise ValueError(f'Invalid value for argument `rankdir` of plot_model: expected "TB" or '
                         f'"LR". Received: rankdir={rankdir!r}.')
    if expand_nested:
        raise ValueError("plot_model(expand_nested=True) is not supported by kernelnet: nested "
                         "models are drawn as one node. Plot the nested model on its own.")
    dot = pydot.Dot(graph_type="digraph", rankdir=rankdir, dpi=str(dpi), concentrate="true")
    dot.set_node_defaults(shape="record", fontname="Helvetica")
    entries, edges = _graph(model)
    for layer, in_shape, out_shape in entries:
        title = type(layer).__name__
        if show_layer_names:
            title = f"{layer.name} ({title})"
        rows = [title]
        activation = getattr(layer, "activation", None)
        if show_layer_activations and isinstance(activation, str):
            rows.append(f"activation: {activation}")
        if show_shapes:
            rows.append(f"input: {_shape_text(in_shape)} | output: {_shape_text(out_shape)}")
        if show_dtype:
            rows.append(f"dtype: {layer.dtype}")
        if show_trainable:
            rows.append(f"trainable: {layer.trainable}")
        label = "{" + "|".join(r.replace("{", "\\{").replace("}", "\\}") for r in rows) + "}"
        dot.add_node(pydot.Node(f'"{layer.name}"', label=f'"{label}"'))
    for src, dst in edges:
        dot.add_edge(pydot.Edge(f'"{src}"', f'"{dst}"'))
    return dot


def plot_model(model: Any, to_file: str | os.PathLike = "model.png", show_shapes: bool = False,
               show_dtype: bool = False, show_layer_names: bool = False, rankdir: str = "TB",
               expand_nested: bool = False, dpi: int = 200,
               show_layer_activations: bool = False, show_trainable: bool = False,
               **kwargs: Any) -> Any:
    """Draws the model's layer graph to `to_file` (format from its extension: png, svg, pdf...).

    Returns the `pydot.Dot` graph (Keras returns an IPython image in notebooks).

    Example:
        >>> plot_model(model, "model.png", show_shapes=True)            # doctest: +SKIP
    """
    dot = model_to_dot(model, show_shapes=show_shapes, show_dtype=show_dtype,
                       show_layer_names=show_layer_names, rankdir=rankdir,
                       expand_nested=expand_nested, dpi=dpi,
                       show_layer_activations=show_layer_activations,
                       show_trainable=show_trainable)
    path = os.fspath(to_file)
    extension = os.path.splitext(path)[1][1:].lower() or "png"
    try:
        dot.write(path, format=extension)
    except FileNotFoundError as err:
        raise OSError(
            "plot_model() renders with Graphviz's `dot` program, which was not found. Install "
            "Graphviz (e.g. `apt-get install graphviz` or `brew install graphviz`), or use "
            "model_to_dot(model).to_string() for the DOT text."
        ) from err
    return dot
