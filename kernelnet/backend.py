"""Global numeric defaults: the float dtype, the fuzz factor and the library random generator.

This is the only module that holds such defaults; everything else asks it.
"""

from __future__ import annotations

import numpy as np

_FLOATX = "float32"
_EPSILON = 1e-7
_RNG = np.random.default_rng()


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
