"""Image preprocessing and augmentation layers with Keras 3 semantics, on NHWC batches (or one
HWC image).

Deterministic: `Rescaling`, `Normalization`, `Resizing`, `CenterCrop`. Random (acting only when
`training=True`, identity otherwise, drawing from a layer-owned generator when given `seed`):
`RandomFlip`, `RandomRotation`, `RandomZoom`, `RandomTranslation`, `RandomCrop`,
`RandomContrast`, `RandomBrightness`.

Every layer is differentiable: geometric ones sample the input at transformed coordinates
(`ops.resample`, a linear map of the pixels whose adjoint is a scatter-add), crops and flips
move gradients back, contrast and brightness are affine per image (zero gradient where the
output was clipped). Transform conventions follow Keras: rotation `factor` is a fraction of a
full turn, positive = counter-clockwise; zoom > 0 zooms out; translation > 0 moves the image
down / right; `fill_mode` "reflect" (default), "wrap", "constant" (with `fill_value`),
"nearest".
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from kernelnet import backend
from kernelnet._typing import Array, Shape
from kernelnet.layers.base import Layer, LayerContext, share_generator
from kernelnet.ops import resample
from kernelnet.utils import validation

_INTERPOLATIONS = ("bilinear", "nearest")


def _as_batch(layer: Layer, x: Array) -> tuple[Array, bool]:
    """`(images (n, h, w, c), was_single_image)`."""
    if x.ndim == 3:
        return x[None], True
    validation.check_ndim(layer, tuple(x.shape), 4, "(batch, height, width, channels)",
                          "A single image (height, width, channels) is accepted too.")
    return x, False


def _check_interpolation(layer: Layer, value: Any) -> str:
    if value not in _INTERPOLATIONS:
        raise ValueError(
            f"{validation.describe(layer)}: `interpolation` must be one of {_INTERPOLATIONS} in "
            f"kernelnet. Received: interpolation={value!r}."
        )
    return value


def _check_fill_mode(layer: Layer, value: Any) -> str:
    if value not in resample.FILL_MODES:
        raise ValueError(
            f"{validation.describe(layer)}: unknown `fill_mode` {value!r}. Expected one of "
            f"{resample.FILL_MODES}."
        )
    return value


def _factor_range(layer: Layer, factor: Any, arg: str, bound: float | None = None) -> tuple:
    """Keras' factor spec: a number f means (-f, f), a pair means (lower, upper)."""
    if isinstance(factor, (int, float, np.number)) and not isinstance(factor, bool):
        lower, upper = -abs(float(factor)), abs(float(factor))
    elif isinstance(factor, (list, tuple)) and len(factor) == 2 and all(
            isinstance(f, (int, float, np.number)) and not isinstance(f, bool) for f in factor):
        lower, upper = float(factor[0]), float(factor[1])
    else:
        raise ValueError(f"{validation.describe(layer)}: `{arg}` must be a float or a tuple of "
                         f"2 floats. Received: {arg}={factor!r}.")
    if lower > upper or (bound is not None and (lower < -bound or upper > bound)):
        limit = f" within [-{bound}, {bound}]" if bound is not None else ""
        raise ValueError(f"{validation.describe(layer)}: `{arg}` must be (lower, upper) with "
                         f"lower <= upper{limit}. Received: {arg}={factor!r}.")
    return lower, upper


def _check_size(layer: Layer, height: Any, width: Any) -> tuple[int, int]:
    return (validation.check_positive_int(height, "height", layer),
            validation.check_positive_int(width, "width", layer))


class _Sampler(Layer):
    """A layer whose output samples its input at coordinates it computes per call."""

    interpolation = "bilinear"
    fill_mode = "constant"
    fill_value = 0.0

    def _coordinates(self, x: Array, training: bool) -> tuple[Array, Array] | None:
        """Source coordinates `(ys, xs)`, each `(n, oh, ow)`, or None for the identity."""
        raise NotImplementedError

    def forward(self, ctx: LayerContext | None, x: Array, training: bool = False) -> Array:
        images, single = _as_batch(self, x)
        coords = self._coordinates(images, training)
        if ctx is not None:
            ctx.single, ctx.cache = single, None
        if coords is None:
            return x
        y, cache = resample.sample(images, *coords, self.interpolation, self.fill_mode,
                                   self.fill_value)
        if ctx is not None:
            ctx.cache = cache
        return y[0] if single else y

    def backward(self, ctx: LayerContext, grad: Array) -> tuple[Array | None, list]:
        if not ctx.needs_input_grad[0]:
            return None, []
        if ctx.cache is None:
            return grad.copy(), []
        dx = resample.sample_backward(grad[None] if ctx.single else grad, ctx.cache)
        return (dx[0] if ctx.single else dx), []


class _Random(Layer):
    """Seeded generator handling shared by the random layers."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                                 or seed < 0):
            raise ValueError(f"{validation.describe(self)}: `seed` must be None or an int >= 0. "
                             f"Received: seed={seed!r}.")
        self.seed = seed
        self._rng = None if seed is None else np.random.default_rng(seed)

    def _generator(self) -> np.random.Generator:
        return share_generator(self) or (self._rng if self._rng is not None else backend.rng())

    def get_config(self) -> dict:
        return {**super().get_config(), "seed": self.seed}


class Rescaling(Layer):
    """`y = x * scale + offset` (scale/offset: a number, or one value per channel).

    Example:
        >>> float(Rescaling(1 / 255)(np.full((1, 2, 2, 3), 255.0)).max())
        1.0
    """

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        for arg, value in (("scale", scale), ("offset", offset)):
            arr = np.asarray(value)
            if arr.dtype.kind not in "fiu" or arr.ndim > 1:
                raise ValueError(f"{validation.describe(self)}: `{arg}` must be a number or a "
                                 f"list of numbers (one per channel). Received: {arg}={value!r}.")
        self.scale = scale if np.ndim(scale) == 0 else [float(s) for s in scale]
        self.offset = offset if np.ndim(offset) == 0 else [float(o) for o in offset]

    def forward(self, ctx: LayerContext | None, x: Array, training: bool = False) -> Array:
        scale = np.asarray(self.scale, dtype=x.dtype)
        return x * scale + np.asarray(self.offset, dtype=x.dtype)

    def backward(self, ctx: LayerContext, grad: Array) -> tuple[Array | None, list]:
        if not ctx.needs_input_grad[0]:
            return None, []
        scale = np.asarray(self.scale, dtype=grad.dtype)
        return np.broadcast_to(grad * scale, grad.shape).copy(), []

    def get_config(self) -> dict:
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


class Normalization(Layer):
    """`y = (x - mean) / sqrt(variance)` per feature on `axis` (Keras' Normalization), with the
    statistics given or learned by `adapt(data)`; `invert=True` maps back.

    Weights (non-trainable, as Keras): `mean`, `variance` and `count`, unless `mean` and
    `variance` are given to the constructor.

    Example:
        >>> layer = Normalization()
        >>> layer.adapt(np.array([[1.0], [3.0]]))
        >>> layer(np.array([[3.0]])).tolist()
        [[1.0]]
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        axes = axis if isinstance(axis, (list, tuple)) else ([] if axis is None else [axis])
        if not all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axes):
            raise ValueError(f"{validation.describe(self)}: `axis` must be None, an int or a "
                             f"tuple of ints. Received: axis={axis!r}.")
        if (mean is None) != (variance is None):
            raise ValueError(f"{validation.describe(self)}: pass both `mean` and `variance`, or "
                             f"neither. Received: mean={mean!r}, variance={variance!r}.")
        self.axis = tuple(int(a) for a in axes)
        self.input_mean, self.input_variance = mean, variance
        self.invert = bool(invert)

    def build(self, input_shape: Shape) -> None:
        ndim = len(input_shape)
        keep = tuple(sorted(a % ndim for a in self.axis))
        if any(not -ndim <= a < ndim for a in self.axis) or any(input_shape[a] is None
                                                                 for a in keep):
            raise ValueError(f"{validation.describe(self)}: axis={self.axis} must name known "
                             f"axes of the input. Received input with shape "
                             f"{tuple(input_shape)}.")
        self._bshape = tuple(input_shape[a] if a in keep else 1 for a in range(ndim))
        self._reduce = tuple(a for a in range(ndim) if a not in keep)
        if self.input_mean is None:
            shape = tuple(input_shape[a] for a in keep)
            self.mean = self.add_weight(shape, "zeros", trainable=False, name="mean")
            self.variance = self.add_weight(shape, "ones", trainable=False, name="variance")
            self.count = self.add_weight((), "zeros", dtype="int64", trainable=False,
                                         name="count")
        self.built = True

    def _stats(self, dtype) -> tuple[Array, Array]:
        if self.input_mean is not None:
            mean, var = np.asarray(self.input_mean), np.asarray(self.input_variance)
        else:
            mean, var = self.mean.value, self.variance.value
        mean = np.broadcast_to(np.asarray(mean, dtype=dtype).reshape(
            self._bshape if np.size(mean) > 1 else ()), self._bshape)
        var = np.broadcast_to(np.asarray(var, dtype=dtype).reshape(
            self._bshape if np.size(var) > 1 else ()), self._bshape)
        return mean, np.maximum(np.sqrt(var), dtype.type(backend.epsilon()))

    def adapt(self, data: Any) -> None:
        """Sets `mean` and `variance` from `data` (an array of samples)."""
        data = validation.as_float_array(data, self.dtype, self, "data")
        if not self.built:
            self.build(data.shape)
        if self.input_mean is not None:
            raise ValueError(f"{validation.describe(self)} was given mean and variance; "
                             "adapt() cannot change them.")
        self.mean.assign(data.mean(axis=self._reduce).reshape(self.mean.shape))
        self.variance.assign(data.var(axis=self._reduce).reshape(self.variance.shape))
        self.count.assign(np.int64(np.prod([data.shape[a] for a in self._reduce])))

    def forward(self, ctx: LayerContext | None, x: Array, training: bool = False) -> Array:
        mean, std = self._stats(x.dtype)
        return mean + x * std if self.invert else (x - mean) / std

    def backward(self, ctx: LayerContext, grad: Array) -> tuple[Array | None, list]:
        if not ctx.needs_input_grad[0]:
            return None, []
        _, std = self._stats(grad.dtype)
        return (grad * std if self.invert else grad / std), []

    def get_config(self) -> dict:
        mean, var = self.input_mean, self.input_variance
        return {**super().get_config(), "axis": list(self.axis), "invert": self.invert,
                "mean": None if mean is None else np.asarray(mean).tolist(),
                "variance": None if var is None else np.asarray(var).tolist()}


def _smart_crop_box(h: int, w: int, th: int, tw: int) -> tuple[int, int, int, int]:
    """The largest centred `(top, left, height, width)` box of `th:tw` aspect ratio in an
    `h x w` image (Keras' `smart_resize` crop)."""
    crop_h = max(min(h, int(w * th / tw)), 1)
    crop_w = max(min(w, int(h * tw / th)), 1)
    return (h - crop_h) // 2, (w - crop_w) // 2, crop_h, crop_w


def _box_coordinates(n: int, box: tuple, out_hw: tuple) -> tuple[Array, Array]:
    """Coordinates resizing the `(top, left, height, width)` box to `out_hw` (half-pixel
    centres)."""
    top, left, bh, bw = box
    ys, xs = resample.resize_coordinates(n, (bh, bw), out_hw)
    return ys + top, xs + left


class Resizing(_Sampler):
    """Resizes images to `(height, width)` ("bilinear" or "nearest", half-pixel centres as
    Keras 3). `crop_to_aspect_ratio` takes the largest centred crop of the target aspect ratio
    first; `pad_to_aspect_ratio` pads with `fill_value` instead.

    Example:
        >>> Resizing(8, 6)(np.ones((2, 4, 4, 3))).shape
        (2, 8, 6, 3)
    """

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False,
                 pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0,
                 data_format=None, **kwargs):
        from kernelnet.layers.convolutional import check_data_format

        super().__init__(**kwargs)
        self.height, self.width = _check_size(self, height, width)
        self.interpolation = _check_interpolation(self, interpolation)
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ValueError(f"{validation.describe(self)}: only one of crop_to_aspect_ratio and "
                             "pad_to_aspect_ratio can be True.")
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)
        self.pad_to_aspect_ratio = bool(pad_to_aspect_ratio)
        if fill_mode != "constant":
            raise ValueError(f"{validation.describe(self)}: only fill_mode='constant' is "
                             f"supported (as in Keras). Received: fill_mode={fill_mode!r}.")
        self.fill_value = float(fill_value)
        self.data_format = check_data_format(data_format, self)

    def _coordinates(self, x: Array, training: bool) -> tuple[Array, Array]:
        n, h, w = x.shape[:3]
        th, tw = self.height, self.width
        box = (0, 0, h, w)
        if self.crop_to_aspect_ratio:
            box = _smart_crop_box(h, w, th, tw)
        elif self.pad_to_aspect_ratio:
            ph, pw = max(h, int(round(w * th / tw))), max(w, int(round(h * tw / th)))
            box = (-((ph - h) // 2), -((pw - w) // 2), ph, pw)
        ys, xs = _box_coordinates(n, box, (th, tw))
        if not self.pad_to_aspect_ratio:
            # inside the image the edge pixels repeat (TF's resize clamps its taps)
            ys, xs = np.clip(ys, 0, h - 1), np.clip(xs, 0, w - 1)
        return ys, xs

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (*tuple(input_shape)[:-3], self.height, self.width, input_shape[-1])

    def get_config(self) -> dict:
        return {**super().get_config(), "height": self.height, "width": self.width,
                "interpolation": self.interpolation,
                "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
                "pad_to_aspect_ratio": self.pad_to_aspect_ratio, "fill_mode": "constant",
                "fill_value": self.fill_value, "data_format": self.data_format}


class _Cropper(_Sampler):
    """Crops a `(height, width)` window; images smaller than it in either dimension are
    resized after the largest centred crop of the target aspect ratio (Keras' rule)."""

    def __init__(self, height, width, **kwargs):
        super().__init__(**kwargs)
        self.height, self.width = _check_size(self, height, width)

    def _top_left(self, h: int, w: int, training: bool) -> tuple[int, int]:
        return (h - self.height) // 2, (w - self.width) // 2

    def forward(self, ctx: LayerContext | None, x: Array, training: bool = False) -> Array:
        images, single = _as_batch(self, x)
        h, w = images.shape[1:3]
        if h < self.height or w < self.width:
            return super().forward(ctx, x, training)
        top, left = self._top_left(h, w, training)
        if ctx is not None:
            ctx.single, ctx.cache, ctx.crop = single, None, (images.shape, top, left)
        y = images[:, top:top + self.height, left:left + self.width]
        return y[0] if single else y

    def _coordinates(self, x: Array, training: bool) -> tuple[Array, Array]:
        n, h, w = x.shape[:3]
        ys, xs = _box_coordinates(n, _smart_crop_box(h, w, self.height, self.width),
                                  (self.height, self.width))
        return np.clip(ys, 0, h - 1), np.clip(xs, 0, w - 1)

    def backward(self, ctx: LayerContext, grad: Array) -> tuple[Array | None, list]:
        if not hasattr(ctx, "crop") or not ctx.needs_input_grad[0]:
            return super().backward(ctx, grad)
        shape, top, left = ctx.crop
        dx = np.zeros(shape, dtype=grad.dtype)
        dx[:, top:top + self.height, left:left + self.width] = grad[None] if ctx.single else grad
        return (dx[0] if ctx.single else dx), []

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (*tuple(input_shape)[:-3], self.height, self.width, input_shape[-1])

    def get_config(self) -> dict:
        return {**super().get_config(), "height": self.height, "width": self.width}


class CenterCrop(_Cropper):
    """Crops the centre `(height, width)` of each image (smaller images: centred crop of the
    target aspect ratio, resized).

    Example:
        >>> CenterCrop(2, 2)(np.arange(16.0).reshape(1, 4, 4, 1))[0, :, :, 0].tolist()
        [[5.0, 6.0], [9.0, 10.0]]
    """

    def __init__(self, height, width, data_format=None, **kwargs):
        from kernelnet.layers.convolutional import check_data_format

        super().__init__(height, width, **kwargs)
        self.data_format = check_data_format(data_format, self)

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format}


class RandomCrop(_Cropper, _Random):
    """In training, crops a random `(height, width)` window (one offset per batch, as Keras 3);
    at inference, and for images smaller than the window, the centred crop of the target
    aspect ratio, resized.

    Example:
        >>> RandomCrop(3, 3, seed=0)(np.ones((2, 5, 5, 1)), training=True).shape
        (2, 3, 3, 1)
    """

    def __init__(self, height, width, seed=None, data_format=None, **kwargs):
        from kernelnet.layers.convolutional import check_data_format

        super().__init__(height, width, seed=seed, **kwargs)
        self.data_format = check_data_format(data_format, self)

    def forward(self, ctx: LayerContext | None, x: Array, training: bool = False) -> Array:
        images = _as_batch(self, x)[0]
        h, w = images.shape[1:3]
        if training or h < self.height or w < self.width:
            return super().forward(ctx, x, training)
        # inference: the largest centred window of the target aspect ratio, resized
        return _Sampler.forward(self, ctx, x, training)

    def _top_left(self, h: int, w: int, training: bool) -> tuple[int, int]:
        rng = self._generator()
        return (int(rng.integers(0, h - self.height + 1)),
                int(rng.integers(0, w - self.width + 1)))

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format}


class RandomFlip(_Random):
    """In training, flips each image left-right and/or up-down with probability 1/2 each.

    Args:
        mode: "horizontal", "vertical" or "horizontal_and_vertical".
        seed: int for a layer-owned generator.

    Example:
        >>> RandomFlip("horizontal", seed=1)(np.ones((2, 4, 4, 3)), training=True).shape
        (2, 4, 4, 3)
    """

    _MODES = ("horizontal", "vertical", "horizontal_and_vertical")

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, **kwargs):
        from kernelnet.layers.convolutional import check_data_format

        super().__init__(seed=seed, **kwargs)
        if mode not in self._MODES:
            raise ValueError(f"{validation.describe(self)}: `mode` must be one of {self._MODES}. "
                             f"Received: mode={mode!r}.")
        self.mode = mode
        self.data_format = check_data_format(data_format, self)

    def _flip(self, images: Array, masks: tuple) -> Array:
        out = images.copy()
        for axis, mask in zip((2, 1), masks):      # horizontal flips columns, vertical rows
            if mask is not None and mask.any():
                out[mask] = np.flip(out[mask], axis=axis)
        return out

    def forward(self, ctx: LayerContext | None, x: Array, training: bool = False) -> Array:
        images, single = _as_batch(self, x)
        masks = (None, None)
        if training:
            rng, n = self._generator(), images.shape[0]
            masks = (rng.random(n) < 0.5 if "horizontal" in self.mode else None,
                     rng.random(n) < 0.5 if "vertical" in self.mode else None)
        if ctx is not None:
            ctx.single, ctx.masks = single, masks
        if masks[0] is None and masks[1] is None:
            return x
        y = self._flip(images, masks)
        return y[0] if single else y

    def backward(self, ctx: LayerContext, grad: Array) -> tuple[Array | None, list]:
        if not ctx.needs_input_grad[0]:
            return None, []
        if ctx.masks[0] is None and ctx.masks[1] is None:
            return grad.copy(), []
        dx = self._flip(grad[None] if ctx.single else grad, ctx.masks)   # flips are their own
        return (dx[0] if ctx.single else dx), []                          # inverse

    def get_config(self) -> dict:
        return {**super().get_config(), "mode": self.mode, "data_format": self.data_format}


class _RandomAffine(_Sampler, _Random):
    """Random affine resampling in training (rotation, zoom, translation)."""

    def __init__(self, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0,
                 data_format=None, **kwargs):
        from kernelnet.layers.convolutional import check_data_format

        super().__init__(seed=seed, **kwargs)
        self.fill_mode = _check_fill_mode(self, fill_mode)
        self.interpolation = _check_interpolation(self, interpolation)
        self.fill_value = float(fill_value)
        self.data_format = check_data_format(data_format, self)

    def _transforms(self, n: int, h: int, w: int) -> Array:
        """Keras' 8-number projective transforms (n, 8): output -> input points."""
        raise NotImplementedError

    def _coordinates(self, x: Array, training: bool) -> tuple[Array, Array] | None:
        if not training:
            return None
        n, h, w = x.shape[:3]
        return resample.affine_coordinates(self._transforms(n, h, w), (h, w))

    def get_config(self) -> dict:
        return {**super().get_config(), "fill_mode": self.fill_mode,
                "interpolation": self.interpolation, "fill_value": self.fill_value,
                "data_format": self.data_format}


class RandomRotation(_RandomAffine):
    """In training, rotates each image by a random angle: `factor` (a fraction of a full turn)
    f means angles in [-f * 2pi, f * 2pi]; a pair (lower, upper) gives the range. Positive
    angles rotate counter-clockwise.

    Example:
        >>> RandomRotation(0.1, seed=0)(np.ones((2, 5, 5, 1)), training=True).shape
        (2, 5, 5, 1)
    """

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.factor = factor
        self._range = _factor_range(self, factor, "factor")

    def _transforms(self, n: int, h: int, w: int) -> Array:
        angle = self._generator().uniform(*self._range, size=n) * 2 * math.pi
        cos, sin = np.cos(angle), np.sin(angle)
        x_off = ((w - 1) - (cos * (w - 1) - sin * (h - 1))) / 2.0
        y_off = ((h - 1) - (sin * (w - 1) + cos * (h - 1))) / 2.0
        zero = np.zeros(n)
        return np.stack([cos, -sin, x_off, sin, cos, y_off, zero, zero], axis=1)

    def get_config(self) -> dict:
        return {**super().get_config(), "factor": self.factor}


class RandomZoom(_RandomAffine):
    """In training, zooms each image by a random factor: `height_factor` f means zoom in
    [1 + lower, 1 + upper] with (lower, upper) = (-f, f); positive values zoom out.
    `width_factor` None keeps the aspect ratio (the height's zoom is used).

    Example:
        >>> RandomZoom(0.2, seed=0)(np.ones((2, 5, 5, 1)), training=True).shape
        (2, 5, 5, 1)
    """

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, data_format=None,
                 **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self._h_range = _factor_range(self, height_factor, "height_factor")
        self._w_range = (None if width_factor is None
                         else _factor_range(self, width_factor, "width_factor"))
        if self._h_range[0] < -1 or (self._w_range is not None and self._w_range[0] < -1):
            raise ValueError(f"{validation.describe(self)}: zoom factors must be >= -1. "
                             f"Received: height_factor={height_factor!r}, "
                             f"width_factor={width_factor!r}.")

    def _transforms(self, n: int, h: int, w: int) -> Array:
        rng = self._generator()
        zh = 1.0 + rng.uniform(*self._h_range, size=n)
        zw = zh if self._w_range is None else 1.0 + rng.uniform(*self._w_range, size=n)
        x_off = (w - 1.0) / 2.0 * (1.0 - zw)
        y_off = (h - 1.0) / 2.0 * (1.0 - zh)
        zero = np.zeros(n)
        return np.stack([zw, zero, x_off, zero, zh, y_off, zero, zero], axis=1)

    def get_config(self) -> dict:
        return {**super().get_config(), "height_factor": self.height_factor,
                "width_factor": self.width_factor}


class RandomTranslation(_RandomAffine):
    """In training, shifts each image by random fractions of its height and width
    (`height_factor` f: shifts in [-f, f] of the height; positive = down / right).

    Example:
        >>> RandomTranslation(0.1, 0.1, seed=0)(np.ones((2, 5, 5, 1)), training=True).shape
        (2, 5, 5, 1)
    """

    def __init__(self, height_factor, width_factor, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, data_format=None,
                 **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self._h_range = _factor_range(self, height_factor, "height_factor", bound=1.0)
        self._w_range = _factor_range(self, width_factor, "width_factor", bound=1.0)

    def _transforms(self, n: int, h: int, w: int) -> Array:
        rng = self._generator()
        dy = rng.uniform(*self._h_range, size=n) * h
        dx = rng.uniform(*self._w_range, size=n) * w
        one, zero = np.ones(n), np.zeros(n)
        return np.stack([one, zero, -dx, zero, one, -dy, zero, zero], axis=1)

    def get_config(self) -> dict:
        return {**super().get_config(), "height_factor": self.height_factor,
                "width_factor": self.width_factor}


class _RandomIntensity(_Random):
    """Per-image affine change of the pixel values, clipped to `value_range`."""

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        if (not isinstance(value_range, (list, tuple)) or len(value_range) != 2
                or not value_range[0] < value_range[1]):
            raise ValueError(f"{validation.describe(self)}: `value_range` must be (low, high) "
                             f"with low < high. Received: value_range={value_range!r}.")
        self.value_range = (float(value_range[0]), float(value_range[1]))
        self.factor = factor

    def _apply(self, ctx: LayerContext | None, images: Array) -> Array:
        raise NotImplementedError

    def forward(self, ctx: LayerContext | None, x: Array, training: bool = False) -> Array:
        images, single = _as_batch(self, x)
        if ctx is not None:
            ctx.single, ctx.active = single, training
        if not training:
            return x
        y = self._apply(ctx, images)
        low, high = self.value_range
        inside = (y >= low) & (y <= high)
        y = np.clip(y, low, high).astype(x.dtype, copy=False)
        if ctx is not None:
            ctx.inside = inside
        return y[0] if single else y

    def _input_grad(self, ctx: LayerContext, grad: Array) -> Array:
        raise NotImplementedError

    def backward(self, ctx: LayerContext, grad: Array) -> tuple[Array | None, list]:
        if not ctx.needs_input_grad[0]:
            return None, []
        if not ctx.active:
            return grad.copy(), []
        g = (grad[None] if ctx.single else grad) * ctx.inside
        dx = self._input_grad(ctx, g)
        return (dx[0] if ctx.single else dx), []

    def get_config(self) -> dict:
        return {**super().get_config(), "factor": self.factor,
                "value_range": list(self.value_range)}


class RandomContrast(_RandomIntensity):
    """In training, scales each image's deviation from its per-channel mean by a random
    contrast in [1 - lower, 1 + upper] (`factor` f: lower = upper = f), clipped to
    `value_range`.

    Example:
        >>> float(RandomContrast(0.5, seed=0)(np.full((2, 3, 3, 1), 7.0), training=True).max())
        7.0
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(factor, value_range, seed, **kwargs)
        if np.ndim(factor) == 0:
            lower, upper = _factor_range(self, factor, "factor")
            lower = -lower
        else:
            lower, upper = (float(f) for f in factor)
        if not (0 <= lower <= 1 and upper >= 0):
            raise ValueError(f"{validation.describe(self)}: `factor` must be in [0, 1] (or a "
                             f"pair with lower in [0, 1]). Received: factor={factor!r}.")
        self._range = (1.0 - lower, 1.0 + upper)

    def _apply(self, ctx: LayerContext | None, images: Array) -> Array:
        n = images.shape[0]
        contrast = self._generator().uniform(*self._range, size=n).astype(images.dtype)
        contrast = contrast.reshape(n, 1, 1, 1)
        mean = images.mean(axis=(1, 2), keepdims=True)
        if ctx is not None:
            ctx.contrast = contrast
        return (images - mean) * contrast + mean

    def _input_grad(self, ctx: LayerContext, g: Array) -> Array:
        # y = f x + (1 - f) mean(x): dx = f g + (1 - f) mean(g) broadcast over the image
        f = ctx.contrast
        return f * g + (1 - f) * g.mean(axis=(1, 2), keepdims=True)


class RandomBrightness(_RandomIntensity):
    """In training, adds to each image a random delta of `factor` times the value range
    (`factor` f in [-1, 1] means deltas in [-f, f]), clipped to `value_range`.

    Example:
        >>> RandomBrightness(0.2, seed=0)(np.full((2, 3, 3, 3), 100.0), training=True).shape
        (2, 3, 3, 3)
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(factor, value_range, seed, **kwargs)
        self._range = _factor_range(self, factor, "factor", bound=1.0)

    def _apply(self, ctx: LayerContext | None, images: Array) -> Array:
        span = self.value_range[1] - self.value_range[0]
        delta = self._generator().uniform(*self._range, size=images.shape[0]) * span
        return images + delta.astype(images.dtype).reshape(-1, 1, 1, 1)

    def _input_grad(self, ctx: LayerContext, g: Array) -> Array:
        return g
