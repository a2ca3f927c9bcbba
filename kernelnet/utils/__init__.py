"""Utilities: one-hot labels, seeding, gradient checking, progress bars, image datasets, image
files (`load_img`, `save_img`, ...), `PyDataset` and `plot_model`, at Keras 3's paths."""

from __future__ import annotations

import random

import numpy as np

from kernelnet import backend
from kernelnet.utils import np_utils
from kernelnet.utils.gradcheck import gradient_check
from kernelnet.utils.np_utils import normalize, to_categorical


def set_random_seed(seed: int) -> None:
    """Seeds kernelnet's generator (weights, shuffling, dropout, augmentation) and, as Keras
    does, Python's `random` and NumPy's global generator for user code."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"set_random_seed() expects an int. Received: seed={seed!r}.")
    if seed < 0:
        raise ValueError(f"set_random_seed() expects an int >= 0. Received: seed={seed!r}.")
    backend.set_rng_seed(int(seed))
    random.seed(int(seed))
    np.random.seed(int(seed) % (2**32))


def __getattr__(name: str):
    # Heavier helpers load on first use, keeping `import kernelnet` fast.
    if name == "Progbar":
        from kernelnet.utils.progbar import Progbar

        return Progbar
    if name == "image_dataset_from_directory":
        from kernelnet.utils.image_dataset import image_dataset_from_directory

        return image_dataset_from_directory
    if name in ("load_img", "img_to_array", "array_to_img", "save_img"):  # Pillow
        from kernelnet.preprocessing import _io

        return getattr(_io, name)
    if name == "PyDataset" or name == "Sequence":
        from kernelnet.utils.py_dataset import PyDataset

        return PyDataset
    if name in ("plot_model", "model_to_dot"):
        from kernelnet.utils import model_plot

        return getattr(model_plot, name)
    if name == "unpack_x_y_sample_weight":
        from kernelnet.models.data_adapters import unpack_x_y_sample_weight

        return unpack_x_y_sample_weight
    raise AttributeError(f"module 'kernelnet.utils' has no attribute {name!r}")


__all__ = ["Progbar", "PyDataset", "Sequence", "array_to_img", "gradient_check",
           "image_dataset_from_directory", "img_to_array", "load_img", "model_to_dot",
           "normalize", "np_utils", "plot_model", "save_img", "set_random_seed",
           "to_categorical", "unpack_x_y_sample_weight"]
