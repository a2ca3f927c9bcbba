"""Saving and loading models: one zip of `config.json` + `weights.npz` (+ `optimizer.npz`).

`.keras`, `.h5` and `.weights.h5` paths are written in Keras' own formats instead (see
`kernelnet.keras_io`), so that a file with a Keras name is one Keras can open.

The format is Keras 3's design without HDF5: JSON for the architecture, NumPy's npz for arrays,
read back with `allow_pickle=False`, so loading a file never executes code. Custom layers load only
when registered (`register_keras_serializable`) or passed as `custom_objects`. A file is checked
before anything is allocated for it (`kernelnet._file_checks`). Writes go to a temporary file that
is renamed into place (`kernelnet._atomic_write`), so a crash never leaves a half-written model.
Files written by Keras (`.keras`, `.h5`, `.weights.h5`) are read by `kernelnet.keras_io`.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from kernelnet import _file_checks
from kernelnet._atomic_write import atomic_write

FORMAT = "kernelnet"
FORMAT_VERSION = 1
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_ZIP_MAGIC = b"PK\x03\x04"
_TRAINING_STATE = "training_state.json"
_CUSTOM_OBJECTS: dict[str, Any] = {}


def register_keras_serializable(package: str = "Custom", name: str | None = None):
    """Decorator registering a custom layer class so saved models using it can be loaded."""

    def decorator(cls):
        _CUSTOM_OBJECTS[name or cls.__name__] = cls
        _CUSTOM_OBJECTS[f"{package}>{name or cls.__name__}"] = cls
        return cls

    return decorator


def get_custom_objects() -> dict[str, Any]:
    """The global registry filled by `register_keras_serializable`."""
    return _CUSTOM_OBJECTS


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _weights_dict(model) -> dict[str, np.ndarray]:
    names = model.weight_names
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"Model {model.name!r} has duplicated weight names {dupes}; "
                         "give its layers unique names before saving.")
    return dict(zip(names, model.weights))


def _keras_format(filepath: Any) -> str | None:
    """"keras" for a `.keras` path, "h5" for `.h5`/`.hdf5`, None for kernelnet's own format."""
    suffix = Path(str(filepath)).suffix.lower()
    if suffix == ".keras":
        return "keras"
    return "h5" if suffix in (".h5", ".hdf5") else None


def save_model(model, filepath: Any, overwrite: bool = True, include_optimizer: bool = True,
               *, run_info: dict | None = None):
    """Writes `model` (architecture, weights, compile settings, optimizer state) to `filepath`.

    The file extension picks the format: `.keras` writes a Keras 3 archive and `.h5`/`.hdf5`
    Keras' legacy HDF5 model, both loadable by real Keras (`kernelnet.keras_io`: architecture,
    weights and compile settings, not the optimizer's slots). Any other extension (`.kn` by
    convention) writes kernelnet's own zip, which also keeps the optimizer state.

    With `include_optimizer=True` the zip also holds `training_state.json`: the state of
    kernelnet's random generator (`backend.get_rng_state()`), which drives shuffling and dropout,
    and of the layers' own generators (`Dropout(seed=...)`). `load_model` restores the layers'
    generators but never touches kernelnet's; call `restore_training_state(filepath)` after it
    to continue a run exactly (see `ModelCheckpoint`). `run_info` (JSON-able) is stored with
    the training state, e.g. the run and epoch a checkpoint belongs to (`kernelnet train`).
    """
    from kernelnet import __version__, backend, layers

    keras_format = _keras_format(filepath)
    if keras_format is not None:
        from kernelnet import keras_io

        writer = keras_io.save_keras_model if keras_format == "keras" else keras_io.save_legacy_h5
        writer(model, filepath, overwrite=overwrite)
        return
    compile_config = getattr(model, "_compile_config", None)
    if compile_config and getattr(model, "optimizer", None) is not None:
        from kernelnet import optimizers

        # The optimizer as it is now: a learning rate changed since compile() (by the user,
        # ReduceLROnPlateau, `kernelnet train --resume --lr`) must survive a resume.
        compile_config = {**compile_config, "optimizer": optimizers.serialize(model.optimizer)}
    config = {"format": FORMAT, "format_version": FORMAT_VERSION,
              "kernelnet_version": __version__, **layers.serialize(model),
              "compile_config": compile_config}
    optimizer_state = None
    if include_optimizer and getattr(model, "optimizer", None) is not None:
        optimizer_state = model.optimizer.get_state(model.trainable_weights,
                                                    model.trainable_weight_names)
    weights = _npz_bytes(_weights_dict(model))
    training_state = {"rng_state": backend.get_rng_state(),
                      "layer_rng_states": _layer_generator_states(model)}
    if run_info is not None:
        training_state["run"] = run_info

    def write(f):
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as zf:
            zf.writestr("config.json", json.dumps(config, indent=1))
            zf.writestr("weights.npz", weights)
            if optimizer_state:
                zf.writestr("optimizer.npz", _npz_bytes(optimizer_state))
            if include_optimizer:
                zf.writestr(_TRAINING_STATE, json.dumps(training_state))

    atomic_write(filepath, write, overwrite)


def save_weights(model, filepath: Any, overwrite: bool = True) -> None:
    """Writes only the weights, as an npz keyed `"{layer}/{weight}"`.

    A `.weights.h5` path writes Keras 3's weights file, a `.h5`/`.hdf5` path Keras' legacy
    weights-only HDF5 layout; both load into the same architecture in Keras.
    """
    if _keras_format(filepath) == "h5":
        from kernelnet import keras_io

        keras_io.save_keras_weights(model, filepath, overwrite=overwrite)
        return
    data = _npz_bytes(_weights_dict(model))
    atomic_write(filepath, lambda f: f.write(data), overwrite)


def _first_zip_member(head: bytes) -> str | None:
    """Name of the first member from a zip's first local header (`PK\x03\x04`), else None."""
    if len(head) < 30 or not head.startswith(_ZIP_MAGIC):
        return None
    size = int.from_bytes(head[26:28], "little")
    utf8 = int.from_bytes(head[6:8], "little") & 0x800  # general-purpose flag bit 11
    return head[30:30 + size].decode("utf-8" if utf8 else "cp437", "replace")


def _kind(path: Path) -> str:
    if not path.exists():
        raise FileNotFoundError(f"No file or directory found at {str(path)!r}.")
    if path.is_dir():
        raise IsADirectoryError(
            f"{str(path)!r} is a directory, not a model file. kernelnet models are single "
            "files (e.g. model.kn or model.keras); pass the file's path."
        )
    with open(path, "rb") as f:
        head = f.read(300)
    if head.startswith(_HDF5_MAGIC):
        return "hdf5"
    first = _first_zip_member(head)
    names = set()
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
    if head.startswith(_ZIP_MAGIC) and first not in names:
        # The directory at the end is gone (or belongs to an inner npz): a cut-off file.
        raise ValueError(
            f"{str(path)!r} is a truncated or corrupted zip archive: its member list is "
            "missing or damaged. Was the save interrupted or the download incomplete? "
            "Save or download the file again."
        )
    if names:
        if "model.weights.h5" in names:
            return "keras_zip"
        if "config.json" in names or "weights.npz" in names:
            return "kernelnet_zip"
        if any(n.endswith(".npy") for n in names):
            return "npz"
    raise ValueError(
        f"{str(path)!r} is not a model file kernelnet can read: expected a kernelnet zip "
        f"(config.json + weights.npz), an npz of weights, or a Keras .keras/.h5 file. "
        f"The file starts with bytes {head[:8]!r}."
    )


def _read_npz(blob: bytes, what: str, path: Path) -> dict[str, np.ndarray]:
    return _file_checks.read_npz(blob, what, repr(str(path)))


def _read_zip(path: Path) -> tuple[dict, dict, dict | None]:
    where = repr(str(path))
    try:
        with zipfile.ZipFile(path) as zf:
            config = _file_checks.load_json(
                _file_checks.read_member(zf, "config.json", where, _file_checks.MAX_CONFIG_BYTES),
                "config.json", where)
            weights_blob = _file_checks.read_member(zf, "weights.npz", where)
            opt = (_file_checks.read_member(zf, "optimizer.npz", where)
                   if "optimizer.npz" in zf.namelist() else None)
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, OSError) as err:
        raise ValueError(f"Could not read model file {str(path)!r}: {err}") from err
    found = config.get("format") if isinstance(config, dict) else type(config).__name__
    if found != FORMAT:
        raise ValueError(f"{str(path)!r} is not a kernelnet model file (config.json has "
                         f"format={found!r}, expected {FORMAT!r}).")
    _check_config(config, path)
    weights = _read_npz(weights_blob, "weights", path)
    optimizer = _read_npz(opt, "optimizer state", path) if opt is not None else None
    return config, weights, optimizer


def _check_config(config: dict, path: Path) -> None:
    """Refuses a format version newer than this kernelnet's and a malformed compile config."""
    version = config.get("format_version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"{str(path)!r} has an invalid format_version in config.json: "
                         f"expected a positive integer. Received: format_version={version!r}.")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{str(path)!r} was written in kernelnet file format version {version}; this "
            f"kernelnet reads versions up to {FORMAT_VERSION}. Upgrade kernelnet to load it."
        )
    compile_config = config.get("compile_config")
    if compile_config is not None and not isinstance(compile_config, dict):
        raise ValueError(
            f"{str(path)!r} has an invalid compile_config in config.json: expected an object "
            f"(optimizer, loss, metrics) or null. Received: {str(compile_config)[:100]!r}."
        )


def _rebuild(config: dict, weights: dict, path: Path, custom_objects: dict | None):
    """The model of `config`, which may create no more weight values than `weights` holds."""
    from kernelnet import layers

    where = repr(str(path))
    try:
        with _file_checks.weight_budget(sum(w.size for w in weights.values())):
            model = layers.deserialize(config, custom_objects=custom_objects)
    except RecursionError:
        raise ValueError(f"Could not rebuild the model saved in {where}: its config is nested "
                         "too deeply. The file is corrupted or crafted.") from None
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"Could not rebuild the model saved in {where}: {err}") from err
    _file_checks.check_layer_dtypes(model, where)
    return model


def _custom_losses(loss: Any, custom_objects: dict | None) -> Any:
    """The saved `loss` (one, a list or a dict by output) with each `{"class_name", "config"}`
    naming a `Loss` subclass from `custom_objects` or the registry built from its config; the
    file only selects among classes the program defined, it never names code."""
    from kernelnet.losses import Loss

    if isinstance(loss, list):
        return [_custom_losses(item, custom_objects) for item in loss]
    if isinstance(loss, dict) and "class_name" not in loss:
        return {key: _custom_losses(item, custom_objects) for key, item in loss.items()}
    if isinstance(loss, dict):
        cls = {**_CUSTOM_OBJECTS, **(custom_objects or {})}.get(str(loss["class_name"]))
        if isinstance(cls, type) and issubclass(cls, Loss):
            return cls.from_config(dict(loss.get("config") or {}))
    return loss


def load_model(filepath: Any, custom_objects: dict | None = None, compile: bool = True):
    """Loads a model saved by `save_model` (or by Keras, via `kernelnet.keras_io`).

    A file is checked before anything is allocated for it: member sizes, array dtypes (real
    numbers only), the weight sizes its config declares against the weights it holds, the
    format version and the layer dtypes (float only). A bad file raises a ValueError naming it.
    """
    path = Path(filepath)
    kind = _kind(path)
    if kind in ("hdf5", "keras_zip"):
        from kernelnet import keras_io

        return keras_io.load_keras_model(path, compile=compile)
    if kind != "kernelnet_zip":
        raise ValueError(f"{str(path)!r} holds only weights; build the model and call "
                         "model.load_weights() instead of load_model().")
    config, weights, optimizer_state = _read_zip(path)
    model = _rebuild(config, weights, path, custom_objects)
    _assign_weights(model, weights, path)
    _restore_layer_generators(model, path)
    compile_config = config.get("compile_config")
    if compile and compile_config and compile_config.get("loss") is not None:
        try:
            model.compile(optimizer=compile_config.get("optimizer", "rmsprop"),
                          loss=_custom_losses(compile_config["loss"], custom_objects),
                          metrics=compile_config.get("metrics") or None,
                          loss_weights=compile_config.get("loss_weights"),
                          weighted_metrics=compile_config.get("weighted_metrics"))
        except (ValueError, TypeError, KeyError, AttributeError) as err:
            raise ValueError(f"Could not compile the model saved in {str(path)!r} with its "
                             f"compile_config: {err} A custom Loss class loads when passed "
                             "as custom_objects={name: cls} or registered with "
                             "saving.register_keras_serializable(); or load with "
                             "compile=False.") from err
        if optimizer_state:
            try:
                model.optimizer.set_state(model.trainable_weights,
                                          model.trainable_weight_names, optimizer_state)
            except (ValueError, TypeError, KeyError) as err:
                raise ValueError(f"Could not restore the optimizer state saved in "
                                 f"{str(path)!r}: {err}") from err
    return model


def has_training_state(filepath: Any) -> bool:
    """Whether `filepath` is a kernelnet model file that holds a training state."""
    path = Path(filepath)
    try:
        with zipfile.ZipFile(path) as zf:
            return _TRAINING_STATE in zf.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def restore_training_state(filepath: Any) -> dict:
    """Restores the random-generator state saved in a model file; returns the saved state.

    Use after `load_model` to resume a run bit for bit: the weights and optimizer slots come
    from `load_model`, the shuffling/dropout random stream from here.

    Example:
        >>> model = load_model("ckpt.kn")                      # doctest: +SKIP
        >>> restore_training_state("ckpt.kn")                  # doctest: +SKIP
        >>> model.fit(x, y, initial_epoch=2, epochs=4)         # doctest: +SKIP
    """
    from kernelnet import backend

    path = Path(filepath)
    if _kind(path) != "kernelnet_zip":
        raise ValueError(f"{str(path)!r} is not a kernelnet model file, so it holds no "
                         "training state. Pass a file written by model.save().")
    state = read_training_state(path)
    if state is None:
        raise ValueError(f"{str(path)!r} holds no training state: it was saved with "
                         "include_optimizer=False (or by save_weights / an older kernelnet).")
    try:
        backend.set_rng_state(state["rng_state"])
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"The training state in {str(path)!r} is corrupted: {err!r}") from err
    return state


def read_training_state(filepath: Any) -> dict | None:
    """The parsed `training_state.json` of a kernelnet model file, None if it has none;
    changes nothing."""
    path = Path(filepath)
    try:
        with zipfile.ZipFile(path) as zf:
            blob = (_file_checks.read_member(zf, _TRAINING_STATE, repr(str(path)),
                                             _file_checks.MAX_CONFIG_BYTES)
                    if _TRAINING_STATE in zf.namelist() else None)
    except (zipfile.BadZipFile, OSError) as err:
        raise ValueError(f"Could not read model file {str(path)!r}: {err}") from err
    if blob is None:
        return None
    try:
        state = _file_checks.load_json(blob, _TRAINING_STATE, repr(str(path)))
    except ValueError as err:  # JSONDecodeError, bad UTF-8, nesting too deep
        raise ValueError(f"The training state in {str(path)!r} is corrupted: {err!r}") from err
    if not isinstance(state, dict):
        raise ValueError(f"The training state in {str(path)!r} is corrupted: expected a JSON "
                         f"object, found {type(state).__name__}.")
    return state


def _own_generators(model) -> dict[str, np.random.Generator]:
    """Layer name -> the layer's own generator (`Dropout(seed=...)`), for layers that have one."""
    return {layer.name: layer._rng for layer in _leaf_layers(model)
            if isinstance(getattr(layer, "_rng", None), np.random.Generator)}


def _layer_generator_states(model) -> dict[str, dict]:
    return {name: gen.bit_generator.state for name, gen in _own_generators(model).items()}


def _restore_layer_generators(model, path: Path) -> None:
    """Continues each seeded layer's random stream where the saved model left it (Keras 3
    saves a seeded layer's generator state with the model too)."""
    own = _own_generators(model)
    if not own:
        return
    state = read_training_state(path) or {}
    saved = state.get("layer_rng_states") or {}
    if not isinstance(saved, dict):
        raise ValueError(f"The training state in {str(path)!r} is corrupted: "
                         f"layer_rng_states is a {type(saved).__name__}, expected an object.")
    for name, gen in own.items():
        if name in saved:
            try:
                gen.bit_generator.state = saved[name]
            except (ValueError, KeyError, TypeError) as err:
                raise ValueError(f"The training state in {str(path)!r} is corrupted: the "
                                 f"generator state of layer {name!r}: {err!r}") from err


def load_weights(model, filepath: Any, skip_mismatch: bool = False) -> None:
    """Loads weights in order from a kernelnet weights npz or model zip, or from a Keras file."""
    path = Path(filepath)
    kind = _kind(path)
    if kind in ("hdf5", "keras_zip"):
        from kernelnet import keras_io

        keras_io.load_keras_weights(model, path, skip_mismatch=skip_mismatch)
        return
    if kind == "kernelnet_zip":
        _, weights, _ = _read_zip(path)
    else:
        weights = _read_npz(path.read_bytes(), "weights", path)
    _assign_weights(model, weights, path, skip_mismatch)


def _assign_weights(model, weights: dict, path: Path, skip_mismatch: bool = False) -> None:
    """Assigns arrays in file order, layer by layer, as Keras 3 does: two instances of one
    architecture have different auto-generated layer names but the same weight order."""
    values = list(weights.values())
    if len(values) != len(model.weights):
        raise ValueError(
            f"The weights file {str(path)!r} holds {len(values)} arrays but model "
            f"{model.name!r} has {len(model.weights)} weights. Is it the same architecture? "
            f"File keys start with {list(weights)[:3]}."
        )
    start = 0
    for layer in _leaf_layers(model):
        count = len(layer.weights)
        chunk = values[start:start + count]
        start += count
        if skip_mismatch and any(v.shape != w.shape for v, w in zip(chunk, layer.weights)):
            continue
        layer.set_weights(chunk)


def _leaf_layers(model) -> list:
    out = []
    for layer in getattr(model, "layers", []):
        out.extend(_leaf_layers(layer) if hasattr(layer, "_nodes") else [layer])
    return out
