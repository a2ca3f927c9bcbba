"""kernelnet models -> Keras 3 files: `.keras` archives, legacy `.h5` models, `.weights.h5`.

The inverse of `_translate.py` and `_weights.py`: kernelnet layer configs already use Keras'
class names and keys, so writing a layer means turning its config into Keras 3's serialized
form (dtype policies, initializer dicts, `"linear"` for no activation) and adding back the
Keras-only keys listed for it in `KERAS_LAYERS`. Weights go where Keras 3 puts them:
`layers/<snake_class>[_n]/vars/<i>` (trainable variables first), numbered in Keras' layer order,
which `_weights.model_order` already computes for reading. Every layer is checked before
anything is written, and files are written atomically (`kernelnet._atomic_write`).
"""

from __future__ import annotations

import datetime
import io
import json
import zipfile
from typing import Any

import numpy as np

from kernelnet.keras_io._translate import _KERAS_DEFAULTS, KERAS_LAYERS
from kernelnet.keras_io._weights import _keras_class, model_order, require_h5py
from kernelnet.layers.base import _snake_case
from kernelnet.utils import validation

# The Keras release whose file layout this mirrors (and that the tests load the files with).
KERAS_VERSION = "3.15.1"
_MODELS = ("Sequential", "Functional")
# Keras initializer arguments; anything else in a kernelnet initializer config is not Keras'.
_INIT_KEYS = ("mean", "stddev", "minval", "maxval", "value", "scale", "mode", "distribution",
              "seed")
_NO_SEED = ("Zeros", "Ones", "Constant")
# kernelnet's Glorot/He/LeCun initializers are VarianceScaling instances; Keras names them.
_VARIANCE_SCALING_NAMES = {
    (1.0, "fan_avg", "uniform"): "GlorotUniform", (1.0, "fan_avg", "truncated_normal"):
    "GlorotNormal", (2.0, "fan_in", "uniform"): "HeUniform", (2.0, "fan_in", "truncated_normal"):
    "HeNormal", (1.0, "fan_in", "uniform"): "LecunUniform", (1.0, "fan_in", "truncated_normal"):
    "LecunNormal",
}


# Base-layer keys a Keras layer does not take (its `__init__` has no `**kwargs`).
_NOT_TAKEN = {"SpatialDropout2D": ("trainable",)}


def _policy(dtype: str) -> dict:
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": str(dtype)},
            "registered_name": None}


def _initializer(value: Any) -> Any:
    """A kernelnet initializer argument -> Keras' serialized initializer."""
    if value is None:
        return None
    if isinstance(value, str):
        class_name = "".join(p.capitalize() for p in value.split("_"))
        config: dict = {} if class_name in _NO_SEED else {"seed": None}
    else:
        class_name = value.get("class_name")
        raw = value.get("config") or {}
        config = {k: raw[k] for k in _INIT_KEYS if k in raw
                  and isinstance(raw[k], (int, float, str, type(None)))}
        if class_name == "VarianceScaling":
            key = (float(config.get("scale", 1.0)), config.get("mode"), config.get("distribution"))
            if key in _VARIANCE_SCALING_NAMES:
                class_name, config = _VARIANCE_SCALING_NAMES[key], {"seed": config.get("seed")}
    return {"module": "keras.initializers", "class_name": class_name, "config": config,
            "registered_name": None}


def _plain(value: Any) -> Any:
    return [_plain(v) for v in value] if isinstance(value, (list, tuple)) else value


def check_exportable(model: Any) -> None:
    """Raises a ValueError naming the first layer Keras has no equivalent for."""
    from kernelnet.layers.input_layer import InputLayer

    for layer in getattr(model, "layers", []):
        class_name = _keras_class(layer)
        if class_name in _MODELS:
            check_exportable(layer)
        elif class_name not in KERAS_LAYERS and not isinstance(layer, InputLayer):
            raise ValueError(
                f"{validation.describe(layer)} has no Keras equivalent, so the model cannot be "
                f"written as a Keras file (nothing was written). Keras files can hold: "
                f"{', '.join(sorted(KERAS_LAYERS))}. Save it in kernelnet's own format "
                "instead, e.g. model.save('model.kn')."
            )
        activation = getattr(layer, "activation", None)
        if activation is not None and not isinstance(activation, str):
            raise ValueError(
                f"{validation.describe(layer)} uses a custom activation {activation!r}, which "
                "a Keras file cannot name. Use a built-in activation name."
            )


def layer_config(layer: Any) -> dict:
    """The Keras 3 `config` dict of one (non-model) layer."""
    class_name = type(layer).__name__
    config = {}
    for key, value in layer.get_config().items():
        if key in ("batch_input_shape", "input_shape", "input_dim", "batch_size",
                   *_NOT_TAKEN.get(class_name, ())):
            continue                      # input shapes live on Keras' InputLayer
        if key == "dtype":
            value = _policy(value)
        elif key.endswith("_initializer"):
            value = _initializer(value)
        elif key == "activation":
            value = value or "linear"
        config[key] = _plain(value)
    for key in KERAS_LAYERS[class_name]:
        config.setdefault(key, _KERAS_DEFAULTS[key][0])
    return config


def _input_entry(name: str, shape: Any, dtype: str) -> dict:
    return {"module": "keras.layers", "class_name": "InputLayer",
            "config": {"batch_shape": _plain(shape), "dtype": dtype, "sparse": False,
                       "name": name},
            "registered_name": None}


def _entry(layer: Any, input_shape: Any) -> dict:
    """`{"module", "class_name", "config", "registered_name", "build_config"}` for a layer."""
    class_name = _keras_class(layer)
    if class_name in _MODELS:
        entry = model_config(layer)
    else:
        entry = {"module": "keras.layers", "class_name": class_name,
                 "config": layer_config(layer), "registered_name": None}
    entry["build_config"] = {"input_shape": _plain(input_shape)}
    return entry


def model_config(model: Any) -> dict:
    """The Keras 3 `config.json` dict of a kernelnet Sequential or functional model."""
    check_exportable(model)
    if _keras_class(model) == "Sequential":
        return _sequential_config(model)
    return _functional_config(model)


def _sequential_config(model: Any) -> dict:
    shape = model.batch_input_shape
    if shape is None:
        raise ValueError(
            f"Sequential {model.name!r} is not built, so its input shape is unknown and a Keras "
            "file cannot be written. Call model.build(input_shape) or pass input_shape= first."
        )
    layers = [_input_entry(f"{model.name}_input", shape, model.dtype)]
    for layer in model.layers:
        layers.append(_entry(layer, shape))
        shape = layer.compute_output_shape(tuple(shape))
    config = {"name": model.name, "trainable": model.trainable, "dtype": _policy(model.dtype),
              "layers": layers, "build_input_shape": _plain(model.batch_input_shape)}
    return {"module": "keras", "class_name": "Sequential", "config": config,
            "registered_name": None,
            "build_config": {"input_shape": _plain(model.batch_input_shape)}}


def _tensor(name: str, shape: Any, dtype: str) -> dict:
    return {"class_name": "__keras_tensor__",
            "config": {"shape": _plain(shape), "dtype": dtype, "keras_history": [name, 0, 0]}}


def _functional_config(model: Any) -> dict:
    shapes: dict[int, Any] = {}
    producer: dict[int, Any] = {}
    layers = []
    for tid, tensor in zip(model._input_ids, model._symbolic_inputs):
        shapes[tid], producer[tid] = tensor.shape, tensor.layer
        entry = _input_entry(tensor.layer.name, tensor.shape, tensor.layer.dtype)
        layers.append({**entry, "name": tensor.layer.name, "inbound_nodes": []})
    for node in model._nodes:
        in_shapes = [shapes[i] for i in node.in_ids]
        tensors = [_tensor(producer[i].name, shapes[i], producer[i].dtype) for i in node.in_ids]
        entry = _entry(node.layer, in_shapes if node.multi else in_shapes[0])
        entry["name"] = node.layer.name
        entry["inbound_nodes"] = [{"args": [tensors] if node.multi else tensors, "kwargs": {}}]
        layers.append(entry)
        shapes[node.out_id] = node.layer.compute_output_shape(
            in_shapes if node.multi else in_shapes[0])
        producer[node.out_id] = node.layer

    def ends(ids: list[int], multi: bool) -> list:
        refs = [[producer[i].name, 0, 0] for i in ids]
        return refs if multi else refs[0]

    config = {"name": model.name, "trainable": model.trainable, "layers": layers,
              "input_layers": ends(model._input_ids, model._multi_input),
              "output_layers": ends(model._output_ids, model._multi_output)}
    return {"module": "keras.src.models.functional", "class_name": "Functional",
            "config": config, "registered_name": "Functional",
            "build_config": {"input_shape": None}}


def compile_config(model: Any) -> dict | None:
    """Keras 3's `compile_config` for a compiled model, or None (with a warning for what Keras
    cannot name: a learning-rate schedule, Keras 2's `decay`, a custom loss or metric)."""
    import warnings

    from kernelnet.keras_io._translate import KERAS_OPTIMIZERS

    compiled = getattr(model, "_compile_config", None)
    if not compiled or getattr(model, "optimizer", None) is None:
        return None
    from kernelnet import optimizers

    # the optimizer as it is now (a learning rate lowered since compile() is kept), as saving.py
    optimizer = optimizers.serialize(model.optimizer)
    config = dict(optimizer.get("config", {}))
    loss, metrics = compiled.get("loss"), compiled.get("metrics") or None
    problems = []
    if optimizer.get("class_name") not in KERAS_OPTIMIZERS:
        problems.append(f"optimizer {optimizer.get('class_name')!r}")
    if config.pop("decay", 0):
        problems.append("the optimizer's Keras 2 `decay`")
    if not isinstance(config.get("learning_rate"), (int, float)):
        problems.append("a learning-rate schedule")
    if isinstance(loss, dict):
        loss = {"module": "keras.losses", **loss, "registered_name": None}
    elif not isinstance(loss, (str, type(None))):
        problems.append(f"loss {loss!r}")
    if metrics and not all(isinstance(m, str) for m in metrics):
        problems.append(f"metrics {metrics!r}")
    if problems:
        warnings.warn(
            f"Model {model.name!r} is written without its compile settings, because Keras "
            f"cannot name {', '.join(problems)}; compile it again after loading it in Keras.",
            stacklevel=4,
        )
        return None
    return {"optimizer": {"module": "keras.optimizers", "class_name": optimizer["class_name"],
                          "config": config, "registered_name": None},
            "loss": loss, "loss_weights": None, "metrics": metrics, "weighted_metrics": None,
            "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False}


def _optimizer_vars(f: Any, model: Any, compiled: dict | None) -> None:
    """An unbuilt Keras optimizer's two variables (iterations 0, learning rate): Keras then
    loads the file without warning; slots such as Adam's moments start fresh, as after
    `compile()`."""
    if compiled is None:
        return
    group = f.create_group("optimizer").create_group("vars")
    group.attrs["name"] = compiled["optimizer"]["config"].get("name", "optimizer")
    group["0"] = np.int64(0)
    group["1"] = np.float32(compiled["optimizer"]["config"]["learning_rate"])


def _legacy_config(entry: dict) -> dict:
    """Keras' legacy `.h5` form of a model or layer entry: without `module`,
    `registered_name` and `build_config` at the entry level (initializers keep theirs)."""
    out = {k: v for k, v in entry.items() if k not in ("module", "registered_name",
                                                        "build_config")}
    if isinstance(out.get("config"), dict) and "layers" in out["config"]:
        out["config"] = {**out["config"],
                         "layers": [_legacy_config(e) for e in out["config"]["layers"]]}
    return out


# ---------------------------------------------------------------- weights
def _own_vars(layer: Any) -> list[tuple[str, np.ndarray, bool]]:
    """A layer's `(name, array, trainable)`, trainable variables first (Keras' variable order)."""
    entries = [(w.name, w.value, w.trainable) for w in layer._weights]
    return [e for e in entries if e[2]] + [e for e in entries if not e[2]]


def _h5_layers(group: Any, model: Any) -> None:
    """Keras 3's `layers/<key>/vars/<i>` tree for the layers of `model` under `group`."""
    from kernelnet.layers.input_layer import InputLayer

    group.create_group("vars").attrs["name"] = model.name
    layers_group = group.create_group("layers")
    order = [(layer, "InputLayer", None) for layer in model.layers
             if isinstance(layer, InputLayer) and _keras_class(model) == "Functional"]
    counts: dict[str, int] = {}
    for layer, class_name, sub_order in order + model_order(model):
        base = _snake_case(class_name)
        key = base if base not in counts else f"{base}_{counts[base] + 1}"
        counts[base] = counts.get(base, -1) + 1
        child = layers_group.create_group(key)
        if sub_order is not None:
            _h5_layers(child, layer)
            continue
        vars_group = child.create_group("vars")
        vars_group.attrs["name"] = layer.name
        for i, (_, value, _) in enumerate(_own_vars(layer)):
            vars_group[str(i)] = value


def _legacy_vars(layer: Any, trainable: bool = True,
                 prefix: str = "") -> list[tuple[str, np.ndarray, bool]]:
    """`(path, array, trainable)` in Keras' `layer.weights` order, paths as Keras' `w.path`
    (a Sequential puts its name in front of its layers' paths, a functional model does not)."""
    trainable = trainable and layer.trainable
    class_name = _keras_class(layer)
    if class_name in _MODELS:
        inner = prefix + (f"{layer.name}/" if class_name == "Sequential" else "")
        found = []
        for sub, _, _ in model_order(layer):
            found += _legacy_vars(sub, trainable, inner)
        return found
    return [(f"{prefix}{layer.name}/{n}", a, t and trainable) for n, a, t in _own_vars(layer)]


def _write_legacy_weights(group: Any, model: Any) -> None:
    """Keras' legacy HDF5 weights: one group per layer, `layer_names` in Keras' layer order."""
    from kernelnet.layers.input_layer import InputLayer

    inputs = [layer for layer in model.layers if isinstance(layer, InputLayer)]
    layers = ([] if _keras_class(model) == "Sequential" else inputs) + [
        layer for layer, _, _ in model_order(model)]
    group.attrs["layer_names"] = [layer.name.encode("utf8") for layer in layers]
    group.attrs["backend"] = b"numpy"
    group.attrs["keras_version"] = KERAS_VERSION.encode("utf8")
    prefix = f"{model.name}/" if _keras_class(model) == "Sequential" else ""
    for layer in sorted(layers, key=lambda item: item.name):
        found = _legacy_vars(layer, prefix=prefix)
        ordered = [v for v in found if v[2]] + [v for v in found if not v[2]]
        layer_group = group.create_group(layer.name)
        layer_group.attrs["weight_names"] = np.array([p.encode("utf8") for p, _, _ in ordered],
                                                     dtype=object if ordered else np.float64)
        for path, value, _ in ordered:
            layer_group.create_dataset(path, data=value)
    top = group.create_group("top_level_model_weights")
    top.attrs["weight_names"] = np.array([], dtype=np.float64)


def _h5_bytes(fill: Any) -> bytes:
    h5py = require_h5py()
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        fill(f)
    return buffer.getvalue()


def _metadata() -> str:
    from kernelnet import __version__

    return json.dumps({"keras_version": KERAS_VERSION,
                       "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
                       "kernelnet_version": __version__})


def save_keras_model(model: Any, filepath: Any, overwrite: bool = True) -> None:
    """Writes a Keras 3 `.keras` archive (metadata.json, config.json, model.weights.h5)."""
    from kernelnet._atomic_write import atomic_write

    config = model_config(model)
    compiled = compile_config(model)
    if compiled is not None:
        config["compile_config"] = compiled

    def fill(f: Any) -> None:
        _h5_layers(f, model)
        _optimizer_vars(f, model, compiled)

    weights = _h5_bytes(fill)

    def write(f: Any) -> None:
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as zf:
            zf.writestr("metadata.json", _metadata())
            zf.writestr("config.json", json.dumps(config))
            zf.writestr("model.weights.h5", weights)

    atomic_write(filepath, write, overwrite)


def save_legacy_h5(model: Any, filepath: Any, overwrite: bool = True) -> None:
    """Writes Keras' legacy full-model HDF5 (`model_config` attribute + `model_weights`)."""
    from kernelnet._atomic_write import atomic_write

    config = json.dumps(_legacy_config(model_config(model)))
    compiled = compile_config(model)

    def fill(f: Any) -> None:
        f.attrs["backend"] = "numpy"
        f.attrs["keras_version"] = KERAS_VERSION
        f.attrs["model_config"] = config
        if compiled is not None:
            training = {k: v for k, v in compiled.items() if k != "optimizer"}
            training["optimizer_config"] = _legacy_config(compiled["optimizer"])
            if isinstance(training["loss"], dict):
                training["loss"] = _legacy_config(training["loss"])
            f.attrs["training_config"] = json.dumps(training)
        _write_legacy_weights(f.create_group("model_weights"), model)

    data = _h5_bytes(fill)
    atomic_write(filepath, lambda f: f.write(data), overwrite)


def save_keras_weights(model: Any, filepath: Any, overwrite: bool = True) -> None:
    """Writes the weights only: Keras 3's `.weights.h5` layout, or the legacy layout for `.h5`."""
    from kernelnet._atomic_write import atomic_write

    check_exportable(model)
    if str(filepath).endswith(".weights.h5"):
        data = _h5_bytes(lambda f: _h5_layers(f, model))
    else:
        data = _h5_bytes(lambda f: _write_legacy_weights(f, model))
    atomic_write(filepath, lambda f: f.write(data), overwrite)
