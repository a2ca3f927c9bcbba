"""Argument and input validation with Keras-style messages.

Every helper takes `who` (a layer, or a string naming the function) so messages start the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np


def describe(who: Any) -> str:
    """`"Layer 'conv2d' (Conv2D)"` for a layer, the string itself otherwise."""
    if isinstance(who, str):
        return who
    name = getattr(who, "name", None)
    return f"Layer {name!r} ({type(who).__name__})" if name else type(who).__name__


def _owner(who: Any) -> str:
    return who if isinstance(who, str) else type(who).__name__


def check_positive_int(value: Any, arg: str, who: Any) -> int:
    """Returns `int(value)` if it is an integer > 0, else raises ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(
            f"Invalid value for argument `{arg}` of {_owner(who)}: expected a positive integer. "
            f"Received: {arg}={value!r}."
        )
    return int(value)


def check_rate(value: Any, arg: str, who: Any, upper_inclusive: bool = False) -> float:
    """Returns `float(value)` if 0 <= value < 1 (or <= 1), else raises ValueError."""
    ok = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)
    if ok:
        ok = 0 <= value <= 1 if upper_inclusive else 0 <= value < 1
    if not ok:
        bound = "[0, 1]" if upper_inclusive else "[0, 1)"
        raise ValueError(
            f"Invalid value for argument `{arg}` of {_owner(who)}: expected a float in {bound}. "
            f"Received: {arg}={value!r}."
        )
    return float(value)


def standardize_tuple(value: Any, n: int, arg: str, who: Any, allow_zero: bool = False) -> tuple:
    """Turns an int or an iterable of `n` ints into a tuple of `n` positive ints."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        result = (int(value),) * n
    elif isinstance(value, Iterable) and not isinstance(value, (str, bytes)):
        result = tuple(value)
    else:
        result = None
    low = 0 if allow_zero else 1
    if (
        result is None
        or len(result) != n
        or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in result)
        or any(v < low for v in result)
    ):
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(
            f"The `{arg}` argument of {_owner(who)} must be an int or a tuple of {n} {kind} ints. "
            f"Received: {arg}={value!r}."
        )
    return tuple(int(v) for v in result)


def standardize_padding(value: Any, who: Any, allowed: tuple = ("valid", "same")) -> str:
    """Lower-cases and checks a padding string."""
    padding = value.lower() if isinstance(value, str) else value
    if padding not in allowed:
        expected = " or ".join(f'"{a}"' for a in allowed)
        raise ValueError(
            f"Invalid `padding` for {_owner(who)}: expected {expected}. "
            f"Received: padding={value!r}."
        )
    return padding


def check_ndim(who: Any, shape: tuple, ndim: int, layout: str, hint: str = "") -> None:
    """Raises ValueError unless `len(shape) == ndim`."""
    if len(shape) != ndim:
        shown = tuple(None if d is None else int(d) for d in shape)
        raise ValueError(
            f"{describe(who)} expects {ndim}D input {layout}. Received input with shape {shown}."
            + (f" {hint}" if hint else "")
        )


def check_consistent_length(**arrays: Any) -> int:
    """Checks that all non-None arrays have the same first dimension; returns it."""
    lengths = {k: len(v) for k, v in arrays.items() if v is not None}
    if len(set(lengths.values())) > 1:
        parts = ", ".join(f"{k} has {n}" for k, n in lengths.items())
        raise ValueError(f"Found input variables with inconsistent numbers of samples: {parts}.")
    return next(iter(lengths.values()), 0)


def as_float_array(x: Any, dtype: str, who: Any, arg: str = "input") -> np.ndarray:
    """Converts `x` to a float array of `dtype` (no copy if it already is one)."""
    if isinstance(x, np.ndarray) and x.dtype == dtype:
        return x
    try:
        array = np.asarray(x)
    except Exception as err:  # ragged lists and the like
        raise TypeError(
            f"{describe(who)} could not convert its {arg} to an array: {err}"
        ) from err
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"{describe(who)} expects a numeric {arg}. Received dtype {str(array.dtype)!r}."
        )
    return array.astype(dtype, copy=False)


def check_rng(seed: Any) -> np.random.Generator:
    """Turns None/int/Generator into a Generator (None -> the library generator)."""
    from kernelnet import backend

    if seed is None:
        return backend.rng()
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return np.random.default_rng(int(seed))
    raise TypeError(
        f"Expected `seed` to be None, an int or a numpy Generator. Received: seed={seed!r}."
    )
