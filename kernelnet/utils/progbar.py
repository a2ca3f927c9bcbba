"""Keras-style progress display: `Progbar` (drawn with tqdm) and `print_msg`.

`Progbar(target, verbose=1)` behaves like `keras.utils.Progbar`:

- `verbose=1` draws a live bar, `12/469 ━━━━      00:03<00:12 25ms/step - loss: 0.3123`,
  redrawn at most every `interval` seconds and left on screen when finished;
- `verbose=2` prints one line when finished, `469/469 - 12s - 25ms/step - loss: 0.3123`;
- `verbose=0` prints nothing.

Values passed to `update`/`add` are averaged over the steps they cover, except names listed in
`stateful_metrics`, which are shown as given (the training loop's logs are already running
averages, so `ProgbarLogger` marks every key stateful).

Everything goes to `sys.stdout`, looked up at each write so that redirection (and pytest's `capsys`)
sees it.
"""

from __future__ import annotations

import math
import shutil
import sys
import time
from collections.abc import Iterable
from typing import Any

import numpy as np
from tqdm import tqdm


def print_msg(message: str) -> None:
    """Prints a line to `sys.stdout` without breaking a live progress bar (uses `tqdm.write`)."""
    tqdm.write(message, file=sys.stdout)
    sys.stdout.flush()


def format_value(value: Any) -> str:
    """Formats a logged value as Keras does: `0.3123`, small numbers as `1.0000e-04`."""
    if isinstance(value, (bool, str)):
        return str(value)
    try:
        number = float(np.mean(value))
    except (TypeError, ValueError):
        return str(value)
    # NOTE: Keras tests `> 1e-3` on float32 values, where 1e-3 is slightly above 0.001, so a
    # learning rate of 0.001 shows as `0.0010`; `>=` gives the same on float64 values.
    return f"{number:.4f}" if abs(number) >= 1e-3 else f"{number:.4e}"


def format_time_per_unit(seconds: float, unit_name: str) -> str:
    """`'25ms/step'`, `'2s/step'` or `'310us/step'`, as in Keras."""
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/{unit_name}"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/{unit_name}"
    return f"{seconds * 1e6:.0f}us/{unit_name}"


class _KerasTqdm(tqdm):
    """tqdm with an extra `{metrics}` field for the bar format (the Keras ` - loss: ...` tail)."""

    def __init__(self, *args: Any, metrics: str = "", **kwargs: Any):
        self.metrics = metrics   # set before tqdm's first draw
        super().__init__(*args, **kwargs)

    @property
    def format_dict(self) -> dict:
        d = super().format_dict
        d["metrics"] = self.metrics
        return d


class Progbar:
    """Displays a progress bar, like `keras.utils.Progbar`.

    Args:
        target: total number of steps expected, or None if unknown.
        width: width of the bar in characters (verbose=1).
        verbose: 0 (silent), 1 (live bar) or 2 (one line when finished).
        interval: minimum seconds between two redraws of the live bar.
        stateful_metrics: names of values shown as given instead of averaged over steps.
        unit_name: name of one step, shown as `25ms/step`.

    Example:
        >>> bar = Progbar(3, verbose=0)
        >>> for step in range(3):
        ...     bar.add(1, values=[("loss", 0.5)])
        >>> bar.values["loss"]
        0.5
    """

    def __init__(self, target: int | None, width: int = 20, verbose: int = 1,
                 interval: float = 0.05, stateful_metrics: Iterable[str] | None = None,
                 unit_name: str = "step"):
        if verbose not in (0, 1, 2):
            raise ValueError(
                f"Invalid value for argument `verbose` of Progbar: expected 0, 1 or 2. "
                f"Received: verbose={verbose!r}."
            )
        self.target = None if target is None else int(target)
        self.width = int(width)
        self.verbose = verbose
        self.interval = float(interval)
        self.stateful_metrics = set(stateful_metrics or ())
        self.unit_name = unit_name
        self._values: dict[str, list] = {}      # name -> [weighted sum, weight]
        self._values_order: list[str] = []
        self._seen_so_far = 0
        self._start = time.time()
        self._bar: _KerasTqdm | None = None
        self._finalized = False

    @property
    def values(self) -> dict:
        """Current displayed value of every metric (averaged, or as given if stateful)."""
        return {k: self._average(k) for k in self._values_order}

    def update(self, current: int, values: Iterable | None = None,
               finalize: bool | None = None) -> None:
        """Moves the bar to step `current`, recording `values` (list of `(name, value)` pairs).

        `finalize` defaults to `current >= target`; a finalized bar is closed (verbose=1) or
        printed (verbose=2).
        """
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        self._record(current, values or ())
        self._seen_so_far = current
        if self.verbose == 1:
            self._draw_bar(current, finalize)
        elif self.verbose == 2 and finalize and not self._finalized:
            print_msg(self._summary_line(current))
        self._finalized = self._finalized or finalize

    def add(self, n: int, values: Iterable | None = None) -> None:
        """Advances the bar by `n` steps: `update(seen + n, values)`."""
        self.update(self._seen_so_far + n, values)

    def _record(self, current: int, values: Iterable) -> None:
        """Accumulates `values`; non-stateful ones are weighted by the steps since last update."""
        for name, value in values:
            if name not in self._values_order:
                self._values_order.append(name)
            steps = current - self._seen_so_far
            if name in self.stateful_metrics or not _is_number(value):
                self._values[name] = [value, 1]
            elif steps <= 0 and name in self._values:
                continue  # NOTE: a repeated call for the same step (e.g. finalize) adds no steps
            else:
                base = max(steps, 1)
                total, weight = self._values.get(name, [0.0, 0])
                self._values[name] = [total + float(np.mean(value)) * base, weight + base]

    def _average(self, name: str) -> Any:
        total, weight = self._values[name]
        return total / weight if _is_number(total) and weight else total

    def _metrics_text(self, current: int) -> str:
        """`' 25ms/step - loss: 0.3123 - acc: 0.9012'`."""
        per_unit = (time.time() - self._start) / current if current > 0 else 0.0
        text = " " + format_time_per_unit(per_unit, self.unit_name)
        for name in self._values_order:
            text += f" - {name}: {format_value(self._average(name))}"
        return text

    def _summary_line(self, current: int) -> str:
        """The verbose=2 line: `469/469 - 12s - 25ms/step - loss: 0.3123`."""
        elapsed = time.time() - self._start
        if self.target is None:
            count = str(current)
        else:
            digits = int(math.log10(max(self.target, 1))) + 1
            count = f"{current:{digits}d}/{self.target}"
        return f"{count} - {elapsed:.0f}s -" + self._metrics_text(current)

    def _draw_bar(self, current: int, finalize: bool) -> None:
        if self._finalized:
            return
        metrics = self._metrics_text(current)
        if self._bar is None:   # created at the first update, which it draws (as Keras does)
            self._bar = _KerasTqdm(
                total=self.target, initial=current, metrics=metrics, file=sys.stdout,
                leave=True, mininterval=self.interval, **_terminal_size(),
                bar_format=f"{{n_fmt}}/{{total_fmt}} {{bar:{self.width}}} "
                           "{elapsed}<{remaining}{metrics}",
            )
            self._bar.start_t = self._start
        self._bar.metrics = metrics
        if finalize and self._bar.total is None:
            self._bar.total = current
        self._bar.update(current - self._bar.n)
        if finalize:
            self._bar.ncols = None   # the final line is never redrawn: show it whole
            self._bar.close()


def _terminal_size() -> dict:
    """tqdm `ncols`/`nrows` for a terminal (a wrapped line cannot be redrawn); {} if no tty.

    NOTE: tqdm's own detection can report -1 columns and rows on some pseudo-terminals, and then
    draws nothing; `shutil` falls back to 80x24.
    """
    isatty = getattr(sys.stdout, "isatty", None)
    if isatty is None or not isatty():
        return {}
    size = shutil.get_terminal_size()
    return {"ncols": size.columns, "nrows": size.lines}


def _is_number(value: Any) -> bool:
    if isinstance(value, (bool, str)):
        return False
    return isinstance(value, (int, float, np.number)) or (
        isinstance(value, np.ndarray) and value.dtype.kind in "iuf"
    )
