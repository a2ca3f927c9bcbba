"""Type aliases shared across kernelnet."""

from __future__ import annotations

import numpy as np

Array = np.ndarray
Shape = tuple  # tuple[int | None, ...]
Seed = int | np.random.Generator | None
