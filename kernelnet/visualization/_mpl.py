"""Lazy matplotlib access shared by the plotting functions.

matplotlib is an optional extra: it is imported on first use, with the non-interactive Agg
backend when there is no display, and figures are built as plain `Figure` objects (not through
pyplot) so that nothing blocks or accumulates unless `show=True` is asked for.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from kernelnet._typing import Array


def matplotlib():
    """The `matplotlib` module, or an ImportError that says how to install it."""
    try:
        import matplotlib as mpl
    except ImportError as err:
        raise ImportError(
            "kernelnet.visualization needs matplotlib, which is not installed. Install it with "
            "`pip install matplotlib` (or `pip install kernelnet[plots]`)."
        ) from err
    headless = not os.environ.get("DISPLAY") and sys.platform.startswith("linux")
    if headless and "MPLBACKEND" not in os.environ and "matplotlib.pyplot" not in sys.modules:
        mpl.use("Agg")
    return mpl


def new_figure(figsize: tuple[float, float], show: bool = False):
    """A Figure; made through pyplot only when it is going to be shown."""
    matplotlib()
    if show:
        import matplotlib.pyplot as plt

        return plt.figure(figsize=figsize)
    from matplotlib.figure import Figure

    return Figure(figsize=figsize)


def figure_and_axes(ax: Any, figsize: tuple[float, float], show: bool = False):
    """`(fig, ax)`: the given axes and its figure, or a new one-axes figure."""
    if ax is not None:
        return ax.figure, ax
    fig = new_figure(figsize, show)
    return fig, fig.add_subplot(1, 1, 1)


def _display_inline(fig: Any, dpi: int) -> bool:
    """In a Jupyter kernel, shows `fig` as a PNG in the cell's output; False elsewhere.

    NOTE: the figures are plain `Figure`s, not pyplot's, so Jupyter's inline backend would not
    show them; rendering the PNG here needs no backend and shows each figure once.
    """
    from kernelnet.utils._tqdm import _in_notebook_kernel

    if not _in_notebook_kernel():
        return False
    import io

    from IPython.display import Image, display

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    display(Image(data=buffer.getvalue()))
    return True


def finish(fig: Any, path: str | os.PathLike | None = None, show: bool = False, dpi: int = 100):
    """Saves `fig` to `path` (parent folders created) and shows it if asked, or inline in
    Jupyter; returns `fig`."""
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=dpi, bbox_inches="tight")
    if not show and _display_inline(fig, dpi):
        return fig
    if show:
        import matplotlib.pyplot as plt

        plt.show()
    return fig


def to_unit_range(x: Array) -> Array:
    """Rescales an array linearly to [0, 1] (constant arrays become 0)."""
    x = np.asarray(x, dtype=np.float64)
    lo, hi = float(x.min()), float(x.max())
    return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)


def mosaic(tiles: Array, cols: int | None = None, pad: int = 1, fill: float = 1.0) -> Array:
    """Tiles `(n, h, w)` or `(n, h, w, 3)` into one image with `pad` pixels of `fill` between.

    Returns `(rows*(h+pad)-pad, cols*(w+pad)-pad[, 3])`.
    """
    n, h, w = tiles.shape[:3]
    cols = cols or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    out = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad, *tiles.shape[3:]), fill)
    for i in range(n):
        r, c = divmod(i, cols)
        out[r * (h + pad): r * (h + pad) + h, c * (w + pad): c * (w + pad) + w] = tiles[i]
    return out


def as_display_image(x: Array) -> tuple[Array, str | None]:
    """`(image, cmap)` for imshow: `(h, w)` gray or `(h, w, 3)` colour, scaled to [0, 1]."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 3 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim not in (2, 3) or (x.ndim == 3 and x.shape[-1] != 3):
        raise ValueError(
            "Expected an image shaped (height, width), (height, width, 1) or (height, width, 3). "
            f"Received shape {tuple(x.shape)}."
        )
    if x.min() < 0 or x.max() > 1:
        x = x / 255.0 if x.min() >= 0 and x.max() <= 255 and x.max() > 1 else to_unit_range(x)
    return x, ("gray" if x.ndim == 2 else None)
