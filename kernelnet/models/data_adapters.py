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


def map_structure(fn, value: Any) -> Any:
    """`fn` applied to each array of a target structure: an array, a list/tuple or a dict."""
    if value is None:
        return None
    if isinstance(value, dict):
        return {k: fn(v) for k, v in value.items()}
    if is_multi_input(value):
        return [fn(v) for v in value]
    return fn(value)


def leaves(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, dict):
        return list(value.values())
    return list(value) if is_multi_input(value) else [value]


def is_nested(y: Any) -> bool:
    return isinstance(y, dict) or is_multi_input(y)


def class_weight_to_sample_weights(y: Any, class_weight: Any) -> Array:
    """Keras 3's conversion: each sample weighs `class_weight[class]` (1.0 for classes not in
    the dict); the class is `argmax` of one-hot targets, else the rounded integer id."""
    if not hasattr(class_weight, "items"):
        raise ValueError(
            "`class_weight` must be a dict mapping class indices to weights. Received: "
            f"class_weight={class_weight!r} of type {type(class_weight).__name__}."
        )
    if is_nested(y):
        raise ValueError("`class_weight` is only supported for models with a single output. "
                         "Pass per-output `sample_weight` instead.")
    table = {}
    for key, value in class_weight.items():
        try:
            table[int(key)] = float(value)
        except (TypeError, ValueError):
            raise ValueError(
                "`class_weight` must be a dict with integer keys (class indices). Received an "
                f"invalid key {key!r} of type {type(key).__name__}."
            ) from None
    labels = np.asarray(y)
    if labels.ndim > 1:
        labels = np.argmax(labels, axis=-1) if labels.shape[-1] != 1 else labels[..., 0]
    labels = np.round(labels).astype(np.int64).reshape(len(labels), -1)[:, 0]
    weights = np.ones(len(labels), dtype=backend.floatx())
    for cls, weight in table.items():
        weights[labels == cls] = weight
    return weights


def _with_class_weight(batch: tuple, class_weight: Any) -> tuple:
    if class_weight is None:
        return batch
    x, y, sample_weight = unpack_x_y_sample_weight(batch)
    if sample_weight is not None:
        raise ValueError("You cannot use `class_weight` and `sample_weight` at the same time "
                         "(the data yields (x, y, sample_weight) batches).")
    return x, y, class_weight_to_sample_weights(y, class_weight)


def _named(arg: str, value: Any) -> dict:
    """`{"y['out_a']": array, ...}` for length checks and their messages."""
    if isinstance(value, dict):
        return {f"{arg}[{k!r}]": v for k, v in value.items()}
    if is_nested(value):
        return {f"{arg}[{i}]": v for i, v in enumerate(value)}
    return {} if value is None else {arg: value}


class ArrayAdapter:
    """Batches of arrays; `x` may be a list of arrays for multi-input models, `y` and
    `sample_weight` a list or a dict of arrays for multi-output models."""

    def __init__(self, x: Any, y: Any, batch_size: int, shuffle: bool,
                 steps: int | None = None, sample_weight: Any = None, class_weight: Any = None):
        self.multi = is_multi_input(x)
        self.xs = [np.asarray(a) for a in x] if self.multi else [np.asarray(x)]
        self.y = map_structure(np.asarray, y)
        if class_weight is not None:
            if sample_weight is not None:
                raise ValueError("You cannot use `class_weight` and `sample_weight` at the same "
                                 "time.")
            if self.y is None:
                raise ValueError("`class_weight` needs targets `y`.")
            sample_weight = class_weight_to_sample_weights(self.y, class_weight)
        self.sample_weight = map_structure(np.asarray, sample_weight)
        kwargs = {f"x[{i}]" if self.multi else "x": a for i, a in enumerate(self.xs)}
        kwargs.update(_named("y", self.y))
        kwargs.update(_named("sample_weight", self.sample_weight))
        self.num_samples = validation.check_consistent_length(**kwargs)
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

            def take(a, index=index):
                return a[index]

            yield pack_x_y_sample_weight(xb if self.multi else xb[0], map_structure(take, self.y),
                                         map_structure(take, self.sample_weight))

    def on_epoch_end(self) -> None:
        pass


class SequenceAdapter:
    """Objects with `len()` and `[i]` -> batch, like `keras.utils.Sequence`."""

    def __init__(self, data: Any, steps: int | None, class_weight: Any = None):
        self.data = data
        if len(data) == 0:
            raise ValueError(f"The dataset passed as `x` ({type(data).__name__}) is empty: "
                             "len(x) == 0. Expected at least one batch.")
        self.steps = len(data) if steps is None else steps
        self.class_weight = class_weight

    def __iter__(self) -> Iterator[tuple]:
        n = len(self.data)
        for step in range(self.steps):
            yield _with_class_weight(split_batch(self.data[step % n]), self.class_weight)

    def on_epoch_end(self) -> None:
        if hasattr(self.data, "on_epoch_end"):
            self.data.on_epoch_end()


class PyDatasetAdapter(SequenceAdapter):
    """A `kernelnet.utils.PyDataset`, as Keras 3 consumes one: `on_epoch_begin`/`on_epoch_end`
    around each epoch, batch order shuffled when `shuffle=True`, and with `workers > 1` up to
    `max_queue_size` batches read ahead by a pool of threads (results stay in order)."""

    def __init__(self, data: Any, steps: int | None, shuffle: bool, class_weight: Any = None):
        count = data.num_batches
        if count is None and steps is None:
            raise ValueError(
                f"{type(data).__name__} is infinite (num_batches is None): pass "
                "`steps_per_epoch` (or `steps`) to say how many batches make an epoch.")
        self.data, self.shuffle, self.count = data, shuffle, count
        self.steps = count if steps is None else steps
        self.class_weight = class_weight

    def _indices(self) -> Iterator[int]:
        if self.count is None:
            yield from range(self.steps)
            return
        order = backend.rng().permutation(self.count) if self.shuffle else range(self.count)
        for step in range(self.steps):
            yield int(order[step % self.count])

    def __iter__(self) -> Iterator[tuple]:
        for batch in self._batches():
            yield _with_class_weight(split_batch(batch), self.class_weight)

    def _batches(self) -> Iterator[Any]:
        self.data.on_epoch_begin()
        workers = max(1, int(self.data.workers))
        if workers == 1:
            for index in self._indices():
                yield self.data[index]
            return
        from collections import deque
        from concurrent.futures import ThreadPoolExecutor

        ahead = max(1, int(self.data.max_queue_size))
        with ThreadPoolExecutor(workers, thread_name_prefix="kernelnet-pydataset") as pool:
            pending: deque = deque()
            for index in self._indices():
                pending.append(pool.submit(self.data.__getitem__, index))
                if len(pending) >= ahead:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()


class GeneratorAdapter:
    """A Python iterator of batches; runs `steps` batches per epoch (or until exhausted)."""

    def __init__(self, data: Any, steps: int | None, class_weight: Any = None):
        self.data = iter(data)
        self.steps = steps
        self.exhausted = False
        self.class_weight = class_weight

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
            yield _with_class_weight(split_batch(batch), self.class_weight)

    def on_epoch_end(self) -> None:
        pass


def unpack_x_y_sample_weight(data: Any) -> tuple:
    """`(x, y, sample_weight)` from `x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)` (Keras 3's
    helper for `train_step` overrides)."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) in (1, 2, 3):
        return (*data, *(None,) * (3 - len(data)))
    raise ValueError("Data is expected to be in format `x`, `(x,)`, `(x, y)`, or "
                     f"`(x, y, sample_weight)`. Received a tuple of {len(data)} elements.")


def pack_x_y_sample_weight(x: Any, y: Any = None, sample_weight: Any = None) -> tuple:
    """`(x,)`, `(x, y)` or `(x, y, sample_weight)`: the `data` a step receives (Keras 3)."""
    if y is None:
        return (x,)
    return (x, y) if sample_weight is None else (x, y, sample_weight)


def split_batch(batch: Any) -> tuple:
    """A batch (a tuple `(x, y)`, `(x, y, sample_weight)` or a bare x) as the `data` of a
    step, with x as floatx arrays."""
    if isinstance(batch, tuple) and len(batch) > 3:
        raise ValueError("A batch must be `x`, `(x, y)` or `(x, y, sample_weight)`. Received a "
                         f"tuple of {len(batch)} elements.")
    x, y, sample_weight = (unpack_x_y_sample_weight(batch) if isinstance(batch, tuple)
                           else (batch, None, None))
    x = [as_input_array(a) for a in x] if isinstance(x, list) else as_input_array(x)
    return pack_x_y_sample_weight(x, y, sample_weight)


def make_adapter(x: Any, y: Any, batch_size: int | None, shuffle: bool,
                 steps: int | None, method: str, sample_weight: Any = None,
                 class_weight: Any = None):
    """Picks the adapter for `x` and checks arguments that only make sense for arrays."""
    if isinstance(x, (np.ndarray, list, tuple)):
        if y is None and method == "fit":
            raise ValueError("fit() needs targets: pass `y`, or pass x as a dataset of (x, y).")
        return ArrayAdapter(x, y, 32 if batch_size is None else batch_size, shuffle, steps,
                            sample_weight=sample_weight, class_weight=class_weight)
    for arg, value in (("y", y), ("sample_weight", sample_weight)):
        if value is not None:
            raise ValueError(
                f"`{arg}` must be None when `x` is a dataset, generator or iterator (it yields "
                f"its own (x, y, sample_weight) batches). Received: {arg} of type "
                f"{type(value).__name__}."
            )
    from kernelnet.utils.py_dataset import PyDataset

    if isinstance(x, PyDataset):
        return PyDatasetAdapter(x, steps, shuffle, class_weight)
    if hasattr(x, "__len__") and hasattr(x, "__getitem__"):
        return SequenceAdapter(x, steps, class_weight)
    if hasattr(x, "__next__") or hasattr(x, "__iter__"):
        return GeneratorAdapter(x, steps, class_weight)
    raise TypeError(
        f"Unrecognized data type for `x` in {method}(): expected a NumPy array, a list of arrays, "
        f"a Sequence-like dataset or a generator. Received: {type(x).__name__}."
    )


def is_multi_input(x: Any) -> bool:
    """A list/tuple of arrays feeds a multi-input model; nested Python lists are one array."""
    return isinstance(x, (list, tuple)) and len(x) > 0 and all(
        isinstance(a, np.ndarray) for a in x)
