"""`TensorBoard`: writes event files that TensorBoard reads (tensorboardX is an optional extra).

Same layout and tag names as Keras 3: `log_dir/train` and `log_dir/validation` event files;
per epoch the scalars `epoch_<metric>` (validation metrics without their `val_` prefix, in the
validation directory) and `epoch_learning_rate`; with `update_freq="batch"` or an int, the
scalars `batch_<metric>` every that many training batches; with `histogram_freq > 0`, a
histogram `<layer>/<weight>/histogram` of every weight every `histogram_freq` epochs.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from kernelnet.callbacks.base import Callback


def _summary_writer() -> Any:
    try:
        from tensorboardX import SummaryWriter
    except ImportError as err:
        raise ImportError(
            "The TensorBoard callback writes event files with tensorboardX, which is not "
            "installed. Install it with `pip install kernelnet[tensorboard]` (or `pip install "
            "tensorboardX`)."
        ) from err
    return SummaryWriter


class TensorBoard(Callback):
    """Logs metrics (and optionally weight histograms) for TensorBoard.

    Args:
        log_dir: directory for the event files (`train/` and `validation/` inside it).
        histogram_freq: write weight histograms every this many epochs (0: never).
        write_graph, write_images, write_steps_per_second, profile_batch: accepted with
            Keras' defaults; kernelnet writes no graph, images or profiles (a non-default
            `write_images` or `profile_batch` is an error rather than silently ignored).
        update_freq: `"epoch"`, `"batch"` (every batch) or an int N (every N batches) for the
            `batch_*` scalars.
        embeddings_freq, embeddings_metadata: Keras' embedding projector; must stay at the
            defaults (kernelnet has no Embedding layer).

    Example:
        >>> tb = TensorBoard(log_dir="logs", histogram_freq=1)          # doctest: +SKIP
        >>> model.fit(x, y, epochs=5, callbacks=[tb])                   # doctest: +SKIP
        >>> # then: tensorboard --logdir logs
    """

    def __init__(self, log_dir: str | os.PathLike = "logs", histogram_freq: int = 0,
                 write_graph: bool = True, write_images: bool = False,
                 write_steps_per_second: bool = False, update_freq: Any = "epoch",
                 profile_batch: Any = 0, embeddings_freq: int = 0,
                 embeddings_metadata: Any = None):
        super().__init__()
        unsupported = {k: v for k, v in (("write_images", write_images),
                                         ("profile_batch", profile_batch),
                                         ("embeddings_freq", embeddings_freq),
                                         ("embeddings_metadata", embeddings_metadata)) if v}
        if unsupported:
            raise ValueError(
                f"kernelnet's TensorBoard callback writes scalars and histograms only; "
                f"these arguments must keep their defaults. Received: {unsupported}."
            )
        if update_freq not in ("epoch", "batch") and not (
                isinstance(update_freq, int) and update_freq > 0):
            raise ValueError(
                'Invalid value for argument `update_freq` of TensorBoard: expected "epoch", '
                f'"batch" or a positive int. Received: update_freq={update_freq!r}.'
            )
        self._writer_class = _summary_writer()
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = int(histogram_freq)
        self.write_graph = write_graph
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = 1 if update_freq == "batch" else update_freq
        self._writers: dict[str, Any] = {}
        self._train_step = 0

    def _writer(self, which: str) -> Any:
        if which not in self._writers:
            self._writers[which] = self._writer_class(os.path.join(self.log_dir, which))
        return self._writers[which]

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._train_step = 0

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._train_step += 1
        if self.update_freq == "epoch" or self._train_step % self.update_freq:
            return
        writer = self._writer("train")
        for name, value in (logs or {}).items():
            writer.add_scalar(f"batch_{name}", float(value), self._train_step)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = dict(logs or {})
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and "learning_rate" not in train:
            try:
                train["learning_rate"] = float(np.asarray(optimizer.learning_rate))
            except (TypeError, ValueError):
                pass                                  # a schedule object without a value
        for which, values in (("train", train), ("validation", val)):
            if values:
                writer = self._writer(which)
                for name, value in values.items():
                    writer.add_scalar(f"epoch_{name}", float(value), epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)
        for writer in self._writers.values():
            writer.flush()

    def _log_weights(self, epoch: int) -> None:
        writer = self._writer("train")
        for name, weight in zip(self.model.weight_names, self.model.weights):
            writer.add_histogram(f"{name}/histogram", np.asarray(weight, dtype=np.float64),
                                 epoch)

    def on_train_end(self, logs: dict | None = None) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers = {}
