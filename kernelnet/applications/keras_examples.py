"""The two convnets of the classic Keras examples.

- `MnistCNN`: `examples/mnist_cnn.py` of Keras 2 (after the Lasagne/Theano MNIST example):
  99.25% test accuracy after 12 epochs; 1,199,882 parameters on 28x28x1.
- `Cifar10CNN`: `examples/cifar10_cnn.py` of Keras 2 (a small net after the cuda-convnet
  CIFAR-10 setups), about 75% accuracy after 25 epochs with augmentation; 1,250,858 parameters.
"""

from __future__ import annotations

from typing import Any

from kernelnet import layers


def MnistCNN(input_shape: tuple = (28, 28, 1), classes: int = 10,
             classifier_activation: Any = "softmax", name: str = "mnist_cnn") -> Any:
    """Conv32 3x3 relu, Conv64 3x3 relu, MaxPool 2, Dropout .25, Flatten, Dense 128 relu,
    Dropout .5, Dense `classes` softmax, as a `Sequential` model."""
    from kernelnet.models import Sequential

    return Sequential([
        layers.Input(shape=tuple(input_shape)),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.Conv2D(64, (3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Dropout(0.25),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dropout(0.5),
        layers.Dense(classes, activation=classifier_activation),
    ], name=name)


def Cifar10CNN(input_shape: tuple = (32, 32, 3), classes: int = 10,
               classifier_activation: Any = "softmax", name: str = "cifar10_cnn") -> Any:
    """Two blocks of (Conv32/64 same, ReLU, Conv32/64, ReLU, MaxPool 2, Dropout .25), then
    Flatten, Dense 512 relu, Dropout .5, Dense `classes` softmax, with the example's separate
    Activation layers, as a `Sequential` model."""
    from kernelnet.models import Sequential

    model = Sequential([layers.Input(shape=tuple(input_shape))], name=name)
    for filters in (32, 64):
        model.add(layers.Conv2D(filters, (3, 3), padding="same"))
        model.add(layers.Activation("relu"))
        model.add(layers.Conv2D(filters, (3, 3)))
        model.add(layers.Activation("relu"))
        model.add(layers.MaxPooling2D(pool_size=(2, 2)))
        model.add(layers.Dropout(0.25))
    model.add(layers.Flatten())
    model.add(layers.Dense(512))
    model.add(layers.Activation("relu"))
    model.add(layers.Dropout(0.5))
    model.add(layers.Dense(classes))
    model.add(layers.Activation(classifier_activation or "linear"))
    return model
