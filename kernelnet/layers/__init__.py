"""Every kernelnet layer, under its Keras name, plus `serialize`/`deserialize` of layer configs."""

from __future__ import annotations

from typing import Any

from kernelnet.layers.activation import ELU, LeakyReLU, PReLU, ReLU, Softmax
from kernelnet.layers.base import KerasTensor, Layer
from kernelnet.layers.convolutional import Conv2D
from kernelnet.layers.convolutional_1d import (
    AveragePooling1D,
    Conv1D,
    GlobalAveragePooling1D,
    GlobalMaxPooling1D,
    MaxPooling1D,
)
from kernelnet.layers.convolutional_variants import (
    Conv2DTranspose,
    DepthwiseConv2D,
    SeparableConv2D,
)
from kernelnet.layers.core import (
    Activation,
    Dense,
    Dropout,
    Flatten,
    Identity,
    Lambda,
    Permute,
    Reshape,
)
from kernelnet.layers.input_layer import Input, InputLayer
from kernelnet.layers.merging import (
    Add,
    Average,
    Concatenate,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    maximum,
    minimum,
    multiply,
    subtract,
)
from kernelnet.layers.normalization import (
    BatchNormalization,
    GroupNormalization,
    LayerNormalization,
    LocalResponseNormalization,
)
from kernelnet.layers.pooling import (
    AveragePooling2D,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    MaxPooling2D,
)
from kernelnet.layers.preprocessing import (
    CenterCrop,
    Normalization,
    RandomBrightness,
    RandomContrast,
    RandomCrop,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
    Rescaling,
    Resizing,
)
from kernelnet.layers.regularization import GaussianDropout, GaussianNoise, SpatialDropout2D
from kernelnet.layers.reshaping import Cropping2D, UpSampling2D, ZeroPadding2D
from kernelnet.utils.registry import get_from_registry

# Keras aliases: the same classes under their other names.
Convolution2D = Conv2D
MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D
GlobalAvgPool2D = GlobalAveragePooling2D
GlobalMaxPool2D = GlobalMaxPooling2D
LRN = LocalResponseNormalization
Convolution1D = Conv1D
Conv2DTransposed = Convolution2DTranspose = Conv2DTranspose
SeparableConvolution2D = SeparableConv2D
MaxPool1D = MaxPooling1D
AvgPool1D = AveragePooling1D
GlobalAvgPool1D = GlobalAveragePooling1D
GlobalMaxPool1D = GlobalMaxPooling1D

_CLASSES = [
    Activation, Add, Average, AveragePooling2D, BatchNormalization, Concatenate, Conv2D,
    Cropping2D, Dense, Dropout, ELU, Flatten, GlobalAveragePooling2D, GlobalMaxPooling2D,
    InputLayer, Lambda, LayerNormalization, LeakyReLU, LocalResponseNormalization, MaxPooling2D,
    Maximum, Minimum, Multiply, Permute, PReLU, ReLU, Reshape, Softmax, Subtract, UpSampling2D,
    ZeroPadding2D,
    # vision layers of Keras 3
    AveragePooling1D, CenterCrop, Conv1D, Conv2DTranspose, DepthwiseConv2D, GaussianDropout,
    GaussianNoise, GlobalAveragePooling1D, GlobalMaxPooling1D, GroupNormalization, Identity,
    MaxPooling1D, Normalization, RandomBrightness, RandomContrast, RandomCrop, RandomFlip,
    RandomRotation, RandomTranslation, RandomZoom, Rescaling, Resizing, SeparableConv2D,
    SpatialDropout2D,
]


def _registry() -> dict[str, Any]:
    from kernelnet import models, saving

    registry = {cls.__name__: cls for cls in _CLASSES}
    registry.update({"Sequential": models.Sequential, "Functional": models.Model,
                     "Model": models.Model})
    registry.update(saving.get_custom_objects())
    return registry


def serialize(layer: Layer) -> dict:
    """`{"class_name": ..., "config": ...}` for a layer (or model)."""
    from kernelnet import models

    name = type(layer).__name__
    if type(layer) is models.Model:
        name = "Functional"
    return {"class_name": name, "config": layer.get_config()}


def deserialize(config: dict, custom_objects: dict | None = None) -> Layer:
    """Re-creates a layer (or model) from `serialize`'s output.

    Only built-in classes, classes registered with `saving.register_keras_serializable` and
    `custom_objects` can be created: a config never names arbitrary code to run.
    """
    registry = _registry()
    registry.update(custom_objects or {})
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"A layer config must be a dict with 'class_name' and 'config'. "
                         f"Received: {str(config)[:200]}.")
    cls = get_from_registry(config["class_name"], {k: v for k, v in registry.items()}, "layer")
    inner = dict(config.get("config", {}))
    if hasattr(cls, "_nodes") or config["class_name"] in ("Sequential", "Functional", "Model"):
        return cls.from_config(inner, custom_objects=custom_objects)
    return cls.from_config(inner)


__all__ = [cls.__name__ for cls in _CLASSES] + [
    "AvgPool2D", "Convolution2D", "GlobalAvgPool2D", "GlobalMaxPool2D", "Input", "KerasTensor",
    "Layer", "LRN", "MaxPool2D", "add", "average", "concatenate", "deserialize", "maximum",
    "minimum", "multiply", "serialize", "subtract", "AvgPool1D", "Conv2DTransposed",
    "Convolution1D", "Convolution2DTranspose", "GlobalAvgPool1D", "GlobalMaxPool1D", "MaxPool1D",
    "SeparableConvolution2D",
]
