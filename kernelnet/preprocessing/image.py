"""Image augmentation and loading with Keras' `ImageDataGenerator` interface.

Example:
    >>> datagen = ImageDataGenerator(rescale=1 / 255, horizontal_flip=True,
    ...                              validation_split=0.2)              # doctest: +SKIP
    >>> train = datagen.flow_from_directory("data/train", target_size=(150, 150),
    ...                                     subset="training", seed=1)   # doctest: +SKIP
    Found 1600 images belonging to 2 classes.
    >>> model.fit(train, epochs=10, validation_data=datagen.flow_from_directory(
    ...     "data/train", target_size=(150, 150), subset="validation"))  # doctest: +SKIP

Differences from Keras, all on purpose: the validation subset is a stratified pseudo-random
split that never overlaps the training subset and is never augmented; unreadable files are
skipped with one warning (`strict=True` raises); batches are prepared by background threads
(`workers=`); EXIF orientation is applied; a few extra augmentations exist (`contrast_range`,
`sharpness_range`, `gaussian_noise_std`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from kernelnet import backend
from kernelnet._typing import Array
from kernelnet.preprocessing import _directory, _transforms
from kernelnet.preprocessing._directory import DirectoryIterator
from kernelnet.preprocessing._io import array_to_img, check_choice, img_to_array, load_img, save_img
from kernelnet.preprocessing._iterators import Iterator, NumpyArrayIterator
from kernelnet.utils import validation

__all__ = ["DirectoryIterator", "ImageDataGenerator", "Iterator", "NumpyArrayIterator",
           "array_to_img", "img_to_array", "load_img", "save_img"]

_STD_FUZZ = 1e-6  # Keras' constant in standardize(), kept for identical outputs


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _invalid(arg: str, value: Any, expected: str, hint: str = "") -> ValueError:
    return ValueError(f"Invalid value for argument `{arg}` of ImageDataGenerator: expected "
                      f"{expected}. Received: {arg}={value!r}." + (f" {hint}" if hint else ""))


def _non_negative(value: Any, arg: str, hint: str = "") -> Any:
    """Checks a range such as `rotation_range`: a finite number >= 0."""
    if not (_is_number(value) and 0 <= value < np.inf):
        raise _invalid(arg, value, "a non-negative number", hint)
    return value


def _shift_range(value: Any, arg: str) -> Any:
    """Keras' shift spec: a float or int >= 0, or a non-empty list of such values."""
    items = list(np.ravel(value)) if isinstance(value, (list, tuple, np.ndarray)) else [value]
    if not items or not all(_is_number(v) and 0 <= v < np.inf for v in items):
        raise _invalid(arg, value, "a non-negative float (a fraction of the size if < 1, else "
                       "pixels), an int (pixels) or a list of such values",
                       "The shift is drawn from [-range, range].")
    return value


def _pair(value: Any, arg: str, centre: float | None = None) -> tuple[float, float] | None:
    """None/0 -> None; scalar z -> (centre - z, centre + z) if centre given; pair -> pair.

    With `centre` (zoom) the factors must be positive, else (brightness...) non-negative.
    """
    if value is None or (centre is not None and _is_number(value) and value == 0):
        return None
    if centre is not None and _is_number(value) and 0 < value < centre:
        return (centre - float(value), centre + float(value))
    is_pair = isinstance(value, (list, tuple, np.ndarray)) and np.ndim(value) == 1 \
        and len(value) == 2 and all(_is_number(v) for v in value)
    if is_pair and value[0] <= value[1] < np.inf and (value[0] > 0 if centre is not None
                                                      else value[0] >= 0):
        return (float(value[0]), float(value[1]))
    if centre is not None:
        raise _invalid(arg, value, f"a float in [0, {centre:g}) or a pair (lower, upper) of "
                       "positive factors with lower <= upper", f"{arg}=z draws factors from "
                       "[1 - z, 1 + z], e.g. zoom_range=0.2 or zoom_range=(0.8, 1.2).")
    raise _invalid(arg, value, "None or a pair (lower, upper) of non-negative factors with "
                   "lower <= upper", f"For example {arg}=(0.8, 1.2).")


class ImageDataGenerator:
    """Generates batches of augmented images from arrays (`flow`) or folders.

    Args (Keras' names and defaults):
        featurewise_center, featurewise_std_normalization: use the dataset mean / std per
            channel (call `fit(x)` first).
        samplewise_center, samplewise_std_normalization: per-image mean / std.
        rotation_range: degrees, uniform in [-r, r].
        width_shift_range, height_shift_range: float (< 1: fraction of the size, else pixels),
            int (pixels from [0, n)), or list of choices.
        brightness_range: pair of multipliers, e.g. (0.8, 1.2).
        shear_range: degrees. zoom_range: float z -> [1 - z, 1 + z], or a pair.
        channel_shift_range: added to all channels, uniform in [-r, r].
        fill_mode: "constant", "nearest", "reflect" or "wrap". cval: value for "constant".
        horizontal_flip, vertical_flip: random flips with probability 0.5.
        rescale: multiplier applied after augmentation, e.g. 1 / 255.
        preprocessing_function: `f(image HWC) -> image HWC`, run after augmentation, before
            rescale.
        validation_split: fraction held out for `subset="validation"`.
        interpolation_order: 0 (nearest) or 1 (bilinear) for the geometric transforms.
        contrast_range: pair of contrast factors (1 = unchanged). Not in Keras.
        sharpness_range: pair of factors: 0 blurs, 1 unchanged, 2 sharpens. Not in Keras.
        gaussian_noise_std: std of additive noise in input pixel units. Not in Keras.
    """

    def __init__(self, featurewise_center=False, samplewise_center=False,
                 featurewise_std_normalization=False, samplewise_std_normalization=False,
                 zca_whitening=False, zca_epsilon=1e-6, rotation_range=0, width_shift_range=0.0,
                 height_shift_range=0.0, brightness_range=None, shear_range=0.0, zoom_range=0.0,
                 channel_shift_range=0.0, fill_mode="nearest", cval=0.0, horizontal_flip=False,
                 vertical_flip=False, rescale=None,
                 preprocessing_function: Callable[[Array], Array] | None = None,
                 data_format=None, validation_split=0.0, interpolation_order=1, dtype=None, *,
                 contrast_range=None, sharpness_range=None, gaussian_noise_std=0.0):
        if zca_whitening:
            raise ValueError("zca_whitening=True is not supported by kernelnet. Use "
                             "featurewise_center/featurewise_std_normalization instead.")
        img_to_array(np.zeros((1, 1), np.uint8), data_format)  # validates data_format
        self.featurewise_center = featurewise_center
        self.samplewise_center = samplewise_center
        self.featurewise_std_normalization = featurewise_std_normalization
        self.samplewise_std_normalization = samplewise_std_normalization
        self.zca_epsilon = zca_epsilon
        self.fill_mode = check_choice(fill_mode, "fill_mode", _transforms.FILL_MODES,
                                      "ImageDataGenerator")
        self.cval = float(cval)
        if rescale is not None and (isinstance(rescale, bool) or not isinstance(
                rescale, (int, float, np.integer, np.floating)) or not np.isfinite(rescale)):
            raise ValueError(f"Invalid value for argument `rescale` of ImageDataGenerator: "
                             f"expected None or a finite number, e.g. 1 / 255. Received: "
                             f"rescale={rescale!r}.")
        self.rescale = rescale
        self.preprocessing_function = preprocessing_function
        self.interpolation_order = check_choice(interpolation_order, "interpolation_order",
                                                (0, 1), "ImageDataGenerator")
        self.dtype = dtype or backend.floatx()
        self._validation_split = validation.check_rate(validation_split, "validation_split",
                                                       "ImageDataGenerator")
        self._ranges = dict(
            rotation_range=_non_negative(rotation_range, "rotation_range",
                                         "The angle is drawn from [-rotation_range, "
                                         "rotation_range] degrees."),
            width_shift_range=_shift_range(width_shift_range, "width_shift_range"),
            height_shift_range=_shift_range(height_shift_range, "height_shift_range"),
            shear_range=_non_negative(shear_range, "shear_range", "The shear angle is drawn "
                                      "from [-shear_range, shear_range] degrees."),
            zoom_range=_pair(zoom_range, "zoom_range", centre=1.0) or (1.0, 1.0),
            channel_shift_range=_non_negative(channel_shift_range, "channel_shift_range"),
            horizontal_flip=horizontal_flip,
            vertical_flip=vertical_flip,
            brightness_range=_pair(brightness_range, "brightness_range"),
            contrast_range=_pair(contrast_range, "contrast_range"),
            sharpness_range=_pair(sharpness_range, "sharpness_range"),
            gaussian_noise_std=_non_negative(gaussian_noise_std, "gaussian_noise_std"),
        )
        self.__dict__.update({k: v for k, v in self._ranges.items()})
        self.mean: Array | None = None
        self.std: Array | None = None

    # -- iterators ------------------------------------------------------------------------
    def flow(self, x, y=None, batch_size=32, shuffle=True, sample_weight=None, seed=None,
             save_to_dir=None, save_prefix="", save_format="png", ignore_class_split=False,
             subset=None, *, workers: int | None = None) -> NumpyArrayIterator:
        """Batches from arrays: `x` is `(n, h, w, c)`, `y` any per-sample targets (or None)."""
        check_choice(subset, "subset", (None, "training", "validation"), "flow()")
        return NumpyArrayIterator(x, y, self, batch_size, shuffle, sample_weight, seed, subset,
                                  workers=workers, save_to_dir=save_to_dir,
                                  save_prefix=save_prefix, save_format=save_format)

    def flow_from_directory(self, directory, target_size=(256, 256), color_mode="rgb",
                            classes=None, class_mode="categorical", batch_size=32,
                            shuffle=True, seed=None, save_to_dir=None, save_prefix="",
                            save_format="png", follow_links=False, subset=None,
                            interpolation="nearest", keep_aspect_ratio=False, *,
                            workers: int | None = None, strict: bool = False
                            ) -> DirectoryIterator:
        """Batches from `directory/<class>/<image>` files (see `DirectoryIterator`).

        Args beyond Keras: `workers` (background threads, default up to 4; 0 = none) and
        `strict` (raise on an unreadable file instead of skipping it with a warning).
        """
        return DirectoryIterator(
            directory, self, target_size, color_mode, classes, class_mode, batch_size, shuffle,
            seed, None, save_to_dir, save_prefix, save_format, follow_links, subset,
            interpolation, keep_aspect_ratio, workers=workers, strict=strict)

    def split_array(self, n: int, y: Array | None, subset: str | None) -> Array:
        """Indices of `subset` for `flow`: stratified by class when `y` holds class labels."""
        labels = np.zeros(n, dtype=np.int64)
        if y is not None and y.ndim == 2 and y.shape[1] > 1:
            labels = y.argmax(axis=1)  # one-hot
        elif y is not None and y.size == n and np.issubdtype(y.dtype, np.integer):
            labels = y.reshape(n)
        return _directory.split_indices([str(i) for i in range(n)], labels,
                                        self._validation_split, subset)

    # -- transforms -----------------------------------------------------------------------
    def random_params(self, img_shape: tuple, rng: np.random.Generator) -> dict:
        """One image's random augmentation parameters (see `_transforms` for the keys)."""
        return _transforms.get_random_transform(img_shape, rng, **self._ranges)

    def get_random_transform(self, img_shape: tuple, seed: int | None = None) -> dict:
        """Keras' method: parameters drawn from `default_rng(seed)` (library rng if None)."""
        return self.random_params(img_shape, validation.check_rng(seed))

    def apply_transform(self, x: Array, transform_parameters: dict) -> Array:
        """Applies fixed parameters to one `(h, w, c)` image; deterministic."""
        return _transforms.apply_transform(x, transform_parameters, self.fill_mode, self.cval,
                                           self.interpolation_order)

    def random_transform(self, x: Array, seed: int | None = None) -> Array:
        """A randomly augmented copy of one `(h, w, c)` image."""
        return self.apply_transform(x, self.get_random_transform(x.shape, seed))

    def standardize(self, x: Array) -> Array:
        """preprocessing_function, rescale, then sample-/feature-wise normalization (Keras)."""
        if self.preprocessing_function is not None:
            x = self.preprocessing_function(x)
        x = np.asarray(x, dtype=self.dtype)
        if self.rescale:
            x = x * np.asarray(self.rescale, dtype=self.dtype)
        if self.samplewise_center:
            x = x - np.mean(x, keepdims=True)
        if self.samplewise_std_normalization:
            x = x / (np.std(x, keepdims=True) + _STD_FUZZ)
        if self.featurewise_center or self.featurewise_std_normalization:
            if self.mean is None:
                raise RuntimeError(
                    "This ImageDataGenerator specifies featurewise_center or "
                    "featurewise_std_normalization, but it hasn't been fit on any training "
                    "data. You must call `fit(x_train)` first."
                )
            if self.featurewise_center:
                x = x - self.mean
            if self.featurewise_std_normalization:
                x = x / (self.std + _STD_FUZZ)
        return x.astype(self.dtype, copy=False)

    def fit(self, x, augment: bool = False, rounds: int = 1, seed: int | None = None) -> None:
        """Computes the per-channel mean and std of `x` (n, h, w, c) for featurewise options."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 4:
            raise ValueError(
                "ImageDataGenerator.fit() expects `x` of rank 4 (samples, height, width, "
                f"channels). Received: x.shape={tuple(int(d) for d in x.shape)}."
            )
        if augment:
            rng = validation.check_rng(seed)
            x = np.stack([self.apply_transform(img, self.random_params(img.shape, rng))
                          for _ in range(rounds) for img in x])
        if self.rescale:  # NOTE: Keras forgets this, so its mean mismatches rescaled batches
            x = x * self.rescale
        self.mean = x.mean(axis=(0, 1, 2)).reshape(1, 1, -1).astype(self.dtype)
        self.std = x.std(axis=(0, 1, 2)).reshape(1, 1, -1).astype(self.dtype)

