"""Callbacks that change the optimizer's learning rate: `ReduceLROnPlateau`,
`LearningRateScheduler`.

Both write the epoch's learning rate into the epoch logs as `logs["learning_rate"]` (the Keras 3
key; Keras 2 used `"lr"`), so it appears in `History.history["learning_rate"]`, the progress bar
and CSVLogger files. The value logged is the rate used during that epoch.
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from kernelnet.callbacks.base import Callback
from kernelnet.callbacks.monitoring import monitored_value, resolve_mode
from kernelnet.utils.progbar import print_msg


def get_learning_rate(model: Any, who: str) -> float:
    """`model.optimizer.learning_rate` as a float; raises if there is none or it is a schedule."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not hasattr(optimizer, "learning_rate"):
        raise ValueError(
            f"{who} needs a compiled model whose optimizer has a `learning_rate` attribute. "
            f"Received: optimizer={optimizer!r}. Call `model.compile(optimizer=...)` first."
        )
    lr = optimizer.learning_rate
    if isinstance(lr, np.ndarray) and lr.ndim == 0:
        lr = lr.item()
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real):
        raise TypeError(
            f"{who} cannot change the learning rate: the optimizer's `learning_rate` is a "
            f"{type(lr).__name__}, not a float. Received: learning_rate={lr!r}. Pass a float "
            "`learning_rate` to the optimizer, or drop either the schedule or the callback."
        )
    return float(lr)


def _set_learning_rate(model: Any, value: float) -> None:
    model.optimizer.learning_rate = float(value)


class ReduceLROnPlateau(Callback):
    """Multiplies the learning rate by `factor` when a metric has stopped improving.

    After `patience` epochs without an improvement larger than `min_delta`, the rate becomes
    `max(lr * factor, min_lr)`; then `cooldown` epochs pass before counting starts again.

    Args:
        monitor: log key to watch.
        factor: multiplier for the learning rate, in [0, 1).
        patience: number of epochs without improvement before the rate is reduced.
        verbose: 1 prints a message at each reduction.
        mode: `"min"`, `"max"` or `"auto"` (maximize accuracy-like names, minimize the rest).
        min_delta: minimum change that counts as an improvement (Keras 2 `epsilon=` is accepted).
        cooldown: number of epochs to wait after a reduction before resuming normal operation.
        min_lr: lower bound on the learning rate.

    Example:
        >>> reduce_lr = ReduceLROnPlateau(monitor="val_loss", factor=0.2, patience=5, min_lr=1e-4)
        >>> # model.fit(x, y, validation_split=0.1, callbacks=[reduce_lr])
    """

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10,
                 verbose: int = 0, mode: str = "auto", min_delta: float = 1e-4,
                 cooldown: int = 0, min_lr: float = 0.0, **kwargs: Any):
        super().__init__()
        if "epsilon" in kwargs:   # Keras 2 name of min_delta
            min_delta = kwargs.pop("epsilon")
        if kwargs:
            raise TypeError(
                f"Unrecognized keyword arguments passed to ReduceLROnPlateau: {sorted(kwargs)}."
            )
        if not 0 <= factor < 1:
            raise ValueError(
                "ReduceLROnPlateau does not support a factor outside [0, 1): the learning rate "
                f"must decrease. Received: factor={factor!r}."
            )
        self.monitor = monitor
        self.factor = float(factor)
        self.patience = int(patience)
        self.verbose = verbose
        self.mode = mode
        self.min_delta = float(min_delta)
        self.cooldown = int(cooldown)
        self.min_lr = float(min_lr)
        self._direction = resolve_mode(mode, monitor, "ReduceLROnPlateau")
        self._reset()

    def _reset(self) -> None:
        self.best = np.inf if self._direction == "min" else -np.inf
        self.wait = 0
        self.cooldown_counter = 0

    def _is_improvement(self, value: float) -> bool:
        if self._direction == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._reset()
        get_learning_rate(self.model, "ReduceLROnPlateau")   # fail before the first epoch

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs if logs is not None else {}
        old_lr = get_learning_rate(self.model, "ReduceLROnPlateau")
        logs["learning_rate"] = old_lr
        current = monitored_value(logs, self.monitor, "Learning rate reduction",
                                  "the learning rate is left unchanged")
        if current is None:
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            # NOTE: float32 comparison as in Keras, so min_lr=1e-4 stops at the float32 value.
            if self.wait >= self.patience and old_lr > np.float32(self.min_lr):
                new_lr = max(old_lr * self.factor, self.min_lr)
                _set_learning_rate(self.model, new_lr)
                if self.verbose > 0:
                    print_msg(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate "
                              f"to {new_lr}.")
                self.cooldown_counter = self.cooldown
                self.wait = 0


def _takes_learning_rate(schedule: Callable) -> bool:
    """Whether `schedule` accepts `(epoch, lr)` rather than only `(epoch)`."""
    try:
        params = inspect.signature(schedule).parameters.values()
    except (TypeError, ValueError):   # some builtins and C callables have no signature
        return True
    positional = [p for p in params
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in params)


class LearningRateScheduler(Callback):
    """Sets the learning rate before each epoch from `schedule(epoch)` or `schedule(epoch, lr)`.

    Args:
        schedule: function of the 0-based epoch index (and optionally the current learning rate)
            returning the new learning rate as a float.
        verbose: 1 prints the rate set at each epoch.

    Example:
        >>> def schedule(epoch, lr):
        ...     return lr if epoch < 10 else lr * 0.9
        >>> scheduler = LearningRateScheduler(schedule)
    """

    def __init__(self, schedule: Callable, verbose: int = 0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(
                "The `schedule` argument of LearningRateScheduler must be a function "
                f"`schedule(epoch)` or `schedule(epoch, lr)`. Received: schedule={schedule!r}."
            )
        self.schedule = schedule
        self.verbose = verbose
        self._with_lr = _takes_learning_rate(schedule)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        lr = get_learning_rate(self.model, "LearningRateScheduler")
        new_lr = self.schedule(epoch, lr) if self._with_lr else self.schedule(epoch)
        if isinstance(new_lr, np.ndarray) and new_lr.ndim == 0:
            new_lr = new_lr.item()
        if isinstance(new_lr, bool) or not isinstance(new_lr, numbers.Real):
            raise ValueError(
                "The output of the `schedule` function of LearningRateScheduler should be a "
                f"float. Received: {new_lr!r} (of type {type(new_lr).__name__}) at epoch {epoch}."
            )
        _set_learning_rate(self.model, new_lr)
        if self.verbose > 0:
            print_msg(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                      f"{float(new_lr)}.")

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None:
            logs["learning_rate"] = get_learning_rate(self.model, "LearningRateScheduler")
