"""Noise layers that act only in training: SpatialDropout2D, GaussianNoise, GaussianDropout.

Each draws its noise from its own generator when given a `seed` (else the library's), and from
a share's generator in parallel training, as `Dropout` does; at inference each is the identity.
"""

from __future__ import annotations

import numpy as np

from kernelnet import backend
from kernelnet._typing import Array, Shape
from kernelnet.layers.base import Layer, LayerContext, share_generator
from kernelnet.layers.convolutional import check_data_format, check_image_input
from kernelnet.layers.core import Dropout
from kernelnet.utils import validation


class SpatialDropout2D(Dropout):
    """Dropout of whole feature maps: in training each (sample, channel) map is zeroed with
    probability `rate` and the others scaled by `1 / (1 - rate)`.

    Args:
        rate: float in [0, 1).
        data_format: None or "channels_last".
        seed: int for a layer-owned generator.

    Example:
        >>> SpatialDropout2D(0.5)(np.ones((2, 4, 4, 3))).shape
        (2, 4, 4, 3)
    """

    def __init__(self, rate, data_format=None, seed=None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)
        self.data_format = check_data_format(data_format, self)

    def _mask_shape(self, shape: tuple) -> tuple:
        check_image_input(self, shape)
        return (shape[0], 1, 1, shape[3])

    def get_config(self) -> dict:
        config = super().get_config()
        del config["noise_shape"]
        return {**config, "data_format": self.data_format}


class _Noise(Layer):
    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self._rng = None if seed is None else np.random.default_rng(seed)

    def _generator(self) -> np.random.Generator:
        return share_generator(self) or (self._rng if self._rng is not None else backend.rng())

    def _noise(self, shape: tuple, dtype) -> Array | None:
        raise NotImplementedError

    def backward(self, ctx: LayerContext, grad: Array) -> tuple[Array | None, list]:
        if not ctx.needs_input_grad[0]:
            return None, []
        scale = getattr(ctx, "scale", None)
        return (grad.copy() if scale is None else grad * scale), []

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)

    def get_config(self) -> dict:
        return {**super().get_config(), "seed": self.seed}


class GaussianNoise(_Noise):
    """Adds zero-mean Gaussian noise of standard deviation `stddev` in training.

    Example:
        >>> GaussianNoise(0.1)(np.ones((2, 3))).tolist()
        [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        ok = isinstance(stddev, (int, float, np.number)) and not isinstance(stddev, bool)
        if not ok or not stddev >= 0:
            raise ValueError(f"Invalid value for argument `stddev` of {validation.describe(self)}"
                             f": expected a float >= 0. Received: stddev={stddev!r}.")
        self.stddev = float(stddev)

    def forward(self, ctx: LayerContext | None, x: Array, training: bool = False) -> Array:
        if not training or self.stddev == 0:
            return x
        noise = self._generator().standard_normal(x.shape, dtype=np.float64) * self.stddev
        return x + noise.astype(x.dtype)

    def get_config(self) -> dict:
        return {**super().get_config(), "stddev": self.stddev}


class GaussianDropout(_Noise):
    """Multiplies by Gaussian noise of mean 1 and standard deviation `sqrt(rate / (1 - rate))`
    in training (the gradient is multiplied by the same noise).

    Example:
        >>> GaussianDropout(0.2)(np.ones((1, 2))).tolist()
        [[1.0, 1.0]]
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = validation.check_rate(rate, "rate", self)

    def forward(self, ctx: LayerContext | None, x: Array, training: bool = False) -> Array:
        if not training or self.rate == 0:
            return x
        std = np.sqrt(self.rate / (1.0 - self.rate))
        scale = (1.0 + std * self._generator().standard_normal(x.shape)).astype(x.dtype)
        if ctx is not None:
            ctx.scale = scale
        return x * scale

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate}
