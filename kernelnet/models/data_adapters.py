"""Turn what users pass to fit/evaluate/predict into per-epoch streams of batches.

Three kinds of data, as in Keras: NumPy arrays (batched and shuffled here), objects with
`__len__` and `__getitem__` returning batches (Keras `Sequence`/`PyDataset`, kernelnet's image
iterators), and plain Python iterators/generators of `(x, y)` batches.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from kernelnet import backend
from kernelnet._typing import Array
from kernelnet.utils import validation


def as_input_array(x: Any, arg: str = "x") -> Array:
    """Numeric data as floatx (uint8 images included); validates the dtype."""
    array = np.asarray(x)
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"Expected `{arg}` to be numeric (int, uint8 or float). Received dtype "
            f"{str(array.dtype)!r} with shape {tuple(array.shape)}."
        )
    return array.astype(backend.floatx(), copy=False)


def check_finite(x: Array, arg: str) -> None:
    """Reports NaN/Inf in float inputs before any work is done."""
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        bad = np.argwhere(~np.isfinite(x.reshape(len(x), -1)))[0][0]
        raise ValueError(
            f"`{arg}` contains NaN or infinite values (first in sample {int(bad)}). "
            "Clean or impute the data before training."
        )


class ArrayAdapter:
    """Batches of arrays; `x` may be a list of arrays for multi-input models."""

    def __init__(self, x: Any, y: Any, batch_size: int, shuffle: bool,
                 steps: int | None = None):
        self.multi = is_multi_input(x)
        self.xs = [np.asarray(a) for a in x] if self.multi else [np.asarray(x)]
        self.y = None if y is None else np.asarray(y)
        kwargs = {f"x[{i}]" if self.multi else "x": a for i, a in enumerate(self.xs)}
        self.num_samples = validation.check_consistent_length(**kwargs, y=self.y)
        self.batch_size = validation.check_positive_int(batch_size, "batch_size", "fit")
        self.shuffle = shuffle
        full = math.ceil(self.num_samples / self.batch_size)
        self.steps = full if steps is None else min(steps, full)

    def __iter__(self) -> Iterator[tuple]:
        n = self.num_samples
        order = backend.rng().permutation(n) if self.shuffle else None
        for step in range(self.steps):
            lo, hi = step * self.batch_size, min((step + 1) * self.batch_size, n)
            index = order[lo:hi] if order is not None else slice(lo, hi)
            xb = [as_input_array(a[index]) for a in self.xs]
            yb = None if self.y is None else self.y[index]
            yield (xb if self.multi else xb[0]), yb

    def on_epoch_end(self) -> None:
        pass


class SequenceAdapter:
    """Objects with `len()` and `[i]` -> batch, like `keras.utils.Sequence`."""

    def __init__(self, data: Any, steps: int | None):
        self.data = data
        if len(data) == 0:
            raise ValueError(f"The dataset passed as `x` ({type(data).__name__}) is empty: "
                             "len(x) == 0. Expected at least one batch.")
        self.steps = len(data) if steps is None else steps

    def __iter__(self) -> Iterator[tuple]:
        n = len(self.data)
        for step in range(self.steps):
            yield split_batch(self.data[step % n])

    def on_epoch_end(self) -> None:
        if hasattr(self.data, "on_epoch_end"):
            self.data.on_epoch_end()


class PyDatasetAdapter(SequenceAdapter):
    """A `kernelnet.utils.PyDataset`, as Keras 3 consumes one: `on_epoch_begin`/`on_epoch_end`
    around each epoch, batch order shuffled when `shuffle=True`, and with `workers > 1` up to
    `max_queue_size` batches read ahead by a pool of threads (results stay in order)."""

    def __init__(self, data: Any, steps: int | None, shuffle: bool):
        count = data.num_batches
        if count is None and steps is None:
            raise ValueError(
                f"{type(data).__name__} is infinite (num_batches is None): pass "
                "`steps_per_epoch` (or `steps`) to say how many batches make an epoch.")
        self.data, self.shuffle, self.count = data, shuffle, count
        self.steps = count if steps is None else steps

    def _indices(self) -> Iterator[int]:
        if self.count is None:
            yield from range(self.steps)
            return
        order = backend.rng().permutation(self.count) if self.shuffle else range(self.count)
        for step in range(self.steps):
            yield int(order[step % self.count])

    def __iter__(self) -> Iterator[tuple]:
        self.data.on_epoch_begin()
        workers = max(1, int(self.data.workers))
        if workers == 1:
            for index in self._indices():
                yield split_batch(self.data[index])
            return
        from collections import deque
        from concurrent.futures import ThreadPoolExecutor

        ahead = max(1, int(self.data.max_queue_size))
        with ThreadPoolExecutor(workers, thread_name_prefix="kernelnet-pydataset") as pool:
            pending: deque = deque()
            for index in self._indices():
                pending.append(pool.submit(self.data.__getitem__, index))
                if len(pending) >= ahead:
                    yield split_batch(pending.popleft().result())
            while pending:
                yield split_batch(pending.popleft().result())


class GeneratorAdapter:
    """A Python iterator of batches; runs `steps` batches per epoch (or until exhausted)."""

    def __init__(self, data: Any, steps: int | None):
        self.data = iter(data)
        self.steps = steps
        self.exhausted = False

    def __iter__(self) -> Iterator[tuple]:
        count = 0
        while self.steps is None or count < self.steps:
            try:
                batch = next(self.data)
            except StopIteration:
                self.exhausted = True
                if self.steps is not None:
                    warnings.warn(
                        f"Your input ran out of data after {count} of {self.steps} steps; "
                        "interrupting. Make sure the generator can produce at least "
                        "`steps_per_epoch * epochs` batches.", stacklevel=4)
                return
            count += 1
            yield split_batch(batch)

    def on_epoch_end(self) -> None:
        pass


def split_batch(batch: Any) -> tuple:
    """(x, y) from a batch: a tuple (x, y), (x, y, sample_weight) or a bare x."""
    if isinstance(batch, tuple):
        if len(batch) == 3 and batch[2] is not None:
            raise NotImplementedError("sample weights in (x, y, sample_weight) batches are not "
                                      "supported by kernelnet.")
        x = batch[0]
        y = batch[1] if len(batch) > 1 else None
    else:
        x, y = batch, None
    x = [as_input_array(a) for a in x] if isinstance(x, list) else as_input_array(x)
    return x, y


def make_adapter(x: Any, y: Any, batch_size: int | None, shuffle: bool,
                 steps: int | None, method: str):
    """Picks the adapter for `x` and checks arguments that only make sense for arrays."""
    if isinstance(x, (np.ndarray, list, tuple)):
        if y is None and method == "fit":
            raise ValueError("fit() needs targets: pass `y`, or pass x as a dataset of (x, y).")
        return ArrayAdapter(x, y, 32 if batch_size is None else batch_size, shuffle, steps)
    if y is not None:
        raise ValueError(
            f"`y` must be None when `x` is a dataset, generator or iterator (it yields its own "
            f"targets). Received: y of type {type(y).__name__}."
        )
    from kernelnet.utils.py_dataset import PyDataset

    if isinstance(x, PyDataset):
        return PyDatasetAdapter(x, steps, shuffle)
    if hasattr(x, "__len__") and hasattr(x, "__getitem__"):
        return SequenceAdapter(x, steps)
    if hasattr(x, "__next__") or hasattr(x, "__iter__"):
        return GeneratorAdapter(x, steps)
    raise TypeError(
        f"Unrecognized data type for `x` in {method}(): expected a NumPy array, a list of arrays, "
        f"a Sequence-like dataset or a generator. Received: {type(x).__name__}."
    )


def is_multi_input(x: Any) -> bool:
    """A list/tuple of arrays feeds a multi-input model; nested Python lists are one array."""
    return isinstance(x, (list, tuple)) and len(x) > 0 and all(
        isinstance(a, np.ndarray) for a in x)
