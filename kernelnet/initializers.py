"""Weight initializers, Keras names and defaults.

Each initializer is called as `init(shape, dtype=None, rng=None) -> array`. Fan-in/fan-out follow
Keras: for a conv kernel `(kh, kw, c_in, c_out)`, fan_in = kh*kw*c_in and fan_out = kh*kw*c_out.
"""

from __future__ import annotations

import math

import numpy as np

from kernelnet import backend
from kernelnet._typing import Array
from kernelnet.utils.registry import get_from_registry


def compute_fans(shape: tuple) -> tuple[int, int]:
    """Returns (fan_in, fan_out) for a Dense `(in, out)` or conv `(*kernel, in, out)` shape."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    """Base class: subclasses implement `sample(shape, rng) -> float64 array`."""

    def __call__(self, shape, dtype=None, rng=None) -> Array:
        rng = backend.rng() if rng is None else rng
        return np.asarray(self.sample(tuple(shape), rng), dtype=dtype or backend.floatx())

    def sample(self, shape: tuple, rng: np.random.Generator) -> Array:
        raise NotImplementedError

    def get_config(self) -> dict:
        return dict(vars(self))


class Zeros(Initializer):
    def sample(self, shape, rng):
        return np.zeros(shape)


class Ones(Initializer):
    def sample(self, shape, rng):
        return np.ones(shape)


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = value

    def sample(self, shape, rng):
        return np.full(shape, self.value)


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def sample(self, shape, rng):
        rng = rng if self.seed is None else np.random.default_rng(self.seed)
        return rng.normal(self.mean, self.stddev, shape)


class RandomUniform(Initializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval, self.seed = minval, maxval, seed

    def sample(self, shape, rng):
        rng = rng if self.seed is None else np.random.default_rng(self.seed)
        return rng.uniform(self.minval, self.maxval, shape)


class TruncatedNormal(Initializer):
    """Normal values re-drawn until within two standard deviations of the mean."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def sample(self, shape, rng):
        rng = rng if self.seed is None else np.random.default_rng(self.seed)
        values = rng.standard_normal(shape)
        bad = np.abs(values) > 2
        while bad.any():
            values[bad] = rng.standard_normal(int(bad.sum()))
            bad = np.abs(values) > 2
        return self.mean + self.stddev * values


class VarianceScaling(Initializer):
    """Samples with variance `scale / n`, n = fan_in, fan_out or their mean (Keras semantics)."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        self.scale, self.mode, self.distribution, self.seed = scale, mode, distribution, seed

    def sample(self, shape, rng):
        rng = rng if self.seed is None else np.random.default_rng(self.seed)
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, n)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return rng.uniform(-limit, limit, shape)
        if self.distribution == "untruncated_normal":
            return rng.normal(0.0, math.sqrt(variance), shape)
        # 0.879... is the stddev of a unit normal truncated to [-2, 2] (Keras' correction).
        return TruncatedNormal(0.0, math.sqrt(variance) / 0.87962566103423978).sample(shape, rng)


def GlorotUniform(seed=None):
    return VarianceScaling(1.0, "fan_avg", "uniform", seed)


def GlorotNormal(seed=None):
    return VarianceScaling(1.0, "fan_avg", "truncated_normal", seed)


def HeUniform(seed=None):
    return VarianceScaling(2.0, "fan_in", "uniform", seed)


def HeNormal(seed=None):
    return VarianceScaling(2.0, "fan_in", "truncated_normal", seed)


def LecunUniform(seed=None):
    return VarianceScaling(1.0, "fan_in", "uniform", seed)


def LecunNormal(seed=None):
    return VarianceScaling(1.0, "fan_in", "truncated_normal", seed)


_REGISTRY = {
    "zeros": Zeros, "ones": Ones, "constant": Constant,
    "random_normal": RandomNormal, "random_uniform": RandomUniform,
    "truncated_normal": TruncatedNormal, "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal,
    "he_uniform": HeUniform, "he_normal": HeNormal,
    "lecun_uniform": LecunUniform, "lecun_normal": LecunNormal,
}
# Keras class-name spellings ("GlorotUniform") resolve too.
_REGISTRY.update({
    "".join(p.capitalize() for p in k.split("_")): v for k, v in list(_REGISTRY.items())
})


def get(identifier) -> Initializer:
    """Returns an initializer for a name, config dict, Initializer instance or callable."""
    if isinstance(identifier, Initializer):
        return identifier
    found = get_from_registry(identifier, _REGISTRY, "initializer", (Initializer,))
    if isinstance(identifier, str) or found in _REGISTRY.values():
        return found()
    return found


def serialize(identifier):
    """The JSON-able form of an initializer argument: names stay names, instances become dicts."""
    if identifier is None or isinstance(identifier, (str, dict)):
        return identifier
    if isinstance(identifier, Initializer):
        return {"class_name": type(identifier).__name__, "config": identifier.get_config()}
    return getattr(identifier, "__name__", repr(identifier))
