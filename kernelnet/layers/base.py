"""`Layer`: the base class of every layer (and of `Model`).

A layer owns its weights (NumPy arrays updated in place by optimizers), builds them from the first
input shape it sees, runs `forward(x, training)` caching what `backward(grad)` needs, and fills
`self.gradients` aligned 1:1 with `self.trainable_weights`.

Calling a layer on a `KerasTensor` (from `kernelnet.Input`) records a graph node instead of
computing, which is how functional `Model(inputs, outputs)` graphs are built.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import numpy as np

from kernelnet import _file_checks, backend, initializers
from kernelnet._typing import Array, Shape
from kernelnet.utils import validation

_NAME_COUNTS: defaultdict[str, int] = defaultdict(int)


def _snake_case(name: str) -> str:
    # Conv2D -> conv2d, MaxPooling2D -> max_pooling2d, BatchNormalization -> batch_normalization
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def unique_name(base: str) -> str:
    """`base`, then `base_1`, `base_2`, ... as Keras names layers."""
    count = _NAME_COUNTS[base]
    _NAME_COUNTS[base] += 1
    return base if count == 0 else f"{base}_{count}"


def reset_names() -> None:
    """Restarts automatic layer numbering (Keras' `clear_session`)."""
    _NAME_COUNTS.clear()


class KerasTensor:
    """A symbolic tensor: a shape `(None, ...)` plus the layer call that produced it."""

    def __init__(self, shape: Shape, layer: Layer | None = None, inputs: list | None = None,
                 dtype: str | None = None, name: str | None = None):
        self.shape = tuple(shape)
        self.layer = layer          # the layer whose call produced this tensor
        self.inputs = inputs or []  # the KerasTensors that call consumed
        self.dtype = dtype or backend.floatx()
        self.name = name

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        origin = f", from={self.layer.name!r}" if self.layer is not None else ""
        return f"<KerasTensor shape={self.shape}{origin}>"


_LAYER_KWARGS = ("name", "trainable", "dtype", "input_shape", "batch_input_shape", "input_dim",
                 "batch_size")


def _float_dtype(dtype: Any, who: Any) -> str:
    """A floating-point dtype name; layers compute in floats only."""
    try:
        name = np.dtype(dtype)
    except TypeError:
        name = None
    if name is None or name.kind != "f":
        shown = str(name) if name is not None else dtype
        raise ValueError(
            f"{validation.describe(who)} has dtype {shown!r}. Expected a float dtype ('float16', "
            "'float32' or 'float64'); kernelnet layers compute in floating point. Received: "
            f"dtype={dtype!r}."
        )
    return str(name)


def _check_shape(shape: Any, arg: str, who: Any) -> tuple:
    """A shape as a tuple of positive ints or None (unknown)."""
    dims = tuple(shape) if isinstance(shape, (list, tuple)) else None
    if dims is None or not all(
            d is None or (isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0)
            for d in dims):
        raise ValueError(
            f"Invalid `{arg}` for {type(who).__name__}: expected a tuple of positive ints or "
            f"None, e.g. (28, 28, 1). Received: {arg}={shape!r}."
        )
    return tuple(None if d is None else int(d) for d in dims)


class Layer:
    """Base class for all layers: owns weights, runs forward/backward on NHWC arrays.

    Subclasses override `build`, `forward`, `backward`, `compute_output_shape` and `get_config`.

    Args:
        name: unique name; generated from the class name when None ("conv2d", "conv2d_1", ...).
        trainable: whether the weights are updated by training.
        dtype: float dtype of the weights and computation. Defaults to `backend.floatx()`.
        input_shape: shape of one sample (no batch axis), for the first layer of a Sequential.
    """

    # Attributes where forward keeps arrays for backward; `release_cache` drops them.
    _CACHES: tuple[str, ...] = ()
    # True for a layer whose training forward mixes samples of the batch (batch statistics):
    # models then train on the whole batch in one thread (see kernelnet.models.parallel).
    batch_dependent = False

    def __init__(self, *, name: str | None = None, trainable: bool = True,
                 dtype: str | None = None, input_shape: Shape | None = None,
                 batch_input_shape: Shape | None = None, input_dim: int | None = None,
                 batch_size: int | None = None, **kwargs: Any):
        if kwargs:
            raise TypeError(
                f"Unrecognized keyword arguments passed to {type(self).__name__}: {kwargs}."
            )
        if name is not None and (not isinstance(name, str) or "/" in name):
            raise ValueError(  # as Keras: names end up in weight names ("layer/kernel")
                f"Argument `name` of {type(self).__name__} must be a string and cannot contain "
                f"character `/`. Received: name={name!r} (of type {type(name).__name__})."
            )
        self.name = name or unique_name(_snake_case(type(self).__name__))
        self._trainable = bool(trainable)
        self.dtype = _float_dtype(dtype, self) if dtype else backend.floatx()
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        if batch_input_shape is not None:
            self.batch_input_shape = _check_shape(batch_input_shape, "batch_input_shape", self)
        elif input_shape is not None:
            if isinstance(input_shape, (int, np.integer)) and not isinstance(input_shape, bool):
                input_shape = (input_shape,)
            shape = _check_shape(input_shape, "shape", self)
            self.batch_input_shape = (batch_size, *shape)
        else:
            self.batch_input_shape = None
        self.built = False
        self.gradients: list[Array] = []
        self._weights: list[tuple[str, Array, bool]] = []  # (name, array, trainable)
        # Set to True by a model when nothing below this layer needs a gradient, so that
        # backward can skip the input gradient (it then returns None).
        self._skip_input_grad = False

    # ----------------------------------------------------------------- weights
    def add_weight(self, name: str, shape: Shape, initializer: Any = "glorot_uniform",
                   trainable: bool = True) -> Array:
        """Creates a weight array of `shape` in `self.dtype` and registers it."""
        _file_checks.check_weight(self, name, tuple(shape))  # a model file may lie about sizes
        value = initializers.get(initializer)(tuple(shape), dtype=self.dtype, rng=backend.rng())
        value = np.ascontiguousarray(value)
        self._weights.append((name, value, bool(trainable)))
        return value

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        if not value:
            self.gradients = []  # a frozen layer has no gradients (none stale from before)

    @property
    def weights(self) -> list[Array]:
        """All weights in creation order (the order of `get_weights()`)."""
        return [w for _, w, _ in self._weights]

    @property
    def weight_names(self) -> list[str]:
        """`"{layer}/{weight}"` for each of `weights`."""
        return [f"{self.name}/{n}" for n, _, _ in self._weights]

    @property
    def trainable_weights(self) -> list[Array]:
        if not self.trainable:
            return []
        return [w for _, w, t in self._weights if t]

    @property
    def non_trainable_weights(self) -> list[Array]:
        if not self.trainable:
            return self.weights
        return [w for _, w, t in self._weights if not t]

    @property
    def trainable_weight_names(self) -> list[str]:
        if not self.trainable:
            return []
        return [f"{self.name}/{n}" for n, _, t in self._weights if t]

    def get_weights(self) -> list[Array]:
        """Copies of the weights, in Keras order."""
        return [w.copy() for w in self.weights]

    def set_weights(self, weights: list) -> None:
        """Copies `weights` into this layer's arrays in place, checking count and shapes."""
        own = self.weights
        names = self.weight_names
        if not isinstance(weights, (list, tuple)):
            raise TypeError(
                f"{validation.describe(self)}: set_weights() expects a list of {len(own)} "
                f"arrays (as returned by get_weights()). Received: {type(weights).__name__}."
            )
        if len(weights) != len(own):
            raise ValueError(
                f"{validation.describe(self)} expects {len(own)} weight arrays "
                f"({[n.split('/', 1)[1] for n in names]}), but set_weights() received "
                f"{len(weights)}."
            )
        for name, target, value in zip(names, own, weights):
            value = np.asarray(value)
            if value.shape != target.shape:
                raise ValueError(
                    f"Shape mismatch when loading weights into layer {self.name!r} "
                    f"({type(self).__name__}), weight {name.split('/', 1)[1]!r}: the file has "
                    f"{tuple(value.shape)} but the layer has {tuple(target.shape)}. "
                    "Was the model built with a different input_shape?"
                )
            target[...] = value

    def count_params(self) -> int:
        return int(sum(w.size for w in self.weights))

    # ----------------------------------------------------------------- calling
    def __call__(self, inputs: Any, training: bool = False, **kwargs: Any) -> Any:
        if _is_symbolic(inputs):
            return self._call_symbolic(inputs)
        if isinstance(inputs, (list, tuple)):
            x = [validation.as_float_array(t, self.dtype, self) for t in inputs]
            shape = [t.shape for t in x]
        else:
            x = validation.as_float_array(inputs, self.dtype, self)
            shape = x.shape
        self._maybe_build(shape)
        return self.forward(x, training=training, **kwargs)

    def _maybe_build(self, input_shape: Any) -> None:
        if not self.built:
            self.build(input_shape)
            self.built = True

    def _call_symbolic(self, inputs: Any) -> KerasTensor:
        flat = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        shapes = [t.shape for t in flat]
        input_shape = shapes if isinstance(inputs, (list, tuple)) else shapes[0]
        self._maybe_build(input_shape)
        out_shape = self.compute_output_shape(input_shape)
        return KerasTensor(out_shape, layer=self, inputs=flat, dtype=self.dtype)

    # ----------------------------------------------------- subclass interface
    def build(self, input_shape: Shape) -> None:
        """Creates the weights for inputs of `input_shape` (batch axis included)."""
        self.built = True

    def forward(self, x: Array, training: bool = False) -> Array:
        """Computes the output for `x`, caching what `backward` needs."""
        raise NotImplementedError(f"{type(self).__name__} does not implement forward().")

    def backward(self, grad: Array) -> Array:
        """Returns dL/dx for the upstream `grad` (dL/dy); sets `self.gradients`."""
        raise NotImplementedError(f"{type(self).__name__} does not implement backward().")

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)

    def release_cache(self) -> None:
        """Drops what forward kept for backward (inference calls it after every layer)."""
        for name in self._CACHES:
            setattr(self, name, None)
        act = getattr(self, "_act", None)
        if act is not None:
            act._z = act._y = None

    def compute_macs(self, input_shape: Shape) -> int:
        """Multiply-adds for one sample of `input_shape` (0 for layers without products)."""
        return 0

    def get_config(self) -> dict:
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
        if self.batch_input_shape is not None:
            config["batch_input_shape"] = list(self.batch_input_shape)
        return config

    @classmethod
    def from_config(cls, config: dict) -> Layer:
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}, built={self.built}>"


def _is_symbolic(inputs: Any) -> bool:
    if isinstance(inputs, KerasTensor):
        return True
    return isinstance(inputs, (list, tuple)) and any(isinstance(t, KerasTensor) for t in inputs)
