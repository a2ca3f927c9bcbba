"""`ProgbarLogger`: the Keras progress output of `fit`, `evaluate` and `predict`."""

from __future__ import annotations

import warnings

from kernelnet.callbacks.base import Callback
from kernelnet.utils.progbar import Progbar, print_msg

_LR_KEYS = ("learning_rate", "lr")


def order_log_keys(keys) -> list[str]:
    """Deterministic display order: metrics, then `val_` metrics, then the learning rate.

    Each group is sorted by name, as Keras 3 shows them:
    `acc - loss - val_acc - val_loss - learning_rate`.
    """
    def group(key: str) -> int:
        if key in _LR_KEYS:
            return 2
        return 1 if key.startswith("val_") else 0

    return sorted(keys, key=lambda k: (group(k), k))


class ProgbarLogger(Callback):
    """Prints progress and metrics to stdout; added by `fit()` when `verbose != 0`.

    With `params["verbose"] == 1` each epoch prints `Epoch 1/5` and then a live bar
    `12/469 ━━━━   00:03<00:12 25ms/step - acc: 0.9012 - loss: 0.3123`; the finished bar also shows
    the `val_` metrics. With `verbose == 2` each epoch prints `Epoch 1/5` and one line
    `469/469 - 12s - 25ms/step - acc: 0.9012 - loss: 0.3123 - val_acc: ... - val_loss: ...`.
    Validation inside `fit()` is silent; `evaluate()` and `predict()` show their own bar.

    Args:
        count_mode: `"steps"` (the only mode; `"samples"` is accepted with a warning and also
            counts steps, since the loop reports batches, not samples).
    """

    def __init__(self, count_mode: str = "steps"):
        super().__init__()
        if count_mode not in ("steps", "samples"):
            raise ValueError(
                'Invalid value for argument `count_mode` of ProgbarLogger: expected "steps" or '
                f'"samples". Received: count_mode={count_mode!r}.'
            )
        if count_mode == "samples":
            warnings.warn(
                'ProgbarLogger(count_mode="samples") is not supported; progress is counted in '
                "steps (batches).",
                stacklevel=2,
            )
        self.count_mode = "steps"
        self.seen = 0
        self.progbar: Progbar | None = None
        self.target: int | None = None
        self.verbose = 1
        self.epochs = 1
        self._called_in_fit = False

    def set_params(self, params: dict) -> None:
        super().set_params(params)
        verbose = params.get("verbose", 1)
        self.verbose = 1 if verbose == "auto" else int(verbose)
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._called_in_fit = True   # validation inside fit() draws nothing

    def on_train_end(self, logs: dict | None = None) -> None:
        self._called_in_fit = False

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._reset_progbar()
        if self.verbose:
            print_msg(f"Epoch {epoch + 1}/{self.epochs}")

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._update_progbar(batch, logs)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._finalize_progbar(logs)

    def on_test_begin(self, logs: dict | None = None) -> None:
        if not self._called_in_fit:
            self._reset_progbar()

    def on_test_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if not self._called_in_fit:
            self._update_progbar(batch, logs)

    def on_test_end(self, logs: dict | None = None) -> None:
        if not self._called_in_fit:
            self._finalize_progbar(logs)

    def on_predict_begin(self, logs: dict | None = None) -> None:
        self._reset_progbar()

    def on_predict_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._update_progbar(batch, None)   # predictions are not metrics

    def on_predict_end(self, logs: dict | None = None) -> None:
        self._finalize_progbar(None)

    def _reset_progbar(self) -> None:
        self.seen = 0
        self.progbar = Progbar(self.target, verbose=self.verbose, unit_name="step")

    def _items(self, logs: dict | None) -> list:
        """Log items in display order; all are shown as given (the loop already averages)."""
        logs = logs or {}
        self.progbar.stateful_metrics.update(logs)
        return [(key, logs[key]) for key in order_log_keys(logs)]

    def _update_progbar(self, batch: int, logs: dict | None) -> None:
        if self.progbar is None:
            self._reset_progbar()
        self.seen = batch + 1   # batches are 0-based
        if self.verbose == 1:
            self.progbar.update(self.seen, self._items(logs), finalize=False)

    def _finalize_progbar(self, logs: dict | None) -> None:
        if self.progbar is None:
            self._reset_progbar()
        if self.target is None:   # unknown steps per epoch: the first epoch tells
            self.target = self.seen
            self.progbar.target = self.seen
        self.progbar.update(self.seen or self.target, self._items(logs), finalize=True)
