"""`PyDataset`: Keras 3's base class for datasets written in Python (`keras.utils.PyDataset`).

A subclass returns whole batches from `__getitem__(index)` and their count from `__len__`;
`fit`, `evaluate` and `predict` consume it directly (see `kernelnet.models.data_adapters`).
With `workers > 1` the next batches are read ahead in a pool of threads, at most
`max_queue_size` of them, in order. `use_multiprocessing=True` is accepted for Keras
compatibility and runs the same threads: kernelnet does not pickle datasets into processes.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterator
from typing import Any

_DEFAULTS = {"_workers": 1, "_use_multiprocessing": False, "_max_queue_size": 10}

class PyDataset:
    """Base class for a dataset of batches, with Keras 3's methods and arguments.

    Args:
        workers: number of threads reading batches ahead during `fit`/`evaluate`/`predict`.
            1 reads each batch when it is needed.
        use_multiprocessing: accepted for Keras compatibility; batches are read in threads.
        max_queue_size: at most this many batches are read ahead.

    Example:
        >>> import numpy as np
        >>> class Squares(PyDataset):
        ...     def __init__(self, n, batch_size, **kwargs):
        ...         super().__init__(**kwargs)
        ...         self.x = np.arange(n, dtype="float32")[:, None]
        ...         self.batch_size = batch_size
        ...     def __len__(self):
        ...         return -(-len(self.x) // self.batch_size)
        ...     def __getitem__(self, index):
        ...         batch = self.x[index * self.batch_size:(index + 1) * self.batch_size]
        ...         return batch, batch ** 2
        >>> len(Squares(10, 4)), Squares(10, 4)[2][1].ravel().tolist()
        (3, [64.0, 81.0])
    """

    def __init__(self, workers: int = 1, use_multiprocessing: bool = False,
                 max_queue_size: int = 10):
        self._workers = workers
        self._use_multiprocessing = use_multiprocessing
        self._max_queue_size = max_queue_size

    def _warn_if_super_not_called(self) -> None:
        missing = [attr for attr in _DEFAULTS if not hasattr(self, attr)]
        for attr in missing:
            setattr(self, attr, _DEFAULTS[attr])
        if missing:
            warnings.warn(
                "Your `PyDataset` class should call `super().__init__(**kwargs)` in its "
                "constructor. `**kwargs` can include `workers`, `use_multiprocessing`, "
                "`max_queue_size`. Do not pass these arguments to `fit()`, as they will be "
                "ignored.", stacklevel=3)

    @property
    def workers(self) -> int:
        self._warn_if_super_not_called()
        return self._workers

    @workers.setter
    def workers(self, value: int) -> None:
        self._workers = value

    @property
    def use_multiprocessing(self) -> bool:
        self._warn_if_super_not_called()
        return self._use_multiprocessing

    @use_multiprocessing.setter
    def use_multiprocessing(self, value: bool) -> None:
        self._use_multiprocessing = value

    @property
    def max_queue_size(self) -> int:
        self._warn_if_super_not_called()
        return self._max_queue_size

    @max_queue_size.setter
    def max_queue_size(self, value: int) -> None:
        self._max_queue_size = value

    def __getitem__(self, index: int) -> Any:
        """The batch at position `index`: `x`, `(x, y)` or `(x, y, sample_weight)`."""
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__(index).")

    @property
    def num_batches(self) -> int | None:
        """The number of batches (`len(self)`), or None for an infinite dataset."""
        if hasattr(self, "__len__"):
            return len(self)
        raise NotImplementedError(
            f"{type(self).__name__} must implement `__len__` or a `num_batches` property "
            "(None for an infinite dataset).")

    def __iter__(self) -> Iterator[Any]:
        try:
            count = self.num_batches
        except NotImplementedError:
            count = None
        for index in range(count) if count is not None else itertools.count():
            yield self[index]

    def on_epoch_begin(self) -> None:
        """Called at the start of every epoch."""

    def on_epoch_end(self) -> None:
        """Called at the end of every epoch."""
