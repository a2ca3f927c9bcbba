"""Batch iterators: the Keras `Iterator` protocol with deterministic background prefetching.

Every iterator is both a `keras.utils.Sequence` (`len(it)` batches, `it[i]`, `on_epoch_end()`)
and an endless Python iterator (`next(it)` loops over epochs, reshuffling each time).

Determinism: the sample order of epoch `e` comes from `default_rng([seed, e])` and the
augmentation parameters of batch `i` from `default_rng([seed, e, i])`, both drawn in the calling
thread. Worker threads only decode and apply fixed parameters, so the batches are the same with
0 or N workers and whatever order the batches are requested in.
"""

from __future__ import annotations

import math
import os
import threading
import warnings
import weakref
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from kernelnet import backend
from kernelnet._typing import Array
from kernelnet.utils import validation


def default_workers() -> int:
    """Background threads used when `workers=None`: up to 4, at most the CPU count."""
    return min(4, os.cpu_count() or 1)


class Iterator:
    """Base class: ordering, seeding and prefetching; subclasses implement `_load_batch`.

    Args:
        n: number of samples.
        batch_size: samples per batch (the last batch may be smaller).
        shuffle: reshuffle the order every epoch.
        seed: int for reproducible order and augmentation; None draws one from
            `kernelnet.backend.rng()` (so `kernelnet.utils.set_random_seed` controls it).
        workers: background threads that prepare the next batches; 0 runs in the caller's
            thread, None picks `default_workers()`.
    """

    _saving: tuple = (None, "", "png")  # Keras' (save_to_dir, save_prefix, save_format)

    def __init__(self, n: int, batch_size: int, shuffle: bool, seed: int | None,
                 workers: int | None = None):
        self.n = int(n)
        self.batch_size = validation.check_positive_int(batch_size, "batch_size", type(self))
        self.shuffle = bool(shuffle)
        self.seed = int(backend.rng().integers(2**31)) if seed is None else int(seed)
        self.workers = default_workers() if workers is None else int(workers)
        if self.workers < 0:
            raise ValueError(f"`workers` must be >= 0. Received: workers={workers!r}.")
        self.epoch = 0
        self.batch_index = 0
        self.total_batches_seen = 0
        self._order = self._epoch_order()
        self._pending: dict[int, Future] = {}
        self._executor: ThreadPoolExecutor | None = None
        self._failed_lock = threading.Lock()
        self._failed: dict[str, str] = {}

    # -- ordering -------------------------------------------------------------------------
    def _epoch_order(self) -> Array:
        if not self.shuffle:
            return np.arange(self.n)
        return np.random.default_rng([self.seed, self.epoch]).permutation(self.n)

    @property
    def index_array(self) -> Array:
        """The sample order of the current epoch."""
        return self._order

    def __len__(self) -> int:
        return math.ceil(self.n / self.batch_size)

    # -- Sequence protocol ----------------------------------------------------------------
    def _job(self, i: int) -> Callable[[], Any]:
        """Draws batch i's random parameters here (calling thread); returns the work to do."""
        index = self._order[i * self.batch_size:(i + 1) * self.batch_size]
        params = self._draw_params(len(index), np.random.default_rng([self.seed, self.epoch, i]))
        return lambda: self._load_batch(index, params)

    def _draw_params(self, count: int, rng: np.random.Generator) -> list[dict] | None:
        return None

    def _load_batch(self, index: Array, params: list[dict] | None) -> Any:
        raise NotImplementedError

    def __getitem__(self, i: int) -> Any:
        if not isinstance(i, (int, np.integer)) or not 0 <= i < len(self):
            raise IndexError(
                f"Asked to retrieve batch {i!r}, but the iterator only has {len(self)} batches "
                f"(valid indices 0..{len(self) - 1})."
            )
        i = int(i)
        pool = self._pool()
        if pool is None:
            batch = self._job(i)()
        else:
            for j in range(i, min(i + 2 * self.workers + 1, len(self))):
                if j not in self._pending:
                    self._pending[j] = pool.submit(self._job(j))
            batch = self._pending.pop(i).result()
            for j in [j for j in self._pending if j < i]:
                self._pending.pop(j).cancel()
        self._report_failures()
        if self._saving[0]:  # here, not in workers, so only delivered batches are written
            index = self._order[i * self.batch_size:(i + 1) * self.batch_size]
            save_batch(batch[0] if isinstance(batch, tuple) else batch, index, self.epoch,
                       *self._saving)
        return batch

    def _pool(self) -> ThreadPoolExecutor | None:
        """The worker threads, started on first use; None when `workers == 0`."""
        if self.workers == 0:
            return None
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="kernelnet")
            weakref.finalize(self, self._executor.shutdown, wait=False, cancel_futures=True)
        return self._executor

    def on_epoch_end(self) -> None:
        """Starts the next epoch: new order (if shuffling) and new augmentation draws."""
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()
        self.epoch += 1
        self._order = self._epoch_order()

    # -- Python iterator protocol ---------------------------------------------------------
    def reset(self) -> None:
        """Restarts `next()` at the first batch of the current epoch."""
        self.batch_index = 0

    def __iter__(self):
        return self

    def __next__(self) -> Any:
        if self.batch_index >= len(self):
            self.on_epoch_end()
            self.batch_index = 0
        i = self.batch_index
        self.batch_index += 1
        self.total_batches_seen += 1
        return self[i]

    next = __next__

    def close(self) -> None:
        """Stops the worker threads (they are also stopped when the iterator is collected)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
            self._pending.clear()

    # -- late decoding failures (files that passed the upfront check) ---------------------
    def _record_failure(self, path: str, err: Exception) -> None:
        with self._failed_lock:
            self._failed[path] = f"{type(err).__name__}: {err}"

    def _report_failures(self) -> None:
        with self._failed_lock:
            failed, self._failed = self._failed, {}
        if failed:
            listing = "\n  ".join(f"{p} ({r})" for p, r in failed.items())
            warnings.warn(
                f"Could not decode {len(failed)} image file(s); they were replaced by black "
                f"images in this batch:\n  {listing}",
                stacklevel=3,
            )


def class_labels(class_mode: str | None, classes: Array, num_classes: int, x: Array) -> Any:
    """Targets for a batch of class ids, per Keras' `class_mode`."""
    if class_mode == "categorical":
        y = np.zeros((len(classes), num_classes), dtype=backend.floatx())
        y[np.arange(len(classes)), classes] = 1
        return y
    if class_mode == "binary":
        return classes.astype(backend.floatx())
    if class_mode == "sparse":
        return classes.astype(np.int32)
    if class_mode == "input":
        return x.copy()
    return None


class NumpyArrayIterator(Iterator):
    """Batches of `(x, y)` (or `(x, y, sample_weight)`, or `x`) from arrays, with augmentation.

    Made by `ImageDataGenerator.flow(x, y, ...)`; `x` is `(n, height, width, channels)`.
    """

    def __init__(self, x: Any, y: Any, image_data_generator: Any, batch_size: int = 32,
                 shuffle: bool = False, sample_weight: Any = None, seed: int | None = None,
                 subset: str | None = None, *, workers: int | None = None,
                 save_to_dir: str | None = None, save_prefix: str = "", save_format: str = "png"):
        x = np.asarray(x)
        if x.ndim != 4:
            raise ValueError(
                "ImageDataGenerator.flow() expects `x` of rank 4 (samples, height, width, "
                f"channels). Received: x.shape={tuple(int(d) for d in x.shape)}. For grayscale "
                "images add a channel axis: x[..., np.newaxis]."
            )
        y = None if y is None else np.asarray(y)
        sample_weight = None if sample_weight is None else np.asarray(sample_weight)
        validation.check_consistent_length(x=x, y=y, sample_weight=sample_weight)
        gen = image_data_generator
        keep = gen.split_array(len(x), y, subset)
        self.x, self.y = x[keep], None if y is None else y[keep]
        self.sample_weight = None if sample_weight is None else sample_weight[keep]
        self.image_data_generator = gen
        self.subset = subset
        self._saving = (save_to_dir, save_prefix, save_format)
        super().__init__(len(self.x), batch_size, shuffle, seed, workers)

    def _draw_params(self, count, rng):
        if self.subset == "validation":
            return None  # validation data is never augmented
        return [self.image_data_generator.random_params(self.x.shape[1:], rng)
                for _ in range(count)]

    def _load_batch(self, index, params):
        gen = self.image_data_generator
        batch_x = np.empty((len(index), *self.x.shape[1:]), dtype=backend.floatx())
        for k, j in enumerate(index):
            x = self.x[j].astype(backend.floatx())
            if params is not None:
                x = gen.apply_transform(x, params[k])
            batch_x[k] = gen.standardize(x)
        if self.y is None:
            return batch_x
        if self.sample_weight is None:
            return batch_x, self.y[index]
        return batch_x, self.y[index], self.sample_weight[index]


def save_batch(batch_x: Array, index: Array, epoch: int, save_to_dir: str | None,
               prefix: str, file_format: str) -> None:
    """Keras' `save_to_dir`: writes each augmented image for inspection."""
    if not save_to_dir:
        return
    from kernelnet.preprocessing import _io

    for x, j in zip(batch_x, index):
        name = f"{prefix}_{int(j)}_{epoch}.{file_format}"
        _io.save_img(os.path.join(save_to_dir, name), x, scale=True)
