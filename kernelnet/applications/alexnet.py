"""An AlexNet-style net for small (CIFAR-sized) images.

AlexNet (Krizhevsky, Sutskever & Hinton 2012, "ImageNet Classification with Deep Convolutional
Neural Networks") introduced ReLU, local response normalization (LRN), overlapping 3x3/2
max-pooling and dropout; its 224x224 layout does not fit 32x32 images. This is the small-image
form of the same ideas used by Krizhevsky's cuda-convnet CIFAR-10 nets and the TensorFlow
CIFAR-10 tutorial model: two 5x5x64 ReLU convolutions, each with 3x3/2 max-pooling and LRN
(depth_radius=4, bias=1, alpha=0.001/9, beta=0.75), then Dense 384 and 192 with dropout.
1,756,426 parameters on 32x32x3 with 10 classes.
"""

from __future__ import annotations

from typing import Any

from kernelnet import layers


def AlexNet(input_shape: tuple = (32, 32, 3), classes: int = 10, dropout: float = 0.5,
            classifier_activation: Any = "softmax", name: str = "alexnet_small") -> Any:
    """Builds the small-image AlexNet as a `Sequential` model (see the module docstring)."""
    from kernelnet.models import Sequential

    def lrn(name: str) -> Any:
        return layers.LocalResponseNormalization(depth_radius=4, bias=1.0, alpha=0.001 / 9.0,
                                                 beta=0.75, name=name)

    return Sequential([
        layers.Input(shape=tuple(input_shape)),
        layers.Conv2D(64, 5, padding="same", activation="relu", name="conv1"),
        layers.MaxPooling2D(3, strides=2, padding="same", name="pool1"),
        lrn("norm1"),
        layers.Conv2D(64, 5, padding="same", activation="relu", name="conv2"),
        lrn("norm2"),
        layers.MaxPooling2D(3, strides=2, padding="same", name="pool2"),
        layers.Flatten(name="flatten"),
        layers.Dense(384, activation="relu", name="fc3"),
        layers.Dropout(dropout, name="drop3"),
        layers.Dense(192, activation="relu", name="fc4"),
        layers.Dropout(dropout, name="drop4"),
        layers.Dense(classes, activation=classifier_activation, name="predictions"),
    ], name=name)
