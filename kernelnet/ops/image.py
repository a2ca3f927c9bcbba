"""`keras.ops.image`: `resize`, differentiable.

Bilinear and nearest resizing are separable linear maps: along each spatial axis the output is
`A @ x` with a small `(out, in)` interpolation matrix `A`, so `y = A_h x A_w^T` per image and
channel, and the gradient is the same product with the transposed matrices. Sampling follows
TensorFlow 2 / JAX (half-pixel centers): output pixel `i` reads input coordinate
`(i + 0.5) * in / out - 0.5`, clamped at the borders; nearest takes `floor((i + 0.5) * in /
out)`. With `antialias=True`, downsampling widens the bilinear (triangle) kernel by the scale
factor, as `jax.image.resize` does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kernelnet.autodiff.function import Function

_METHODS = ("bilinear", "nearest")


def _matrix(size_in: int, size_out: int, method: str, antialias: bool) -> np.ndarray:
    """The `(size_out, size_in)` interpolation matrix of one axis (rows sum to 1)."""
    scale = size_in / size_out
    if method == "nearest":
        src = np.minimum(np.floor((np.arange(size_out) + 0.5) * scale).astype(int), size_in - 1)
        a = np.zeros((size_out, size_in))
        a[np.arange(size_out), src] = 1.0
        return a
    width = max(scale, 1.0) if antialias else 1.0
    center = (np.arange(size_out) + 0.5) * scale - 0.5                    # (out,)
    dist = np.abs(center[:, None] - np.arange(size_in)[None, :]) / width  # (out, in)
    a = np.maximum(0.0, 1.0 - dist)                                       # triangle kernel
    # Renormalizing rows clamps at the borders (a sample left of pixel 0 reads pixel 0).
    return a / a.sum(axis=1, keepdims=True)


class _Resize(Function):
    @staticmethod
    def forward(ctx, images, a_h=None, a_w=None):
        images = np.asarray(images)
        ctx.a_h, ctx.a_w = a_h.astype(images.dtype), a_w.astype(images.dtype)
        # y[n, o, p, c] = sum_h,w a_h[o, h] x[n, h, w, c] a_w[p, w]
        rows = np.einsum("oh,nhwc->nowc", ctx.a_h, images)
        return np.einsum("pw,nowc->nopc", ctx.a_w, rows)

    @staticmethod
    def backward(ctx, g):
        rows = np.einsum("pw,nopc->nowc", ctx.a_w, g)
        return np.einsum("oh,nowc->nhwc", ctx.a_h, rows)


def _pad_both(images: Any, n: int, axis: int, fill_value: float) -> Any:
    """`n` slices of `fill_value` before and after `images` along `axis` (differentiable)."""
    from kernelnet import ops

    if n <= 0:
        return images
    shape = list(np.shape(images))
    shape[axis] = n
    fill = np.full(shape, fill_value, dtype=np.asarray(images).dtype)
    return ops.concatenate([fill, images, fill], axis=axis)


def resize(images: Any, size: Any, interpolation: str = "bilinear", antialias: bool = False,
           crop_to_aspect_ratio: bool = False, pad_to_aspect_ratio: bool = False,
           fill_mode: str = "constant", fill_value: float = 0.0,
           data_format: str | None = None) -> Any:
    """Resizes `images` `(batch, h, w, c)` or `(h, w, c)` to `size = (height, width)`.

    Args:
        interpolation: "bilinear" (the default) or "nearest".
        antialias: widen the filter when downsampling (bilinear only matters).
        crop_to_aspect_ratio: center-crop to the target aspect ratio first, as Keras does.
        pad_to_aspect_ratio: instead pad to it with `fill_value` (`fill_mode="constant"`).
        data_format: "channels_last" (default) or "channels_first".

    Example:
        >>> resize(np.arange(4.0).reshape(1, 2, 2, 1), (4, 4))[0, :, :, 0]
        array([[0.  , 0.25, 0.75, 1.  ],
               [0.5 , 0.75, 1.25, 1.5 ],
               [1.5 , 1.75, 2.25, 2.5 ],
               [2.  , 2.25, 2.75, 3.  ]])
    """
    from kernelnet import ops

    if interpolation not in _METHODS:
        raise ValueError(
            f"ops.image.resize: `interpolation` must be one of {_METHODS}. "
            f"Received: interpolation={interpolation!r}."
        )
    if pad_to_aspect_ratio and crop_to_aspect_ratio:
        raise ValueError("ops.image.resize: only one of `pad_to_aspect_ratio` and "
                         "`crop_to_aspect_ratio` can be True.")
    if fill_mode != "constant":
        raise ValueError("ops.image.resize: only fill_mode='constant' is supported. "
                         f"Received: fill_mode={fill_mode!r}.")
    size = tuple(int(s) for s in size) if np.ndim(size) else ()
    if len(size) != 2 or min(size) < 1:
        raise ValueError(
            f"ops.image.resize: `size` must be a tuple of 2 positive ints (height, width). "
            f"Received: size={size!r}."
        )
    shape = np.shape(images)
    if len(shape) not in (3, 4):
        raise ValueError(
            "ops.image.resize expects images of shape (batch, height, width, channels) or "
            f"(height, width, channels). Received shape {tuple(shape)}."
        )
    if len(shape) == 3:
        return resize(ops.expand_dims(images, 0), size, interpolation, antialias,
                      crop_to_aspect_ratio, pad_to_aspect_ratio, fill_mode, fill_value,
                      data_format)[0]
    if data_format == "channels_first":
        out = resize(ops.transpose(images, (0, 2, 3, 1)), size, interpolation, antialias,
                     crop_to_aspect_ratio, pad_to_aspect_ratio, fill_mode, fill_value)
        return ops.transpose(out, (0, 3, 1, 2))
    if data_format not in (None, "channels_last"):
        raise ValueError(
            "ops.image.resize: `data_format` must be 'channels_last' or 'channels_first'. "
            f"Received: data_format={data_format!r}."
        )
    h, w = shape[1:3]
    if crop_to_aspect_ratio:
        # Keras: the largest centered crop with the target's aspect ratio
        crop_h = max(min(h, int(w * size[0] / size[1])), 1)
        crop_w = max(min(w, int(h * size[1] / size[0])), 1)
        top, left = (h - crop_h) // 2, (w - crop_w) // 2
        images = ops.get_item(images, (slice(None), slice(top, top + crop_h),
                                       slice(left, left + crop_w)))
        h, w = crop_h, crop_w
    elif pad_to_aspect_ratio:
        # Keras: the same number of fill rows (or columns) on both sides
        top = (max(h, int(w * size[0] / size[1])) - h) // 2
        left = (max(w, int(h * size[1] / size[0])) - w) // 2
        images = _pad_both(images, top, 1, fill_value)
        images = _pad_both(images, left, 2, fill_value)
        h, w = h + 2 * top, w + 2 * left
    return _Resize.apply(images, a_h=_matrix(h, size[0], interpolation, antialias),
                         a_w=_matrix(w, size[1], interpolation, antialias))
