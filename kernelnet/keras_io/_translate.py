"""Keras layer and model configs -> kernelnet layers and models.

Reads the JSON configs Keras writes (Keras 3 `.keras` config.json, and the `model_config`
attribute of legacy Keras 2/3 `.h5` files): `Sequential` and `Functional` models, with Keras 3's
`{"args": [...], "kwargs": {...}}` inbound nodes and Keras 2's `[[name, node, tensor, kwargs]]`.

A Keras config key that kernelnet's layer does not take is dropped only when it holds the Keras
default (`data_format="channels_last"`, `kernel_regularizer=None`, ...); anything else raises a
`ValueError` naming the layer, because silently ignoring it would change the predictions.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any

from kernelnet import initializers

# Keys kernelnet layers do not take, with the Keras values that mean "feature not used".
_KERAS_DEFAULTS: dict[str, tuple] = {
    "data_format": ("channels_last", None),
    "dilation_rate": (1, [1], [1, 1]),
    "groups": (1,),
    "kernel_regularizer": (None,), "bias_regularizer": (None,), "activity_regularizer": (None,),
    "kernel_constraint": (None,), "bias_constraint": (None,),
    "beta_regularizer": (None,), "gamma_regularizer": (None,),
    "beta_constraint": (None,), "gamma_constraint": (None,),
    "synchronized": (False,), "renorm": (False,), "renorm_clipping": (None,),
    "renorm_momentum": (0.99,), "fused": (None, True, False), "virtual_batch_size": (None,),
    "adjustment": (None,), "rms_scaling": (False,),
    "sparse": (False,), "ragged": (False,), "optional": (False,),
    "keepdims": (False,), "lora_rank": (None,), "lora_alpha": (None,),
    "quantization_config": (None,), "autocast": (True,),
    "noise_shape": (None,), "seed": (None,),
    "alpha_regularizer": (None,), "alpha_constraint": (None,),
    "depthwise_regularizer": (None,), "depthwise_constraint": (None,),
    "pointwise_regularizer": (None,), "pointwise_constraint": (None,),
    "antialias": (False,),
}
# The kernelnet layers Keras has, each with the Keras-only config keys Keras writes for it (at
# their `_KERAS_DEFAULTS` value). Reading drops those keys; writing (`_export.py`) adds them back.
# A layer missing here (LocalResponseNormalization, Lambda) cannot be written to a Keras file.
# Adding a layer that Keras has is one entry.
_WEIGHTED = ("kernel_regularizer", "bias_regularizer", "kernel_constraint", "bias_constraint")
_NORM = ("beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint")
_CONV = (*_WEIGHTED[:2], "activity_regularizer", *_WEIGHTED[2:])
_DEPTHWISE = ("depthwise_regularizer", "bias_regularizer", "activity_regularizer",
              "depthwise_constraint", "bias_constraint")
KERAS_LAYERS: dict[str, tuple[str, ...]] = {
    "Activation": (), "Add": (), "Average": (), "Concatenate": (), "Maximum": (), "Minimum": (),
    "Multiply": (), "Subtract": (),
    "AveragePooling2D": (), "MaxPooling2D": (), "GlobalAveragePooling2D": (),
    "GlobalMaxPooling2D": (),
    "BatchNormalization": (*_NORM, "synchronized", "renorm", "renorm_clipping",
                           "renorm_momentum"),
    "Conv2D": _CONV, "Conv1D": _CONV, "Conv2DTranspose": _CONV,
    "DepthwiseConv2D": _DEPTHWISE,
    "SeparableConv2D": (*_DEPTHWISE[:1], "pointwise_regularizer", *_DEPTHWISE[1:4],
                        "pointwise_constraint", _DEPTHWISE[4]),
    "AveragePooling1D": (), "MaxPooling1D": (), "GlobalAveragePooling1D": (),
    "GlobalMaxPooling1D": (),
    "Dense": _WEIGHTED,
    "Cropping2D": (), "Dropout": (), "ELU": (), "Flatten": ("data_format",),
    "LayerNormalization": ("rms_scaling", *_NORM),
    "LeakyReLU": (), "Permute": (), "PReLU": ("alpha_regularizer", "alpha_constraint"),
    "ReLU": (), "Reshape": (), "Softmax": (), "UpSampling2D": (), "ZeroPadding2D": (),
    "InputLayer": ("sparse",),
    "GroupNormalization": _NORM, "Identity": (),
    "SpatialDropout2D": (), "GaussianNoise": (), "GaussianDropout": (),
    "Rescaling": (), "Normalization": (), "Resizing": ("antialias",), "CenterCrop": (),
    "RandomCrop": (), "RandomFlip": (), "RandomRotation": (), "RandomZoom": (),
    "RandomTranslation": (), "RandomContrast": ("data_format",),
    "RandomBrightness": ("data_format",),
}
# Optimizers Keras has under the same name and config keys (a file's compile settings).
KERAS_OPTIMIZERS = ("SGD", "RMSprop", "Adagrad", "Adadelta", "Adam", "AdamW")
# Keras spellings kernelnet knows under another name: {keras key: kernelnet key}.
_RENAMES = {"batch_shape": "batch_input_shape", "alpha": "negative_slope"}
_BASE_KEYS = ("name", "trainable", "dtype", "batch_input_shape", "input_shape", "batch_size")
_MODEL_CLASSES = ("Sequential", "Functional", "Model")


def supported_layer_names() -> list[str]:
    """Keras class names kernelnet can load (every Layer class in `kernelnet.layers`)."""
    from kernelnet import layers as layers_module
    from kernelnet.layers.base import Layer

    names = [n for n, obj in vars(layers_module).items()
             if isinstance(obj, type) and issubclass(obj, Layer) and obj is not Layer]
    return sorted(set(names)) + list(_MODEL_CLASSES)


def _layer_class(class_name: str, layer_name: str) -> type:
    from kernelnet import layers as layers_module
    from kernelnet.layers.base import Layer

    cls = getattr(layers_module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Layer)):
        raise ValueError(
            f"Keras layer {layer_name!r} of type {class_name!r} is not supported by kernelnet. "
            f"Supported: {', '.join(supported_layer_names())}."
        )
    return cls


def _accepted_keys(cls: type) -> set[str]:
    keys: set[str] = set(_BASE_KEYS)
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None:
            keys.update(p for p in inspect.signature(init).parameters if p not in ("self",))
    return keys


def _plain(value: Any) -> Any:
    return [_plain(v) for v in value] if isinstance(value, (list, tuple)) else value


def _dtype(value: Any) -> Any:
    if isinstance(value, dict):                      # Keras 3 DTypePolicy
        value = value.get("config", {}).get("name", "float32")
    if value in ("mixed_float16", "mixed_bfloat16", "bfloat16"):
        raise ValueError(
            f"kernelnet computes in float32 or float64; the Keras dtype policy {value!r} is not "
            "supported. Re-save the model with dtype float32."
        )
    return value


def _initializer(value: Any, default: Any) -> Any:
    """A Keras initializer config -> a kernelnet initializer (the layer default if unknown).

    Initializers only matter for weights that are not loaded, so an unknown one is not an error.
    """
    if not isinstance(value, dict):
        return value
    config = {k: v for k, v in (value.get("config") or {}).items()
              if v is not None and k not in ("input_axes", "output_axes")}
    try:
        return initializers.get({"class_name": value.get("class_name"), "config": config})
    except (TypeError, ValueError):
        warnings.warn(
            f"Keras initializer {value.get('class_name')!r} with config {config} is not known to "
            f"kernelnet; using {default!r} instead (it only affects weights that are not loaded).",
            stacklevel=3,
        )
        return default


def _activation(value: Any) -> Any:
    if isinstance(value, dict):                      # {"class_name": "function", "config": "relu"}
        inner = value.get("config")
        value = inner if isinstance(inner, str) else value.get("class_name")
    return value


def translate_layer_config(class_name: str, config: dict) -> Any:
    """Creates the kernelnet layer for one Keras `{"class_name", "config"}` layer entry."""
    name = config.get("name", class_name)
    if class_name in _MODEL_CLASSES:
        return model_from_keras_config({"class_name": class_name, "config": config})
    cls = _layer_class(class_name, name)
    accepted = _accepted_keys(cls)
    signature = inspect.signature(cls.__init__).parameters
    kwargs: dict[str, Any] = {}
    for key, value in config.items():
        target = key if key in accepted else _RENAMES.get(key, key)
        if target not in accepted:
            defaults = [_plain(v) for v in _KERAS_DEFAULTS.get(key, ())]
            if _plain(value) in defaults:
                continue
            raise ValueError(
                f"Keras layer {name!r} ({class_name}) uses `{key}={value!r}`, which kernelnet's "
                f"{cls.__name__} does not support. Only the Keras default "
                f"{_KERAS_DEFAULTS.get(key, ('(none)',))[0]!r} can be loaded."
            )
        if key == "dtype":
            value = _dtype(value)
        elif key.endswith("_initializer"):
            default = signature[key].default if key in signature else None
            value = _initializer(value, default)
        elif key == "activation":
            value = _activation(value)
        elif isinstance(value, list) and key not in ("batch_shape", "batch_input_shape"):
            value = _as_tuples(value)
        kwargs[target] = value
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"Could not create kernelnet {cls.__name__} for Keras layer {name!r}: {err}"
        ) from err


def _as_tuples(value: Any) -> Any:
    return tuple(_as_tuples(v) for v in value) if isinstance(value, list) else value


def model_from_keras_config(config: dict) -> Any:
    """Builds a kernelnet model from a Keras model config `{"class_name", "config"}`."""
    class_name = config.get("class_name")
    inner = config.get("config", {})
    if class_name == "Sequential":
        model = _sequential(inner, config.get("build_config"))
    elif class_name in ("Functional", "Model"):
        model = _functional(inner)
    else:
        raise ValueError(
            f"Expected a Keras 'Sequential' or 'Functional' model config. Received: "
            f"class_name={class_name!r}."
        )
    if not inner.get("trainable", True):
        # only freezing: setting True would unfreeze the layers saved as frozen inside it
        model.trainable = False
    return model


def _input_layer(config: dict) -> Any:
    from kernelnet.layers.input_layer import InputLayer

    shape = config.get("batch_shape") or config.get("batch_input_shape")
    return InputLayer(batch_input_shape=tuple(shape), dtype=_dtype(config.get("dtype")),
                      name=config.get("name"))


def _sequential(config: dict, build_config: dict | None) -> Any:
    from kernelnet.models import Sequential

    model = Sequential(name=config.get("name"))
    entries = config.get("layers", [])
    shape = (build_config or {}).get("input_shape") or config.get("build_input_shape")
    has_shape = entries and (entries[0]["class_name"] == "InputLayer"
                             or "batch_input_shape" in entries[0].get("config", {}))
    if shape and not has_shape:
        from kernelnet.layers.input_layer import InputLayer

        model.add(InputLayer(batch_input_shape=tuple(shape)))
    for entry in entries:
        if entry["class_name"] == "InputLayer":
            model.add(_input_layer(entry["config"]))
        else:
            model.add(translate_layer_config(entry["class_name"], entry["config"]))
    return model


def _history_refs(node: Any) -> tuple[list[tuple], bool]:
    """The `(layer, node, tensor)` references a call consumed, and whether it took a list."""
    if isinstance(node, dict):                                   # Keras 3
        bad = {k: v for k, v in node.get("kwargs", {}).items()
               if v is not None and k not in ("training", "mask")}
        if bad:
            raise ValueError(f"kernelnet cannot replay a Keras layer call with arguments {bad}.")
        args = node.get("args", [])
        first = args[0] if len(args) == 1 else args
        is_list = isinstance(first, list)
        tensors = first if is_list else [first]
        return [tuple(t["config"]["keras_history"]) for t in tensors], is_list
    refs = [tuple(item[:3]) for item in node]                    # Keras 2
    return refs, len(refs) > 1


def _functional(config: dict) -> Any:
    from kernelnet.models import Model

    tensors: dict[tuple, Any] = {}
    pending = []
    for entry in config.get("layers", []):
        name = entry.get("name") or entry["config"]["name"]
        if entry["class_name"] == "InputLayer":
            tensors[(name, 0, 0)] = _input_layer(entry["config"]).output
            continue
        nodes = entry.get("inbound_nodes", [])
        if len(nodes) != 1:
            raise ValueError(
                f"Keras layer {name!r} ({entry['class_name']}) is called {len(nodes)} times in "
                "the model. kernelnet does not support shared layers."
            )
        layer = translate_layer_config(entry["class_name"], entry["config"])
        pending.append((name, layer, *_history_refs(nodes[0])))
    while pending:
        ready = [p for p in pending if all((r[0], r[1], r[2]) in tensors for r in p[2])]
        if not ready:
            missing = sorted({r[0] for p in pending for r in p[2] if r not in tensors})
            raise ValueError(f"The Keras model graph is disconnected: missing inputs {missing}.")
        for name, layer, refs, is_list in ready:
            args = [tensors[r] for r in refs]
            tensors[(name, 0, 0)] = layer(args if is_list else args[0])
        done = {id(p[1]) for p in ready}
        pending = [p for p in pending if id(p[1]) not in done]
    inputs = _endpoints(config["input_layers"], tensors)
    outputs = _endpoints(config["output_layers"], tensors)
    return Model(inputs, outputs, name=config.get("name"))


def _endpoints(spec: list, tensors: dict) -> Any:
    refs = [tuple(spec)] if spec and isinstance(spec[0], str) else [tuple(s) for s in spec]
    found = [tensors[(r[0], r[1], r[2])] for r in refs]
    return found[0] if len(found) == 1 else found
