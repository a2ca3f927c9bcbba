"""MNIST handwritten digits: 60,000 + 10,000 grayscale 28x28 images of the digits 0-9."""

from __future__ import annotations

import zipfile
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


KEYS = ("x_train", "y_train", "x_test", "y_test")


def _bad_npz(path: Path, problem: str, received: str, hint: str) -> ValueError:
    return ValueError(f"{str(path)!r} is not a usable MNIST npz file: {problem}. Expected a NumPy "
                      f".npz archive with the arrays {', '.join(KEYS)} (Keras' mnist.npz). "
                      f"Received: {received}. {hint}")


def load_npz(path: Path):
    """Reads a Keras-layout npz with keys x_train, y_train, x_test, y_test.

    Raises:
        ValueError: naming `path`, when it is not an npz, misses a key or is corrupted.
    """
    path = Path(path)
    redo = "Delete it so that it is downloaded again, or replace it with the original file."
    try:
        f = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        with open(path, "rb") as raw:             # NumPy's own message advises allow_pickle
            head = raw.read(8)
        if head.startswith(b"PK"):
            raise _bad_npz(path, "it is a truncated or corrupted zip archive",
                           f"{type(err).__name__}: {err}", redo) from err
        raise _bad_npz(path, "NumPy cannot read it as an npz archive",
                       f"a file starting with bytes {head!r}", redo) from err
    if not isinstance(f, np.lib.npyio.NpzFile):
        raise _bad_npz(path, "it holds a single array (a .npy file)",
                       f"an array of shape {f.shape}", redo)
    with f:
        missing = [k for k in KEYS if k not in f.files]
        if missing:
            raise _bad_npz(path, f"{', '.join(missing)} missing", f"keys {f.files}",
                           "Save it with np.savez(path, x_train=..., y_train=..., x_test=..., "
                           "y_test=...).")
        try:
            arrays = [f[k] for k in KEYS]
        except ValueError as err:                 # object arrays: would need pickle
            raise _bad_npz(path, "its arrays hold pickled Python objects, which kernelnet "
                           "never loads", "object arrays", "Save plain numeric arrays.") from err
        except (OSError, EOFError, zipfile.BadZipFile) as err:
            raise _bad_npz(path, "it is truncated or corrupted", f"{type(err).__name__}: {err}",
                           redo) from err
    return (arrays[0], arrays[1]), (arrays[2], arrays[3])


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
