"""`Model.summary()`: Keras' table plus multiply-adds per sample and activation memory."""

from __future__ import annotations

import math
import shutil
import textwrap
from dataclasses import dataclass
from typing import Any

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
    in_shapes = model.batch_input_shape if model._multi_input else [model.batch_input_shape]
    shapes = dict(zip(model._input_ids, [tuple(s) for s in in_shapes]))
    names = {i: model._layers[i].name for i in model._input_ids} if model._layers and \
        type(model).__name__ != "Sequential" else {}
    rows = []
    if names:
        for i in model._input_ids:
            layer = model._layers[i]
            rows.append(Row(layer.name, type(layer).__name__, shapes[i], 0, 0, [], True))
    for node in model._nodes:
        args = [shapes[i] for i in node.in_ids]
        arg = args if node.multi else args[0]
        shapes[node.out_id] = tuple(node.layer.compute_output_shape(arg))
        names[node.out_id] = node.layer.name
        rows.append(Row(node.layer.name, type(node.layer).__name__, shapes[node.out_id],
                        node.layer.count_params(), int(node.layer.compute_macs(arg)),
                        [names[i] for i in node.in_ids if i in names], node.layer.trainable))
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


# Columns: (header, preferred width, narrowest width). Cells wrap onto more lines when the
# table is narrower than preferred; nothing is cut off.
_COLUMNS = {"layer": ("Layer (type)", 32, 12), "shape": ("Output Shape", 24, 10),
            "params": ("Param #", 12, 8), "macs": ("MACs/sample", 13, 7),
            "memory": ("Act. mem (batch {})", 20, 9), "connected": ("Connected to", 24, 10),
            "trainable": ("Trainable", 10, 6)}


def column_widths(preferred: list[int], narrowest: list[int], total: int,
                  needed: list[int] | None = None) -> list[int]:
    """Widths summing to `total` (or to the narrowest table, if wider). Each column gets its
    narrowest width; the spare width goes first to the columns whose cells still wrap
    (`needed`: the longest cell + 1), in proportion to what they lack, then towards the
    preferred widths, and what is left to the column that lacks the most.

    Example:
        >>> column_widths([32, 24, 12], [14, 12, 8], 48)
        [23, 16, 9]
        >>> column_widths([32, 24, 12], [14, 12, 8], 48, needed=[30, 14, 8])
        [26, 14, 8]
    """
    widths = list(narrowest)
    for target in (needed or preferred, preferred):
        spare = total - sum(widths)
        lack = [max(t - w, 0) for t, w in zip(target, widths)]
        if spare > 0 and sum(lack):
            share = min(spare / sum(lack), 1.0)
            widths = [w + int(gap * share) for w, gap in zip(widths, lack)]
    while sum(widths) < total:
        lack = [p - w for p, w in zip(preferred, widths)]
        widths[lack.index(max(lack)) if max(lack) > 0 else 0] += 1
    return widths


def _positions_to_widths(positions: list[float], total: int) -> list[int]:
    """Keras' `positions`: right edges of the columns, as fractions of the line or columns."""
    edges = [int(p * total) if p <= 1 else int(p) for p in positions]
    return [b - a for a, b in zip([0, *edges], edges)]


def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, max(width - 1, 1), break_on_hyphens=False) or [""]


def print_summary(model, line_length: int | None = None, print_fn=None, batch_size: int = 32,
                  show_trainable: bool = False, positions: Any = None) -> None:
    """Prints the layer table, as wide as `line_length` or else as the terminal (at most
    the preferred width of every column), wrapping long cells as Keras 3 does."""
    print_fn = print_fn or print
    rows = layer_rows(model)
    functional = type(model).__name__ != "Sequential"
    itemsize = np.dtype(model.dtype).itemsize
    keys = ["layer", "shape", "params", "macs", "memory"]
    keys += ["connected"] if functional else []
    keys += ["trainable"] if show_trainable else []
    headers = [_COLUMNS[k][0].format(batch_size) for k in keys]
    preferred = [_COLUMNS[k][1] for k in keys]
    table = []
    for row in rows:
        cells = [f"{row.name} ({row.type})", _fmt_shape(row.output_shape), f"{row.params:,}",
                 _fmt_count(row.macs),
                 _fmt_bytes(sample_bytes(row.output_shape, itemsize) * batch_size)]
        if functional:
            cells.append(", ".join(row.connected_to))
        if show_trainable:
            cells.append("Y" if row.trainable else "N")
        table.append(cells)
    total = line_length or min(shutil.get_terminal_size().columns, sum(preferred))
    # narrowest widths that break no word (a layer name, a header word), if the line allows
    longest = [max(len(word) + 1 for cells in [headers, *table] for word in cells[i].split()
                   or [""]) for i in range(len(keys))]
    needed = [min(max(len(cells[i]) + 1 for cells in table), p) for i, p in enumerate(preferred)]
    narrowest = [_COLUMNS[k][2] for k in keys]
    for i in sorted(range(len(keys)), key=lambda i: longest[i] - narrowest[i]):  # cheap first
        whole = min(max(narrowest[i], longest[i]), preferred[i])
        if sum(narrowest) - narrowest[i] + whole <= total:
            narrowest[i] = whole
    if positions is not None and len(positions) == len(keys):
        widths = _positions_to_widths(list(positions), total)
    else:
        needed = [max(n, w) for n, w in zip(needed, narrowest)]
        widths = column_widths(preferred, narrowest, total, needed)
    total = sum(widths)

    def emit(cells: list[str]) -> None:
        wrapped = [_wrap(str(c), w) for c, w in zip(cells, widths)]
        for k in range(max(map(len, wrapped))):
            print_fn("".join((w[k] if k < len(w) else "").ljust(width)
                             for w, width in zip(wrapped, widths)).rstrip())

    print_fn(f'Model: "{model.name}"')
    print_fn("_" * total)
    emit(headers)
    print_fn("=" * total)
    for i, cells in enumerate(table):
        emit(cells)
        print_fn(("=" if i == len(table) - 1 else "_") * total)
    trainable = sum(w.size for w in model.trainable_weights)
    non_trainable = sum(w.size for w in model.non_trainable_weights)
    print_fn(f"Total params: {trainable + non_trainable:,} "
             f"({_fmt_bytes((trainable + non_trainable) * itemsize)})")
    print_fn(f"Trainable params: {trainable:,} ({_fmt_bytes(trainable * itemsize)})")
    print_fn(f"Non-trainable params: {non_trainable:,} ({_fmt_bytes(non_trainable * itemsize)})")
    print_fn(f"Multiply-adds per sample: {_fmt_count(sum(r.macs for r in rows))}")
    print_fn("_" * total)
