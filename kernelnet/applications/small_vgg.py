"""A small VGG for CIFAR-sized images: VGG's recipe (Simonyan & Zisserman 2014) of stacked 3x3
"same" ReLU convolutions closed by 2x2 max-pooling, with three narrow blocks (32, 64, 128
filters, two convs each) and a Dense 128 head, as in the usual "VGG-3" CIFAR-10 baselines.
550,570 parameters on 32x32x3 with 10 classes.
"""

from __future__ import annotations

from typing import Any

from kernelnet import layers

DEFAULT_BLOCKS = ((32, 2), (64, 2), (128, 2))


def SmallVGG(input_shape: tuple = (32, 32, 3), classes: int = 10,
             blocks: tuple = DEFAULT_BLOCKS, dense_units: int = 128, dropout: float = 0.5,
             classifier_activation: Any = "softmax", name: str = "small_vgg") -> Any:
    """Builds the small VGG as a `Sequential` model.

    Args:
        blocks: `(filters, convs)` per block; each block ends with a 2x2 max-pool.
        dense_units: width of the hidden Dense layer.
        dropout: rate of the dropout before the classifier.
    """
    from kernelnet.models import Sequential

    model = Sequential([layers.Input(shape=tuple(input_shape))], name=name)
    for b, (filters, convs) in enumerate(blocks, start=1):
        for c in range(1, convs + 1):
            model.add(layers.Conv2D(filters, 3, padding="same", activation="relu",
                                    kernel_initializer="he_uniform", name=f"block{b}_conv{c}"))
        model.add(layers.MaxPooling2D(2, name=f"block{b}_pool"))
    model.add(layers.Flatten(name="flatten"))
    model.add(layers.Dense(dense_units, activation="relu", kernel_initializer="he_uniform",
                           name="fc1"))
    model.add(layers.Dropout(dropout, name="dropout"))
    model.add(layers.Dense(classes, activation=classifier_activation, name="predictions"))
    return model
