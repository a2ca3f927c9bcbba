"""CIFAR-10: 50,000 + 10,000 colour 32x32 images of 10 classes."""

from __future__ import annotations

import numpy as np

from kernelnet.datasets import _cifar

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
FOLDER = "cifar-10-batches-py"
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
               "truck")


def load_data():
    """Loads CIFAR-10 as Keras does.

    Reads `$KERNELNET_HOME/datasets/cifar-10-batches-py/` or, if absent,
    `$KERNELNET_HOME/datasets/cifar-10-python.tar.gz` (read in place, not extracted), and
    downloads the archive when neither exists.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 arrays of shapes `(50000, 32, 32, 3)`,
        `(50000, 1)`, `(10000, 32, 32, 3)`, `(10000, 1)`.
    """
    members = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    batches = _cifar.load("CIFAR-10", FOLDER, "cifar-10-python.tar.gz", ORIGIN, SHA256,
                          members, "labels")
    x_train = np.concatenate([x for x, _ in batches[:5]])
    y_train = np.concatenate([y for _, y in batches[:5]])
    return (x_train, y_train), batches[5]
