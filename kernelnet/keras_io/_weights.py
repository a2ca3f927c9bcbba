"""Keras HDF5 weight files -> the weights of kernelnet layers.

Two layouts exist:

- Keras 3 (`.weights.h5`, and `model.weights.h5` inside a `.keras` zip): a tree
  `layers/<key>/vars/<i>` where `<key>` is the snake-cased class name numbered in `model.layers`
  order (`conv2d`, `conv2d_1`, ...); nested models add `layers/<key>/layers/...`. Recent Keras
  versions also store the layer name as the `name` attribute of each `vars` group.
- Legacy Keras 2 / `model.save("x.h5")`: groups named after the layers, listed in the
  `layer_names` attribute, each with a `weight_names` attribute (`"conv1/kernel:0"`), under
  `model_weights` in full-model files and at the root in weights-only files.

Layers are matched by name when the file has names, otherwise by Keras' order.
"""

from __future__ import annotations

import io
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from kernelnet import _file_checks
from kernelnet.layers.base import _snake_case
from kernelnet.utils import validation

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def require_h5py() -> Any:
    """Imports h5py, or raises an ImportError that says how to install it."""
    try:
        import h5py
    except ImportError as err:
        raise ImportError(
            "Reading or writing Keras files (.keras, .h5, .weights.h5) needs h5py, which is not "
            "installed. Install it with `pip install h5py` or `pip install kernelnet[h5]`."
        ) from err
    return h5py


def is_hdf5(filepath: Any) -> bool:
    """Whether the file starts with the HDF5 signature."""
    try:
        with open(filepath, "rb") as f:
            return f.read(8) == HDF5_MAGIC
    except OSError:
        return False


def is_keras_zip(filepath: Any) -> bool:
    """Whether the file is a Keras 3 `.keras` archive (a zip holding `model.weights.h5`)."""
    if not zipfile.is_zipfile(filepath):
        return False
    with zipfile.ZipFile(filepath) as archive:
        return "model.weights.h5" in archive.namelist()


@contextmanager
def open_weights(filepath: Any) -> Iterator[Any]:
    """Opens the HDF5 weights of a `.keras` zip, `.h5` or `.weights.h5` file, read-only."""
    h5py = require_h5py()
    if is_keras_zip(filepath):
        with zipfile.ZipFile(filepath) as archive:
            buffer = io.BytesIO(_file_checks.read_member(archive, "model.weights.h5",
                                                         repr(str(filepath))))
        with h5py.File(buffer, "r") as f:
            yield f
    elif is_hdf5(filepath):
        with h5py.File(filepath, "r") as f:
            yield f
    else:
        raise ValueError(
            f"{str(filepath)!r} is not a Keras weights file: expected an HDF5 file (.h5, "
            ".weights.h5) or a Keras 3 .keras zip containing model.weights.h5."
        )


def check_datasets(f: Any, source: str) -> int:
    """Checks every object of open HDF5 file `f`; returns the number of values it holds.

    Refused, with a ValueError naming the object: links to other files (an HDF5 *external
    link*), datasets whose data lives in other files (*external* storage) or is assembled from
    other datasets (*virtual*), non-numeric datasets (strings, complex, compound), and datasets
    declaring far more data than they store (a compression bomb). Reading any of those would
    read local files or memory the Keras file does not hold.
    """
    h5py = require_h5py()
    links: list[tuple[str, Any]] = []
    f.visititems_links(lambda name, link: links.append((name, link)))  # raising inside is unsafe
    total = 0
    for name, link in links:
        where = f"{source}, object {name!r}"
        if isinstance(link, h5py.ExternalLink):
            raise ValueError(f"{where} is a link to the file {link.filename!r}. Keras never "
                             "writes links to other files; kernelnet does not follow them.")
        obj = f[name] if isinstance(link, h5py.HardLink) else None   # soft links stay inside
        if not isinstance(obj, h5py.Dataset):
            continue
        if obj.is_virtual or obj.external:
            kind = "a virtual dataset" if obj.is_virtual else "an external dataset"
            raise ValueError(
                f"{where} is {kind}: its data would be read from other files on this machine. "
                "Keras never writes such datasets; refusing to load it."
            )
        _file_checks.check_array_dtype(obj.dtype, name, "weights", source)
        stored = obj.id.get_storage_size()
        if obj.nbytes > _file_checks.MAX_RATIO * stored + _file_checks.RATIO_SLACK:
            raise ValueError(
                f"{where} declares shape {obj.shape} ({obj.nbytes:,} bytes) but stores "
                f"{stored:,} bytes. Refusing a probable compression bomb."
            )
        total += obj.size
    return total


def _text(value: Any) -> str:
    return value.decode("utf8") if isinstance(value, bytes) else str(value)


def _keras_class(layer: Any) -> str:
    from kernelnet.models import Model, Sequential

    if isinstance(layer, Sequential):
        return "Sequential"
    return "Functional" if isinstance(layer, Model) else type(layer).__name__


def model_order(model: Any) -> list[tuple]:
    """`(layer, keras_class_name, sub_order)` for the non-input layers of a kernelnet model."""
    from kernelnet.layers.input_layer import InputLayer
    from kernelnet.models import Model

    layers = [layer for layer in model.layers if not isinstance(layer, InputLayer)]
    if isinstance(model, Model) and _keras_class(model) == "Functional":
        layers = _functional_order(model, layers)
    return [(layer, _keras_class(layer), model_order(layer) if isinstance(layer, Model) else None)
            for layer in layers]


def _functional_order(model: Any, layers: list) -> list:
    """Keras' `Functional.layers` order: by decreasing depth (longest path to an output), ties
    in post-order traversal from the outputs (which is kernelnet's graph order too)."""
    entries = model.get_config()["layers"]
    consumers: dict[str, list[str]] = {e["name"]: [] for e in entries}
    for e in entries:
        for src in e.get("inbound_nodes", []):
            consumers[src].append(e["name"])
    depth: dict[str, int] = {}
    for e in reversed(entries):                       # consumers come after their inputs
        depth[e["name"]] = max((depth[c] + 1 for c in consumers[e["name"]]), default=0)
    index = {e["name"]: i for i, e in enumerate(entries)}
    return sorted(layers, key=lambda layer: (-depth[layer.name], index[layer.name]))


def assign(model: Any, f: Any, order: list[tuple] | None = None, skip_mismatch: bool = False,
           source: str = "the file") -> None:
    """Copies the weights in open HDF5 file `f` into `model` (see the module docstring)."""
    root = f["model_weights"] if "model_weights" in f else f
    if "layer_names" in root.attrs:
        _assign_legacy(model, root, skip_mismatch, source)
    elif "layers" in root:
        used = _assign_keras3(order or model_order(model), root, skip_mismatch, source)
        _check_unused(root, used, skip_mismatch, source)
    else:
        raise ValueError(
            f"{source} holds no Keras weights: expected a `layers` group (Keras 3) or a "
            "`layer_names` attribute (legacy HDF5)."
        )


def _vars(group: Any) -> list[Any]:
    """The datasets of `group/vars`, in index order (read later, by `_set`)."""
    if "vars" not in group:
        return []
    names = sorted(group["vars"].keys(), key=int)
    return [_dataset(group["vars"], n) for n in names]


def _dataset(group: Any, name: str) -> Any:
    h5py = require_h5py()
    obj = group.get(name)
    if not isinstance(obj, h5py.Dataset):
        raise ValueError(f"Expected a weight array at {group.name}/{name} in the Keras file. "
                         f"Received: {type(obj).__name__}.")
    return obj


def _assign_keras3(order: list[tuple], group: Any, skip: bool, source: str) -> set[str]:
    """Assigns `group["layers"]` children to the layers of `order`; returns the used h5 paths."""
    children = group["layers"] if "layers" in group else {}
    by_name = {}
    for key in children:
        vars_group = children[key].get("vars")
        if vars_group is not None and "name" in vars_group.attrs:
            by_name[_text(vars_group.attrs["name"])] = key
    counts: dict[str, int] = {}
    used: set[str] = set()
    for layer, class_name, sub_order in order:
        base = _snake_case(class_name)
        n = counts.get(base, 0)
        counts[base] = n + 1
        key = by_name.get(layer.name, base if n == 0 else f"{base}_{n}")
        if key not in children:
            if layer.weights:
                _missing(layer, source, skip)
            continue
        used.add(children[key].name)
        if sub_order is not None:
            used |= _assign_keras3(sub_order, children[key], skip, source)
        else:
            _set(layer, _vars(children[key]), skip, source)
    return used


def _check_unused(root: Any, used: set[str], skip: bool, source: str) -> None:
    unused = []

    def visit(name: str, obj: Any) -> None:
        if name.endswith("/vars") and len(obj) and not name.startswith("optimizer"):
            owner = obj.parent.name
            if owner not in used:
                unused.append(_text(obj.attrs.get("name", owner)))

    root.visititems(visit)
    if unused and not skip:
        raise ValueError(
            f"{source} has weights for layers the model does not have: {sorted(unused)}. "
            "Pass skip_mismatch=True to ignore them."
        )


def _missing(layer: Any, source: str, skip: bool) -> None:
    message = (f"{validation.describe(layer)} has weights but {source} has none for it "
               "(no layer with that name or position).")
    if not skip:
        raise ValueError(message + " Pass skip_mismatch=True to leave it as initialized.")
    warnings.warn(message + " It keeps its initial weights.", stacklevel=4)


def _set(layer: Any, datasets: list[Any], skip: bool, source: str) -> None:
    """Reads `datasets` into `layer` when their shapes match its weights; otherwise lets
    `set_weights` explain the mismatch, with zero-stride placeholders (nothing allocated)."""
    shapes = [tuple(d.shape) for d in datasets]
    if shapes == [w.shape for w in layer.weights]:
        arrays = [np.asarray(d) for d in datasets]
    else:
        arrays = [np.broadcast_to(np.zeros((), d.dtype), d.shape) for d in datasets]
    try:
        layer.set_weights(arrays)
    except ValueError as err:
        if not skip:
            raise ValueError(f"While loading {source}: {err}") from err
        warnings.warn(f"Skipped loading weights of layer {layer.name!r}: {err}", stacklevel=4)


def _legacy_layer(group: Any) -> list[tuple[str, Any]]:
    names = [_text(n) for n in group.attrs.get("weight_names", [])]
    return [(n, _dataset(group, n)) for n in names]


def _assign_legacy(model: Any, root: Any, skip: bool, source: str) -> None:
    file_layers = {}
    for name in (_text(n) for n in root.attrs["layer_names"]):
        weights = _legacy_layer(root[name])
        if weights:
            file_layers[name] = weights
    targets = [layer for layer, _, _ in model_order(model) if layer.weights]
    model_names = {layer.name for layer in targets}
    if set(file_layers) <= model_names:
        pairs = [(layer, file_layers.get(layer.name)) for layer in targets]
    elif len(file_layers) == len(targets):                      # Keras' by-order loading
        pairs = list(zip(targets, file_layers.values()))
    else:
        extra = sorted(set(file_layers) - model_names)
        raise ValueError(
            f"{source} has weights for {len(file_layers)} layers and the model has "
            f"{len(targets)} layers with weights; the file's layers {extra} are not in the model, "
            "so they can be matched neither by name nor by order."
        )
    for layer, named in pairs:
        if named is None:
            _missing(layer, source, skip)
        else:
            _set(layer, _order_by_name(layer, named), skip, source)


def _order_by_name(layer: Any, named: list[tuple[str, np.ndarray]]) -> list[np.ndarray]:
    """The file's arrays in the layer's weight order, matched on "layer/weight" name suffixes.

    Keras 2 stores trainable weights before non-trainable ones for nested models, which is not
    creation order; matching names undoes that. Falls back to file order.
    """
    stripped = [(n.split(":")[0], a) for n, a in named]
    result = []
    for wanted in layer.weight_names if hasattr(layer, "weight_names") else []:
        short = wanted.split("/", 1)[-1] if not _is_model(layer) else wanted
        match = [a for n, a in stripped if n == short or n.endswith("/" + short)]
        if len(match) != 1:
            return [a for _, a in named]
        result.append(match[0])
    return result if len(result) == len(named) else [a for _, a in named]


def _is_model(layer: Any) -> bool:
    from kernelnet.models import Model

    return isinstance(layer, Model)


def read_model_config(filepath: Path) -> tuple[dict, dict | None]:
    """The model config and (if present) the training/compile config of a Keras model file."""
    where = repr(str(filepath))
    if is_keras_zip(filepath):
        with zipfile.ZipFile(filepath) as archive:
            blob = _file_checks.read_member(archive, "config.json", where,
                                            _file_checks.MAX_CONFIG_BYTES)
        config = _file_checks.load_json(blob, "config.json", where)
        training = config.get("compile_config") if isinstance(config, dict) else None
    else:
        with open_weights(filepath) as f:
            if "model_config" not in f.attrs:
                raise ValueError(
                    f"{str(filepath)!r} holds only weights (no `model_config`). Build the "
                    "model in kernelnet and call model.load_weights(path) instead."
                )
            config = _file_checks.load_json(_text(f.attrs["model_config"]), "model_config",
                                            where)
            training = f.attrs.get("training_config")
            training = (None if training is None else
                        _file_checks.load_json(_text(training), "training_config", where))
    if not isinstance(config, dict):
        raise ValueError(f"The model config in {where} is not a JSON object. Received: "
                         f"{str(config)[:100]!r}.")
    return config, training
