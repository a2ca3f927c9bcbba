"""Optimizer base class: learning rate, legacy decay, clipping, weight decay, slots and state.

Subclasses only write `update_step(grad, weight, slots, lr)`: pure in-place NumPy math on one
weight array, with the update formula as a comment above each line (Chainer style).

The contract with the training loop:
    optimizer.apply(grads, weights)   # updates every weight IN PLACE (w -= step), iterations += 1

Weights are never rebound, so every holder of a weight array (the layer, a cache, a test) sees
the update. Slots (momentum, m, v, ...) are created lazily with `np.zeros_like(weight)`, keyed by
`id(weight)`; the optimizer keeps a reference to each weight so that ids are never reused.
"""

from __future__ import annotations

import inspect
import math

import numpy as np

from kernelnet import backend
from kernelnet._typing import Array
from kernelnet.autodiff.tensor import unwrap
from kernelnet.optimizers import schedules


def _check_optional_positive(value, arg: str, who: str) -> float | None:
    if value is None:
        return None
    ok = isinstance(value, (int, float, np.number)) and not isinstance(value, bool)
    if not ok or not value > 0:
        raise ValueError(
            f"Invalid value for argument `{arg}` of {who}: expected a positive float or None. "
            f"Received: {arg}={value!r}."
        )
    return float(value)


def check_non_negative(value, arg: str, who: str) -> float:
    """Returns `float(value)` for a finite number >= 0, else raises ValueError."""
    ok = isinstance(value, (int, float, np.number)) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value < 0:
        raise ValueError(
            f"Invalid value for argument `{arg}` of {who}: expected a non-negative float. "
            f"Received: {arg}={value!r}."
        )
    return float(value)


def check_epsilon(value, who: str) -> float:
    """`epsilon=None` (the Keras 2 default meaning `backend.epsilon()`) or a float >= 0."""
    return backend.epsilon() if value is None else check_non_negative(value, "epsilon", who)


class Optimizer:
    """Base class of all optimizers.

    Args (shared by every optimizer, as keyword arguments):
        learning_rate: float >= 0 or a `schedules.LearningRateSchedule` (called with
            `iterations`). `lr` is accepted as the Keras 2 alias.
        name: string, defaults to the lower-case class name.
        weight_decay: float or None. Decoupled weight decay `w -= w * weight_decay * lr`
            applied before the update (Keras 3).
        clipnorm: clip each gradient tensor to this L2 norm.
        clipvalue: clip each gradient element to `[-clipvalue, clipvalue]`.
        global_clipnorm: clip all gradients together to this global L2 norm.
            At most one of the three clipping arguments may be set (Keras 3 rule).
        decay: Keras 2 time-based decay: `lr_t = lr / (1 + decay * iterations)`.
    """

    def __init__(self, learning_rate, name=None, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, decay=0.0, lr=None, **kwargs):
        who = type(self).__name__
        if kwargs:
            raise ValueError(
                f"Argument(s) not recognized by {who}: {sorted(kwargs)}. Accepted keyword "
                "arguments include learning_rate (or lr), name, weight_decay, clipnorm, "
                "clipvalue, global_clipnorm and decay."
            )
        if lr is not None:
            if learning_rate != self._default_learning_rate():
                raise ValueError(
                    f"{who} received both `lr` and `learning_rate`; `lr` is the Keras 2 alias of "
                    f"`learning_rate`. Pass only one. Received: lr={lr!r}, "
                    f"learning_rate={learning_rate!r}."
                )
            learning_rate = lr
        self.name = name or who.lower()
        self._learning_rate = None
        self.learning_rate = learning_rate
        self.weight_decay = _check_optional_positive(weight_decay, "weight_decay", who)
        self.clipnorm = _check_optional_positive(clipnorm, "clipnorm", who)
        self.clipvalue = _check_optional_positive(clipvalue, "clipvalue", who)
        self.global_clipnorm = _check_optional_positive(global_clipnorm, "global_clipnorm", who)
        clips = {"clipnorm": clipnorm, "clipvalue": clipvalue, "global_clipnorm": global_clipnorm}
        if sum(v is not None for v in clips.values()) > 1:
            given = ", ".join(f"{k}={v!r}" for k, v in clips.items() if v is not None)
            raise ValueError(
                f"Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set for {who}. "
                f"Received: {given}."
            )
        self.decay = check_non_negative(decay, "decay", who)
        self.iterations = 0
        self._slots: dict[int, dict[str, Array]] = {}
        self._owners: dict[int, Array] = {}  # keeps weights alive so id() keys stay unique
        self._buffers: dict[tuple, Array] = {}  # scratch memory, not state

    @classmethod
    def _default_learning_rate(cls):
        return inspect.signature(cls.__init__).parameters["learning_rate"].default

    # -- learning rate --------------------------------------------------------------------------
    @property
    def learning_rate(self):
        """The float or schedule the optimizer was given (settable, e.g. by ReduceLROnPlateau)."""
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        if isinstance(value, schedules.LearningRateSchedule):
            self._learning_rate = value
            return
        if isinstance(self._learning_rate, schedules.LearningRateSchedule):
            raise TypeError(
                f"{type(self).__name__} was created with a LearningRateSchedule as its "
                "`learning_rate`, hence its learning rate is not settable. Create the optimizer "
                f"with a float `learning_rate` to set it. Received: learning_rate={value!r}."
            )
        if isinstance(value, np.ndarray) and value.size == 1:
            value = value.item()
        self._learning_rate = check_non_negative(value, "learning_rate", type(self).__name__)

    lr = learning_rate  # Keras 2 spelling: `optimizer.lr`

    @property
    def current_learning_rate(self) -> float:
        """The learning rate used by the next `apply`: schedule and legacy `decay` applied."""
        lr = self._learning_rate
        value = float(lr(self.iterations)) if callable(lr) else float(lr)
        if self.decay:
            # Keras 2: lr_t = lr * (1 / (1 + decay * iterations))
            value *= 1.0 / (1.0 + self.decay * self.iterations)
        return value

    # -- slots ----------------------------------------------------------------------------------
    def slot_names(self) -> tuple[str, ...]:
        """Names of the per-weight state arrays this optimizer keeps (depends on its config)."""
        return ()

    def build_slots(self, weight: Array) -> dict[str, Array]:
        """Creates the slots for one weight: zeros of the weight's shape and dtype."""
        return {name: np.zeros_like(weight) for name in self.slot_names()}

    def _get_slots(self, weight: Array) -> dict[str, Array]:
        key = id(weight)
        slots = self._slots.get(key)
        if slots is None:
            slots = self._slots[key] = self.build_slots(weight)
            self._owners[key] = weight
        return slots

    def build(self, weights: list[Array]) -> None:
        """Creates all slots now (they are otherwise created on the first `apply`)."""
        for weight in weights:
            self._get_slots(unwrap(weight))

    def _scratch(self, like: Array, index: int = 0) -> Array:
        """An uninitialized array shaped like `like`, reused across steps to avoid allocations."""
        key = (like.dtype, index)
        buffer = self._buffers.get(key)
        if buffer is None or buffer.size < like.size:
            buffer = self._buffers[key] = np.empty(like.size, dtype=like.dtype)
        return buffer[: like.size].reshape(like.shape)

    # -- the step -------------------------------------------------------------------------------
    def update_step(self, grad: Array, weight: Array, slots: dict[str, Array], lr: float) -> None:
        """Updates `weight` in place from `grad`; `grad` must not be modified."""
        raise NotImplementedError(f"{type(self).__name__} must implement `update_step`.")

    def apply(self, grads: list[Array], weights: list[Array]) -> None:
        """Applies one update to every weight in place and increments `iterations`.

        Args:
            grads: list of gradient arrays, aligned 1:1 with `weights` (None entries are skipped).
            weights: list of weight arrays; each is updated in place.
        """
        # Variables (layer weights) are updated through their arrays, which also key the slots
        grads, weights = [unwrap(g) for g in grads], [unwrap(w) for w in weights]
        if len(grads) != len(weights):
            raise ValueError(
                f"{type(self).__name__}.apply() expects one gradient per weight. "
                f"Received: {len(grads)} gradients for {len(weights)} weights."
            )
        lr = self.current_learning_rate
        grads = self._clip(grads)
        for grad, weight in zip(grads, weights):
            if grad is None:
                continue
            if grad.shape != weight.shape:
                raise ValueError(
                    f"{type(self).__name__}.apply(): gradient shape {tuple(grad.shape)} does not "
                    f"match weight shape {tuple(weight.shape)}."
                )
            if grad.dtype != weight.dtype:
                grad = grad.astype(weight.dtype)
            slots = self._get_slots(weight)
            if self.weight_decay:
                # w = w - w * weight_decay * lr
                decay = np.multiply(weight, weight.dtype.type(self.weight_decay * lr),
                                    out=self._scratch(weight))
                weight -= decay
            self.update_step(grad, weight, slots, lr)
        self.iterations += 1

    def apply_gradients(self, grads_and_vars) -> None:
        """Keras spelling: `apply_gradients(zip(grads, weights))`."""
        pairs = list(grads_and_vars)
        if pairs:
            self.apply(*zip(*pairs))
        else:
            self.iterations += 1

    def _clip(self, grads: list) -> list:
        """Returns clipped copies (never modifies the layers' gradient arrays)."""
        if self.clipvalue is not None:
            v = self.clipvalue
            return [None if g is None else np.clip(g, -v, v) for g in grads]
        if self.clipnorm is not None:
            return [None if g is None else _clip_by_norm(g, self.clipnorm) for g in grads]
        if self.global_clipnorm is not None:
            # g = g * clipnorm / max(global_norm, clipnorm)
            total = sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads
                        if g is not None)
            norm = math.sqrt(total)
            if norm > self.global_clipnorm:
                scale = self.global_clipnorm / norm
                return [None if g is None else g * g.dtype.type(scale) for g in grads]
        return grads

    # -- serialization and checkpoint state -----------------------------------------------------
    def get_config(self) -> dict:
        """JSON-able hyperparameters; schedules as `{"class_name", "config"}`."""
        lr = self._learning_rate
        if isinstance(lr, schedules.LearningRateSchedule):
            lr = schedules.serialize(lr)
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "clipvalue": self.clipvalue,
                "global_clipnorm": self.global_clipnorm, "decay": self.decay}

    @classmethod
    def from_config(cls, config: dict) -> Optimizer:
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"])
        return cls(**config)

    def get_state(self, weights: list[Array], names: list[str]) -> dict[str, Array]:
        """Copies of `iterations` and every created slot, keyed `"{name}/{slot}"`."""
        weights = [unwrap(w) for w in weights]
        names = _check_names(weights, names, "get_state")
        state = {"iterations": np.asarray(self.iterations, dtype=np.int64)}
        for weight, name in zip(weights, names):
            for slot, value in self._slots.get(id(weight), {}).items():
                state[f"{name}/{slot}"] = value.copy()
        return state

    def set_state(self, weights: list[Array], names: list[str], state: dict) -> None:
        """Restores `get_state()` output, so a resumed run continues bit for bit."""
        weights = [unwrap(w) for w in weights]
        names = _check_names(weights, names, "set_state")
        used = {"iterations"}
        for weight, name in zip(weights, names):
            slots = self.build_slots(weight)
            found = [k for k in slots if f"{name}/{k}" in state]
            if not found:
                continue  # saved before this weight's first update
            for slot, array in slots.items():
                key = f"{name}/{slot}"
                if key not in state or np.shape(state[key]) != array.shape:
                    got = np.shape(state[key]) if key in state else "nothing"
                    raise ValueError(
                        f"{type(self).__name__}.set_state(): expected {key!r} with shape "
                        f"{tuple(array.shape)}. Received: {got}."
                    )
                array[...] = state[key]
                used.add(key)
            self._slots[id(weight)] = slots
            self._owners[id(weight)] = weight
        unused = sorted(set(state) - used)
        if unused:
            raise ValueError(
                f"{type(self).__name__}.set_state(): the state has entries that match no weight "
                f"slot: {unused[:5]}. Was it saved from another optimizer or model?"
            )
        self.iterations = int(state["iterations"])

    def __repr__(self) -> str:
        return f"{type(self).__name__}(learning_rate={self._learning_rate!r}, name={self.name!r})"


def _clip_by_norm(grad: Array, clipnorm: float) -> Array:
    # g = g * clipnorm / max(||g||, clipnorm)
    norm = float(np.sqrt(np.sum(np.square(grad, dtype=np.float64))))
    if norm <= clipnorm:
        return grad
    return grad * grad.dtype.type(clipnorm / norm)


def _check_names(weights: list, names: list, method: str) -> list[str]:
    names = list(names)
    if len(names) != len(weights) or len(set(names)) != len(names):
        raise ValueError(
            f"Optimizer.{method}() expects one unique name per weight. "
            f"Received: {len(weights)} weights and names {names[:8]!r}."
        )
    return names

