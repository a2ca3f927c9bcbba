"""The fit/evaluate/predict loops (attached to `Model` as methods).

The data adapter owns batching and shuffling, this module owns epochs, steps, validation and
callbacks, and `Model.train_step` owns one optimisation step.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from kernelnet._typing import Array
from kernelnet.models import compile_utils, data_adapters
from kernelnet.utils import validation


def as_model_input(model, x: Any) -> Array | list[Array]:
    if data_adapters.is_multi_input(x):
        return [data_adapters.as_input_array(a) for a in x]
    return data_adapters.as_input_array(x)


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


def _split_validation(x: Any, y: Any, sample_weight: Any, validation_split: float) -> tuple:
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
        return data_adapters.map_structure(lambda v: np.asarray(v)[sl], a)

    head, tail = slice(0, cut), slice(cut, None)
    return ((take(x, head), take(y, head), take(sample_weight, head)),
            (take(x, tail), take(y, tail), take(sample_weight, tail)))


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
    arrays (multi-input), a dataset with `len()`/`[i]`, or a generator of `(x, y)` or
    `(x, y, sample_weight)` batches. `y` and `sample_weight` are arrays, or lists/dicts keyed
    by output name for multi-output models; `class_weight` maps class ids to weights.
    Each batch goes through `self.train_step(data)`.
    """
    self._require_compiled("fit")
    _check_epochs(epochs=epochs, initial_epoch=initial_epoch)
    verbose = _check_verbose(verbose, "fit")
    steps_per_epoch = _check_steps(steps_per_epoch, "steps_per_epoch", "fit")
    validation_steps = _check_steps(validation_steps, "validation_steps", "fit")
    validation_freq = validation.check_positive_int(validation_freq, "validation_freq", "fit")
    if validation_split and validation_data is None:
        (x, y, sample_weight), validation_data = _split_validation(x, y, sample_weight,
                                                                   validation_split)
    train = data_adapters.make_adapter(x, y, batch_size, shuffle, steps_per_epoch, "fit",
                                       sample_weight=sample_weight, class_weight=class_weight)
    _check_not_empty(train, "The training data given to fit()")
    if isinstance(train, data_adapters.ArrayAdapter):
        for i, a in enumerate(train.xs):
            data_adapters.check_finite(a, f"x[{i}]" if train.multi else "x")
        for arg, a in data_adapters._named("y", train.y).items():
            data_adapters.check_finite(a, arg)
    val = None
    if validation_data is not None:
        val = _validation_adapter(validation_data, validation_batch_size or batch_size,
                                  validation_steps)
    cbs = _callback_list(self, callbacks, verbose, epochs, train.steps, add_history=True)
    self.stop_training = False
    cbs.on_train_begin()
    logs: dict[str, float] = {}
    for epoch in range(initial_epoch, epochs):
        self.reset_metrics()
        cbs.on_epoch_begin(epoch)
        seen = 0
        for step, data in enumerate(train):
            seen += 1
            cbs.on_train_batch_begin(step)
            self._ensure_built(data[0])
            logs = _as_logs(self.train_step(data))
            cbs.on_train_batch_end(step, logs)
            if self.stop_training:
                break
        train.on_epoch_end()
        if seen == 0 and not self.stop_training:
            if epoch > initial_epoch:
                break  # a generator ran out after earlier epochs (warned above): stop there
            raise ValueError(f"fit() got no training batch in epoch {epoch + 1}: the data "
                             "(a generator, iterator or dataset) is empty or was exhausted "
                             "before the first step. Expected at least one batch per epoch.")
        logs = dict(logs)
        if val is not None and (epoch + 1) % validation_freq == 0:
            val_logs = _run_evaluation(self, val, cbs, "Validation")
            logs.update({"val_" + k: v for k, v in val_logs.items()})
        cbs.on_epoch_end(epoch, logs)
        if self.stop_training or getattr(train, "exhausted", False):
            break
    cbs.on_train_end(logs)
    return self.history


def _as_logs(logs: Any) -> dict[str, Any]:
    """What a `train_step`/`test_step` returned, with scalar values as Python floats."""
    if not isinstance(logs, dict):
        raise TypeError("`train_step` and `test_step` must return a dict of metric values "
                        f"(e.g. {{'loss': 0.3}}). Received: {type(logs).__name__}.")
    flat: dict[str, Any] = {}
    for key, value in logs.items():
        if isinstance(value, dict):  # e.g. {"compile_metrics": {...}} from a custom step
            flat.update(_as_logs(value))
        else:
            flat[key] = compile_utils.as_float(value)
    return flat


def _validation_adapter(validation_data: Any, batch_size: int | None, steps: int | None):
    if isinstance(validation_data, (tuple, list)) and len(validation_data) not in (2, 3):
        raise ValueError(
            "`validation_data` must be a tuple (x_val, y_val), (x_val, y_val, sample_weight) or "
            "a dataset/generator of (x, y) batches. Received: a "
            f"{type(validation_data).__name__} of length {len(validation_data)}.")
    if isinstance(validation_data, tuple):
        xv, yv, swv = data_adapters.unpack_x_y_sample_weight(validation_data)
        if yv is None:
            raise ValueError("`validation_data` needs targets: pass (x_val, y_val). "
                             "Received: y_val=None.")
        adapter = data_adapters.make_adapter(xv, yv, batch_size, False, steps, "evaluate",
                                             sample_weight=swv)
    else:
        adapter = data_adapters.make_adapter(validation_data, None, batch_size, False, steps,
                                             "evaluate")
    _check_not_empty(adapter, "`validation_data`")
    return adapter


def _run_evaluation(model, adapter, cbs, what: str = "evaluate()") -> dict[str, float]:
    model.reset_metrics()
    logs: dict[str, float] = {}
    cbs.on_test_begin()
    seen = 0
    for step, data in enumerate(adapter):
        seen += 1
        cbs.on_test_batch_begin(step)
        model._ensure_built(data[0])
        logs = _as_logs(model.test_step(data))
        cbs.on_test_batch_end(step, logs)
    adapter.on_epoch_end()
    if seen == 0:
        raise ValueError(f"{what} got no batch: the data (a generator, iterator or dataset) is "
                         "empty or exhausted. Expected at least one batch.")
    cbs.on_test_end(logs)
    return logs


def evaluate(self, x: Any = None, y: Any = None, batch_size: int | None = None,
             verbose: int | str = "auto", sample_weight: Any = None, steps: int | None = None,
             callbacks: list | None = None, return_dict: bool = False):
    """Returns the loss (and metrics) on `x, y`: a scalar, a list, or a dict (`return_dict`).

    Each batch goes through `self.test_step(data)`. The list has the loss first, then the
    metrics in Keras 3's order."""
    self._require_compiled("evaluate")
    verbose = _check_verbose(verbose, "evaluate")
    steps = _check_steps(steps, "steps", "evaluate")
    if isinstance(x, (np.ndarray, list, tuple)) and y is None:
        raise ValueError("evaluate() needs targets: pass `y`, or pass x as a dataset of "
                         "(x, y). Received: y=None.")
    adapter = data_adapters.make_adapter(x, y, batch_size, False, steps, "evaluate",
                                         sample_weight=sample_weight)
    _check_not_empty(adapter, "The data given to evaluate()")
    cbs = _callback_list(self, callbacks, verbose, 1, adapter.steps)
    logs = _run_evaluation(self, adapter, cbs)
    if return_dict:
        return logs
    values = flatten_logs_in_order(self, logs)
    return values[0] if len(values) == 1 else values


def flatten_logs_in_order(model, logs: dict) -> list:
    """Keras 3's `_flatten_metrics_in_order`: the metric names in `model.metrics` order first,
    then the other keys sorted."""
    names = []
    for metric in model.metrics:
        inner = getattr(metric, "metrics", None)
        names += [m.name for m in inner] if inner is not None else [metric.name]
    values = [logs[n] for n in names if n in logs]
    values += [logs[k] for k in sorted(logs) if k not in names]
    return values


def predict(self, x: Any, batch_size: int | None = None, verbose: int | str = "auto",
            steps: int | None = None, callbacks: list | None = None) -> Array | list[Array]:
    """Runs inference in batches (training=False) and concatenates the outputs."""
    verbose = _check_verbose(verbose, "predict")
    steps = _check_steps(steps, "steps", "predict")
    adapter = data_adapters.make_adapter(x, None, batch_size, False, steps, "predict")
    cbs = _callback_list(self, callbacks, verbose, 1, adapter.steps)
    cbs.on_predict_begin()
    outputs: list = []
    for step, data in enumerate(adapter):
        cbs.on_predict_batch_begin(step)
        self._ensure_built(data[0])
        out = self.predict_step(data)
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



# ---------------------------------------------------------------- Keras 3 step hooks
# Attached to `Model`; fit/evaluate/predict call them per batch, so overrides are honoured.
def _overridden(model, name: str) -> bool:
    from kernelnet.models.model import Model

    return getattr(type(model), name) is not getattr(Model, name)


def _outputs(model, y_pred: Any) -> list:
    return list(y_pred) if isinstance(y_pred, (list, tuple)) else [y_pred]


def train_step(self, data: Any) -> dict[str, Any]:
    """One optimisation step on a batch `data` = `(x,)`, `(x, y)` or `(x, y, sample_weight)`:
    forward, `compute_loss`, backward, update; returns the running metric values.

    With the default `compute_loss` the step seeds each output's loss gradient into the tape
    (`Model.compute_gradients`; fused crossentropy, the batch split over CPU threads and
    processes); an overridden `compute_loss` is recorded on the tape and differentiated."""
    from kernelnet import backend
    from kernelnet.autodiff import GradientTape, is_tracked, unwrap

    x, y, sample_weight = data_adapters.unpack_x_y_sample_weight(data)
    backend.keep_freed_memory()
    weights = self.trainable_weights
    if _overridden(self, "compute_loss"):
        with GradientTape() as tape:
            out = self(x, training=True)
            loss = self.compute_loss(x=x, y=y, y_pred=out, sample_weight=sample_weight,
                                     training=True)
        grads = (tape.gradient(loss, weights) if weights and is_tracked(loss)
                 else [None] * len(weights))
        y_pred = [unwrap(o) for o in out] if isinstance(out, (list, tuple)) else unwrap(out)
    else:
        loss, y_pred, grads = self._fit_batch(x, y, sample_weight)
    self.optimizer.apply(grads, weights)
    self._loss_tracker.update_state(compile_utils.as_float(loss),
                                    sample_weight=_batch_size(x))
    return self.compute_metrics(x, y, y_pred, sample_weight)


def test_step(self, data: Any) -> dict[str, Any]:
    """Loss and metrics of a batch in inference mode (Keras 3's `test_step(data)`)."""
    x, y, sample_weight = data_adapters.unpack_x_y_sample_weight(data)
    y_pred = self.inference_forward(x)
    loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                             training=False)
    self._loss_tracker.update_state(compile_utils.as_float(loss),
                                    sample_weight=_batch_size(x))
    return self.compute_metrics(x, y, y_pred, sample_weight)


def predict_step(self, data: Any) -> Any:
    """The model outputs for a batch (Keras 3's `predict_step(data)`)."""
    x, _, _ = data_adapters.unpack_x_y_sample_weight(data)
    return self.inference_forward(x)


def compute_loss(self, x: Any = None, y: Any = None, y_pred: Any = None,
                 sample_weight: Any = None, training: bool = True) -> Any:
    """The total loss: the compiled (weighted) losses of every output plus `self.losses`
    (from `add_loss`). Differentiable: with Tensor `y_pred` inside a GradientTape it is a
    recorded Tensor. Override it for a custom loss computation (Keras 3 signature)."""
    from kernelnet import ops

    total = None
    if self.compiled_loss is not None:
        total = self.compiled_loss(y, y_pred, sample_weight)
    for extra in getattr(self, "losses", None) or []:
        extra = ops.sum(extra)
        total = extra if total is None else ops.add(total, extra)
    if total is None:
        raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`.")
    return total


def compute_metrics(self, x: Any, y: Any, y_pred: Any, sample_weight: Any = None) -> dict:
    """Updates the compiled metrics with a batch; returns `get_metrics_result()`."""
    if self.compiled_metrics is not None:
        self.compiled_metrics.update_state(y, y_pred, sample_weight)
    return self.get_metrics_result()


def get_metrics_result(self) -> dict[str, Any]:
    """`{name: value}` of every metric in `self.metrics` (dict results merged in)."""
    logs: dict[str, Any] = {}
    for metric in self.metrics:
        result = metric.result()
        if isinstance(result, dict):
            logs.update(result)
        else:
            logs[metric.name] = compile_utils.as_float(result)
    return logs


def metrics(self) -> list:
    """Loss tracker, compiled metrics, per-output loss trackers (Keras 3's order)."""
    found = []
    if getattr(self, "_loss_tracker", None) is not None:
        found.append(self._loss_tracker)
    if getattr(self, "compiled_metrics", None) is not None:
        found.append(self.compiled_metrics)
    if getattr(self, "compiled_loss", None) is not None:
        found.extend(self.compiled_loss.metrics)
    return found


def reset_metrics(self) -> None:
    for metric in self.metrics:
        metric.reset_state()


def _batch_size(x: Any) -> int:
    return len(x[0]) if isinstance(x, (list, tuple)) else len(x)
