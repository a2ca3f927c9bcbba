"""CIFAR-100: 50,000 + 10,000 colour 32x32 images of 100 fine (20 coarse) classes."""

from __future__ import annotations

from kernelnet.datasets import _cifar

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
SHA256 = "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"
FOLDER = "cifar-100-python"


def load_data(label_mode: str = "fine"):
    """Loads CIFAR-100 as Keras does.

    Reads `$KERNELNET_HOME/datasets/cifar-100-python/` or `cifar-100-python.tar.gz` there, and
    downloads the archive when neither exists.

    Args:
        label_mode: `"fine"` (100 classes) or `"coarse"` (20 superclasses).

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 arrays of shapes `(50000, 32, 32, 3)`,
        `(50000, 1)`, `(10000, 32, 32, 3)`, `(10000, 1)`.
    """
    if label_mode not in ("fine", "coarse"):
        raise ValueError(
            'Invalid `label_mode` for cifar100.load_data(): expected "fine" or "coarse". '
            f"Received: label_mode={label_mode!r}."
        )
    train, test = _cifar.load("CIFAR-100", FOLDER, "cifar-100-python.tar.gz", ORIGIN, SHA256,
                              ["train", "test"], f"{label_mode}_labels")
    return train, test
