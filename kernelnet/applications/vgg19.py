"""VGG19 as `keras.applications.VGG19`: VGG16's design with four convolutions in blocks 3-5;
Keras' layer names, 143,667,240 parameters with the top, and Keras' ImageNet weight files."""

from __future__ import annotations

from typing import Any

from kernelnet.applications.imagenet_utils import decode_predictions  # noqa: F401 - Keras path
from kernelnet.applications.vgg16 import VGG, preprocess_input  # noqa: F401 - Keras path

_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/"
WEIGHTS = {  # include_top -> (Keras file name, Keras MD5)
    True: ("vgg19_weights_tf_dim_ordering_tf_kernels.h5", "cbe5617147190e668d6c5d5026f83318"),
    False: ("vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
            "253f8cb515780f3b799900260a226db6"),
}
_BLOCKS = ((64, 2), (128, 2), (256, 4), (512, 4), (512, 4))  # (filters, convs) per block


def VGG19(include_top: bool = True, weights: Any = "imagenet", input_tensor: Any = None,
          input_shape: Any = None, pooling: str | None = None, classes: int = 1000,
          classifier_activation: Any = "softmax", name: str = "vgg19") -> Any:
    """Keras' VGG19. Arguments as `VGG16`; expects `preprocess_input` (caffe mode)."""
    return VGG(_BLOCKS, WEIGHTS, _BASE, include_top, weights, input_tensor, input_shape,
               pooling, classes, classifier_activation, name)
