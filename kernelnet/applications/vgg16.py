"""VGG16 (Simonyan & Zisserman 2014, "Very Deep Convolutional Networks for Large-Scale Image
Recognition", arXiv:1409.1556), as `keras.applications.VGG16`: same signature, layer names
(`block1_conv1`, ..., `fc1`, `fc2`, `predictions`), 138,357,544 parameters with the top and
Keras' ImageNet weight files.
"""

from __future__ import annotations

from typing import Any

from kernelnet import layers
from kernelnet.applications import imagenet_utils
from kernelnet.applications.imagenet_utils import decode_predictions  # noqa: F401 - Keras path

_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/"
WEIGHTS = {  # include_top -> (Keras file name, Keras MD5)
    True: ("vgg16_weights_tf_dim_ordering_tf_kernels.h5", "64373286793e3c8b2b4e3219cbf3544b"),
    False: ("vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
            "6d6bbae143d832006294945121d1f1fc"),
}
# (filters, convs) per block
_BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))


def vgg_blocks(x: Any, blocks: tuple = _BLOCKS) -> Any:
    """3x3 "same" ReLU convolutions, each block closed by a 2x2 max-pool (Keras names)."""
    for b, (filters, convs) in enumerate(blocks, start=1):
        for c in range(1, convs + 1):
            x = layers.Conv2D(filters, (3, 3), activation="relu", padding="same",
                              name=f"block{b}_conv{c}")(x)
        x = layers.MaxPooling2D((2, 2), strides=(2, 2), name=f"block{b}_pool")(x)
    return x


def VGG16(include_top: bool = True, weights: Any = "imagenet", input_tensor: Any = None,
          input_shape: Any = None, pooling: str | None = None, classes: int = 1000,
          classifier_activation: Any = "softmax", name: str = "vgg16") -> Any:
    """Keras' VGG16. Arguments as `ResNet50` (see `kernelnet.applications.resnet`), plus `name`.

    Expects inputs preprocessed by `preprocess_input` (caffe mode).
    """
    return VGG(_BLOCKS, WEIGHTS, _BASE, include_top, weights, input_tensor, input_shape,
               pooling, classes, classifier_activation, name)


def VGG(blocks: tuple, weight_files: dict, base_url: str, include_top: bool, weights: Any,
        input_tensor: Any, input_shape: Any, pooling: str | None, classes: int,
        classifier_activation: Any, name: str) -> Any:
    """The VGG family: `vgg_blocks(blocks)` then Keras' top (two 4096-unit layers)."""
    from kernelnet.models import Model

    imagenet_utils.check_weights_argument(weights, include_top, classes, classifier_activation)
    input_shape = imagenet_utils.obtain_input_shape(input_shape, 224, 32, include_top, weights)
    img_input = imagenet_utils.image_input(input_tensor, input_shape)
    x = vgg_blocks(img_input, blocks)
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(4096, activation="relu", name="fc1")(x)
        x = layers.Dense(4096, activation="relu", name="fc2")(x)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D(name="global_average_pooling2d")(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D(name="global_max_pooling2d")(x)
    model = Model(img_input, x, name=name)
    file_name, md5 = weight_files[bool(include_top)]
    imagenet_utils.load_pretrained(model, weights, file_name, base_url + file_name, md5)
    return model


def preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """Caffe-mode preprocessing, as `keras.applications.vgg16.preprocess_input`."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="caffe")
