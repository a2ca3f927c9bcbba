"""Grad-CAM (Selvaraju et al. 2017, "Grad-CAM: Visual Explanations from Deep Networks"):
which parts of an image made the network choose a class.

For a convolution output `A` (h', w', k) and the class score `y_c` (before softmax), the heat
of cell (i, j) is `relu(sum_k dy_c/dA_ij^k * (A_ij^k - B_ij^k))`, where `B` is the same layer's
output for a blank (all-zero) image; it is placed on the image's pixels at the centre of what
each cell saw.

NOTE: two departures from the paper's formula, both measured on MNIST digits
(tests/test_visualization.py):
- The paper weights each map by its spatially averaged gradient `alpha_k`. That is exact for
  networks that end in global average pooling (ResNet, VGG with pooling="avg"), where the
  gradient is the same at every cell, and then the two formulas agree. After `Flatten` + `Dense`
  (LeNet-5, the Keras MNIST CNN) every cell has its own weights, and averaging mixes their
  signs: on a trained LeNet the heat sat on the background. Keeping the gradient per cell is
  HiResCAM (Draelos & Carin 2020, "Use HiResCAM instead of Grad-CAM for faithful explanations").
- Activations are taken relative to a blank image, so that a constant response to empty
  background (LeNet's tanh units output tanh(bias) there, not 0) counts as no evidence. For
  ReLU networks whose blank response is 0 this changes nothing. The cells' sum is then the
  first-order change of `y_c` from a blank image to this one.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from kernelnet._typing import Array
from kernelnet.visualization import _mpl, probe


def _last_conv_name(model: Any) -> str:
    convs = probe.conv_layers(model)
    if not convs:
        raise ValueError(f"Model {model.name!r} has no Conv2D layer; Grad-CAM needs one. "
                         "Pass layer_name= naming a layer with a 4D output.")
    return convs[-1].name


def grad_cam(model: Any, image: Any, layer_name: str | None = None,
             class_index: int | None = None) -> Array:
    """The Grad-CAM heat map of `class_index` (default: the predicted class) for one image.

    Args:
        model: a built kernelnet model with a single output.
        image: `(h, w, c)` or `(1, h, w, c)`, preprocessed as for `model.predict`.
        layer_name: a layer with a 4D output; defaults to the last `Conv2D`.
        class_index: the class to explain.

    Returns:
        `(h', w')` float array in [0, 1] at the chosen layer's resolution (all zeros when no
        location supports the class).
    """
    layer_name = layer_name or _last_conv_name(model)
    act, grad, _ = probe.class_score_gradient(model, image, layer_name, class_index)
    if act.ndim != 3:
        raise ValueError(f"Grad-CAM needs a layer with a 4D output (batch, h, w, channels); "
                         f"layer {layer_name!r} outputs {(None, *act.shape)}.")
    image = np.asarray(image)
    blank = np.zeros((1, *image.shape[-3:]), dtype=image.dtype if image.dtype.kind == "f"
                     else np.float32)
    blank = probe.intermediate_outputs(model, blank, [layer_name])[layer_name][0]
    cam = np.maximum(np.sum(grad * (act - blank), axis=-1), 0.0)    # (h', w')
    peak = float(cam.max())
    return (cam / peak if peak > 0 else cam).astype(np.float64)


# Where each feature-map cell sits in the input image: cell i of an axis is centred on input
# pixel `start + i * jump` (receptive-field arithmetic, Araujo et al. 2019, "Computing Receptive
# Fields of Convolutional Neural Networks"). A "valid" 5x5 conv shrinks 14 -> 10 by dropping
# two cells at each border, so stretching its map over the whole image would move the heat
# outwards; placing each cell at its centre keeps it on the pixels it looked at.
Geometry = tuple[tuple[float, float], tuple[float, float]]     # ((start_h, jump_h), (start_w, ...))


def _layer_geometry(layer: Any, in_shape: tuple, out_shape: tuple,
                    geo: Geometry) -> Geometry | None:
    """Geometry of `layer`'s output from its input's; None when the layer's is unknown."""
    from kernelnet import layers
    from kernelnet.ops.conv import resolve_padding

    window = getattr(layer, "kernel_size", None) or getattr(layer, "pool_size", None)
    if isinstance(layer, (layers.Conv2D, layers.MaxPooling2D, layers.AveragePooling2D)):
        dilation = getattr(layer, "dilation_rate", (1, 1))
        pads = resolve_padding(layer.padding, in_shape[1:3], window, layer.strides, dilation)
        return tuple((start + ((k - 1) * d / 2 - pad[0]) * jump, jump * s)  # type: ignore
                     for (start, jump), k, s, d, pad in
                     zip(geo, window, layer.strides, dilation, pads))
    if isinstance(layer, layers.ZeroPadding2D):
        return tuple((start - pad[0] * jump, jump) for (start, jump), pad in  # type: ignore
                     zip(geo, layer.padding))
    if isinstance(layer, layers.Cropping2D):
        return tuple((start + crop[0] * jump, jump) for (start, jump), crop in  # type: ignore
                     zip(geo, layer.cropping))
    return geo if tuple(out_shape[1:3]) == tuple(in_shape[1:3]) else None   # e.g. Add, ReLU


def _walk(model: Any, in_shape: tuple, geo: Geometry | None, name: str,
          found: dict) -> tuple[tuple, Geometry | None]:
    """Follows shapes and geometries through `model`; stores the geometry of `name`."""
    values = {model._input_ids[0]: (in_shape, geo)}
    for node in model._nodes:
        shape, g = values[node.in_ids[0]]
        arg = [values[i][0] for i in node.in_ids] if node.multi else shape
        layer = node.layer
        if hasattr(layer, "_nodes"):
            out = _walk(layer, shape, g, name, found)
        else:
            out_shape = tuple(layer.compute_output_shape(arg))
            rank4 = len(shape) == 4 and len(out_shape) == 4
            out = (out_shape, _layer_geometry(layer, shape, out_shape, g) if g and rank4
                   else None)
        values[node.out_id] = out
        if layer.name == name:
            found[name] = out[1]
    return values[model._output_ids[0]]


def feature_geometry(model: Any, layer_name: str) -> Geometry | None:
    """`((start_h, jump_h), (start_w, jump_w))`: cell `(i, j)` of `layer_name`'s output is
    centred on input pixel `(start_h + i * jump_h, start_w + j * jump_w)`; None if unknown."""
    if getattr(model, "_multi_input", False):
        return None
    found: dict = {}
    _walk(model, tuple(model.batch_input_shape), ((0.0, 1.0), (0.0, 1.0)), layer_name, found)
    return found.get(layer_name)


def _resample(values: Array, centres: Array, size: int, axis: int) -> Array:
    """Linear interpolation of `values` along `axis`, known at pixel `centres`, onto pixels
    `0..size-1` (held at the end values beyond the first and last centre)."""
    pos = np.clip(np.interp(np.arange(size), centres, np.arange(len(centres))), 0,
                  len(centres) - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, len(centres) - 1)
    w = pos - lo
    shape = [1, 1]
    shape[axis] = size
    return (np.take(values, lo, axis) * (1 - w).reshape(shape)
            + np.take(values, hi, axis) * w.reshape(shape))


def to_image_size(heatmap: Array, size: tuple[int, int],
                  geometry: Geometry | None = None) -> Array:
    """A layer-resolution heat map on the input's pixels: each cell at the centre of what it
    saw (`geometry`, see `feature_geometry`), or stretched over the image when None."""
    heatmap = np.asarray(heatmap, dtype=np.float64)
    if geometry is None:  # unknown layers: spread the cells evenly over the image
        geometry = tuple(((n / h - 1) / 2, n / h) for n, h in zip(size, heatmap.shape))
    for axis, ((start, jump), n) in enumerate(zip(geometry, size)):
        centres = start + jump * np.arange(heatmap.shape[axis])
        heatmap = _resample(heatmap, centres, n, axis) if len(centres) > 1 else \
            np.repeat(heatmap, n, axis=axis)
    return heatmap


def grad_cam_image(model: Any, image: Any, layer_name: str | None = None,
                   class_index: int | None = None) -> Array:
    """`grad_cam` placed on the image's pixels: `(h, w)` in [0, 1], each cell of the layer's
    map at the centre of the pixels it saw, linearly interpolated between cells."""
    image = np.asarray(image)
    image = image[0] if image.ndim == 4 else image
    layer_name = layer_name or _last_conv_name(model)
    heat = grad_cam(model, image, layer_name, class_index)
    return np.clip(to_image_size(heat, image.shape[:2], feature_geometry(model, layer_name)),
                   0, 1)


def plot_grad_cam(model: Any, image: Any, layer_name: str | None = None,
                  class_index: int | None = None, class_names: list[str] | None = None,
                  alpha: float = 0.5, ax: Any = None, path: str | os.PathLike | None = None,
                  show: bool = False):
    """Draws the image with its Grad-CAM heat map on top; returns the Figure."""
    image = np.asarray(image)
    image = image[0] if image.ndim == 4 else image
    layer_name = layer_name or _last_conv_name(model)
    probs = model.predict(image[np.newaxis], verbose=0)[0]
    if class_index is None:
        class_index = int(np.argmax(probs))
    heat = grad_cam_image(model, image, layer_name, class_index)
    fig, ax = _mpl.figure_and_axes(ax, (4.6, 4), show)
    shown, cmap = _mpl.as_display_image(image)
    ax.imshow(shown, cmap=cmap)
    overlay = ax.imshow(heat, cmap="jet", alpha=alpha, vmin=0, vmax=1)
    fig.colorbar(overlay, ax=ax, fraction=0.046, pad=0.04, label="relative importance")
    label = class_names[class_index] if class_names else str(class_index)
    ax.set_title(f"Grad-CAM '{label}' ({probs[class_index]:.2f}) at {layer_name}", fontsize=9)
    ax.axis("off")
    return _mpl.finish(fig, path, show)
