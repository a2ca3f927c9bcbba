"""ResNet v2 (He et al. 2016, "Identity Mappings in Deep Residual Networks", arXiv:1603.05027)
as `keras.applications.ResNet50V2` / `ResNet101V2` / `ResNet152V2`: pre-activation bottleneck
blocks (BN and ReLU before each convolution, the shortcut taken after the first BN+ReLU),
Keras' layer names (`conv2_block1_preact_bn`, ..., `post_bn`), parameter counts and weight
files. The stride of a stage sits in its last block, as in Keras.
"""

from __future__ import annotations

from typing import Any

from kernelnet import layers
from kernelnet.applications import imagenet_utils
from kernelnet.applications.imagenet_utils import decode_predictions  # noqa: F401 - Keras path
from kernelnet.applications.resnet import _BN_EPS, BASE_WEIGHTS_URL, _top

WEIGHTS_HASHES = {
    "resnet50v2": ("3ef43a0b657b3be2300d5770ece849e0", "fac2f116257151a9d068a22e544a4917"),
    "resnet101v2": ("6343647c601c52e1368623803854d971", "c0ed64b8031c3730f411d2eb4eea35b5"),
    "resnet152v2": ("a49b44d1979771252814e80f8ec446f9", "ed17cf2e0169df9d443503ef94b23b33"),
}


def _bn_relu(x: Any, name: str) -> Any:
    x = layers.BatchNormalization(axis=3, epsilon=_BN_EPS, name=name + "_bn")(x)
    return layers.Activation("relu", name=name + "_relu")(x)


def preact_block(x: Any, filters: int, stride: int = 1, conv_shortcut: bool = False,
                 name: str = "") -> Any:
    """BN-ReLU -> 1x1 -> BN-ReLU -> 3x3 (stride) -> BN-ReLU -> 1x1 (4 * filters), plus the
    shortcut (a 1x1 projection of the pre-activation, or the input, subsampled by a 1x1
    max-pool when strided). Keras' `residual_block_v2`."""
    preact = _bn_relu(x, name + "_preact")
    if conv_shortcut:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=name + "_0_conv")(preact)
    else:
        shortcut = layers.MaxPooling2D(1, strides=stride)(x) if stride > 1 else x
    x = layers.Conv2D(filters, 1, use_bias=False, name=name + "_1_conv")(preact)
    x = _bn_relu(x, name + "_1")
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name=name + "_2_pad")(x)
    x = layers.Conv2D(filters, 3, strides=stride, use_bias=False, name=name + "_2_conv")(x)
    x = _bn_relu(x, name + "_2")
    x = layers.Conv2D(4 * filters, 1, name=name + "_3_conv")(x)
    return layers.Add(name=name + "_out")([shortcut, x])


def stack(x: Any, filters: int, blocks: int, stride1: int, name: str) -> Any:
    """`blocks` pre-activation blocks: the first projects the shortcut, the last strides."""
    x = preact_block(x, filters, conv_shortcut=True, name=f"{name}_block1")
    for i in range(2, blocks):
        x = preact_block(x, filters, name=f"{name}_block{i}")
    return preact_block(x, filters, stride=stride1, name=f"{name}_block{blocks}")


def ResNetV2(blocks_per_stage: tuple, model_name: str, include_top: bool = True,
             weights: Any = "imagenet", input_tensor: Any = None, input_shape: Any = None,
             pooling: str | None = None, classes: int = 1000,
             classifier_activation: Any = "softmax") -> Any:
    """Builds a ResNet v2 with `blocks_per_stage` blocks in its four stages."""
    from kernelnet.models import Model

    imagenet_utils.check_weights_argument(weights, include_top, classes, classifier_activation)
    input_shape = imagenet_utils.obtain_input_shape(input_shape, 224, 32, include_top, weights)
    img_input = imagenet_utils.image_input(input_tensor, input_shape)
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(img_input)
    x = layers.Conv2D(64, 7, strides=2, name="conv1_conv")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    for i, (filters, blocks) in enumerate(zip((64, 128, 256, 512), blocks_per_stage)):
        x = stack(x, filters, blocks, stride1=1 if i == 3 else 2, name=f"conv{i + 2}")
    x = _bn_relu(x, "post")
    x = _top(x, include_top, pooling, classes, classifier_activation)
    model = Model(img_input, x, name=model_name)
    suffix = "" if include_top else "_notop"
    file_name = f"{model_name}_weights_tf_dim_ordering_tf_kernels{suffix}.h5"
    md5 = WEIGHTS_HASHES[model_name][0 if include_top else 1]
    imagenet_utils.load_pretrained(model, weights, file_name, BASE_WEIGHTS_URL + file_name, md5)
    return model


def ResNet50V2(include_top: bool = True, weights: Any = "imagenet", input_tensor: Any = None,
               input_shape: Any = None, pooling: str | None = None, classes: int = 1000,
               classifier_activation: Any = "softmax") -> Any:
    """Keras' ResNet50V2: 25,613,800 parameters with the top. Arguments as
    `applications.ResNet50`; expects `resnet_v2.preprocess_input` (pixels to [-1, 1])."""
    return ResNetV2((3, 4, 6, 3), "resnet50v2", include_top, weights, input_tensor,
                    input_shape, pooling, classes, classifier_activation)


def ResNet101V2(include_top: bool = True, weights: Any = "imagenet", input_tensor: Any = None,
                input_shape: Any = None, pooling: str | None = None, classes: int = 1000,
                classifier_activation: Any = "softmax") -> Any:
    """Keras' ResNet101V2: 44,675,560 parameters with the top."""
    return ResNetV2((3, 4, 23, 3), "resnet101v2", include_top, weights, input_tensor,
                    input_shape, pooling, classes, classifier_activation)


def ResNet152V2(include_top: bool = True, weights: Any = "imagenet", input_tensor: Any = None,
                input_shape: Any = None, pooling: str | None = None, classes: int = 1000,
                classifier_activation: Any = "softmax") -> Any:
    """Keras' ResNet152V2: 60,380,648 parameters with the top."""
    return ResNetV2((3, 8, 36, 3), "resnet152v2", include_top, weights, input_tensor,
                    input_shape, pooling, classes, classifier_activation)


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """"tf"-mode preprocessing (pixels scaled to [-1, 1]), as Keras' `resnet_v2`."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")
