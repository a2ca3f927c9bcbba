"""ResNet (He et al. 2015, "Deep Residual Learning for Image Recognition", arXiv:1512.03385).

`ResNet50` is Keras' `keras.applications.ResNet50`: same signature, layer names
(`conv1_conv`, `conv2_block1_1_conv`, ...), parameter count (25,636,712 with the top) and weight
files, so Keras' ImageNet weights load by name. `ResNet18` and `ResNet34` come from the same
builder with the paper's two-conv "basic" blocks and bias-free convolutions (as torchvision's);
Keras has no such models, so they have no pretrained weights.
"""

from __future__ import annotations

from typing import Any

from kernelnet import layers
from kernelnet.applications import imagenet_utils
from kernelnet.applications.imagenet_utils import decode_predictions  # noqa: F401 - Keras path

BASE_WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
# Keras' MD5 hashes of (with top, without top) for resnet50_weights_tf_dim_ordering_tf_kernels
WEIGHTS_HASHES = {
    "resnet50": ("2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"),
    "resnet101": ("f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21"),
    "resnet152": ("100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c"),
}
_BN_EPS = 1.001e-5


def _conv_bn(x: Any, filters: int, kernel: int, stride: int, name: str, use_bias: bool,
             padding: str = "valid") -> Any:
    x = layers.Conv2D(filters, kernel, strides=stride, padding=padding, use_bias=use_bias,
                      name=name + "_conv")(x)
    return layers.BatchNormalization(axis=3, epsilon=_BN_EPS, name=name + "_bn")(x)


def bottleneck_block(x: Any, filters: int, stride: int = 1, conv_shortcut: bool = True,
                     name: str = "", use_bias: bool = True) -> Any:
    """1x1 -> 3x3 -> 1x1 (4 * filters) residual block of ResNet50 (Keras' `residual_block_v1`)."""
    if conv_shortcut:
        shortcut = _conv_bn(x, 4 * filters, 1, stride, name + "_0", use_bias)
    else:
        shortcut = x
    x = _conv_bn(x, filters, 1, stride, name + "_1", use_bias)
    x = layers.Activation("relu", name=name + "_1_relu")(x)
    x = _conv_bn(x, filters, 3, 1, name + "_2", use_bias, padding="same")
    x = layers.Activation("relu", name=name + "_2_relu")(x)
    x = _conv_bn(x, 4 * filters, 1, 1, name + "_3", use_bias)
    x = layers.Add(name=name + "_add")([shortcut, x])
    return layers.Activation("relu", name=name + "_out")(x)


def basic_block(x: Any, filters: int, stride: int = 1, conv_shortcut: bool = True,
                name: str = "", use_bias: bool = False) -> Any:
    """3x3 -> 3x3 residual block of ResNet18/34 (the paper's Figure 5, left)."""
    if conv_shortcut:
        shortcut = _conv_bn(x, filters, 1, stride, name + "_0", use_bias)
    else:
        shortcut = x
    x = _conv_bn(x, filters, 3, stride, name + "_1", use_bias, padding="same")
    x = layers.Activation("relu", name=name + "_1_relu")(x)
    x = _conv_bn(x, filters, 3, 1, name + "_2", use_bias, padding="same")
    x = layers.Add(name=name + "_add")([shortcut, x])
    return layers.Activation("relu", name=name + "_out")(x)


def stack(x: Any, block: Any, filters: int, blocks: int, stride1: int, name: str,
          use_bias: bool) -> Any:
    """`blocks` residual blocks; the first one projects the shortcut and downsamples."""
    width = filters * (4 if block is bottleneck_block else 1)
    needs_projection = stride1 != 1 or x.shape[-1] != width
    x = block(x, filters, stride=stride1, conv_shortcut=needs_projection,
              name=f"{name}_block1", use_bias=use_bias)
    for i in range(2, blocks + 1):
        x = block(x, filters, conv_shortcut=False, name=f"{name}_block{i}", use_bias=use_bias)
    return x


def ResNet(block: Any, blocks_per_stage: tuple, use_bias: bool, model_name: str,
           include_top: bool = True, weights: Any = None, input_tensor: Any = None,
           input_shape: Any = None, pooling: str | None = None, classes: int = 1000,
           classifier_activation: Any = "softmax", min_size: int = 32) -> Any:
    """Builds a ResNet v1 from a block function and the number of blocks per stage."""
    from kernelnet.models import Model

    imagenet_utils.check_weights_argument(weights, include_top, classes, classifier_activation)
    if weights == "imagenet" and model_name not in WEIGHTS_HASHES:
        raise ValueError(
            f"There are no ImageNet weights for {model_name}; Keras publishes them for "
            "ResNet50/101/152. Use weights=None or a weights file path."
        )
    input_shape = imagenet_utils.obtain_input_shape(input_shape, 224, min_size, include_top,
                                                    weights)
    img_input = imagenet_utils.image_input(input_tensor, input_shape)
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(img_input)
    x = layers.Conv2D(64, 7, strides=2, use_bias=use_bias, name="conv1_conv")(x)
    x = layers.BatchNormalization(axis=3, epsilon=_BN_EPS, name="conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    for i, (filters, blocks) in enumerate(zip((64, 128, 256, 512), blocks_per_stage)):
        x = stack(x, block, filters, blocks, stride1=1 if i == 0 else 2, name=f"conv{i + 2}",
                  use_bias=use_bias)
    x = _top(x, include_top, pooling, classes, classifier_activation)
    model = Model(img_input, x, name=model_name)
    suffix = "" if include_top else "_notop"
    file_name = f"{model_name}_weights_tf_dim_ordering_tf_kernels{suffix}.h5"
    md5 = WEIGHTS_HASHES.get(model_name, (None, None))[0 if include_top else 1]
    imagenet_utils.load_pretrained(model, weights, file_name, BASE_WEIGHTS_URL + file_name, md5)
    return model


def _top(x: Any, include_top: bool, pooling: str | None, classes: int,
         classifier_activation: Any) -> Any:
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        return layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name="max_pool")(x)
    return x


def ResNet50(include_top: bool = True, weights: Any = "imagenet", input_tensor: Any = None,
             input_shape: Any = None, pooling: str | None = None, classes: int = 1000,
             classifier_activation: Any = "softmax") -> Any:
    """Keras' ResNet50: bottleneck blocks [3, 4, 6, 3]; 25,636,712 parameters with the top.

    Args:
        include_top: whether to include the global pooling + `Dense(classes)` classifier.
        weights: None (random), "imagenet" (Keras' file from `$KERNELNET_HOME/models`, downloaded
            when missing) or the path of a weights file.
        input_tensor: optional `Input()` tensor to build on.
        input_shape: `(height, width, 3)`, at least 32x32; only with `include_top=False` unless
            it is (224, 224, 3).
        pooling: None, "avg" or "max": global pooling when `include_top=False`.
        classes: classifier size when `include_top=True` (1000 with ImageNet weights).
        classifier_activation: activation of the classifier; None returns logits.

    Expects inputs preprocessed by `preprocess_input` (caffe mode).
    """
    return ResNet(bottleneck_block, (3, 4, 6, 3), True, "resnet50", include_top, weights,
                  input_tensor, input_shape, pooling, classes, classifier_activation)


def ResNet101(include_top: bool = True, weights: Any = "imagenet", input_tensor: Any = None,
              input_shape: Any = None, pooling: str | None = None, classes: int = 1000,
              classifier_activation: Any = "softmax") -> Any:
    """Keras' ResNet101: bottleneck blocks [3, 4, 23, 3]; 44,707,176 parameters with the top.
    Arguments as `ResNet50`."""
    return ResNet(bottleneck_block, (3, 4, 23, 3), True, "resnet101", include_top, weights,
                  input_tensor, input_shape, pooling, classes, classifier_activation)


def ResNet152(include_top: bool = True, weights: Any = "imagenet", input_tensor: Any = None,
              input_shape: Any = None, pooling: str | None = None, classes: int = 1000,
              classifier_activation: Any = "softmax") -> Any:
    """Keras' ResNet152: bottleneck blocks [3, 8, 36, 3]; 60,419,944 parameters with the top.
    Arguments as `ResNet50`."""
    return ResNet(bottleneck_block, (3, 8, 36, 3), True, "resnet152", include_top, weights,
                  input_tensor, input_shape, pooling, classes, classifier_activation)


def ResNet34(include_top: bool = True, weights: Any = None, input_tensor: Any = None,
             input_shape: Any = None, pooling: str | None = None, classes: int = 1000,
             classifier_activation: Any = "softmax") -> Any:
    """ResNet34: basic blocks [3, 4, 6, 3], bias-free convs. No pretrained weights."""
    return ResNet(basic_block, (3, 4, 6, 3), False, "resnet34", include_top, weights,
                  input_tensor, input_shape, pooling, classes, classifier_activation)


def ResNet18(include_top: bool = True, weights: Any = None, input_tensor: Any = None,
             input_shape: Any = None, pooling: str | None = None, classes: int = 1000,
             classifier_activation: Any = "softmax") -> Any:
    """ResNet18: basic blocks [2, 2, 2, 2], bias-free convs. No pretrained weights."""
    return ResNet(basic_block, (2, 2, 2, 2), False, "resnet18", include_top, weights,
                  input_tensor, input_shape, pooling, classes, classifier_activation)


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """Caffe-mode preprocessing, as `keras.applications.resnet.preprocess_input`."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="caffe")
