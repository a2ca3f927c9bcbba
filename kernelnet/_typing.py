"""Type aliases shared across kernelnet."""

from __future__ import annotations

from typing import Union

import numpy as np

Array = np.ndarray
Shape = tuple  # tuple[int | None, ...]
Seed = Union[int, np.random.Generator, None]
