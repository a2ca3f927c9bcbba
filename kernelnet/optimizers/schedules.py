"""Learning-rate schedules: step -> learning rate, evaluated by the optimizer at `iterations`.

Keras 3 names and formulas (`keras/src/optimizers/schedules/learning_rate_schedule.py`), plus
kernelnet's `StepDecay` (Keras has no such class; it is the classic "drop every N steps" rule that
Keras 2 tutorials wrote as a `LearningRateScheduler` callback).
"""

from __future__ import annotations

import math

from kernelnet.utils import registry
from kernelnet.utils.validation import check_positive_int


def _check_number(value, arg: str, who: str, *, positive: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (positive and value == 0):
        kind = "a positive number" if positive else "a non-negative number"
        raise ValueError(
            f"Invalid value for argument `{arg}` of {who}: expected {kind}. "
            f"Received: {arg}={value!r}."
        )
    return float(value)


class LearningRateSchedule:
    """Base class: `schedule(step) -> float`. Subclasses implement `__call__` and `get_config`."""

    def __call__(self, step: int) -> float:
        raise NotImplementedError(f"{type(self).__name__} must implement `__call__(step)`.")

    def get_config(self) -> dict:
        raise NotImplementedError(f"{type(self).__name__} must implement `get_config()`.")

    @classmethod
    def from_config(cls, config: dict) -> LearningRateSchedule:
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class _TimeDecay(LearningRateSchedule):
    """Shared arguments of the decays driven by `p = step / decay_steps` (floored with
    staircase); subclasses give `_rate(p)`."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name=None):
        who = type(self).__name__
        self.initial_learning_rate = _check_number(initial_learning_rate, "initial_learning_rate",
                                                   who)
        self.decay_steps = check_positive_int(decay_steps, "decay_steps", who)
        self.decay_rate = _check_number(decay_rate, "decay_rate", who)
        self.staircase = bool(staircase)
        self.name = name

    def __call__(self, step: int) -> float:
        p = step / self.decay_steps
        return self._rate(math.floor(p) if self.staircase else p)

    def _rate(self, p: float) -> float:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class ExponentialDecay(_TimeDecay):
    """`initial_learning_rate * decay_rate ** (step / decay_steps)`.

    With `staircase=True` the exponent is floored, so the rate drops in steps.

    Example:
        >>> ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)(20)
        0.025
    """

    def _rate(self, p: float) -> float:
        return self.initial_learning_rate * self.decay_rate**p


class InverseTimeDecay(_TimeDecay):
    """`initial_learning_rate / (1 + decay_rate * step / decay_steps)` (floored with staircase).

    Example:
        >>> InverseTimeDecay(0.1, decay_steps=1, decay_rate=0.5)(2)
        0.05
    """

    def _rate(self, p: float) -> float:
        return self.initial_learning_rate / (1 + self.decay_rate * p)


class PiecewiseConstantDecay(LearningRateSchedule):
    """`values[0]` while `step <= boundaries[0]`, `values[1]` while `step <= boundaries[1]`, ...

    `len(values) == len(boundaries) + 1`; boundaries are increasing step numbers.

    Example:
        >>> s = PiecewiseConstantDecay([100, 200], [1.0, 0.5, 0.1])
        >>> s(100), s(101), s(500)
        (1.0, 0.5, 0.1)
    """

    def __init__(self, boundaries, values, name=None):
        boundaries, values = list(boundaries), list(values)
        if len(values) != len(boundaries) + 1 or boundaries != sorted(boundaries):
            raise ValueError(
                "PiecewiseConstantDecay expects increasing `boundaries` and one more value than "
                f"boundaries. Received: boundaries={boundaries!r}, values={values!r}."
            )
        self.boundaries = [int(b) for b in boundaries]
        self.values = [float(v) for v in values]
        self.name = name

    def __call__(self, step: int) -> float:
        for boundary, value in zip(self.boundaries, self.values):
            if step <= boundary:
                return value
        return self.values[-1]

    def get_config(self) -> dict:
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Cosine decay from `initial_learning_rate` to `alpha * initial_learning_rate`.

    `lr * ((1 - alpha) * 0.5 * (1 + cos(pi * min(step, decay_steps) / decay_steps)) + alpha)`.

    Example:
        >>> CosineDecay(1.0, decay_steps=10)(5)
        0.5
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name=None):
        who = type(self).__name__
        self.initial_learning_rate = _check_number(initial_learning_rate, "initial_learning_rate",
                                                   who)
        self.decay_steps = check_positive_int(decay_steps, "decay_steps", who)
        self.alpha = _check_number(alpha, "alpha", who)
        self.name = name

    def __call__(self, step: int) -> float:
        fraction = min(step, self.decay_steps) / self.decay_steps
        cosine = 0.5 * (1.0 + math.cos(math.pi * fraction))
        return self.initial_learning_rate * ((1 - self.alpha) * cosine + self.alpha)

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name}


class StepDecay(LearningRateSchedule):
    """kernelnet's step decay (not in Keras): multiply by `drop_rate` every `steps_per_drop` steps.

    `initial_learning_rate * drop_rate ** floor(step / steps_per_drop)`. Steps are optimizer
    iterations (batches); for "halve every 10 epochs" use `steps_per_drop=10 * steps_per_epoch`.

    Example:
        >>> s = StepDecay(0.1, drop_rate=0.5, steps_per_drop=10)
        >>> s(9), s(10), s(25)
        (0.1, 0.05, 0.025)
    """

    def __init__(self, initial_learning_rate, drop_rate, steps_per_drop, name=None):
        who = type(self).__name__
        self.initial_learning_rate = _check_number(initial_learning_rate, "initial_learning_rate",
                                                   who)
        self.drop_rate = _check_number(drop_rate, "drop_rate", who)
        self.steps_per_drop = check_positive_int(steps_per_drop, "steps_per_drop", who)
        self.name = name

    def __call__(self, step: int) -> float:
        return self.initial_learning_rate * self.drop_rate ** (step // self.steps_per_drop)

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate, "drop_rate": self.drop_rate,
                "steps_per_drop": self.steps_per_drop, "name": self.name}


_REGISTRY = {cls.__name__: cls for cls in (ExponentialDecay, InverseTimeDecay,
                                           PiecewiseConstantDecay, CosineDecay, StepDecay)}


def serialize(schedule: LearningRateSchedule) -> dict:
    """`{"class_name": ..., "config": ...}`, JSON-able."""
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config: dict) -> LearningRateSchedule:
    """Inverse of `serialize`; unknown class names raise ValueError with a suggestion."""
    return registry.deserialize(config, _REGISTRY, "learning rate schedule")


def get(identifier) -> LearningRateSchedule:
    """A schedule instance is returned as is; a config dict is deserialized."""
    if isinstance(identifier, LearningRateSchedule):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise TypeError(
        "Could not interpret learning rate schedule: expected a LearningRateSchedule or a config "
        f"dict. Received: {identifier!r}."
    )
