"""What a convnet learned and sees: its kernels (filters) and its feature maps."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from kernelnet._typing import Array
from kernelnet.visualization import _mpl, probe


def _kernel_of(layer_or_model: Any, layer_name: str | None) -> tuple[Array, str]:
    """`(kernel (kh, kw, c_in, c_out), label)` from a Conv2D, a model (+ name) or an array."""
    if isinstance(layer_or_model, np.ndarray):
        return layer_or_model, "kernel"
    layer = layer_or_model
    if hasattr(layer, "_nodes"):
        convs = probe.conv_layers(layer)
        if layer_name is not None:
            layer = probe.find_layer(layer, layer_name)
        elif convs:
            layer = convs[0]
        else:
            raise ValueError(f"Model {layer_or_model.name!r} has no Conv2D layer to plot.")
    kernel = getattr(layer, "kernel", None)
    if kernel is None or np.ndim(kernel) != 4:
        raise ValueError(f"plot_kernels() needs a built Conv2D layer. Layer {layer.name!r} "
                         f"({type(layer).__name__}) has no 4D kernel.")
    return np.asarray(kernel), layer.name


def kernel_tiles(kernel: Array, channel: int | None = None, max_filters: int = 64) -> Array:
    """One image per filter: `(n, kh, kw, 3)` for RGB inputs, else `(n, kh, kw)`.

    With `c_in == 3` (and `channel=None`) each filter is shown in colour; otherwise input
    channel `channel`, or the mean over input channels. Each tile is scaled to [0, 1].
    """
    kernel = np.asarray(kernel, dtype=np.float64)[..., :max_filters]
    if channel is not None:
        tiles = kernel[:, :, channel, :]
    elif kernel.shape[2] == 3:
        tiles = kernel
    else:
        tiles = kernel.mean(axis=2)
    tiles = np.moveaxis(tiles, -1, 0)                # (n, kh, kw[, 3])
    return np.stack([_mpl.to_unit_range(t) for t in tiles])


def plot_kernels(layer: Any, layer_name: str | None = None, channel: int | None = None,
                 max_filters: int = 64, ax: Any = None, path: str | os.PathLike | None = None,
                 show: bool = False):
    """Draws the filters of a convolution as a grid of small images.

    Args:
        layer: a built `Conv2D`, a model (its first Conv2D, or `layer_name`), or a kernel
            array `(kh, kw, c_in, c_out)`.
        channel: input channel to show; default colour for RGB inputs, else the channel mean.
        max_filters: draw at most this many filters.

    Returns:
        The matplotlib `Figure`.
    """
    kernel, label = _kernel_of(layer, layer_name)
    tiles = kernel_tiles(kernel, channel, max_filters)
    image = _mpl.mosaic(tiles, pad=1, fill=1.0)
    fig, ax = _mpl.figure_and_axes(ax, (5, 5), show)
    ax.imshow(image, cmap=None if image.ndim == 3 else "gray", interpolation="nearest")
    kh, kw, c_in, c_out = kernel.shape
    ax.set_title(f"{label}: {min(c_out, max_filters)} of {c_out} filters {kh}x{kw}x{c_in}",
                 fontsize=9)
    ax.axis("off")
    return _mpl.finish(fig, path, show)


def plot_feature_maps(model: Any, x: Any, layer_names: Any = None, max_maps: int = 16,
                      ax: Any = None, path: str | os.PathLike | None = None,
                      show: bool = False):
    """Draws what each conv/pool layer outputs for one image, one row of maps per layer.

    The maps of a layer share one colour scale, shown by the colorbar beside them.

    Args:
        model: a built model.
        x: one image `(h, w, c)` or `(1, h, w, c)`, preprocessed as for `predict`.
        layer_names: a name, a list of names, or None for every Conv2D/pooling layer.
        max_maps: channels drawn per layer.
        ax: draw into this axes (only with a single layer name).

    Returns:
        The matplotlib `Figure`.
    """
    x = np.asarray(x)
    x = x[np.newaxis] if x.ndim == 3 else x
    if isinstance(layer_names, str):
        layer_names = [layer_names]
    names = list(layer_names or [layer.name for layer in probe.spatial_layers(model)])
    if not names:
        raise ValueError(f"Model {model.name!r} has no Conv2D or pooling layer to show.")
    if ax is not None and len(names) != 1:
        raise ValueError(f"plot_feature_maps(ax=...) draws one layer; received {len(names)}.")
    taps = probe.intermediate_outputs(model, x[:1], names)
    if ax is not None:
        fig, axes = ax.figure, [ax]
    else:
        fig = _mpl.new_figure((min(max_maps, 16) * 0.9 + 1, 1.3 * len(names) + 0.4), show)
        axes = [fig.add_subplot(len(names), 1, i + 1) for i in range(len(names))]
    for axis, name in zip(axes, names):
        maps = taps[name][0]
        if maps.ndim != 3:
            raise ValueError(f"Layer {name!r} outputs shape {(None, *maps.shape)}; feature maps "
                             "need a 4D output (batch, height, width, channels).")
        shown = np.moveaxis(np.asarray(maps, dtype=np.float64)[..., :max_maps], -1, 0)
        lo, hi = float(shown.min()), float(shown.max())
        image = axis.imshow(_mpl.mosaic(shown, cols=len(shown), pad=1, fill=np.nan),
                            cmap="viridis", interpolation="nearest", vmin=lo,
                            vmax=hi if hi > lo else lo + 1)
        fig.colorbar(image, ax=axis, fraction=0.02, pad=0.01)    # one value scale per layer
        axis.set_title(f"{name}: {maps.shape[0]}x{maps.shape[1]}x{maps.shape[2]}"
                       f" ({len(shown)} of {maps.shape[2]} channels)", fontsize=8, loc="left")
        axis.axis("off")
    return _mpl.finish(fig, path, show)
