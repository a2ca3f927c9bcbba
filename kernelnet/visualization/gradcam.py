"""Grad-CAM (Selvaraju et al. 2017, "Grad-CAM: Visual Explanations from Deep Networks"):
which parts of an image made the network choose a class.

For a convolution output `A` (h', w', k) and the class score `y_c` (before softmax), each map
`A_k` is weighted by the mean gradient `alpha_k = mean_ij dy_c/dA_ij^k`, and the heat map is
`relu(sum_k alpha_k A_k)`, upsampled to the image size. The gradients come from a
`GradientTape` (`probe.class_score_gradient`); `saliency_map` is the same question asked of the
input pixels.
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
    weights = grad.mean(axis=(0, 1))                  # alpha_k: (k,)
    cam = np.maximum(act @ weights, 0.0)              # (h', w')
    peak = float(cam.max())
    return (cam / peak if peak > 0 else cam).astype(np.float64)


def saliency_map(model: Any, image: Any, class_index: int | None = None) -> Array:
    """The saliency map of `class_index` (default: the predicted class) for one image
    (Simonyan et al. 2014, "Deep Inside Convolutional Networks"): `max_c |dy_c/dx|` over the
    image's channels, where `y_c` is the class score before the output softmax, computed with
    a `GradientTape` watching the input.

    Returns:
        `(h, w)` float array in [0, 1] at the image's resolution.
    """
    grad, _ = probe.input_gradient(model, image, class_index)
    sal = np.abs(grad).max(axis=-1)
    peak = float(sal.max())
    return (sal / peak if peak > 0 else sal).astype(np.float64)


def _upsample(heatmap: Array, size: tuple[int, int]) -> Array:
    """Bilinear resize of a [0, 1] map with Pillow."""
    from PIL import Image

    img = Image.fromarray(np.uint8(np.clip(heatmap, 0, 1) * 255))
    return np.asarray(img.resize((size[1], size[0]), Image.BILINEAR), dtype=np.float64) / 255


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
    heat = _upsample(grad_cam(model, image, layer_name, class_index), image.shape[:2])
    fig, ax = _mpl.figure_and_axes(ax, (4, 4), show)
    shown, cmap = _mpl.as_display_image(image)
    ax.imshow(shown, cmap=cmap)
    ax.imshow(heat, cmap="jet", alpha=alpha, vmin=0, vmax=1)
    label = class_names[class_index] if class_names else str(class_index)
    ax.set_title(f"Grad-CAM '{label}' ({probs[class_index]:.2f}) at {layer_name}", fontsize=9)
    ax.axis("off")
    return _mpl.finish(fig, path, show)
