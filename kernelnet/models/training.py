"""The fit/evaluate/predict loops (attached to `Model` as methods).

The data adapter owns batching and shuffling, this module owns epochs, steps, validation and
callbacks, and `Model.train_step` owns one optimisation step.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from kernelnet._typing import Array
from kernelnet.models import data_adapters
from kernelnet.utils import validation


def as_model_input(model, x: Any) -> Array | list[Array]:
    if data_adapters.is_multi_input(x):
        return [data_adapters.as_input_array(a) for a in x]
    return data_adapters.as_input_array(x)


def _no_sample_weights(**kwargs: Any) -> None:
    given = [k for k, v in kwargs.items() if v is not None]
    if given:
        raise NotImplementedError(f"kernelnet does not support {', '.join(given)} yet.")


def _check_epochs(**values: Any) -> None:
    """`epochs` and `initial_epoch` must be ints >= 0 (a string from argv is a common slip)."""
    for arg, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"Invalid value for argument `{arg}` of fit: expected a "
                             f"non-negative integer. Received: {arg}={value!r}.")


def _check_verbose(verbose: Any, method: str) -> int:
    """`verbose` as 0, 1 or 2 ("auto" is 1)."""
    if verbose == "auto":
        return 1
    if not isinstance(verbose, (int, np.integer)) or verbose not in (0, 1, 2):
        raise ValueError(f"Invalid value for argument `verbose` of {method}: expected 0, 1, 2 "
                         f"or 'auto'. Received: verbose={verbose!r}.")
    return int(verbose)


def _check_steps(value: Any, arg: str, method: str) -> int | None:
    """`steps_per_epoch`-like arguments: None (all the data) or a positive integer."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"Invalid value for argument `{arg}` of {method}: expected None or a "
                         f"positive integer. Received: {arg}={value!r}.")
    return int(value)


def _check_not_empty(adapter: Any, what: str) -> None:
    """Array data with no sample would train or evaluate nothing and report a loss of 0."""
    if isinstance(adapter, data_adapters.ArrayAdapter) and adapter.num_samples == 0:
        raise ValueError(f"{what} has no samples (arrays of length 0). Expected at least one "
                         "sample.")


def _split_validation(x: Any, y: Any, validation_split: float) -> tuple:
    """Keras semantics: the LAST fraction of the samples, taken before shuffling."""
    if not isinstance(x, (np.ndarray, list, tuple)):
        raise ValueError(
            "`validation_split` is only supported for NumPy array inputs. For datasets and "
            "generators pass `validation_data` instead."
        )
    number = isinstance(validation_split, (int, float, np.integer, np.floating)) and not \
        isinstance(validation_split, bool)
    if not number or not 0 < validation_split < 1:
        kind = "" if number else f" (a {type(validation_split).__name__}, expected a number)"
        raise ValueError(f"`validation_split` must be in (0, 1). Received: "
                         f"validation_split={validation_split!r}{kind}.")
    multi = data_adapters.is_multi_input(x)
    n = len(x[0]) if multi else len(x)
    cut = int(math.floor(n * (1.0 - validation_split)))
    if cut == 0 or cut == n:
        part = "training" if cut == 0 else "validation"
        raise ValueError(f"validation_split={validation_split} of {n} samples leaves no "
                         f"{part} sample. Expected a split that keeps at least one sample on "
                         "each side; use more data or another validation_split.")

    def take(a, sl):
        return [np.asarray(v)[sl] for v in a] if multi else np.asarray(a)[sl]

    return (take(x, slice(0, cut)), np.asarray(y)[:cut]), \
        (take(x, slice(cut, None)), np.asarray(y)[cut:])


class _RunningLogs:
    """Sample-weighted running means of the loss and the compiled metrics over one epoch."""

    def __init__(self, model, prefix: str = ""):
        self.model, self.prefix = model, prefix
        self.loss_sum = 0.0
        self.count = 0
        for metric in model.compiled_metrics:
            metric.reset_state()

    def update(self, loss: float, y: Array, y_pred: Array) -> dict[str, float]:
        n = len(y_pred[0]) if isinstance(y_pred, list) else len(y_pred)
        self.loss_sum += float(loss) * n
        self.count += n
        for metric in self.model.compiled_metrics:
            metric.update_state(y, y_pred)
        return self.result()

    def result(self) -> dict[str, float]:
        logs = {self.prefix + "loss": self.loss_sum / max(self.count, 1)}
        for metric in self.model.compiled_metrics:
            logs[self.prefix + metric.name] = float(metric.result())
        return logs


def _callback_list(model, callbacks, verbose, epochs, steps, add_history=False):
    from kernelnet import callbacks as callbacks_module

    return callbacks_module.CallbackList(callbacks, add_history=add_history,
                                         add_progbar=verbose != 0, model=model,
                                         verbose=verbose, epochs=epochs, steps=steps)


def fit(self, x: Any = None, y: Any = None, batch_size: int | None = None, epochs: int = 1,
        verbose: int | str = "auto", callbacks: list | None = None,
        validation_split: float = 0.0, validation_data: Any = None, shuffle: bool = True,
        class_weight: Any = None, sample_weight: Any = None, initial_epoch: int = 0,
        steps_per_epoch: int | None = None, validation_steps: int | None = None,
        validation_batch_size: int | None = None, validation_freq: int = 1):
    """Trains the model for `epochs` epochs; returns the `History` callback.

    `x` is an array (any numeric dtype; uint8 images are cast to floatx per batch), a list of
    arrays (multi-input), a dataset with `len()`/`[i]`, or a generator of `(x, y)` batches.
    """
    self._require_compiled("fit")
    _check_epochs(epochs=epochs, initial_epoch=initial_epoch)
    _no_sample_weights(class_weight=class_weight, sample_weight=sample_weight)
    verbose = _check_verbose(verbose, "fit")
    steps_per_epoch = _check_steps(steps_per_epoch, "steps_per_epoch", "fit")
    validation_steps = _check_steps(validation_steps, "validation_steps", "fit")
    validation_freq = validation.check_positive_int(validation_freq, "validation_freq", "fit")
    if validation_split and validation_data is None:
        (x, y), validation_data = _split_validation(x, y, validation_split)
    train = data_adapters.make_adapter(x, y, batch_size, shuffle, steps_per_epoch, "fit")
    _check_not_empty(train, "The training data given to fit()")
    if isinstance(train, data_adapters.ArrayAdapter):
        for i, a in enumerate(train.xs):
            data_adapters.check_finite(a, f"x[{i}]" if train.multi else "x")
        data_adapters.check_finite(train.y, "y")
    val = None
    if validation_data is not None:
        val = _validation_adapter(validation_data, validation_batch_size or batch_size,
                                  validation_steps)
    cbs = _callback_list(self, callbacks, verbose, epochs, train.steps, add_history=True)
    self.stop_training = False
    cbs.on_train_begin()
    logs: dict[str, float] = {}
    for epoch in range(initial_epoch, epochs):
        running = _RunningLogs(self)
        cbs.on_epoch_begin(epoch)
        for step, (xb, yb) in enumerate(train):
            cbs.on_train_batch_begin(step)
            self._ensure_built(xb)
            out = self.train_step(xb, yb)
            logs = running.update(out["loss"], yb, out["y_pred"])
            cbs.on_train_batch_end(step, logs)
            if self.stop_training:
                break
        train.on_epoch_end()
        if running.count == 0 and not self.stop_training:
            if epoch > initial_epoch:
                break  # a generator ran out after earlier epochs (warned above): stop there
            raise ValueError(f"fit() got no training batch in epoch {epoch + 1}: the data "
                             "(a generator, iterator or dataset) is empty or was exhausted "
                             "before the first step. Expected at least one batch per epoch.")
        logs = running.result()
        if val is not None and (epoch + 1) % validation_freq == 0:
            logs.update(_run_evaluation(self, val, cbs, prefix="val_"))
        cbs.on_epoch_end(epoch, logs)
        if self.stop_training or getattr(train, "exhausted", False):
            break
    cbs.on_train_end(logs)
    return self.history


def _validation_adapter(validation_data: Any, batch_size: int | None, steps: int | None):
    if isinstance(validation_data, (tuple, list)) and len(validation_data) not in (2, 3):
        raise ValueError(
            "`validation_data` must be a tuple (x_val, y_val), (x_val, y_val, None) or a "
            f"dataset/generator of (x, y) batches. Received: a {type(validation_data).__name__} "
            f"of length {len(validation_data)}.")
    if isinstance(validation_data, tuple):
        if len(validation_data) == 3 and validation_data[2] is not None:
            raise NotImplementedError("validation sample weights are not supported by kernelnet.")
        xv, yv = validation_data[0], validation_data[1]
        if yv is None:
            raise ValueError("`validation_data` needs targets: pass (x_val, y_val). "
                             "Received: y_val=None.")
        adapter = data_adapters.make_adapter(xv, yv, batch_size, False, steps, "evaluate")
    else:
        adapter = data_adapters.make_adapter(validation_data, None, batch_size, False, steps,
                                             "evaluate")
    _check_not_empty(adapter, "`validation_data`")
    return adapter


def _run_evaluation(model, adapter, cbs, prefix: str = "") -> dict[str, float]:
    running = _RunningLogs(model, prefix)
    cbs.on_test_begin()
    for step, (xb, yb) in enumerate(adapter):
        cbs.on_test_batch_begin(step)
        model._ensure_built(xb)
        y_pred = model.inference_forward(xb)
        running.update(model.loss(yb, y_pred), yb, y_pred)
        cbs.on_test_batch_end(step, running.result())
    adapter.on_epoch_end()
    if running.count == 0:
        raise ValueError(f"{'Validation' if prefix else 'evaluate()'} got no batch: the data "
                         "(a generator, iterator or dataset) is empty or exhausted. Expected at "
                         "least one batch.")
    logs = running.result()
    cbs.on_test_end(logs)
    return logs


def evaluate(self, x: Any = None, y: Any = None, batch_size: int | None = None,
             verbose: int | str = "auto", sample_weight: Any = None, steps: int | None = None,
             callbacks: list | None = None, return_dict: bool = False):
    """Returns the loss (and metrics) on `x, y`: a scalar, a list, or a dict (`return_dict`)."""
    self._require_compiled("evaluate")
    _no_sample_weights(sample_weight=sample_weight)
    verbose = _check_verbose(verbose, "evaluate")
    steps = _check_steps(steps, "steps", "evaluate")
    if isinstance(x, (np.ndarray, list, tuple)) and y is None:
        raise ValueError("evaluate() needs targets: pass `y`, or pass x as a dataset of "
                         "(x, y). Received: y=None.")
    adapter = data_adapters.make_adapter(x, y, batch_size, False, steps, "evaluate")
    _check_not_empty(adapter, "The data given to evaluate()")
    cbs = _callback_list(self, callbacks, verbose, 1, adapter.steps)
    logs = _run_evaluation(self, adapter, cbs)
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


def predict(self, x: Any, batch_size: int | None = None, verbose: int | str = "auto",
            steps: int | None = None, callbacks: list | None = None) -> Array | list[Array]:
    """Runs inference in batches (training=False) and concatenates the outputs."""
    verbose = _check_verbose(verbose, "predict")
    steps = _check_steps(steps, "steps", "predict")
    adapter = data_adapters.make_adapter(x, None, batch_size, False, steps, "predict")
    cbs = _callback_list(self, callbacks, verbose, 1, adapter.steps)
    cbs.on_predict_begin()
    outputs: list = []
    for step, (xb, _) in enumerate(adapter):
        cbs.on_predict_batch_begin(step)
        self._ensure_built(xb)
        out = self.inference_forward(xb)
        outputs.append(out)
        cbs.on_predict_batch_end(step, {"outputs": out})
    cbs.on_predict_end()
    if not outputs:
        raise ValueError("predict() received no data: `x` is empty.")
    if isinstance(outputs[0], list):
        return [np.concatenate(parts) for parts in zip(*outputs)]
    return np.concatenate(outputs)


_QUEUE_ARGS = ("max_queue_size", "workers", "use_multiprocessing")


def _check_queue_args(name: str, kwargs: dict) -> None:
    """Keras 2's *_generator methods: the queue/worker knobs belong to the data here
    (kernelnet's image iterators prefetch in threads), so they are accepted and unused."""
    unknown = set(kwargs) - set(_QUEUE_ARGS)
    if unknown:
        raise TypeError(f"{name}() got unexpected keyword arguments {sorted(unknown)}.")


def fit_generator(self, generator: Any, steps_per_epoch: int | None = None, epochs: int = 1,
                  verbose: int = 1, callbacks: list | None = None, validation_data: Any = None,
                  validation_steps: int | None = None, class_weight: Any = None,
                  shuffle: bool = True, initial_epoch: int = 0, **kwargs: Any):
    """Keras 2 spelling of `fit(generator, ...)`."""
    _check_queue_args("fit_generator", kwargs)
    return self.fit(generator, steps_per_epoch=steps_per_epoch, epochs=epochs, verbose=verbose,
                    callbacks=callbacks, validation_data=validation_data,
                    validation_steps=validation_steps, class_weight=class_weight,
                    shuffle=shuffle, initial_epoch=initial_epoch)


def evaluate_generator(self, generator: Any, steps: int | None = None,
                       callbacks: list | None = None, verbose: int = 0, **kwargs: Any):
    """Keras 2 spelling of `evaluate(generator, ...)`."""
    _check_queue_args("evaluate_generator", kwargs)
    return self.evaluate(generator, steps=steps, callbacks=callbacks, verbose=verbose)


def predict_generator(self, generator: Any, steps: int | None = None,
                      callbacks: list | None = None, verbose: int = 0, **kwargs: Any):
    """Keras 2 spelling of `predict(generator, ...)`."""
    _check_queue_args("predict_generator", kwargs)
    return self.predict(generator, steps=steps, callbacks=callbacks, verbose=verbose)

