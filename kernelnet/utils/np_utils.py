"""`to_categorical` and `normalize`, at Keras' legacy path `utils.np_utils`."""

from __future__ import annotations

import numpy as np

from kernelnet._typing import Array


def to_categorical(y, num_classes: int | None = None, dtype: str = "float32") -> Array:
    """One-hot encodes integer class ids: shape `(*y.shape, num_classes)`.

    A trailing axis of size 1 is dropped first, as Keras does (CIFAR labels are `(n, 1)`).

    Example:
        >>> to_categorical([0, 2], 3)
        array([[1., 0., 0.],
               [0., 0., 1.]], dtype=float32)
    """
    y = np.asarray(y)
    if y.ndim > 1 and y.shape[-1] == 1:
        y = y.reshape(y.shape[:-1])
    if y.dtype.kind not in "iubf" or (
            y.size and y.dtype.kind == "f" and not np.all(np.mod(y, 1) == 0)):
        raise ValueError(
            f"to_categorical() expects integer class ids. Received values of dtype "
            f"{str(y.dtype)!r}, e.g. {y.ravel()[:3].tolist()}."
        )
    y = y.astype(np.int64)
    if y.size and y.min() < 0:
        raise ValueError(f"to_categorical() expects class ids >= 0. Received: min {y.min()}.")
    if num_classes is None:
        num_classes = int(y.max()) + 1 if y.size else 0
    elif y.size and y.max() >= num_classes:
        raise ValueError(
            f"to_categorical() received class id {int(y.max())}, which is out of range for "
            f"num_classes={num_classes} (expected ids in [0, {num_classes - 1}])."
        )
    out = np.zeros((y.size, num_classes), dtype=dtype)
    out[np.arange(y.size), y.ravel()] = 1
    return out.reshape(*y.shape, num_classes)


def normalize(x, axis: int = -1, order: int = 2) -> Array:
    """Scales `x` to unit `order`-norm along `axis` (zero vectors stay zero)."""
    x = np.asarray(x)
    norm = np.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    norm[norm == 0] = 1
    return x / norm
