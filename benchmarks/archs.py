"""The benchmark architectures, built identically in kernelnet (NHWC) and PyTorch (NCHW).

Each entry of `ARCHS` gives the input shape (h, w, c), the number of classes, whether the case is
trained (ResNet50 is the frozen-backbone inference case) and the two builders. torch is imported
only inside the torch builders, so kernelnet workers never load it. `SIZE_FREE` architectures
(global average pooling before the classifier) take any image size: their builders take the
input shape, `Arch.resized` makes the entry for another size and batch (benchmarks/scaling.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Arch:
    name: str
    input_shape: tuple[int, int, int]   # (h, w, c)
    classes: int
    train: bool
    train_batch: int
    infer_batch: int
    kernelnet: Callable[..., Any]
    torch: Callable[..., Any]
    size_free: bool = False   # builders take the input shape (h, w, c)

    def build(self, framework: str):
        builder = self.kernelnet if framework == "kernelnet" else self.torch
        return builder(self.input_shape) if self.size_free else builder()

    def resized(self, image_size: int | None = None, batch: int | None = None) -> Arch:
        """This architecture at another square image size (size-free ones only) and batch."""
        if image_size is not None and not self.size_free:
            raise ValueError(f"{self.name} has a fixed input size {self.input_shape}.")
        shape = self.input_shape if image_size is None else (image_size, image_size,
                                                             self.input_shape[2])
        return dataclasses.replace(self, input_shape=shape,
                                   train_batch=batch or self.train_batch,
                                   infer_batch=batch or self.infer_batch)


# ---------------------------------------------------------------------------- kernelnet
def kn_mnist_cnn():
    from kernelnet import layers
    from kernelnet.models import Sequential

    return Sequential([
        layers.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, (3, 3), activation="relu"),
        layers.Conv2D(64, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Dropout(0.25),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ])


def kn_lenet5():
    from kernelnet import layers
    from kernelnet.models import Sequential

    return Sequential([
        layers.Input(shape=(28, 28, 1)),
        layers.Conv2D(6, 5, padding="same", activation="tanh"),
        layers.AveragePooling2D(2),
        layers.Conv2D(16, 5, activation="tanh"),
        layers.AveragePooling2D(2),
        layers.Flatten(),
        layers.Dense(120, activation="tanh"),
        layers.Dense(84, activation="tanh"),
        layers.Dense(10, activation="softmax"),
    ])


def kn_cifar10_cnn():
    from kernelnet import layers
    from kernelnet.models import Sequential

    model = Sequential([layers.Input(shape=(32, 32, 3))])
    for filters in (32, 64):
        model.add(layers.Conv2D(filters, (3, 3), padding="same", activation="relu"))
        model.add(layers.Conv2D(filters, (3, 3), activation="relu"))
        model.add(layers.MaxPooling2D((2, 2)))
        model.add(layers.Dropout(0.25))
    model.add(layers.Flatten())
    model.add(layers.Dense(512, activation="relu"))
    model.add(layers.Dropout(0.5))
    model.add(layers.Dense(10, activation="softmax"))
    return model


def kn_gap_cnn(input_shape=(32, 32, 3)):
    """The CIFAR-10 CNN's convolutions, then global average pooling and the classifier."""
    from kernelnet import layers
    from kernelnet.models import Sequential

    model = Sequential([layers.Input(shape=input_shape)])
    for filters in (32, 64):
        model.add(layers.Conv2D(filters, (3, 3), padding="same", activation="relu"))
        model.add(layers.Conv2D(filters, (3, 3), activation="relu"))
        model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.GlobalAveragePooling2D())
    model.add(layers.Dense(10, activation="softmax"))
    return model


def kn_resnet50():
    from kernelnet.applications import ResNet50

    return ResNet50(weights=None, include_top=False, input_shape=(150, 150, 3), pooling="avg")


# ---------------------------------------------------------------------------- torch
def th_mnist_cnn():
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Dropout(0.25), nn.Flatten(), nn.Linear(12 * 12 * 64, 128), nn.ReLU(),
        nn.Dropout(0.5), nn.Linear(128, 10))


def th_lenet5():
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.Tanh(), nn.AvgPool2d(2), nn.Conv2d(6, 16, 5),
        nn.Tanh(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.Tanh(),
        nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10))


def th_cifar10_cnn():
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3), nn.ReLU(),
        nn.MaxPool2d(2), nn.Dropout(0.25),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3), nn.ReLU(),
        nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(),
        nn.Linear(6 * 6 * 64, 512), nn.ReLU(), nn.Dropout(0.5), nn.Linear(512, 10))


def th_gap_cnn(input_shape=(32, 32, 3)):
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(input_shape[2], 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3), nn.ReLU(),
        nn.MaxPool2d(2), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3),
        nn.ReLU(), nn.MaxPool2d(2), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


def th_resnet50():
    """torchvision's ResNet50 layout (stride on the 3x3 conv, v1.5) without the classifier.

    Keras' ResNet50 puts the stride on the first 1x1 conv (v1); the FLOP difference at 150x150
    is about 2%, in torch's favour.
    """
    import torch
    from torch import nn

    class Bottleneck(nn.Module):
        def __init__(self, c_in, width, stride):
            super().__init__()
            c_out = width * 4
            self.body = nn.Sequential(
                nn.Conv2d(c_in, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(True),
                nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width),
                nn.ReLU(True), nn.Conv2d(width, c_out, 1, bias=False), nn.BatchNorm2d(c_out))
            self.short = (nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False),
                                        nn.BatchNorm2d(c_out))
                          if stride != 1 or c_in != c_out else nn.Identity())

        def forward(self, x):
            return torch.relu(self.body(x) + self.short(x))

    mods = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(True),
            nn.MaxPool2d(3, 2, 1)]
    c_in = 64
    for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for b in range(blocks):
            mods.append(Bottleneck(c_in, width, stride if b == 0 else 1))
            c_in = width * 4
    mods += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return nn.Sequential(*mods)


ARCHS = {
    "mnist_cnn": Arch("mnist_cnn", (28, 28, 1), 10, True, 128, 1000, kn_mnist_cnn, th_mnist_cnn),
    "lenet5": Arch("lenet5", (28, 28, 1), 10, True, 128, 1000, kn_lenet5, th_lenet5),
    "cifar10_cnn": Arch("cifar10_cnn", (32, 32, 3), 10, True, 128, 1000, kn_cifar10_cnn,
                        th_cifar10_cnn),
    # Inference only (frozen backbone). Batch 1000 at 150x150 would need ~20 GB of activations
    # in either framework on a 2-core machine, so the batch is 32.
    "resnet50": Arch("resnet50", (150, 150, 3), 0, False, 0, 32, kn_resnet50, th_resnet50),
}
# Architectures for benchmarks/scaling.py only (not in run.py's table).
SIZE_FREE = {
    "gap_cnn": Arch("gap_cnn", (32, 32, 3), 10, True, 128, 128, kn_gap_cnn, th_gap_cnn,
                    size_free=True),
}
