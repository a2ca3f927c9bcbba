"""Global defaults: the float dtype, the fuzz factor, the library random generator and the number
of CPU threads training and inference may use.

This is the only module that holds such defaults; everything else asks it.
"""

from __future__ import annotations

import os

import numpy as np

_FLOATX = "float32"
_EPSILON = 1e-7
_RNG = np.random.default_rng()
_NUM_THREADS: int | None = None  # None: from the environment, see num_threads()


def floatx() -> str:
    """Returns the default float type as a string, `'float32'` unless changed."""
    return _FLOATX


def set_floatx(value: str) -> None:
    """Sets the default float type: `'float32'` or `'float64'` (`'float16'` is accepted too)."""
    global _FLOATX
    if value not in ("float16", "float32", "float64"):
        raise ValueError(
            "Unknown `floatx` value. Expected one of 'float16', 'float32', 'float64'. "
            f"Received: floatx={value!r}."
        )
    _FLOATX = str(value)


def epsilon() -> float:
    """Returns the fuzz factor used to avoid division by zero and log(0) (1e-7, as in Keras)."""
    return _EPSILON


def set_epsilon(value: float) -> None:
    """Sets the fuzz factor returned by `epsilon()`."""
    global _EPSILON
    _EPSILON = float(value)


def rng() -> np.random.Generator:
    """Returns kernelnet's own random generator (weights init, shuffling, dropout masks)."""
    return _RNG


def set_rng_seed(seed: int | None) -> None:
    """Replaces the library generator with `np.random.default_rng(seed)`."""
    global _RNG
    _RNG = np.random.default_rng(seed)


def get_rng_state() -> dict:
    """Returns the library generator's state (JSON-able), for checkpoints."""
    return _RNG.bit_generator.state


def set_rng_state(state: dict) -> None:
    """Restores a state from `get_rng_state()`."""
    _RNG.bit_generator.state = state


def image_data_format() -> str:
    """kernelnet is channels-last only; kept for Keras scripts that ask."""
    return "channels_last"


def num_threads() -> int:
    """Threads a model splits each batch over (one model replica per thread, see
    `kernelnet.models.parallel`).

    Defaults to `KERNELNET_NUM_THREADS`, else `OMP_NUM_THREADS` (the variable PyTorch and
    OpenBLAS read), else the number of CPUs this process may run on.
    """
    if _NUM_THREADS is not None:
        return _NUM_THREADS
    for var in ("KERNELNET_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def set_num_threads(n: int | None) -> None:
    """Sets `num_threads()`; 1 runs every batch in the calling thread, None restores the default."""
    global _NUM_THREADS
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"`n` must be a positive int or None. Received: n={n!r}.")
    _NUM_THREADS = n
