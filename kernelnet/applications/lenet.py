"""LeNet-5 (LeCun, Bottou, Bengio & Haffner 1998, "Gradient-Based Learning Applied to Document
Recognition"), in the common Keras form: tanh convolutions and average ("subsampling") pooling,
with the C5/F6 layers as Dense(120)/Dense(84) and a softmax output instead of RBF units.

The original takes 32x32 images; on MNIST's 28x28 the first convolution uses "same" padding,
which gives the same 5x5x16 feature map before the dense layers (61,706 parameters).
"""

from __future__ import annotations

from typing import Any

from kernelnet import layers


def LeNet5(input_shape: tuple = (28, 28, 1), classes: int = 10,
           classifier_activation: Any = "softmax", name: str = "lenet5") -> Any:
    """Builds LeNet-5 as a `Sequential` model.

    Args:
        input_shape: `(height, width, channels)` of one image, at least 28x28 (or 32x32 with
            the original valid padding: pass `(32, 32, 1)`, the first conv then pads nothing
            extra and the map sizes are 28 -> 14 -> 10 -> 5 as in the paper).
        classes: number of output classes.
        classifier_activation: activation of the output layer; None gives logits.
    """
    from kernelnet.models import Sequential

    first_padding = "same" if tuple(input_shape[:2]) == (28, 28) else "valid"
    return Sequential([
        layers.Input(shape=tuple(input_shape)),
        layers.Conv2D(6, 5, padding=first_padding, activation="tanh", name="c1"),
        layers.AveragePooling2D(2, name="s2"),
        layers.Conv2D(16, 5, activation="tanh", name="c3"),
        layers.AveragePooling2D(2, name="s4"),
        layers.Flatten(name="flatten"),
        layers.Dense(120, activation="tanh", name="c5"),
        layers.Dense(84, activation="tanh", name="f6"),
        layers.Dense(classes, activation=classifier_activation, name="predictions"),
    ], name=name)
