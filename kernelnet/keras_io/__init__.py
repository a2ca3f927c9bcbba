"""Reading and writing Keras files (h5py is an optional dependency).

Reads Keras 3 `.keras` archives (config.json + model.weights.h5), legacy full-model `.h5` files
(Keras 2, or Keras 3's `model.save("x.h5")`) and weight files (`.weights.h5`, legacy `.h5`), for
every layer kernelnet has. `kernelnet.saving.load_model` / `load_weights` dispatch here for
HDF5 files and for zips that contain `model.weights.h5`; `save`/`save_weights` dispatch to
`save_keras_model`, `save_legacy_h5` and `save_keras_weights` for `.keras`, `.h5` and
`.weights.h5` paths, which write the same formats for Keras to load.

Example:
    >>> from kernelnet import keras_io
    >>> model = keras_io.load_keras_model("mnist_cnn.keras")        # doctest: +SKIP
    >>> keras_io.load_keras_weights(model, "mnist_cnn.weights.h5")  # doctest: +SKIP
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from kernelnet import _file_checks
from kernelnet.keras_io._export import (
    check_exportable,
    model_config,
    save_keras_model,
    save_keras_weights,
    save_legacy_h5,
)
from kernelnet.keras_io._translate import (
    model_from_keras_config,
    supported_layer_names,
    translate_layer_config,
)
from kernelnet.keras_io._weights import (
    HDF5_MAGIC,
    assign,
    check_datasets,
    is_hdf5,
    is_keras_zip,
    open_weights,
    read_model_config,
    require_h5py,
)

__all__ = [
    "HDF5_MAGIC", "check_exportable", "is_hdf5", "is_keras_file", "is_keras_zip",
    "load_keras_model", "load_keras_weights", "model_config", "model_from_keras_config",
    "save_keras_model", "save_keras_weights", "save_legacy_h5", "supported_layer_names",
    "translate_layer_config",
]


def is_keras_file(filepath: str | os.PathLike) -> bool:
    """Whether `filepath` is an HDF5 file or a Keras 3 `.keras` zip (what this module reads)."""
    return Path(filepath).is_file() and (is_hdf5(filepath) or is_keras_zip(filepath))


def _check_exists(filepath: str | os.PathLike) -> Path:
    path = Path(filepath)
    if not path.is_file():
        raise FileNotFoundError(f"No Keras file found at {str(path)!r}.")
    return path


def load_keras_model(filepath: str | os.PathLike, compile: bool = True) -> Any:
    """Builds a kernelnet model from a Keras `.keras` or full-model `.h5` file.

    Args:
        filepath: path of the Keras file.
        compile: also compile the model with the file's optimizer (learning rate only), loss and
            metrics, when kernelnet knows them; otherwise a warning says what was not restored.

    Returns:
        A kernelnet `Sequential` or `Model` with the file's weights.

    Raises:
        ValueError: a layer type, or a layer option other than its Keras default, that kernelnet
            does not support (the message names the layer); a weights-only file.
        ImportError: h5py is not installed.
    """
    path = _check_exists(filepath)
    require_h5py()
    source = repr(str(path))
    config, training = read_model_config(path)
    with open_weights(path) as f:
        with _file_checks.weight_budget(check_datasets(f, source)):
            try:
                model = model_from_keras_config(config)
            except RecursionError:
                raise ValueError(f"The model config in {source} is nested too deeply. The "
                                 "file is corrupted or crafted.") from None
        _file_checks.check_layer_dtypes(model, source)
        order = _config_order(model, config) if is_keras_zip(path) else None
        assign(model, f, order=order, source=source)
    if compile and training:
        _compile_like_keras(model, training)
    return model


def load_keras_weights(model: Any, filepath: str | os.PathLike,
                       skip_mismatch: bool = False) -> None:
    """Loads Keras weights (`.weights.h5`, legacy `.h5`, or the weights of a `.keras` file).

    Layers are matched by name when the file records names, else by Keras' layer order. With
    `skip_mismatch=True`, layers that cannot be matched keep their weights (with a warning).
    """
    path = _check_exists(filepath)
    with open_weights(path) as f:
        check_datasets(f, repr(str(path)))
        assign(model, f, skip_mismatch=skip_mismatch, source=repr(str(path)))


def _config_order(model: Any, config: dict) -> list[tuple]:
    """`(layer, keras_class, sub_order)` in the config's layer order (Keras' weight-file order)."""
    order = []
    for entry in config.get("config", {}).get("layers", []):
        if entry["class_name"] == "InputLayer":
            continue
        layer = model.get_layer(entry.get("name") or entry["config"]["name"])
        sub = _config_order(layer, entry) if entry["class_name"] in (
            "Sequential", "Functional", "Model") else None
        order.append((layer, entry["class_name"], sub))
    return order


def _compile_like_keras(model: Any, training: dict) -> None:
    """Compiles `model` from a Keras compile/training config, warning about what is dropped."""
    from kernelnet import optimizers

    try:
        if not isinstance(training, dict):
            raise TypeError(f"expected an object, received {str(training)[:60]!r}")
        optimizer = training.get("optimizer") or training.get("optimizer_config") or "rmsprop"
        loss, metrics = training.get("loss"), training.get("metrics")
        if isinstance(optimizer, dict):
            if not isinstance(optimizer.get("class_name"), str):
                raise TypeError("the optimizer's class_name must be a string, received "
                                f"{optimizer.get('class_name')!r}")
            cls = type(optimizers.get(optimizer["class_name"].lower()))
            lr = optimizer.get("config", {}).get("learning_rate")
            optimizer = cls(learning_rate=float(lr)) if isinstance(lr, (int, float)) else cls()
        if metrics is not None and not all(isinstance(m, str) for m in metrics):
            metrics = None
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    except (TypeError, ValueError, KeyError, AttributeError) as err:
        warnings.warn(
            f"The model was loaded but not compiled: its Keras training configuration could "
            f"not be translated ({err}). Call model.compile(...) before training.",
            stacklevel=3,
        )
