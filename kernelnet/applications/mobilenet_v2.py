"""MobileNetV2 (Sandler et al. 2018, "MobileNetV2: Inverted Residuals and Linear Bottlenecks",
arXiv:1801.04381) as `keras.applications.MobileNetV2`: the width multiplier `alpha`, input
sizes 96-224, Keras' layer names (`Conv1`, `block_1_expand`, `expanded_conv_depthwise`, ...),
parameter counts (3,538,984 at alpha 1.0 with the top) and weight files.

An inverted residual block widens the channels `expansion` times with a 1x1 convolution,
filters each channel with a 3x3 depthwise convolution, and projects back with a linear 1x1
convolution; ReLU6 after the first two. The shortcut is added when shapes allow.
"""

from __future__ import annotations

import warnings
from typing import Any

from kernelnet import layers
from kernelnet.applications import imagenet_utils
from kernelnet.applications.imagenet_utils import decode_predictions  # noqa: F401 - Keras path

_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"
_SIZES = (96, 128, 160, 192, 224)
_ALPHAS = (0.35, 0.50, 0.75, 1.0, 1.3, 1.4)
# (filters, stride, expansion) of blocks 0..16
_BLOCKS = ((16, 1, 1), (24, 2, 6), (24, 1, 6), (32, 2, 6), (32, 1, 6), (32, 1, 6),
           (64, 2, 6), (64, 1, 6), (64, 1, 6), (64, 1, 6), (96, 1, 6), (96, 1, 6), (96, 1, 6),
           (160, 2, 6), (160, 1, 6), (160, 1, 6), (320, 1, 6))


def make_divisible(v: float, divisor: int = 8) -> int:
    """Rounds a channel count to a multiple of `divisor`, never down by more than 10%."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


def _bn(x: Any, name: str) -> Any:
    return layers.BatchNormalization(axis=-1, epsilon=1e-3, momentum=0.999, name=name)(x)


def inverted_res_block(inputs: Any, expansion: int, stride: int, alpha: float, filters: int,
                       block_id: int) -> Any:
    """Keras' `_inverted_res_block`: expand (1x1), depthwise 3x3, project (1x1)."""
    in_channels = inputs.shape[-1]
    pointwise_filters = make_divisible(int(filters * alpha), 8)
    x, prefix = inputs, f"block_{block_id}_"
    if block_id:
        x = layers.Conv2D(expansion * in_channels, 1, padding="same", use_bias=False,
                          name=prefix + "expand")(x)
        x = layers.ReLU(6.0, name=prefix + "expand_relu")(_bn(x, prefix + "expand_BN"))
    else:
        prefix = "expanded_conv_"
    if stride == 2:
        x = layers.ZeroPadding2D(padding=imagenet_utils.correct_pad(x, 3), name=prefix + "pad")(x)
    x = layers.DepthwiseConv2D(3, strides=stride, use_bias=False,
                               padding="same" if stride == 1 else "valid",
                               name=prefix + "depthwise")(x)
    x = layers.ReLU(6.0, name=prefix + "depthwise_relu")(_bn(x, prefix + "depthwise_BN"))
    x = layers.Conv2D(pointwise_filters, 1, padding="same", use_bias=False,
                      name=prefix + "project")(x)
    x = _bn(x, prefix + "project_BN")
    if in_channels == pointwise_filters and stride == 1:
        return layers.Add(name=prefix + "add")([inputs, x])
    return x


def _default_size(input_shape: Any, input_tensor: Any) -> int:
    shape = tuple(input_tensor.shape[1:]) if input_shape is None and input_tensor is not None \
        else input_shape
    if shape is None:
        return 224
    rows, cols = shape[0], shape[1]
    return rows if rows == cols and rows in _SIZES else 224


def MobileNetV2(input_shape: Any = None, alpha: float = 1.0, include_top: bool = True,
                weights: Any = "imagenet", input_tensor: Any = None, pooling: str | None = None,
                classes: int = 1000, classifier_activation: Any = "softmax",
                name: str | None = None) -> Any:
    """Keras' MobileNetV2.

    Args:
        input_shape: `(rows, cols, 3)`; ImageNet weights exist for square 96, 128, 160, 192
            and 224 inputs.
        alpha: width multiplier; ImageNet weights exist for 0.35, 0.5, 0.75, 1.0, 1.3, 1.4.
        Other arguments as `applications.ResNet50`. Expects `mobilenet_v2.preprocess_input`
        (pixels to [-1, 1]).
    """
    from kernelnet.models import Model

    imagenet_utils.check_weights_argument(weights, include_top, classes, classifier_activation)
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape, _default_size(input_shape, input_tensor), 32, include_top, weights)
    rows, cols = input_shape[0], input_shape[1]
    if weights == "imagenet":
        if alpha not in _ALPHAS:
            raise ValueError(
                "If imagenet weights are being loaded, alpha must be one of `0.35`, `0.50`, "
                f"`0.75`, `1.0`, `1.3` or `1.4` only; Received `alpha={alpha}`"
            )
        if rows != cols or rows not in _SIZES:
            rows = 224
            warnings.warn("`input_shape` is undefined or non-square, or `rows` is not in "
                          "[96, 128, 160, 192, 224]. Weights for input shape (224, 224) will be "
                          "loaded as the default.", stacklevel=2)
    img_input = imagenet_utils.image_input(input_tensor, input_shape)
    x = layers.Conv2D(make_divisible(32 * alpha, 8), 3, strides=(2, 2), padding="same",
                      use_bias=False, name="Conv1")(img_input)
    x = layers.ReLU(6.0, name="Conv1_relu")(_bn(x, "bn_Conv1"))
    for block_id, (filters, stride, expansion) in enumerate(_BLOCKS):
        x = inverted_res_block(x, expansion, stride, alpha, filters, block_id)
    last = make_divisible(1280 * alpha, 8) if alpha > 1.0 else 1280
    x = layers.Conv2D(last, 1, use_bias=False, name="Conv_1")(x)
    x = layers.ReLU(6.0, name="out_relu")(_bn(x, "Conv_1_bn"))
    if include_top:
        x = layers.GlobalAveragePooling2D()(x)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D()(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D()(x)
    model = Model(img_input, x, name=name or f"mobilenetv2_{alpha:0.2f}_{rows}")
    top = "" if include_top else "_no_top"
    file_name = f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{rows}{top}.h5"
    imagenet_utils.load_pretrained(model, weights, file_name, _BASE + file_name, None)
    return model


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """"tf"-mode preprocessing (pixels scaled to [-1, 1]), as Keras' `mobilenet_v2`."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")
