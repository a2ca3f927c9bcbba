"""Callbacks that watch a metric: `EarlyStopping` and `TerminateOnNaN`, plus shared helpers."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from kernelnet.callbacks.base import Callback
from kernelnet.utils.progbar import print_msg

# Metric names that contain one of these are maximized in mode="auto" (Keras 2 looked for "acc").
_MAX_HINTS = ("acc", "auc", "precision", "recall", "f1", "fmeasure")


def resolve_mode(mode: str, monitor: str, who: str) -> str:
    """Returns `"min"` or `"max"`; `"auto"` maximizes accuracy-like names and minimizes the rest."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(
            f'Invalid value for argument `mode` of {who}: expected "auto", "min" or "max". '
            f"Received: mode={mode!r}."
        )
    if mode != "auto":
        return mode
    name = monitor.lower().removeprefix("val_")
    return "max" if any(hint in name for hint in _MAX_HINTS) else "min"


def monitored_value(logs: dict | None, monitor: str, who: str, action: str) -> Any:
    """`logs[monitor]`, or None after a warning that lists the available keys."""
    logs = logs or {}
    value = logs.get(monitor)
    if value is None:
        available = ", ".join(repr(k) for k in logs) or "none"
        warnings.warn(
            f"{who} is conditioned on metric `{monitor}` which is not available; {action}. "
            f"Available metrics are: {available}. Pass `monitor=` one of these (validation "
            "metrics need `validation_data` or `validation_split` in `fit()`).",
            stacklevel=3,
        )
    return value


class EarlyStopping(Callback):
    """Stops training when a monitored metric has stopped improving.

    After each epoch (from `start_from_epoch` on), the metric counts as improved if it beats the
    best value so far by more than `min_delta`. Training stops once `patience` epochs in a row
    did not improve it (never on the first epoch).

    Args:
        monitor: log key to watch, e.g. `"val_loss"` or `"val_acc"`.
        min_delta: minimum change that counts as an improvement.
        patience: number of epochs without improvement after which training stops.
        verbose: 1 prints a message when stopping or restoring weights.
        mode: `"min"`, `"max"`, or `"auto"` (maximize names containing "acc"/"auc"/...,
            minimize the rest).
        baseline: value the metric must beat; while it does not, the patience count keeps
            running even if the metric improves.
        restore_best_weights: at the end of training, restore the weights of the best epoch
            (if training ran past it).
        start_from_epoch: number of warm-up epochs before improvements are looked at.

    Example:
        >>> stop = EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
        >>> # model.fit(x, y, validation_split=0.1, epochs=100, callbacks=[stop])
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0, patience: int = 0,
                 verbose: int = 0, mode: str = "auto", baseline: float | None = None,
                 restore_best_weights: bool = False, start_from_epoch: int = 0):
        super().__init__()
        self.monitor = monitor
        self.min_delta = abs(float(min_delta))
        if isinstance(patience, bool) or not isinstance(patience, (int, np.integer)) or \
                patience < 0:
            raise ValueError(f"Invalid value for argument `patience` of EarlyStopping: expected "
                             f"an integer >= 0. Received: patience={patience!r}.")
        self.patience = int(patience)
        self.verbose = verbose
        self.mode = mode
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = int(start_from_epoch)
        self._direction = resolve_mode(mode, monitor, "EarlyStopping")
        self.on_train_begin()

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def _is_improvement(self, value: float, reference: float | None) -> bool:
        if reference is None:
            return True
        if self._direction == "min":
            return value + self.min_delta < reference
        return value - self.min_delta > reference

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        current = monitored_value(logs, self.monitor, "Early stopping", "not stopping early")
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = _copy_weights(self.model)   # first look: current is the best
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = _copy_weights(self.model)
            # NOTE: as in Keras 3, the count restarts only if the baseline is beaten too.
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.stopped_epoch > 0 and self.verbose > 0:
            print_msg(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print_msg("Restoring model weights from the end of the best epoch: "
                          f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


def _copy_weights(model: Any) -> list:
    """Copies of `model.get_weights()` (weights are updated in place, so keep no views)."""
    return [np.array(w, copy=True) for w in model.get_weights()]


class TerminateOnNaN(Callback):
    """Stops training as soon as a batch loss is NaN or infinite.

    Prints `Batch 7: Invalid loss, terminating training` and sets `model.stop_training`.
    """

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(np.mean(loss))):
            print_msg(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True
