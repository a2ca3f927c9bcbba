"""What `compile()` makes of `loss`, `loss_weights`, `metrics` and `weighted_metrics` for a
model with one or several outputs (Keras 3's `trainers/compile_utils.py`).

Each can be one object (applied to every output), a list in output order, or a dict keyed by
output names (the names of the layers that produce the outputs). Targets and sample weights
are given the same way. History keys are named as Keras names them: `loss` (the weighted total),
`<output>_loss` (each output's unweighted loss, when there are several), and `<metric>` or
`<output>_<metric>`; evaluation adds the `val_` prefix.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from kernelnet import losses as losses_module
from kernelnet import metrics as metrics_module
from kernelnet import ops
from kernelnet.autodiff.tensor import is_tracked


def output_names(model) -> list[str] | None:
    """Names of the layers producing the model's outputs (Keras' `model.output_names`); None
    for a subclassed model, whose outputs are known only once it is called."""
    if getattr(model, "_subclassed", False):
        return None
    outputs = getattr(model, "outputs", None) or []
    names = [getattr(getattr(t, "layer", None), "name", None) for t in outputs]
    if outputs and all(names):
        return names
    layers = getattr(model, "layers", [])
    count = len(getattr(model, "_output_ids", [])) or 1
    if count == 1 and layers:
        return [layers[-1].name]
    return [f"output_{i + 1}" for i in range(count)]


def _per_output(value: Any, names: list[str], arg: str, default: Any = None,
                broadcast: bool = True) -> list:
    """`value` as one entry per output: a dict by name, a list in order, or one object."""
    if isinstance(value, dict):
        unknown = [k for k in value if k not in names]
        if unknown:
            raise ValueError(
                f"Unknown output name(s) {unknown} in `{arg}`. Expected keys among the model's "
                f"output names {names}. Received: {arg} keys {list(value)}."
            )
        return [value.get(name, default) for name in names]
    if isinstance(value, (list, tuple)) and len(names) > 1:
        if len(value) != len(names):
            raise ValueError(
                f"`{arg}` must have one entry per model output ({len(names)}: {names}). "
                f"Received {len(value)} entries: {arg}={value!r}."
            )
        return list(value)
    if isinstance(value, (list, tuple)) and len(value) == 1:
        return list(value)
    if not broadcast and len(names) > 1 and value is not None:
        raise ValueError(
            f"The model has {len(names)} outputs {names}: pass `{arg}` as a list or a dict "
            f"keyed by output name. Received: {type(value).__name__}."
        )
    return [value] * len(names)


def flatten_targets(y: Any, names: list[str], arg: str = "y") -> list:
    """Targets (or sample weights) as a list in output order: from a dict keyed by output name,
    a list, or a single array (one output; for sample weights, every output)."""
    if len(names) == 1 and not isinstance(y, dict):
        return [y[0] if isinstance(y, (list, tuple)) and len(y) == 1 else y]
    if y is not None and not isinstance(y, (dict, list, tuple)) and arg == "y":
        raise ValueError(
            f"The model has {len(names)} outputs {names}: pass `y` as a list of arrays or a "
            f"dict keyed by output name. Received: a single array of shape {np.shape(y)}."
        )
    return _per_output(y, names, arg)


def default_names(y_pred: Any) -> list[str]:
    """Output names of a model that has no output layers to name them (a subclassed model):
    'output' for one output, else 'output_1', 'output_2', ..."""
    count = len(y_pred) if isinstance(y_pred, (list, tuple)) else 1
    return ["output"] if count == 1 else [f"output_{i + 1}" for i in range(count)]


def resolve_losses(loss: Any) -> Any:
    """The `loss` argument of compile() with every entry a `Loss` (same structure)."""
    if isinstance(loss, dict) and "class_name" not in loss:
        return {k: None if v is None else losses_module.get(v) for k, v in loss.items()}
    if isinstance(loss, (list, tuple)):
        return [None if v is None else losses_module.get(v) for v in loss]
    return None if loss is None else losses_module.get(loss)


def serialize_losses(loss: Any) -> Any:
    """`resolve_losses`' result as JSON-ready configs."""
    if isinstance(loss, dict):
        return {k: None if v is None else losses_module.serialize(v) for k, v in loss.items()}
    if isinstance(loss, list):
        return [None if v is None else losses_module.serialize(v) for v in loss]
    return None if loss is None else losses_module.serialize(loss)


class CompileLoss:
    """The compiled loss of a model: one `Loss` (or None) and weight per output.

    Calling it returns the weighted total, and records each output's unweighted loss in a
    `Mean` tracker named `<output>_loss` when more than one output has a loss.
    """

    def __init__(self, loss: Any, loss_weights: Any, names: list[str] | None):
        self._given = (loss, loss_weights)
        self.names: list[str] = []
        self.losses: list = []
        self.weights: list = []
        self.trackers: dict = {}
        self.built = False
        if names is not None:
            self.build(names)

    def build(self, names: list[str]) -> None:
        """Resolves the losses and weights against the output names."""
        loss, loss_weights = self._given
        self.names = list(names)
        self.built = True
        if isinstance(loss, dict) and "class_name" in loss and "class_name" not in names:
            loss = losses_module.get(loss)  # a serialized loss, not one per output
        self.losses = [None if item is None else losses_module.get(item)
                       for item in _per_output(loss, self.names, "loss")]
        if all(item is None for item in self.losses):
            raise ValueError(f"compile() got no loss for any of the outputs {self.names}. "
                             f"Received: loss={loss!r}.")
        if loss_weights is not None and not isinstance(loss_weights, (list, tuple, dict,
                                                                      int, float)):
            raise ValueError(
                "Expected `loss_weights` to be a float (one output), a list or a dict keyed by "
                f"output name. Received: loss_weights={loss_weights!r}."
            )
        weights = _per_output(loss_weights, self.names, "loss_weights", default=1.0,
                              broadcast=len(self.names) == 1)
        self.weights = [None if w is None else float(w) for w in weights]
        counted = [n for n, item in zip(self.names, self.losses) if item is not None]
        self.trackers = ({n: metrics_module.Mean(name=f"{n}_loss") for n in counted}
                         if len(counted) > 1 else {})

    @property
    def metrics(self) -> list:
        return list(self.trackers.values())

    def _weighted(self, i: int, value):
        w = self.weights[i]
        return value if w is None or w == 1.0 else ops.multiply(value, w)

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None):
        """The weighted total loss (a Tensor when `y_pred` holds Tensors); targets, outputs
        and sample weights as one array, a list in output order or a dict by output name."""
        y_true, y_pred, sws = self.flatten(y_true, y_pred, sample_weight)
        total = None
        for i, (loss, yt, yp, sw) in enumerate(zip(self.losses, y_true, y_pred, sws)):
            if loss is None:
                continue
            value = loss(yt, yp, sample_weight=sw)
            self._track(i, value, len(yp))
            weighted = self._weighted(i, value)
            total = weighted if total is None else ops.add(total, weighted)
        return total

    def flatten(self, y_true: Any, y_pred: Any, sample_weight: Any) -> tuple[list, list, list]:
        """Targets, outputs and sample weights as lists in output order (the first outputs
        of a model whose output names are not known before a call name them)."""
        if not self.built:
            self.build(default_names(y_pred))
        return (flatten_targets(y_true, self.names), flatten_targets(y_pred, self.names),
                flatten_targets(sample_weight, self.names, "sample_weight"))

    def value_and_grads(self, y_true: Any, y_pred: Any, sample_weight: Any,
                        fused: list) -> tuple[float, list]:
        """The total and its gradient wrt each output, a list in output order (wrt the logits
        where `fused[i]`: the output's softmax/sigmoid is skipped in backward)."""
        y_true, y_pred, sws = self.flatten(y_true, y_pred, sample_weight)
        total, grads = 0.0, []
        for i, (loss, yt, yp, sw) in enumerate(zip(self.losses, y_true, y_pred, sws)):
            if loss is None:
                grads.append(np.zeros_like(yp))
                continue
            if fused[i]:
                value, grad = loss.value_and_logits_grad(yt, yp, sample_weight=sw)
            else:
                value, grad = loss.value_and_grad(yt, yp, sample_weight=sw)
            self._track(i, value, len(yp))
            w = self.weights[i]
            if w is not None and w != 1.0:
                value, grad = value * w, grad * grad.dtype.type(w)
            total += value
            grads.append(grad)
        return total, grads

    def _track(self, i: int, value, batch: int) -> None:
        tracker = self.trackers.get(self.names[i])
        if tracker is not None:
            tracker.update_state(float(np.asarray(value.value if is_tracked(value) else value)),
                                 sample_weight=batch)


def _metric_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


class CompileMetrics:
    """The compiled metrics (`metrics`, unweighted, and `weighted_metrics`, given the sample
    weights) per output; `result()` names them as Keras does."""

    name = "compile_metrics"

    def __init__(self, metrics: Any, weighted_metrics: Any, names: list[str] | None,
                 compiled_loss: CompileLoss | None = None):
        self._given = (metrics, weighted_metrics)
        self.compiled_loss = compiled_loss
        self.names: list[str] = []
        self.plain: list[list] = []
        self.weighted: list[list] = []
        if names is not None:
            self.build(names)

    def build(self, names: list[str]) -> None:
        """Makes each output's metrics ('accuracy' resolved from that output's loss)."""
        self.names = list(names)
        compiled = self.compiled_loss
        losses = compiled.losses if compiled is not None and compiled.built else [None] * len(
            names)
        self.plain = self._resolve(self._given[0], losses, "metrics")
        self.weighted = self._resolve(self._given[1], losses, "weighted_metrics")

    def _resolve(self, value: Any, losses: list, arg: str) -> list[list]:
        n = len(self.names)
        if n == 1:
            per_output = [[m for item in _metric_list(
                list(value.values()) if isinstance(value, dict) else value)
                for m in _metric_list(item)]]
        elif isinstance(value, dict) or (isinstance(value, (list, tuple)) and len(value) == n):
            per_output = [_metric_list(v) for v in _per_output(value, self.names, arg)]
        else:
            # NOTE: Keras 3 refuses a list whose length is not the number of outputs; Keras 2
            # applied it to every output, which kernelnet does.
            per_output = [_metric_list(value)] * n
        seen: set[int] = set()
        resolved = []
        for items, loss in zip(per_output, losses):
            out = []
            for item in items:
                metric = metrics_module.get(item, loss=loss)
                if id(metric) in seen:
                    metric = copy.deepcopy(metric)  # one state per output
                seen.add(id(metric))
                out.append(metric)
            resolved.append(out)
        return resolved

    @property
    def metrics(self) -> list:
        return [m for group in (self.plain, self.weighted) for ms in group for m in ms]

    def reset_state(self) -> None:
        for metric in self.metrics:
            metric.reset_state()

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None):
        """Updates every metric of every output; arguments as `CompileLoss.__call__` takes."""
        if not self.names:
            compiled = self.compiled_loss
            self.build(compiled.names if compiled is not None and compiled.built
                       else default_names(y_pred))
        if not any(self.plain) and not any(self.weighted):
            return
        y_true = flatten_targets(y_true, self.names)
        y_pred = [np.asarray(p) for p in flatten_targets(y_pred, self.names)]
        sws = flatten_targets(sample_weight, self.names, "sample_weight")
        for ms, yt, yp in zip(self.plain, y_true, y_pred):
            for metric in ms:
                metric.update_state(yt, yp)
        for ms, yt, yp, sw in zip(self.weighted, y_true, y_pred, sws):
            for metric in ms:
                metric.update_state(yt, yp, sample_weight=sw)

    def result(self) -> dict[str, float]:
        prefix = len(self.names) > 1
        results: dict[str, float] = {}
        for weighted, group in ((False, self.plain), (True, self.weighted)):
            for name, ms in zip(self.names, group):
                for metric in ms:
                    key = f"{name}_{metric.name}" if prefix else metric.name
                    if key in results and weighted:
                        base = f"weighted_{metric.name}"
                        key = f"{name}_{base}" if prefix else base
                    unique, count = key, 1
                    while unique in results:
                        unique, count = f"{key}_{count}", count + 1
                    results[unique] = as_float(metric.result())
        return results


def as_float(value: Any) -> Any:
    """A metric result (float, array, Tensor or Variable) as a Python float when scalar."""
    array = np.asarray(value.value if hasattr(value, "value") else value)
    return float(array) if array.size == 1 else array
