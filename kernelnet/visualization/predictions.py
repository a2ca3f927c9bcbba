"""Pictures of predictions: images with their top classes, a confusion matrix, image grids."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from kernelnet._typing import Array
from kernelnet.visualization import _mpl


def _class_ids(y: Any, arg: str) -> Array:
    """Class ids from ids `(n,)`/`(n, 1)` or one-hot/probabilities `(n, k)`."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        return np.argmax(y, axis=1)
    if y.ndim == 2:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"`{arg}` must be class ids (n,) or one-hot/probabilities (n, classes). "
                         f"Received shape {tuple(y.shape)}.")
    return y.astype(np.int64)


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int | None = None) -> Array:
    """Counts `(num_classes, num_classes)`: row = true class, column = predicted class."""
    t, p = _class_ids(y_true, "y_true"), _class_ids(y_pred, "y_pred")
    if len(t) != len(p):
        raise ValueError(f"Found inputs with inconsistent numbers of samples: y_true has "
                         f"{len(t)}, y_pred has {len(p)}.")
    k = num_classes or int(max(t.max(initial=0), p.max(initial=0)) + 1)
    counts = np.zeros((k, k), dtype=np.int64)
    np.add.at(counts, (t, p), 1)
    return counts


def plot_confusion_matrix(y_true: Any, y_pred: Any, class_names: list[str] | None = None,
                          normalize: bool = False, ax: Any = None,
                          path: str | os.PathLike | None = None, show: bool = False):
    """Draws the confusion matrix with counts (or row fractions with `normalize=True`).

    `y_true` and `y_pred` are class ids or one-hot/probability rows. Returns the Figure.
    """
    k = len(class_names) if class_names else None
    counts = confusion_matrix(y_true, y_pred, k)
    k = len(counts)
    names = list(class_names) if class_names else [str(i) for i in range(k)]
    values = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1) if normalize else counts
    fig, ax = _mpl.figure_and_axes(ax, (1.2 + 0.45 * k, 1.0 + 0.45 * k), show)
    image = ax.imshow(values, cmap="Blues", vmin=0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(k), labels=names, rotation=90 if k > 6 else 0, fontsize=7)
    ax.set_yticks(range(k), labels=names, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if k <= 20:
        top = values.max() if values.size else 0
        for (i, j), v in np.ndenumerate(values):
            text = f"{v:.2f}" if normalize else str(int(v))
            ax.text(j, i, text, ha="center", va="center", fontsize=6,
                    color="white" if v > top / 2 else "black")
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    ax.set_title(f"confusion matrix (accuracy {accuracy:.3f})", fontsize=9)
    return _mpl.finish(fig, path, show)


def plot_predictions(images: Any, probabilities: Any, class_names: list[str] | None = None,
                     y_true: Any = None, n: int = 8, top_k: int = 3,
                     path: str | os.PathLike | None = None, show: bool = False):
    """Draws `n` images, each above a bar chart of its `top_k` class probabilities.

    The title is the predicted class, green when it matches `y_true`, red when not. This is a
    multi-panel figure, so it takes no `ax`. Returns the Figure.
    """
    images, probs = np.asarray(images), np.asarray(probabilities, dtype=np.float64)
    if len(images) != len(probs):
        raise ValueError(f"plot_predictions(): {len(images)} images but {len(probs)} rows of "
                         "probabilities.")
    n = min(n, len(images))
    truth = None if y_true is None else _class_ids(y_true, "y_true")
    names = list(class_names) if class_names else [str(i) for i in range(probs.shape[1])]
    cols = min(n, 4)
    rows = int(np.ceil(n / cols))
    fig = _mpl.new_figure((2.6 * cols, 3.6 * rows), show)
    grid = fig.add_gridspec(2 * rows, cols, height_ratios=[2.2, 1.0] * rows)
    for i in range(n):
        r, c = divmod(i, cols)
        top = np.argsort(probs[i])[::-1][:top_k]
        ax = fig.add_subplot(grid[2 * r, c])
        shown, cmap = _mpl.as_display_image(images[i])
        ax.imshow(shown, cmap=cmap)
        ax.axis("off")
        ok = truth is None or truth[i] == top[0]
        ax.set_title(names[top[0]] + ("" if truth is None else f" (true {names[truth[i]]})"),
                     color="green" if ok else "red", fontsize=8)
        bars = fig.add_subplot(grid[2 * r + 1, c])
        bars.barh(range(len(top)), probs[i][top][::-1], color="tab:blue")
        bars.set_yticks(range(len(top)), labels=[names[j] for j in top][::-1], fontsize=7)
        bars.set_xlim(0, 1)
        bars.tick_params(axis="x", labelsize=6)
    fig.tight_layout()
    return _mpl.finish(fig, path, show)


def plot_images(x: Any, y: Any = None, class_names: list[str] | None = None, n: int = 16,
                ax: Any = None, path: str | os.PathLike | None = None, show: bool = False,
                cols: int | None = None):
    """Draws the first `n` images as a grid, each titled with its label when `y` is given.

    With `ax=`, the images are tiled into that one axes (labels then go in its title).
    Returns the Figure.
    """
    x = np.asarray(x)[:n]
    shown = [_mpl.as_display_image(img) for img in x]
    labels = None
    if y is not None:
        ids = _class_ids(y, "y")[: len(x)]
        labels = [class_names[i] if class_names else str(i) for i in ids]
    if ax is not None:
        image = _mpl.mosaic(np.stack([s[0] for s in shown]), pad=2, fill=1.0)
        ax.imshow(image, cmap="gray" if image.ndim == 2 else None)
        ax.axis("off")
        if labels:
            ax.set_title(" ".join(labels), fontsize=7)
        return _mpl.finish(ax.figure, path, show)
    cols = cols or int(np.ceil(np.sqrt(len(x))))
    rows = int(np.ceil(len(x) / cols))
    fig = _mpl.new_figure((1.3 * cols, 1.3 * rows + (0.25 * rows if labels else 0)), show)
    for i, (img, cmap) in enumerate(shown):
        axis = fig.add_subplot(rows, cols, i + 1)
        axis.imshow(img, cmap=cmap, vmin=0, vmax=1)
        axis.axis("off")
        if labels:
            axis.set_title(labels[i], fontsize=8)
    fig.tight_layout()
    return _mpl.finish(fig, path, show)
