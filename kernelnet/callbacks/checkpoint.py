"""Callbacks that write files: `ModelCheckpoint` and `CSVLogger`."""

from __future__ import annotations

import csv
import os
import re
import string
from collections.abc import Iterable
from typing import Any

import numpy as np

from kernelnet.callbacks.base import Callback
from kernelnet.callbacks.monitoring import monitored_value, resolve_mode
from kernelnet.utils.paths import safe_filename
from kernelnet.utils.progbar import print_msg


class ModelCheckpoint(Callback):
    """Saves the model (or its weights) after every epoch, or every `save_freq` batches.

    `filepath` may contain format fields filled from the epoch (1-based, as in Keras), the batch
    (1-based, batch-level saving only) and any log key:
    `"ckpt/model-{epoch:02d}-{val_loss:.2f}.kn"`. Filled-in values become safe file-name parts
    (a value `"../x"` is written `_._x`), so a checkpoint never lands outside the pattern's folder.
    Missing parent directories are created. Saving goes through `model.save(path, overwrite=True)`
    or `model.save_weights(path, overwrite=True)`; both write atomically.

    A save is skipped (with a message) when the logged `loss` is NaN or infinite, so after
    `TerminateOnNaN` stops a run the file still holds the last good model.

    Exact resuming: a full save (the default) also stores the optimizer state and kernelnet's
    random-generator state. `model = load_model(path)`, then
    `kernelnet.saving.restore_training_state(path)` and `model.fit(..., initial_epoch=E)`
    continue the run as if it had never stopped (bit for bit, with epoch-end checkpoints).

    Args:
        filepath: path or format string of the file to write.
        monitor: log key compared when `save_best_only=True`.
        verbose: 1 prints a message at each save (or skipped save).
        save_best_only: only save when the monitored value improved on the best seen so far;
            with a constant `filepath` the file then always holds the best model.
        save_weights_only: save only the weights (`model.save_weights`).
        mode: `"min"`, `"max"` or `"auto"` (maximize accuracy-like names, minimize the rest).
        save_freq: `"epoch"`, or an int N to save every N batches (counted across epochs).
        initial_value_threshold: a value the monitored metric must beat before the first save
            (with `save_best_only`).

    Example:
        >>> ckpt = ModelCheckpoint("best.kn", monitor="val_acc", save_best_only=True)
        >>> # model.fit(x, y, validation_split=0.1, epochs=10, callbacks=[ckpt])
    """

    def __init__(self, filepath: str | os.PathLike, monitor: str = "val_loss", verbose: int = 0,
                 save_best_only: bool = False, save_weights_only: bool = False,
                 mode: str = "auto", save_freq: str | int = "epoch",
                 initial_value_threshold: float | None = None):
        super().__init__()
        if save_freq != "epoch" and (
            isinstance(save_freq, bool) or not isinstance(save_freq, (int, np.integer))
            or save_freq <= 0
        ):
            raise ValueError(
                'Invalid value for argument `save_freq` of ModelCheckpoint: expected "epoch" or '
                f"a positive integer (number of batches). Received: save_freq={save_freq!r}."
            )
        self.filepath = os.fspath(filepath)
        _check_format_specs(self.filepath)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.mode = mode
        self.save_freq = save_freq
        self._direction = resolve_mode(mode, monitor, "ModelCheckpoint")
        self.best = initial_value_threshold
        if self.best is None:
            self.best = np.inf if self._direction == "min" else -np.inf
        self._current_epoch = 0
        self._batches_since_save = 0
        self._last_batch_seen = -1

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._current_epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.save_freq == "epoch":
            return
        # Batches restart at 0 each epoch; count the ones seen since the last call.
        new = batch + 1 if batch <= self._last_batch_seen else batch - self._last_batch_seen
        self._last_batch_seen = batch
        self._batches_since_save += new
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save_model(self._current_epoch, batch, logs or {})

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.save_freq == "epoch":
            self._save_model(epoch, None, logs or {})

    def _is_improvement(self, value: float) -> bool:
        return value < self.best if self._direction == "min" else value > self.best

    def _save_model(self, epoch: int, batch: int | None, logs: dict) -> None:
        filepath = self._get_file_path(epoch, batch, logs)
        loss = logs.get("loss")
        if loss is not None and not np.all(np.isfinite(loss)):
            print_msg(f"Epoch {epoch + 1}: loss is {float(np.mean(loss))}, not saving the model "
                      f"to {filepath} (the last good save is kept)")
            return
        if not self.save_best_only:
            if self.verbose > 0:
                print_msg(f"Epoch {epoch + 1}: saving model to {filepath}")
            self._write(filepath)
            return
        current = monitored_value(logs, self.monitor, "ModelCheckpoint",
                                  "can save best model only with it available, skipping")
        if current is None:
            return
        if self._is_improvement(current):
            if self.verbose > 0:
                print_msg(f"Epoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to "
                          f"{current:.5f}, saving model to {filepath}")
            self.best = current
            self._write(filepath)
        elif self.verbose > 0:
            print_msg(f"Epoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")

    def _write(self, filepath: str) -> None:
        if os.path.isdir(filepath):
            raise IsADirectoryError(
                "Please specify a non-directory filepath for ModelCheckpoint. The filepath is an "
                f"existing directory. Received: filepath={filepath!r}."
            )
        dirname = os.path.dirname(filepath)
        if dirname:
            os.makedirs(dirname, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(filepath, overwrite=True)
        else:
            self.model.save(filepath, overwrite=True)

    def _get_file_path(self, epoch: int, batch: int | None, logs: dict) -> str:
        """Fills `{epoch}`, `{batch}` and log-key fields of `filepath`."""
        fields = dict(logs)
        fields["epoch"] = epoch + 1
        if batch is not None:
            fields["batch"] = batch + 1
        try:
            return _FieldFormatter().format(self.filepath, **fields)
        except (KeyError, IndexError) as err:
            raise KeyError(
                f"Failed to format the ModelCheckpoint filepath {self.filepath!r}: field {err} "
                f"is not available. Available fields: {', '.join(sorted(fields))}."
            ) from err


def _check_format_specs(filepath: str) -> None:
    """Fails at construction on a malformed `filepath` pattern or format spec
    (`'m-{epoch:zz}.kn'`), not after the first epoch. Field names are checked when saving:
    which log keys exist is known only then."""
    try:
        fields = [(name, spec) for _, name, spec, _ in string.Formatter().parse(filepath)
                  if name is not None]
        for name, spec in fields:
            # {epoch}/{batch} are ints, log values floats; a spec must suit one of them.
            sample = 1 if name in ("epoch", "batch") else 0.5
            format(sample, spec)
    except ValueError as err:
        raise ValueError(f"Invalid ModelCheckpoint filepath {filepath!r}: {err}. Expected "
                         "format fields such as {epoch:02d} or {val_loss:.2f}.") from None


class _FieldFormatter(string.Formatter):
    """`str.format` whose filled-in values are made safe file-name parts (`utils.paths`): a
    log value such as `"../../x"` can never move the checkpoint to another folder."""

    def format_field(self, value: Any, format_spec: str) -> str:
        text = super().format_field(value, format_spec)
        return text if _SAFE_FIELD.fullmatch(text) else safe_filename(text)


# Numbers as format() writes them and plain words; nothing starting with "." (no "..").
_SAFE_FIELD = re.compile(r"([A-Za-z0-9+\-_ ][A-Za-z0-9+\-_. ]*)?")


class CSVLogger(Callback):
    """Streams epoch results to a CSV file: a header `epoch,<sorted log keys>`, one row per epoch.

    Epochs are 0-based, as in Keras. The file is flushed after each row. With `append=True` an
    existing file is continued: its header is kept (and reused as the column order) and no second
    header is written. Keys missing from an epoch's logs are written as `NA`.

    Args:
        filename: path of the CSV file.
        separator: single character separating the columns.
        append: continue an existing file instead of overwriting it.

    Example:
        >>> logger = CSVLogger("training.log")
        >>> # model.fit(x, y, callbacks=[logger])
    """

    def __init__(self, filename: str | os.PathLike, separator: str = ",", append: bool = False):
        super().__init__()
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(
                "Invalid value for argument `separator` of CSVLogger: expected a single "
                f"character. Received: separator={separator!r}."
            )
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = append
        self.keys: list[str] | None = None
        self.writer: csv.DictWriter | None = None
        self.csv_file = None
        self._append_header = True

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.keys, self.writer, self._append_header = None, None, True
        if self.append and os.path.exists(self.filename):
            with open(self.filename, newline="") as f:
                header = next(csv.reader(f, delimiter=self.sep), [])
            if header:
                self._append_header = False
                if header[0] == "epoch":
                    self.keys = header[1:]
        self._close()
        dirname = os.path.dirname(self.filename)
        if dirname:
            os.makedirs(dirname, exist_ok=True)
        self.csv_file = open(self.filename, "a" if self.append else "w", newline="")

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        if self.csv_file is None:   # used without on_train_begin
            self.on_train_begin()
        if self.keys is None:
            self.keys = sorted(logs)
        if self.writer is None:
            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch", *self.keys],
                                         delimiter=self.sep, extrasaction="ignore")
            if self._append_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update((key, _csv_value(logs.get(key, "NA"))) for key in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs: dict | None = None) -> None:
        self._close()
        self.writer = None

    def _close(self) -> None:
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = None


def _csv_value(value: Any) -> Any:
    """Lists and arrays become `"[a, b]"`; scalars are written as they are."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item()
    if isinstance(value, Iterable) and not isinstance(value, str):
        return f"[{', '.join(map(str, value))}]"
    return value
