"""EfficientNet (Tan & Le 2019, "EfficientNet: Rethinking Model Scaling for Convolutional
Neural Networks", arXiv:1905.11946) as `keras.applications.EfficientNetB0` ... `B3`.

MBConv blocks (1x1 expansion, depthwise convolution, squeeze-and-excitation, linear 1x1
projection, stochastic-depth dropout on the identity shortcut) with swish activations, scaled
in width and depth per variant. As in Keras the model takes raw pixels in [0, 255]: it rescales
and normalizes them itself (`Rescaling`, `Normalization`), so `preprocess_input` is the
identity. Keras' layer names (`stem_conv`, `block1a_dwconv`, `block2b_se_excite`, ...),
parameter counts (B0: 5,330,571 with the top) and weight files.
"""

from __future__ import annotations

import math
from typing import Any

from kernelnet import layers
from kernelnet.applications import imagenet_utils
from kernelnet.applications.imagenet_utils import decode_predictions  # noqa: F401 - Keras path

_BASE = "https://storage.googleapis.com/keras-applications/"
WEIGHTS_HASHES = {  # variant -> (MD5 with top, MD5 without)
    "b0": ("902e53a9f72be733fc0bcb005b3ebbac", "50bc09e76180e00e4465e1a485ddc09d"),
    "b1": ("1d254153d4ab51201f1646940f018540", "74c4e6b3e1f6a1eea24c589628592432"),
    "b2": ("b15cce36ff4dcbd00b6dd88e7857a6ad", "111f8e2ac8aa800a7a99e3239f7bfb39"),
    "b3": ("ffd1fdc53d0ce67064dc6a9c7960ede0", "af6d107764bb5b1abb91932881670226"),
}
# (kernel_size, repeats, filters_in, filters_out, expand_ratio, strides) of the 7 stages;
# every block has an identity skip when shapes allow and squeeze-excitation ratio 0.25.
BLOCKS = ((3, 1, 32, 16, 1, 1), (3, 2, 16, 24, 6, 2), (5, 2, 24, 40, 6, 2),
          (3, 3, 40, 80, 6, 2), (5, 3, 80, 112, 6, 1), (5, 4, 112, 192, 6, 2),
          (3, 1, 192, 320, 6, 1))
CONV_KERNEL_INITIALIZER = {"class_name": "VarianceScaling",
                           "config": {"scale": 2.0, "mode": "fan_out",
                                      "distribution": "truncated_normal"}}
DENSE_KERNEL_INITIALIZER = {"class_name": "VarianceScaling",
                            "config": {"scale": 1.0 / 3.0, "mode": "fan_out",
                                       "distribution": "uniform"}}
IMAGENET_STDDEV_RGB = (0.229, 0.224, 0.225)


def mbconv_block(inputs: Any, activation: str, drop_rate: float, name: str, filters_in: int,
                 filters_out: int, kernel_size: int, strides: int, expand_ratio: int,
                 se_ratio: float = 0.25) -> Any:
    """Keras' EfficientNet `block`: expand, depthwise, squeeze-excite, project, skip."""
    filters = filters_in * expand_ratio
    x = inputs
    if expand_ratio != 1:
        x = layers.Conv2D(filters, 1, padding="same", use_bias=False,
                          kernel_initializer=CONV_KERNEL_INITIALIZER, name=name + "expand_conv")(x)
        x = layers.BatchNormalization(axis=3, name=name + "expand_bn")(x)
        x = layers.Activation(activation, name=name + "expand_activation")(x)
    if strides == 2:
        x = layers.ZeroPadding2D(padding=imagenet_utils.correct_pad(x, kernel_size),
                                 name=name + "dwconv_pad")(x)
    x = layers.DepthwiseConv2D(kernel_size, strides=strides,
                               padding="valid" if strides == 2 else "same", use_bias=False,
                               depthwise_initializer=CONV_KERNEL_INITIALIZER,
                               name=name + "dwconv")(x)
    x = layers.BatchNormalization(axis=3, name=name + "bn")(x)
    x = layers.Activation(activation, name=name + "activation")(x)
    if 0 < se_ratio <= 1:
        se = layers.GlobalAveragePooling2D(name=name + "se_squeeze")(x)
        se = layers.Reshape((1, 1, filters), name=name + "se_reshape")(se)
        se = layers.Conv2D(max(1, int(filters_in * se_ratio)), 1, padding="same",
                           activation=activation, kernel_initializer=CONV_KERNEL_INITIALIZER,
                           name=name + "se_reduce")(se)
        se = layers.Conv2D(filters, 1, padding="same", activation="sigmoid",
                           kernel_initializer=CONV_KERNEL_INITIALIZER, name=name + "se_expand")(se)
        x = layers.multiply([x, se], name=name + "se_excite")
    x = layers.Conv2D(filters_out, 1, padding="same", use_bias=False,
                      kernel_initializer=CONV_KERNEL_INITIALIZER, name=name + "project_conv")(x)
    x = layers.BatchNormalization(axis=3, name=name + "project_bn")(x)
    if strides == 1 and filters_in == filters_out:
        if drop_rate > 0:
            x = layers.Dropout(drop_rate, noise_shape=(None, 1, 1, 1), name=name + "drop")(x)
        x = layers.add([x, inputs], name=name + "add")
    return x


def EfficientNet(width_coefficient: float, depth_coefficient: float, default_size: int,
                 dropout_rate: float, model_name: str, include_top: bool = True,
                 weights: Any = "imagenet", input_tensor: Any = None, input_shape: Any = None,
                 pooling: str | None = None, classes: int = 1000,
                 classifier_activation: Any = "softmax", drop_connect_rate: float = 0.2,
                 depth_divisor: int = 8, activation: str = "swish",
                 weights_name: str | None = None) -> Any:
    """Builds an EfficientNet scaled by `width_coefficient` (channels) and
    `depth_coefficient` (blocks per stage)."""
    from kernelnet.models import Model

    imagenet_utils.check_weights_argument(weights, include_top, classes, classifier_activation)
    input_shape = imagenet_utils.obtain_input_shape(input_shape, default_size, 32, include_top,
                                                    weights)
    img_input = imagenet_utils.image_input(input_tensor, input_shape)

    def round_filters(filters: float) -> int:
        filters *= width_coefficient
        new = max(depth_divisor, int(filters + depth_divisor / 2) // depth_divisor * depth_divisor)
        return int(new + depth_divisor if new < 0.9 * filters else new)

    def round_repeats(repeats: int) -> int:
        return int(math.ceil(depth_coefficient * repeats))

    x = layers.Rescaling(1.0 / 255.0)(img_input)
    x = layers.Normalization(axis=3)(x)
    if weights == "imagenet":
        x = layers.Rescaling([1.0 / math.sqrt(s) for s in IMAGENET_STDDEV_RGB])(x)
    x = layers.ZeroPadding2D(padding=imagenet_utils.correct_pad(x, 3), name="stem_conv_pad")(x)
    x = layers.Conv2D(round_filters(32), 3, strides=2, padding="valid", use_bias=False,
                      kernel_initializer=CONV_KERNEL_INITIALIZER, name="stem_conv")(x)
    x = layers.BatchNormalization(axis=3, name="stem_bn")(x)
    x = layers.Activation(activation, name="stem_activation")(x)
    total = float(sum(round_repeats(stage[1]) for stage in BLOCKS))
    b = 0
    for i, (kernel, repeats, f_in, f_out, expand, strides) in enumerate(BLOCKS):
        f_in, f_out = round_filters(f_in), round_filters(f_out)
        for j in range(round_repeats(repeats)):
            x = mbconv_block(x, activation, drop_connect_rate * b / total,
                             name=f"block{i + 1}{chr(j + 97)}_",
                             filters_in=f_in if j == 0 else f_out, filters_out=f_out,
                             kernel_size=kernel, strides=strides if j == 0 else 1,
                             expand_ratio=expand)
            b += 1
    x = layers.Conv2D(round_filters(1280), 1, padding="same", use_bias=False,
                      kernel_initializer=CONV_KERNEL_INITIALIZER, name="top_conv")(x)
    x = layers.BatchNormalization(axis=3, name="top_bn")(x)
    x = layers.Activation(activation, name="top_activation")(x)
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if dropout_rate > 0:
            x = layers.Dropout(dropout_rate, name="top_dropout")(x)
        x = layers.Dense(classes, activation=classifier_activation,
                         kernel_initializer=DENSE_KERNEL_INITIALIZER, name="predictions")(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D(name="max_pool")(x)
    model = Model(img_input, x, name=model_name)
    weights_name = weights_name or model_name
    file_name = weights_name + (".h5" if include_top else "_notop.h5")
    md5 = WEIGHTS_HASHES.get(weights_name[-2:], (None, None))[0 if include_top else 1]
    imagenet_utils.load_pretrained(model, weights, file_name, _BASE + file_name, md5)
    return model


def _variant(width: float, depth: float, size: int, dropout: float, name: str):
    def factory(include_top: bool = True, weights: Any = "imagenet", input_tensor: Any = None,
                input_shape: Any = None, pooling: str | None = None, classes: int = 1000,
                classifier_activation: Any = "softmax", name: str = name) -> Any:
        return EfficientNet(width, depth, size, dropout, name, include_top, weights,
                            input_tensor, input_shape, pooling, classes, classifier_activation,
                            weights_name=default_name)

    default_name = name
    factory.__name__ = factory.__qualname__ = "EfficientNet" + name[-2:].upper()
    factory.__doc__ = (f"Keras' {factory.__name__} (width x{width}, depth x{depth}, "
                       f"{size}x{size} default input, top dropout {dropout}). Arguments as "
                       "`applications.ResNet50`, plus `name`; takes raw pixels in [0, 255].")
    return factory


EfficientNetB0 = _variant(1.0, 1.0, 224, 0.2, "efficientnetb0")
EfficientNetB1 = _variant(1.0, 1.1, 240, 0.2, "efficientnetb1")
EfficientNetB2 = _variant(1.1, 1.2, 260, 0.3, "efficientnetb2")
EfficientNetB3 = _variant(1.2, 1.4, 300, 0.3, "efficientnetb3")


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """The identity: EfficientNet models rescale and normalize inside (as in Keras)."""
    return x
