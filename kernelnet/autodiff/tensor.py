"""Tracked values: `Tensor` (the result of a differentiable call) and `Variable` (a trainable
array updated in place, Keras 3's `keras.Variable`).

Both wrap a NumPy array (`.value`) and give it an identity the tape can follow (`_uid`). Python
operators on them run the differentiable `kernelnet.ops` functions, so `x @ w + b` inside a
`GradientTape` is recorded. `__array_ufunc__ = None` makes NumPy hand mixed expressions
(`ndarray * tensor`) to these classes instead of silently computing an untracked array;
`np.asarray(t)` still gives the plain array.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from kernelnet.autodiff.tape import new_uid


def _ops():
    from kernelnet import ops  # operators dispatch to the public ops (imported late: cycle)

    return ops


class _Operators:
    """Python operators and array attributes shared by Tensor and Variable."""

    __slots__ = ()
    __array_ufunc__ = None
    __array_priority__ = 100

    @property
    def shape(self) -> tuple:
        return self.value.shape

    @property
    def dtype(self) -> np.dtype:
        return self.value.dtype

    @property
    def ndim(self) -> int:
        return self.value.ndim

    @property
    def size(self) -> int:
        return self.value.size

    def __len__(self) -> int:
        return len(self.value)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if copy:
            return np.array(self.value, dtype=dtype, copy=True)
        return self.value if dtype is None else self.value.astype(dtype, copy=False)

    def numpy(self) -> np.ndarray:
        """The value as a NumPy array (a copy, as Keras' `convert_to_numpy` gives)."""
        return np.array(self.value)

    def tolist(self) -> list:
        return self.value.tolist()

    def item(self) -> Any:
        return self.value.item()

    def __float__(self) -> float:
        return float(self.value)

    def __int__(self) -> int:
        return int(self.value)

    def __bool__(self) -> bool:
        return bool(self.value)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    # differentiable operators
    def __add__(self, other):
        return _ops().add(self, other)

    def __radd__(self, other):
        return _ops().add(other, self)

    def __sub__(self, other):
        return _ops().subtract(self, other)

    def __rsub__(self, other):
        return _ops().subtract(other, self)

    def __mul__(self, other):
        return _ops().multiply(self, other)

    def __rmul__(self, other):
        return _ops().multiply(other, self)

    def __truediv__(self, other):
        return _ops().divide(self, other)

    def __rtruediv__(self, other):
        return _ops().divide(other, self)

    def __matmul__(self, other):
        return _ops().matmul(self, other)

    def __rmatmul__(self, other):
        return _ops().matmul(other, self)

    def __pow__(self, other):
        return _ops().power(self, other)

    def __rpow__(self, other):
        return _ops().power(other, self)

    def __neg__(self):
        return _ops().negative(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ops().abs(self)

    def __getitem__(self, key):
        return _ops().get_item(self, key)

    # comparisons have no gradient: plain boolean arrays
    def __lt__(self, other):
        return self.value < np.asarray(other)

    def __le__(self, other):
        return self.value <= np.asarray(other)

    def __gt__(self, other):
        return self.value > np.asarray(other)

    def __ge__(self, other):
        return self.value >= np.asarray(other)

    def __eq__(self, other):
        return self.value == np.asarray(other)

    def __ne__(self, other):
        return self.value != np.asarray(other)

    __hash__ = object.__hash__

    # NumPy-style methods people call on arrays
    def reshape(self, *shape):
        return _ops().reshape(self, shape[0] if len(shape) == 1 else shape)

    def astype(self, dtype):
        return _ops().cast(self, dtype)

    @property
    def T(self):
        return _ops().transpose(self)


class Tensor(_Operators):
    """An array that the tape can follow: the output of a differentiable op or layer call, or
    an input made with `ops.convert_to_tensor` (watch it to differentiate against it).

    Attributes:
        value: the NumPy array (treat as read-only).
    """

    __slots__ = ("value", "_uid", "_node_recorded", "_keras_logits", "__weakref__")

    def __init__(self, value: Any, dtype: Any = None):
        if isinstance(value, _Operators):
            value = value.value
        self.value = np.asarray(value, dtype=dtype)
        self._uid = new_uid()
        self._node_recorded = False
        self._keras_logits = None  # logits behind an output softmax/sigmoid, see losses

    def __repr__(self) -> str:
        body = np.array2string(self.value, threshold=20, edgeitems=2)
        return f"<Tensor shape={self.shape} dtype={self.dtype}, value=\n{body}>"


_BY_ARRAY: weakref.WeakValueDictionary = weakref.WeakValueDictionary()  # id(value) -> Variable


class Variable(_Operators):
    """A named array that training updates in place (Keras 3's `keras.Variable`).

    Tapes watch trainable variables automatically. `value` is never rebound: `assign` and the
    optimizers write into it, so every holder of the array sees updates.

    Args:
        initializer: an array, or an initializer (name or callable) called with `shape`.
        shape: shape for an initializer; taken from the array otherwise.
        dtype: float dtype. Defaults to the array's (floats) or `backend.floatx()`.
        trainable: whether gradients are computed for it and optimizers update it.
        name: a name for reports and saving.

    Example:
        >>> v = Variable(np.zeros(2), name="v")
        >>> _ = v.assign_add(np.ones(2)); v.numpy().tolist()
        [1.0, 1.0]
    """

    def __init__(self, initializer: Any, shape: Any = None, dtype: Any = None,
                 trainable: bool = True, name: str | None = None):
        from kernelnet import backend, initializers

        if isinstance(initializer, (str, dict)) or (callable(initializer)
                                                     and not isinstance(initializer, np.ndarray)):
            if shape is None:
                raise ValueError(
                    f"Variable {name!r}: an initializer needs `shape`. Received "
                    f"initializer={initializer!r} and shape=None."
                )
            dtype = dtype or backend.floatx()
            value = initializers.get(initializer)(tuple(shape), dtype=dtype, rng=backend.rng())
        else:
            value = np.asarray(initializer.value if isinstance(initializer, _Operators)
                               else initializer)
            if dtype is None:
                dtype = value.dtype if value.dtype.kind == "f" else backend.floatx()
            if shape is not None and tuple(shape) != value.shape:
                raise ValueError(
                    f"Variable {name!r}: initial value has shape {value.shape}, but "
                    f"shape={tuple(shape)} was given."
                )
        self.value = np.array(value, dtype=dtype, order="C")  # own contiguous copy
        self.trainable = bool(trainable)
        self.name = name or "variable"
        self.path = self.name
        self._uid = new_uid()
        _BY_ARRAY[id(self.value)] = self

    @classmethod
    def wrap(cls, array: np.ndarray, trainable: bool = True, name: str | None = None) -> Variable:
        """A Variable over an existing contiguous array (no copy); updates reach the array."""
        self = cls.__new__(cls)
        self.value = array
        self.trainable = bool(trainable)
        self.name = name or "variable"
        self.path = self.name
        self._uid = new_uid()
        _BY_ARRAY[id(array)] = self
        return self

    @staticmethod
    def of(array: Any) -> Variable | None:
        """The Variable whose `value` is `array`, if any."""
        return _BY_ARRAY.get(id(array)) if isinstance(array, np.ndarray) else None

    def assign(self, value: Any) -> Variable:
        value = np.asarray(value.value if isinstance(value, _Operators) else value)
        if value.shape != self.value.shape and value.size != self.value.size:
            raise ValueError(
                f"Variable {self.name!r} has shape {self.value.shape}; cannot assign a value of "
                f"shape {value.shape}."
            )
        self.value[...] = value.reshape(self.value.shape)
        return self

    def assign_add(self, value: Any) -> Variable:
        self.value += np.asarray(value.value if isinstance(value, _Operators) else value,
                                 dtype=self.value.dtype)
        return self

    def assign_sub(self, value: Any) -> Variable:
        self.value -= np.asarray(value.value if isinstance(value, _Operators) else value,
                                 dtype=self.value.dtype)
        return self

    def __iadd__(self, other):
        return self.assign_add(other)

    def __isub__(self, other):
        return self.assign_sub(other)

    def __setitem__(self, key, value):
        self.value[key] = np.asarray(value.value if isinstance(value, _Operators) else value)

    def copy(self) -> np.ndarray:
        return self.value.copy()

    def __deepcopy__(self, memo: dict) -> Variable:
        clone = Variable.wrap(self.value.copy(), self.trainable, self.name)
        memo[id(self)] = clone
        return clone

    def __repr__(self) -> str:
        return (f"<Variable path={self.path!r}, shape={self.shape}, dtype={self.dtype}, "
                f"trainable={self.trainable}>")


def unwrap(value: Any) -> Any:
    """The NumPy array behind a Tensor or Variable; anything else unchanged."""
    return value.value if isinstance(value, _Operators) else value


def is_tracked(value: Any) -> bool:
    return isinstance(value, _Operators)


def convert_to_tensor(x: Any, dtype: Any = None) -> Tensor:
    """A Tensor holding `x` (an array, nested list or scalar); Tensors pass through."""
    if isinstance(x, Tensor) and (dtype is None or x.dtype == np.dtype(dtype)):
        return x
    value = np.asarray(unwrap(x), dtype=dtype)
    if dtype is None and value.dtype == np.float64 and not isinstance(x, np.ndarray):
        from kernelnet import backend

        value = value.astype(backend.floatx())  # Python floats follow floatx, as in Keras
    return Tensor(value)


def convert_to_numpy(x: Any) -> np.ndarray:
    """The NumPy array of a Tensor, Variable or array-like."""
    return np.array(unwrap(x))
