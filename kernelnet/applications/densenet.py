"""DenseNet (Huang et al. 2017, "Densely Connected Convolutional Networks", arXiv:1608.06993)
as `keras.applications.DenseNet121` / `169` / `201`: dense blocks of BN-ReLU-1x1-BN-ReLU-3x3
layers whose 32 new channels are concatenated to their input, transition blocks halving the
channels and the resolution; Keras' layer names, parameter counts (DenseNet121: 8,062,504 with
the top) and weight files.
"""

from __future__ import annotations

from typing import Any

from kernelnet import layers
from kernelnet.applications import imagenet_utils
from kernelnet.applications.imagenet_utils import decode_predictions  # noqa: F401 - Keras path
from kernelnet.applications.resnet import _BN_EPS, _top

_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/densenet/"
WEIGHTS_HASHES = {  # name -> (MD5 with top, MD5 without)
    "densenet121": ("9d60b8095a5708f2dcce2bca79d332c7", "30ee3e1110167f948a6b9946edeeb738"),
    "densenet169": ("d699b8f76981ab1b30698df4c175e90b", "b8c4d4c20dd625c148057b9ff1c1176b"),
    "densenet201": ("1ceb130c1ea1b78c3bf6114dbdfd8807", "c13680b51ded0fb44dff2d8f86ac8bb1"),
}
GROWTH_RATE = 32


def _bn_relu(x: Any, name: str) -> Any:
    x = layers.BatchNormalization(axis=3, epsilon=_BN_EPS, name=name + "_bn")(x)
    return layers.Activation("relu", name=name + "_relu")(x)


def conv_block(x: Any, growth_rate: int, name: str) -> Any:
    """One dense layer: `growth_rate` new channels concatenated to `x`."""
    y = _bn_relu(x, name + "_0")
    y = layers.Conv2D(4 * growth_rate, 1, use_bias=False, name=name + "_1_conv")(y)
    y = _bn_relu(y, name + "_1")
    y = layers.Conv2D(growth_rate, 3, padding="same", use_bias=False, name=name + "_2_conv")(y)
    return layers.Concatenate(axis=3, name=name + "_concat")([x, y])


def dense_block(x: Any, blocks: int, name: str) -> Any:
    for i in range(blocks):
        x = conv_block(x, GROWTH_RATE, name=f"{name}_block{i + 1}")
    return x


def transition_block(x: Any, reduction: float, name: str) -> Any:
    """BN-ReLU, a 1x1 convolution keeping `reduction` of the channels, 2x2 average pooling."""
    x = _bn_relu(x, name)
    x = layers.Conv2D(int(x.shape[3] * reduction), 1, use_bias=False, name=name + "_conv")(x)
    return layers.AveragePooling2D(2, strides=2, name=name + "_pool")(x)


def DenseNet(blocks: tuple, model_name: str, include_top: bool = True,
             weights: Any = "imagenet", input_tensor: Any = None, input_shape: Any = None,
             pooling: str | None = None, classes: int = 1000,
             classifier_activation: Any = "softmax") -> Any:
    """Builds a DenseNet with `blocks` dense layers in each of its four dense blocks."""
    from kernelnet.models import Model

    imagenet_utils.check_weights_argument(weights, include_top, classes, classifier_activation)
    input_shape = imagenet_utils.obtain_input_shape(input_shape, 224, 32, include_top, weights)
    img_input = imagenet_utils.image_input(input_tensor, input_shape)
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)))(img_input)
    x = layers.Conv2D(64, 7, strides=2, use_bias=False, name="conv1_conv")(x)
    x = _bn_relu(x, "conv1")
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)))(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    for i, n in enumerate(blocks):
        x = dense_block(x, n, name=f"conv{i + 2}")
        if i < 3:
            x = transition_block(x, 0.5, name=f"pool{i + 2}")
    x = layers.BatchNormalization(axis=3, epsilon=_BN_EPS, name="bn")(x)
    x = layers.Activation("relu", name="relu")(x)
    x = _top(x, include_top, pooling, classes, classifier_activation)
    model = Model(img_input, x, name=model_name)
    suffix = "" if include_top else "_notop"
    file_name = f"{model_name}_weights_tf_dim_ordering_tf_kernels{suffix}.h5"
    md5 = WEIGHTS_HASHES[model_name][0 if include_top else 1]
    imagenet_utils.load_pretrained(model, weights, file_name, _BASE + file_name, md5)
    return model


def DenseNet121(include_top: bool = True, weights: Any = "imagenet", input_tensor: Any = None,
                input_shape: Any = None, pooling: str | None = None, classes: int = 1000,
                classifier_activation: Any = "softmax") -> Any:
    """Keras' DenseNet121 (blocks 6, 12, 24, 16). Arguments as `applications.ResNet50`;
    expects `densenet.preprocess_input` ("torch" mode)."""
    return DenseNet((6, 12, 24, 16), "densenet121", include_top, weights, input_tensor,
                    input_shape, pooling, classes, classifier_activation)


def DenseNet169(include_top: bool = True, weights: Any = "imagenet", input_tensor: Any = None,
                input_shape: Any = None, pooling: str | None = None, classes: int = 1000,
                classifier_activation: Any = "softmax") -> Any:
    """Keras' DenseNet169 (blocks 6, 12, 32, 32)."""
    return DenseNet((6, 12, 32, 32), "densenet169", include_top, weights, input_tensor,
                    input_shape, pooling, classes, classifier_activation)


def DenseNet201(include_top: bool = True, weights: Any = "imagenet", input_tensor: Any = None,
                input_shape: Any = None, pooling: str | None = None, classes: int = 1000,
                classifier_activation: Any = "softmax") -> Any:
    """Keras' DenseNet201 (blocks 6, 12, 48, 32)."""
    return DenseNet((6, 12, 48, 32), "densenet201", include_top, weights, input_tensor,
                    input_shape, pooling, classes, classifier_activation)


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """"torch"-mode preprocessing (scaled to [0, 1], ImageNet mean/std), as Keras' densenet."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="torch")
