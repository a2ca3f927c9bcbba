"""`Model.summary()`: Keras' table plus multiply-adds per sample and activation memory."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class Row:
    name: str
    type: str
    output_shape: tuple
    params: int
    macs: int
    connected_to: list
    trainable: bool


def layer_rows(model) -> list[Row]:
    """One row per layer, with the output shape of each for the model's input shape."""
    if not model.built:
        raise ValueError(
            f"Model {model.name!r} has not yet been built. Build it first by calling `build()` "
            "or by calling the model on a batch of data (or give the first layer `input_shape`)."
        )
    if model._subclassed:
        return _subclassed_rows(model)
    in_shapes = model.batch_input_shape if model._multi_input else [model.batch_input_shape]
    shapes = dict(zip(model._input_ids, [tuple(s) for s in in_shapes]))
    names = {i: model._layers[i].name for i in model._input_ids} if model._layers and \
        type(model).__name__ != "Sequential" else {}
    rows = []
    if names:
        for i in model._input_ids:
            layer = model._layers[i]
            rows.append(Row(layer.name, type(layer).__name__, shapes[i], 0, 0, [], True))
    counted: set[int] = set()  # a shared layer's parameters count at its first call only
    for node in model._nodes:
        args = [shapes[i] for i in node.in_ids]
        arg = args if node.multi else args[0]
        shapes[node.out_id] = tuple(node.layer.compute_output_shape(arg))
        names[node.out_id] = node.layer.name
        params = 0 if id(node.layer) in counted else node.layer.count_params()
        counted.add(id(node.layer))
        rows.append(Row(node.layer.name, type(node.layer).__name__, shapes[node.out_id],
                        params, int(node.layer.compute_macs(arg)),
                        [names[i] for i in node.in_ids if i in names], node.layer.trainable))
    return rows


def _subclassed_rows(model) -> list[Row]:
    """Rows for the layers a subclassed model holds, with the shapes seen by running `call()`
    once on zeros of the model's input shape (batch of 1, nothing recorded)."""
    from kernelnet.autodiff import stop_recording
    from kernelnet.layers.base import record_shapes

    def zeros(shape):
        return np.zeros([1 if d is None else d for d in shape], dtype=model.dtype)

    shape = model.batch_input_shape
    x = [zeros(s) for s in shape] if model._multi_input else zeros(shape)
    with record_shapes() as seen, stop_recording():
        model(x, training=False)
    model._clear_losses()
    rows = []
    for layer in model.layers:
        in_shape, out_shape = seen.get(id(layer), (None, None))
        batch = (lambda s: (None, *s[1:])) if out_shape is not None else None
        out = [batch(s) for s in out_shape] if isinstance(out_shape, list) else (
            batch(out_shape) if batch else ())
        macs = int(layer.compute_macs(in_shape)) if in_shape is not None else 0
        rows.append(Row(layer.name, type(layer).__name__, out, layer.count_params(), macs, [],
                        layer.trainable))
    return rows


def sample_bytes(shape: tuple | list, itemsize: int) -> int:
    """Bytes of one sample of an output shape (of several, for a list of shapes)."""
    if isinstance(shape, list):
        return sum(sample_bytes(s, itemsize) for s in shape)
    return math.prod(d for d in shape[1:] if d is not None) * itemsize


def activation_bytes(model) -> int:
    """Bytes of all layer outputs for one sample (what a forward pass allocates per sample).

    Example:
        >>> from kernelnet import layers
        >>> from kernelnet.models import Sequential
        >>> activation_bytes(Sequential([layers.Dense(3, input_shape=(4,)), layers.ReLU()]))
        24
    """
    itemsize = np.dtype(model.dtype).itemsize
    return sum(sample_bytes(row.output_shape, itemsize) for row in layer_rows(model))


def _fmt_shape(shape) -> str:
    if isinstance(shape, list):
        return ", ".join(_fmt_shape(s) for s in shape)
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + \
        ("," if len(shape) == 1 else "") + ")"


def _fmt_count(n: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return str(int(n))


def _fmt_bytes(n: float) -> str:
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{int(n)} B"


def print_summary(model, line_length: int | None = None, print_fn=None, batch_size: int = 32,
                  show_trainable: bool = False) -> None:
    print_fn = print_fn or print
    rows = layer_rows(model)
    functional = type(model).__name__ != "Sequential"
    itemsize = np.dtype(model.dtype).itemsize
    headers = ["Layer (type)", "Output Shape", "Param #", "MACs/sample",
               f"Act. mem (batch {batch_size})"]
    widths = [32, 24, 12, 13, 20]
    if functional:
        headers.append("Connected to")
        widths.append(24)
    if show_trainable:
        headers.append("Trainable")
        widths.append(10)
    total = line_length or sum(widths)

    def line(cells):
        text = "".join(str(c)[: w - 1].ljust(w) for c, w in zip(cells, widths))
        return text[:total]

    print_fn(f'Model: "{model.name}"')
    print_fn("_" * total)
    print_fn(line(headers))
    print_fn("=" * total)
    for i, row in enumerate(rows):
        shape = row.output_shape
        act = sample_bytes(shape, itemsize) * batch_size
        cells = [f"{row.name} ({row.type})", _fmt_shape(shape), f"{row.params:,}",
                 _fmt_count(row.macs), _fmt_bytes(act)]
        if functional:
            cells.append(", ".join(row.connected_to))
        if show_trainable:
            cells.append("Y" if row.trainable else "N")
        print_fn(line(cells))
        print_fn(("=" if i == len(rows) - 1 else "_") * total)
    trainable = sum(w.size for w in model.trainable_weights)
    non_trainable = sum(w.size for w in model.non_trainable_weights)
    print_fn(f"Total params: {trainable + non_trainable:,} "
             f"({_fmt_bytes((trainable + non_trainable) * itemsize)})")
    print_fn(f"Trainable params: {trainable:,} ({_fmt_bytes(trainable * itemsize)})")
    print_fn(f"Non-trainable params: {non_trainable:,} ({_fmt_bytes(non_trainable * itemsize)})")
    print_fn(f"Multiply-adds per sample: {_fmt_count(sum(r.macs for r in rows))}")
    print_fn("_" * total)
