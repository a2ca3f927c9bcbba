"""MNIST handwritten digits: 60,000 + 10,000 grayscale 28x28 images of the digits 0-9."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kernelnet.datasets import _cache, _formats

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
IDX_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
SHIPPED = Path(__file__).parent / "data" / "mnist.npz"


def load_idx_folder(folder: Path, shape: tuple[int, int] = (28, 28)):
    """Reads the four IDX `.gz` files in `folder` -> `((x_train, y_train), (x_test, y_test))`."""
    x_train, y_train, x_test, y_test = (_formats.read_idx(folder / f) for f in IDX_FILES)
    for x, y, name in ((x_train, y_train, "train"), (x_test, y_test, "t10k")):
        if x.ndim != 3 or x.shape[1:] != shape or len(x) != len(y):
            raise ValueError(
                f"The {name} IDX files in {folder} do not match: expected images of shape "
                f"(n, {shape[0]}, {shape[1]}) and n labels. Received: images {x.shape}, "
                f"labels {y.shape}."
            )
    return (x_train, y_train), (x_test, y_test)


def load_npz(path: Path):
    """Reads a Keras-layout npz with keys x_train, y_train, x_test, y_test."""
    with np.load(path, allow_pickle=False) as f:
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])


def load_data(path: str = "mnist.npz"):
    """Loads MNIST as Keras does.

    Looks for, in order: `$KERNELNET_HOME/datasets/<path>` (Keras' npz), the four IDX `.gz`
    files in `$KERNELNET_HOME/datasets/mnist/`, then the copy shipped with kernelnet. Downloads
    the npz only if all are missing.

    Args:
        path: file name of the npz under `$KERNELNET_HOME/datasets`, or an absolute path.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 arrays of shapes `(60000, 28, 28)`,
        `(60000,)`, `(10000, 28, 28)`, `(10000,)`.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = load_data()
        >>> x_train.shape, x_train.dtype
        ((60000, 28, 28), dtype('uint8'))
    """
    home = _cache.datasets_dir()
    npz = home / path
    idx_folder = home / "mnist"
    if not npz.exists() and all((idx_folder / f).exists() for f in IDX_FILES):
        return load_idx_folder(idx_folder)
    found = _cache.resolve(
        "MNIST",
        [npz, *(idx_folder / f for f in IDX_FILES), SHIPPED],
        download_to=npz,
        urls=[ORIGIN],
        sha256=SHA256,
        expected=f"{path} (Keras' npz with keys x_train, y_train, x_test, y_test) or the four "
        f"IDX files {', '.join(IDX_FILES)} in a `mnist` subfolder",
    )
    if found.name in IDX_FILES:  # some IDX files exist but not all four
        missing = [f for f in IDX_FILES if not (idx_folder / f).exists()]
        raise FileNotFoundError(f"Incomplete MNIST IDX files in {idx_folder}: missing {missing}.")
    return load_npz(found)
