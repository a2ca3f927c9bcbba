"""Training curves from a `History` (or its `.history` dict, or a saved history.json)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from kernelnet.visualization import _mpl


def _as_dict(history: Any) -> dict[str, list]:
    if isinstance(history, (str, os.PathLike)):
        return json.loads(Path(history).read_text())
    history = getattr(history, "history", history)
    if not isinstance(history, dict):
        raise TypeError("plot_history() expects a History, its .history dict or a JSON file path. "
                        f"Received: {type(history).__name__}.")
    return history


def plot_history(history: Any, metrics: tuple[str, ...] | None = None, ax: Any = None,
                 path: str | os.PathLike | None = None, show: bool = False,
                 title: str | None = None):
    """Plots each metric per epoch, training and `val_` curves together.

    Args:
        history: what `fit()` returned, its `.history` dict, or the path of a history.json.
        metrics: names to plot (e.g. `("loss", "accuracy")`); defaults to every non-`val_` key.
        ax: draw every curve on this axes; otherwise one subplot per metric.
        path: save the figure there (png, pdf, svg...).
        show: call `plt.show()`.

    Returns:
        The matplotlib `Figure`.
    """
    _mpl.matplotlib()
    from matplotlib.ticker import MaxNLocator

    logs = _as_dict(history)
    names = list(metrics or [k for k in logs if not k.startswith("val_") and k != "lr"])
    missing = [m for m in names if m not in logs]
    if missing or not names:
        raise ValueError(f"plot_history(): no values for {missing or 'any metric'}. "
                         f"Available keys: {sorted(logs)}.")
    if ax is not None:
        fig, axes = ax.figure, [ax] * len(names)
    else:
        fig = _mpl.new_figure((4.2 * len(names), 3.2), show)
        axes = [fig.add_subplot(1, len(names), i + 1) for i in range(len(names))]
    for axis, name in zip(axes, names):
        for key, style in ((name, "-o"), ("val_" + name, "--s")):
            if key in logs:
                values = logs[key]
                axis.plot(range(1, len(values) + 1), values, style, markersize=3, label=key)
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))   # epochs 1, 2, 3, not 1.2
        axis.set_xlabel("epoch")
        axis.set_ylabel(name if ax is None else "value")
        axis.grid(alpha=0.3)
        axis.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _mpl.finish(fig, path, show)
