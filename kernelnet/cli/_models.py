"""Model zoo names, building a model for some data, loading saved models, freezing."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from kernelnet.cli._data import UsageError

# name -> (factory name in kernelnet.applications, Keras-application signature?)
ARCHS = {
    "lenet5": ("LeNet5", False), "mnist_cnn": ("MnistCNN", False),
    "cifar10_cnn": ("Cifar10CNN", False), "alexnet": ("AlexNet", False),
    "small_vgg": ("SmallVGG", False), "vgg16": ("VGG16", True),
    "resnet18": ("ResNet18", True), "resnet34": ("ResNet34", True),
    "resnet50": ("ResNet50", True),
}
ALIASES = {"lenet": "lenet5", "mnistcnn": "mnist_cnn", "cifar10cnn": "cifar10_cnn",
           "smallvgg": "small_vgg"}


def arch_name(name: str) -> str:
    """Canonical zoo name ('LeNet5', 'lenet', 'resnet-50' -> 'lenet5', 'resnet50')."""
    key = name.lower().replace("-", "_")
    key = ALIASES.get(key.replace("_", ""), key)
    if key not in ARCHS:
        close = difflib.get_close_matches(key, list(ARCHS), n=1)  # only names we print
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UsageError(f"Unknown architecture {name!r}. Expected one of "
                         f"{', '.join(ARCHS)}.{hint}")
    return key


def factory(name: str):
    from kernelnet import applications

    return getattr(applications, ARCHS[arch_name(name)][0])


def build(name: str, input_shape: tuple | None, classes: int | None,
          freeze_backbone: bool = False, weights: str | None = None) -> Any:
    """A zoo model for `input_shape`/`classes` (None: the architecture's defaults).

    Keras applications (VGG16, ResNets) get `weights`; with `freeze_backbone` or pretrained
    weights they become a frozen-or-not backbone (global average pooling) plus a new softmax.
    """
    from kernelnet import layers
    from kernelnet.models import Sequential

    key = arch_name(name)
    fn, keras_app = factory(key), ARCHS[key][1]
    shape = {} if input_shape is None else {"input_shape": tuple(input_shape)}
    if weights and not keras_app:
        apps = ", ".join(k for k, (_, keras) in ARCHS.items() if keras)
        raise UsageError(f"--weights {weights!r} applies to {apps}; {key} has no pretrained "
                         "weights. Leave out --weights, or pass --model FILE to continue "
                         "training a saved model.")
    if not keras_app:
        model = fn(**shape, **({} if classes is None else {"classes": classes}))
        if freeze_backbone:
            freeze_all_but_head(model)
        return model
    if not (freeze_backbone or weights):
        return fn(include_top=True, weights=None, **shape,
                  **({} if classes is None else {"classes": classes}))
    backbone = fn(include_top=False, weights=weights, pooling="avg", **shape)
    backbone.trainable = not freeze_backbone
    return Sequential([layers.Input(shape=backbone.batch_input_shape[1:]), backbone,
                       layers.Dense(classes or 1000, activation="softmax",
                                    name="predictions")], name=f"{key}_transfer")


def freeze_all_but_head(model: Any) -> None:
    """Makes every layer but the last one non-trainable (fine-tune the classifier only)."""
    for layer in model.layers[:-1]:
        layer.trainable = False


def load(path: str | Path, compile: bool = True) -> Any:
    """`load_model` with a one-line error for a missing or unreadable file."""
    from kernelnet.models import load_model

    path = Path(path)
    if not path.is_file():
        raise UsageError(f"No model file at {str(path)!r}.")
    try:
        return load_model(path, compile=compile)
    except (ValueError, KeyError, OSError, TypeError) as err:
        raise UsageError(f"Could not read a model from {str(path)!r}: {err}") from err


def model_or_arch(target: str, input_shape: tuple | None, classes: int | None) -> Any:
    """A saved model if `target` is a file, else the zoo architecture of that name."""
    if Path(target).is_file():
        return load(target, compile=False)
    if Path(target).suffix in (".kn", ".keras", ".h5", ".zip"):
        raise UsageError(f"No model file at {target!r}.")
    return build(target, input_shape, classes)


def ensure_compiled(model: Any) -> None:
    """Compiles a model loaded without a training configuration, for `evaluate`."""
    if model.optimizer is None or model.loss is None:
        model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])


def image_shape(model: Any) -> tuple[int, int, int]:
    """`(h, w, c)` the model expects, or a UsageError for non-image models."""
    batch_shape = getattr(model, "batch_input_shape", None)
    shape = tuple(batch_shape[1:]) if batch_shape and not model._multi_input else ()
    if len(shape) != 3 or None in shape:
        raise UsageError(f"Model {model.name!r} takes inputs of shape {shape}; the kernelnet "
                         "command handles image models with a fixed (height, width, channels).")
    return shape
