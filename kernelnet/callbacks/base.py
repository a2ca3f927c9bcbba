"""The callback protocol: `Callback`, `CallbackList`, `LambdaCallback` and `History`.

The training loop drives callbacks as Keras 3 does:

    cbs = CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=model,
                       verbose=verbose, epochs=epochs, steps=steps_per_epoch)
    cbs.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        cbs.on_epoch_begin(epoch)
        for step in range(steps):
            cbs.on_train_batch_begin(step)
            ...
            cbs.on_train_batch_end(step, logs)      # running epoch averages {"loss": .., "acc": ..}
        cbs.on_epoch_end(epoch, logs)               # plus "val_loss", "val_acc"
        if model.stop_training:
            break
    cbs.on_train_end(logs)

`evaluate()` uses the `on_test_*` hooks and `predict()` the `on_predict_*` hooks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

_HOOKS = (
    "on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
    "on_test_begin", "on_test_end", "on_predict_begin", "on_predict_end",
    "on_train_batch_begin", "on_train_batch_end", "on_test_batch_begin", "on_test_batch_end",
    "on_predict_batch_begin", "on_predict_batch_end", "on_batch_begin", "on_batch_end",
)


class Callback:
    """Base class for callbacks: every hook is a no-op; override the ones you need.

    Attributes:
        model: the model being trained, set by `set_model` before training starts.
        params: dict with `"epochs"`, `"steps"` (steps per epoch, or None) and `"verbose"`.

    `on_train_batch_begin/end` call `on_batch_begin/end`, so Keras 2 callbacks that override
    `on_batch_end` keep working.

    Example:
        >>> class PrintLoss(Callback):
        ...     def on_epoch_end(self, epoch, logs=None):
        ...         print(f"epoch {epoch}: loss {logs['loss']:.2f}")
        >>> PrintLoss().on_epoch_end(0, {"loss": 0.5})
        epoch 0: loss 0.50
    """

    def __init__(self):
        self.model = None
        self.params: dict = {}

    def set_params(self, params: dict) -> None:
        self.params = params

    def set_model(self, model: Any) -> None:
        self.model = model

    def on_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        """Keras 2 name of `on_train_batch_begin`."""

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Keras 2 name of `on_train_batch_end`."""

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        """Called at the start of each epoch (0-based `epoch`)."""

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Called at the end of each epoch; `logs` holds the epoch metrics and `val_` metrics."""

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """`logs` holds the running averages of the epoch so far."""
        self.on_batch_end(batch, logs)

    def on_test_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        """Called before each batch of `evaluate()` (and of validation inside `fit()`)."""

    def on_test_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Called after each batch of `evaluate()` (and of validation inside `fit()`)."""

    def on_predict_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        """Called before each batch of `predict()`."""

    def on_predict_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Called after each batch of `predict()`."""

    def on_train_begin(self, logs: dict | None = None) -> None:
        """Called once at the start of `fit()`."""

    def on_train_end(self, logs: dict | None = None) -> None:
        """Called once at the end of `fit()`, also after early stopping."""

    def on_test_begin(self, logs: dict | None = None) -> None:
        """Called at the start of `evaluate()` and of each validation run."""

    def on_test_end(self, logs: dict | None = None) -> None:
        """Called at the end of `evaluate()` and of each validation run."""

    def on_predict_begin(self, logs: dict | None = None) -> None:
        """Called at the start of `predict()`."""

    def on_predict_end(self, logs: dict | None = None) -> None:
        """Called at the end of `predict()`."""


def _pythonify_logs(logs: dict | None) -> dict:
    """A new dict with NumPy scalars and 0-d arrays turned into Python numbers."""
    result = {}
    for key, value in (logs or {}).items():
        if isinstance(value, np.generic) or (isinstance(value, np.ndarray) and value.ndim == 0):
            value = value.item()
        result[key] = value
    return result


def _flatten_callbacks(callbacks: Any) -> list:
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback):
        return [callbacks]
    if isinstance(callbacks, CallbackList):
        return list(callbacks.callbacks)
    if not isinstance(callbacks, Iterable) or isinstance(callbacks, (str, bytes, dict)):
        raise TypeError(
            "Expected `callbacks` to be a list of Callback instances. "
            f"Received: callbacks={callbacks!r} of type {type(callbacks).__name__}."
        )
    result = list(callbacks)
    for i, cb in enumerate(result):
        if not isinstance(cb, Callback):
            raise TypeError(
                "Expected `callbacks` to be a list of Callback instances. "
                f"Received: callbacks[{i}]={cb!r} of type {type(cb).__name__}. "
                "Subclass kernelnet.callbacks.Callback, or wrap functions in LambdaCallback."
            )
    return result


class CallbackList:
    """Container that forwards every hook to a list of callbacks, in order.

    Args:
        callbacks: list of `Callback` instances (or a single one, or None).
        add_history: append a `History` callback unless one is already in the list.
        add_progbar: append a `ProgbarLogger` unless one is already in the list.
        model: the model to attach to every callback (`set_model`).
        **params: passed to every callback's `set_params` (`epochs`, `steps`, `verbose`).

    History and ProgbarLogger go after the user's callbacks, so they see keys those add to the
    epoch logs (e.g. `learning_rate` from ReduceLROnPlateau). Each hook gets one fresh copy of
    `logs` shared by all callbacks, with NumPy scalars converted to Python numbers.
    """

    def __init__(self, callbacks: Any = None, add_history: bool = False,
                 add_progbar: bool = False, model: Any = None, **params: Any):
        self.callbacks = _flatten_callbacks(callbacks)
        self.model = None
        self.params: dict = {}
        self._add_default_callbacks(add_history, add_progbar)
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)

    def _add_default_callbacks(self, add_history: bool, add_progbar: bool) -> None:
        from kernelnet.callbacks.progbar_logger import ProgbarLogger

        self._history = next((cb for cb in self.callbacks if isinstance(cb, History)), None)
        self._progbar = next((cb for cb in self.callbacks if isinstance(cb, ProgbarLogger)), None)
        if self._history is None and add_history:
            self._history = History()
            self.callbacks.append(self._history)
        if self._progbar is None and add_progbar:
            self._progbar = ProgbarLogger()
            self.callbacks.append(self._progbar)

    def append(self, callback: Callback) -> None:
        self.callbacks.extend(_flatten_callbacks([callback]))

    def set_params(self, params: dict) -> None:
        self.params = params
        for cb in self.callbacks:
            cb.set_params(params)

    def set_model(self, model: Any) -> None:
        self.model = model
        if self._history is not None:
            model.history = self._history
        for cb in self.callbacks:
            cb.set_model(model)

    def __iter__(self):
        return iter(self.callbacks)

    def __len__(self) -> int:
        return len(self.callbacks)

    def _dispatch(self, hook: str, *args: Any, logs: dict | None) -> None:
        logs = _pythonify_logs(logs)
        for cb in self.callbacks:
            getattr(cb, hook)(*args, logs)  # positional: LambdaCallback functions

    def on_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self._dispatch("on_train_batch_begin", batch, logs=logs)

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._dispatch("on_train_batch_end", batch, logs=logs)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._dispatch("on_epoch_begin", epoch, logs=logs)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._dispatch("on_epoch_end", epoch, logs=logs)

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self._dispatch("on_train_batch_begin", batch, logs=logs)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._dispatch("on_train_batch_end", batch, logs=logs)

    def on_test_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self._dispatch("on_test_batch_begin", batch, logs=logs)

    def on_test_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._dispatch("on_test_batch_end", batch, logs=logs)

    def on_predict_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self._dispatch("on_predict_batch_begin", batch, logs=logs)

    def on_predict_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._dispatch("on_predict_batch_end", batch, logs=logs)

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._dispatch("on_train_begin", logs=logs)

    def on_train_end(self, logs: dict | None = None) -> None:
        self._dispatch("on_train_end", logs=logs)

    def on_test_begin(self, logs: dict | None = None) -> None:
        self._dispatch("on_test_begin", logs=logs)

    def on_test_end(self, logs: dict | None = None) -> None:
        self._dispatch("on_test_end", logs=logs)

    def on_predict_begin(self, logs: dict | None = None) -> None:
        self._dispatch("on_predict_begin", logs=logs)

    def on_predict_end(self, logs: dict | None = None) -> None:
        self._dispatch("on_predict_end", logs=logs)


class LambdaCallback(Callback):
    """Callback built from plain functions, one keyword argument per hook.

    Epoch hooks take `(epoch, logs)`, batch hooks `(batch, logs)`, begin/end hooks `(logs)`.
    Any hook name of `Callback` is accepted (`on_epoch_end=...`, `on_batch_end=...`, ...).

    Example:
        >>> cb = LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch, logs["loss"]))
        >>> cb.on_epoch_end(2, {"loss": 0.25})
        2 0.25
    """

    def __init__(self, on_epoch_begin: Callable | None = None,
                 on_epoch_end: Callable | None = None, on_train_begin: Callable | None = None,
                 on_train_end: Callable | None = None,
                 on_train_batch_begin: Callable | None = None,
                 on_train_batch_end: Callable | None = None, **kwargs: Callable | None):
        super().__init__()
        hooks = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end,
                     on_train_begin=on_train_begin, on_train_end=on_train_end,
                     on_train_batch_begin=on_train_batch_begin,
                     on_train_batch_end=on_train_batch_end, **kwargs)
        for name, fn in hooks.items():
            if name not in _HOOKS:
                raise ValueError(
                    f"Unknown hook {name!r} passed to LambdaCallback. Expected one of "
                    f"{', '.join(_HOOKS)}. Received: {name}={fn!r}."
                )
            if fn is not None:
                setattr(self, name, fn)


class History(Callback):
    """Records the epoch logs of `fit()`; `fit()` returns it and sets `model.history` to it.

    Attributes:
        history: dict mapping each log key (`"loss"`, `"val_acc"`, ...) to a list, one value
            per epoch.
        epoch: list of the (0-based) epochs that ran.
    """

    def __init__(self):
        super().__init__()
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.epoch = []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self
