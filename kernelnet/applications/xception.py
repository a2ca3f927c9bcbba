"""Xception (Chollet 2017, "Xception: Deep Learning with Depthwise Separable Convolutions",
arXiv:1610.02357) as `keras.applications.Xception`: an entry flow of strided separable blocks
with 1x1 projected shortcuts, eight identical middle-flow blocks of three separable
convolutions, and an exit flow; Keras' layer names, 22,910,480 parameters with the top, 299x299
default input (at least 71x71) and Keras' weight files.
"""

from __future__ import annotations

from typing import Any

from kernelnet import layers
from kernelnet.applications import imagenet_utils
from kernelnet.applications.imagenet_utils import decode_predictions  # noqa: F401 - Keras path

_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/xception/"
WEIGHTS = {  # include_top -> (Keras file name, Keras MD5)
    True: ("xception_weights_tf_dim_ordering_tf_kernels.h5", "0a58e3b7378bc2990ea3b43d5981f1f6"),
    False: ("xception_weights_tf_dim_ordering_tf_kernels_notop.h5",
            "b0042744bf5b25fce3cb969f33bebb97"),
}


def _sep_bn(x: Any, filters: int, name: str) -> Any:
    x = layers.SeparableConv2D(filters, (3, 3), padding="same", use_bias=False, name=name)(x)
    return layers.BatchNormalization(axis=-1, name=name + "_bn")(x)


def _downsampling_block(x: Any, filters: tuple, block: int, relu_first: bool) -> Any:
    """Two separable convolutions and a strided max-pool, plus a strided 1x1 shortcut."""
    residual = layers.Conv2D(filters[1], (1, 1), strides=(2, 2), padding="same",
                             use_bias=False)(x)
    residual = layers.BatchNormalization(axis=-1)(residual)
    prefix = f"block{block}"
    if relu_first:
        x = layers.Activation("relu", name=f"{prefix}_sepconv1_act")(x)
    x = _sep_bn(x, filters[0], f"{prefix}_sepconv1")
    x = layers.Activation("relu", name=f"{prefix}_sepconv2_act")(x)
    x = _sep_bn(x, filters[1], f"{prefix}_sepconv2")
    x = layers.MaxPooling2D((3, 3), strides=(2, 2), padding="same", name=f"{prefix}_pool")(x)
    return layers.add([x, residual])


def Xception(include_top: bool = True, weights: Any = "imagenet", input_tensor: Any = None,
             input_shape: Any = None, pooling: str | None = None, classes: int = 1000,
             classifier_activation: Any = "softmax", name: str = "xception") -> Any:
    """Keras' Xception. Arguments as `applications.ResNet50`, plus `name`; expects
    `xception.preprocess_input` (pixels to [-1, 1])."""
    from kernelnet.models import Model

    imagenet_utils.check_weights_argument(weights, include_top, classes, classifier_activation)
    input_shape = imagenet_utils.obtain_input_shape(input_shape, 299, 71, include_top, weights)
    img_input = imagenet_utils.image_input(input_tensor, input_shape)
    x = img_input
    for i, filters in enumerate((32, 64), start=1):
        x = layers.Conv2D(filters, (3, 3), strides=(2, 2) if i == 1 else (1, 1), use_bias=False,
                          name=f"block1_conv{i}")(x)
        x = layers.BatchNormalization(axis=-1, name=f"block1_conv{i}_bn")(x)
        x = layers.Activation("relu", name=f"block1_conv{i}_act")(x)
    for block, filters in ((2, 128), (3, 256), (4, 728)):              # entry flow
        x = _downsampling_block(x, (filters, filters), block, relu_first=block > 2)
    for block in range(5, 13):                                           # middle flow
        residual, prefix = x, f"block{block}"
        for j in (1, 2, 3):
            x = layers.Activation("relu", name=f"{prefix}_sepconv{j}_act")(x)
            x = _sep_bn(x, 728, f"{prefix}_sepconv{j}")
        x = layers.add([x, residual])
    x = _downsampling_block(x, (728, 1024), 13, relu_first=True)         # exit flow
    for j, filters in ((1, 1536), (2, 2048)):
        x = _sep_bn(x, filters, f"block14_sepconv{j}")
        x = layers.Activation("relu", name=f"block14_sepconv{j}_act")(x)
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D()(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D()(x)
    model = Model(img_input, x, name=name)
    file_name, md5 = WEIGHTS[bool(include_top)]
    imagenet_utils.load_pretrained(model, weights, file_name, _BASE + file_name, md5)
    return model


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """"tf"-mode preprocessing (pixels scaled to [-1, 1]), as Keras' `xception`."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")
