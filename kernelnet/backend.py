"""Global defaults: the float dtype, the fuzz factor, the library random generator, the number
of CPU threads training and inference may use, and how freed memory is kept.

This is the only module that holds such defaults; everything else asks it.
"""

from __future__ import annotations

import ctypes
import os

import numpy as np

_FLOATX = "float32"
_EPSILON = 1e-7
_RNG = np.random.default_rng()
_NUM_THREADS: int | None = None  # None: from the environment, see num_threads()
_KEEP_FREED_MEMORY: bool | None = None  # None: not asked yet, see keep_freed_memory()
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters, glibc's <malloc.h>


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
    """Sets `num_threads()`; 1 runs every batch in the calling thread with single-threaded
    BLAS, None restores the default."""
    global _NUM_THREADS
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"`n` must be a positive int or None. Received: n={n!r}.")
    _NUM_THREADS = n


def keep_freed_memory() -> bool:
    """Asks glibc's malloc to keep freed memory for reuse; returns whether that is in effect.

    A training step frees and re-allocates the same megabytes of activations at every step. By
    default glibc gives them back to the system after each step and page-faults them in again
    (1100-1900 faults per LeNet-5 step at batch 128, more with one malloc arena per thread).
    This sets M_MMAP_THRESHOLD to 32 MiB (the most glibc's adaptive threshold reaches by itself)
    and M_TRIM_THRESHOLD to 1 GiB, so arrays under 32 MiB are recycled and larger ones still go
    straight back to the system. The setting is process-wide and stays; training and
    inference ask for it before their first step (predicting LeNet-5 in 123-sample sub-batches
    on one core: 7436 -> 10087 img/s). `KERNELNET_KEEP_FREED_MEMORY=0` opts out; without
    glibc it does nothing.
    """
    global _KEEP_FREED_MEMORY
    if _KEEP_FREED_MEMORY is None:
        _KEEP_FREED_MEMORY = False
        if os.environ.get("KERNELNET_KEEP_FREED_MEMORY", "").strip() != "0":
            _KEEP_FREED_MEMORY = _glibc_mallopt(_M_MMAP_THRESHOLD, 32 << 20) and \
                _glibc_mallopt(_M_TRIM_THRESHOLD, 1 << 30)
    return _KEEP_FREED_MEMORY


def _glibc_mallopt(param: int, value: int) -> bool:
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc"):
            return False
        return ctypes.CDLL(None).mallopt(param, value) == 1
    except (AttributeError, OSError, ValueError):  # no confstr/name (not Linux), no mallopt
        return False
