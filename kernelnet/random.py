"""Random tensors with `keras.random`'s names, signatures and seed semantics, on NumPy.

`seed` works as in Keras 3:

- an int: stateless, the same values every call (`normal((2,), seed=1)` twice is equal);
- a `SeedGenerator`: each call advances it, so calls differ, and a generator made with the same
  seed replays the same sequence;
- None: kernelnet's global generator (`backend.rng()`), reproducible after
  `kernelnet.utils.set_random_seed(n)`.

Example:
    >>> from kernelnet import random
    >>> bool((random.normal((3,), seed=7) == random.normal((3,), seed=7)).all())
    True
    >>> gen = random.SeedGenerator(1337)
    >>> bool((random.uniform((3,), seed=gen) == random.uniform((3,), seed=gen)).all())
    False
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kernelnet import backend
from kernelnet._typing import Array

__all__ = ["SeedGenerator", "categorical", "dropout", "normal", "randint", "shuffle",
           "truncated_normal", "uniform"]


class SeedGenerator:
    """A stateful source of seeds: pass it as `seed=` and each call draws new values.

    Args:
        seed: int initial seed; None draws one from kernelnet's global generator.
        name: optional name (kept for Keras compatibility).

    The state is `[seed, counter]` (`self.state`), as in Keras; `next()` returns it and
    advances the counter.
    """

    def __init__(self, seed: int | None = None, name: str | None = None, **kwargs: Any):
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments passed to SeedGenerator: {kwargs}.")
        if seed is None:
            seed = int(backend.rng().integers(0, 2**31 - 1))
        elif not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
            raise ValueError(
                f"Argument `seed` of SeedGenerator must be an int or None. Received: seed={seed!r}."
            )
        self._initial_seed = int(seed)
        self.name = name or "seed_generator"
        self.state = np.array([self._initial_seed, 0], dtype=np.int64)

    def next(self, ordered: bool = True) -> Array:
        """The current state `[seed, counter]`; advances the counter."""
        current = self.state.copy()
        self.state[1] += 1
        return current

    def get_config(self) -> dict:
        return {"seed": self._initial_seed}

    @classmethod
    def from_config(cls, config: dict) -> SeedGenerator:
        return cls(**config)


def _rng(seed: Any) -> np.random.Generator:
    """The NumPy generator for one call, following the seed rules in the module docstring."""
    if seed is None:
        return backend.rng()
    if isinstance(seed, SeedGenerator):
        return np.random.default_rng([int(v) for v in seed.next()])
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return np.random.default_rng(int(seed))
    raise ValueError(
        "Argument `seed` must be an int, a kernelnet.random.SeedGenerator or None. "
        f"Received: seed={seed!r} of type {type(seed).__name__}."
    )


def _shape(shape: Any) -> tuple[int, ...]:
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape)


def _float(dtype: str | None) -> np.dtype:
    return np.dtype(dtype or backend.floatx())


def normal(shape: Any, mean: float = 0.0, stddev: float = 1.0, dtype: str | None = None,
           seed: Any = None) -> Array:
    """Samples from a normal distribution N(mean, stddev**2)."""
    return _rng(seed).normal(mean, stddev, _shape(shape)).astype(_float(dtype))


def uniform(shape: Any, minval: float = 0.0, maxval: float = 1.0, dtype: str | None = None,
            seed: Any = None) -> Array:
    """Samples uniformly from `[minval, maxval)`."""
    return _rng(seed).uniform(minval, maxval, _shape(shape)).astype(_float(dtype))


def truncated_normal(shape: Any, mean: float = 0.0, stddev: float = 1.0,
                     dtype: str | None = None, seed: Any = None) -> Array:
    """Normal samples redrawn until within two standard deviations of the mean (as Keras)."""
    rng = _rng(seed)
    size = _shape(shape)
    z = rng.standard_normal(size)
    bad = np.abs(z) > 2.0
    while bad.any():
        z[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(z) > 2.0
    return (mean + stddev * z).astype(_float(dtype))


def randint(shape: Any, minval: int, maxval: int, dtype: str = "int32",
            seed: Any = None) -> Array:
    """Uniform integers in `[minval, maxval)`."""
    if not np.issubdtype(np.dtype(dtype), np.integer):
        raise ValueError(f"randint() needs an integer dtype. Received: dtype={dtype!r}.")
    return _rng(seed).integers(minval, maxval, _shape(shape)).astype(dtype)


def categorical(logits: Any, num_samples: int, dtype: str = "int32", seed: Any = None) -> Array:
    """`num_samples` class indices per row of `logits` (batch, classes), by softmax(logits)."""
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 2:
        raise ValueError(f"categorical() expects logits of shape (batch, classes). Received "
                         f"shape {tuple(logits.shape)}.")
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    u = _rng(seed).random((len(p), int(num_samples), 1))
    cumulative = np.cumsum(p, axis=1)[:, None, :]
    return np.minimum((u > cumulative).sum(axis=-1), p.shape[1] - 1).astype(dtype)


def dropout(inputs: Any, rate: float, noise_shape: Any = None, seed: Any = None) -> Array:
    """Zeros each entry with probability `rate` and scales the rest by `1 / (1 - rate)`.

    `noise_shape` broadcasts one mask over axes of size 1 (e.g. `(batch, 1, 1, channels)`).
    """
    x = np.asarray(inputs)
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"Invalid value for argument `rate` of dropout(): expected a float in "
                         f"[0, 1). Received: rate={rate!r}.")
    shape = x.shape if noise_shape is None else tuple(
        x.shape[i] if d is None else int(d) for i, d in enumerate(noise_shape))
    keep = _rng(seed).random(shape) >= rate
    dtype = x.dtype if x.dtype.kind == "f" else _float(None)
    return np.where(keep, x / (1.0 - rate), 0.0).astype(dtype)


def shuffle(x: Any, axis: int = 0, seed: Any = None) -> Array:
    """A copy of `x` with its entries permuted along `axis`."""
    x = np.asarray(x)
    return np.take(x, _rng(seed).permutation(x.shape[axis]), axis=axis)
