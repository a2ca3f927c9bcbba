"""`Model`: a `Layer` made of layers, with Keras' compile/fit/evaluate/predict.

A model holds its layers as a graph of `Node`s (see `graph.py`). `Model(inputs, outputs)` builds
the graph from symbolic `KerasTensor`s (functional API); `Sequential` builds a chain. Because a
model is a layer, it can be called on tensors or added to another model, e.g. a frozen backbone.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from kernelnet import activations, backend
from kernelnet._typing import Array, Shape
from kernelnet.layers.base import Layer
from kernelnet.models import graph, parallel, summary, training


class Model(Layer):
    """A graph of layers trained together.

    Args:
        inputs: a `KerasTensor` from `kernelnet.Input`, or a list of them.
        outputs: the `KerasTensor`(s) computed from `inputs` by calling layers.
        name: model name. Defaults to "functional", "functional_1", ...

    Example:
        >>> from kernelnet import Input, layers
        >>> inputs = Input(shape=(8,))
        >>> model = Model(inputs, layers.Dense(2)(inputs))
        >>> model.count_params()
        18
    """

    def __init__(self, inputs: Any = None, outputs: Any = None, name: str | None = None,
                 **kwargs: Any):
        if name is None and type(self) is Model:
            from kernelnet.layers.base import unique_name

            name = unique_name("functional")
        super().__init__(name=name, **kwargs)
        self._nodes: list[graph.Node] = []
        self._input_ids: list[int] = []
        self._output_ids: list[int] = []
        self._layers: list[Layer] = []
        self._multi_input = self._multi_output = False
        self.optimizer = self.loss = None
        self.compiled_loss = self.compiled_metrics = self._loss_tracker = None
        self.stop_training = False
        self.history = None
        self._fused_act: tuple = ()  # per output: the activation the loss fuses, or None
        self._replicas = None  # (structure key, thread replicas), see parallel.replicas
        self._step_cache = None  # (structure key, samples), see _inference_step
        if inputs is not None or outputs is not None:
            from kernelnet.models import functional

            functional.build_graph(self, inputs, outputs)

    # ------------------------------------------------------------ layers and weights
    @property
    def layers(self) -> list[Layer]:
        return list(self._layers)

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """Returns a layer by name or by index in `layers`."""
        if index is not None:
            return self.layers[index]
        for layer in self._layers:
            if layer.name == name:
                return layer
        names = [layer.name for layer in self._layers]
        raise ValueError(f"No such layer: {name!r}. Existing layers are: {names}.")

    @property
    def inputs(self) -> list:
        """The symbolic input tensors (functional models, and Sequential once built)."""
        return list(getattr(self, "_symbolic_inputs", []))

    @property
    def outputs(self) -> list:
        return list(getattr(self, "_symbolic_outputs", []))

    @property
    def input_shape(self) -> Shape | list:
        """Batch input shape, e.g. `(None, 28, 28, 1)`."""
        if not self.built:
            raise AttributeError(f"Model {self.name!r} has not been built: no input_shape yet.")
        return self.batch_input_shape

    @property
    def output_shape(self) -> Shape | list:
        """Batch output shape, e.g. `(None, 10)`."""
        return self.compute_output_shape(self.input_shape)

    @Layer.trainable.setter
    def trainable(self, value: bool) -> None:
        # Keras semantics: freezing a model freezes every layer inside it.
        self._trainable = bool(value)
        for layer in getattr(self, "_layers", []):
            layer.trainable = value

    def _collect(self, attr: str) -> list:
        return [item for layer in self._layers for item in getattr(layer, attr)]

    @property
    def weights(self) -> list[Array]:
        return self._collect("weights")

    @property
    def weight_names(self) -> list[str]:
        return self._collect("weight_names")

    @property
    def trainable_weights(self) -> list[Array]:
        return self._collect("trainable_weights") if self.trainable else []

    @property
    def trainable_weight_names(self) -> list[str]:
        return self._collect("trainable_weight_names") if self.trainable else []

    @property
    def non_trainable_weights(self) -> list[Array]:
        if not self.trainable:
            return self.weights
        return self._collect("non_trainable_weights")

    @property
    def gradients(self) -> list[Array]:
        """Gradients of the last `backward`, aligned with `trainable_weights`."""
        return self._collect("gradients") if self.trainable else []

    @gradients.setter
    def gradients(self, value: list) -> None:
        pass  # a model's gradients are its layers'; Layer.__init__ assigns [] here

    # ------------------------------------------------------------ forward / backward
    def build(self, input_shape: Shape) -> None:
        if not self._nodes:
            raise RuntimeError(f"Model {self.name!r} has no layers to build.")
        self.built = True

    def forward(self, x: Array | list[Array], training: bool = False) -> Array | list[Array]:
        inputs = list(x) if self._multi_input else [x]
        outputs = graph.run_forward(self._nodes, self._input_ids, self._output_ids, inputs,
                                    training)
        return outputs if self._multi_output else outputs[0]

    def backward(self, grad: Array | list[Array]) -> Array | list[Array] | None:
        grads = list(grad) if self._multi_output else [grad]
        dxs = graph.run_backward(self._nodes, self._input_ids, self._output_ids, grads,
                                 inputs_need_grad=not self._skip_input_grad)
        return dxs if self._multi_input else dxs[0]

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        from kernelnet.models import functional

        return functional.output_shapes(self, input_shape)

    def compute_macs(self, input_shape: Shape) -> int:
        return sum(row.macs for row in summary.layer_rows(self))

    def output_layer(self, index: int = 0) -> Layer:
        """The layer producing output `index`, looking inside nested models."""
        layer = next(n.layer for n in self._nodes if n.out_id == self._output_ids[index])
        return layer.output_layer() if isinstance(layer, Model) else layer

    @property
    def output_names(self) -> list[str]:
        """Names of the layers producing the outputs: keys for dict losses and targets."""
        from kernelnet.models import compile_utils

        return compile_utils.output_names(self)

    # ------------------------------------------------------------ compile / train
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, metrics: Any = None,
                loss_weights: Any = None, weighted_metrics: Any = None,
                **kwargs: Any) -> None:
        """Configures the model for training.

        `loss`, `loss_weights`, `metrics` and `weighted_metrics` are one object, a list in
        output order or a dict keyed by output name (see `compile_utils`); `metrics` ignore
        sample weights, `weighted_metrics` use them (Keras 3)."""
        from kernelnet import metrics as metrics_module
        from kernelnet import optimizers
        from kernelnet.models import compile_utils

        unsupported = {k: v for k, v in kwargs.items() if v not in (None, False, 1, "auto")}
        if unsupported:
            raise ValueError(f"compile() got arguments kernelnet does not support: {unsupported}.")
        self.optimizer = optimizers.get(optimizer)
        names = self.output_names  # None until called, for a model without output layers
        self.loss = compile_utils.resolve_losses(loss)
        if isinstance(self.loss, list) and len(self.loss) == 1 and names and len(names) == 1:
            self.loss = self.loss[0]
        self.compiled_loss = (compile_utils.CompileLoss(self.loss, loss_weights, names)
                              if loss is not None else None)
        self.compiled_metrics = compile_utils.CompileMetrics(metrics, weighted_metrics, names,
                                                             self.compiled_loss)
        self._loss_tracker = metrics_module.Mean(name="loss")
        self._compile_config = {
            "optimizer": optimizers.serialize(self.optimizer),
            "loss": compile_utils.serialize_losses(self.loss),
            "metrics": _metric_names(metrics),
        }
        if loss_weights is not None:
            self._compile_config["loss_weights"] = loss_weights
        if weighted_metrics is not None:
            self._compile_config["weighted_metrics"] = _metric_names(weighted_metrics)
        per_output = self.compiled_loss.losses if self.compiled_loss is not None else []
        self._fused_act = tuple(self._find_fused_activation(i, item)
                                for i, item in enumerate(per_output))

    def _find_fused_activation(self, index: int, loss) -> activations.ActivationFunction | None:
        """The output softmax/sigmoid whose backward the loss can replace by (p - y) / n."""
        act = getattr(self.output_layer(index), "_act", None)
        if act is None or not hasattr(loss, "value_and_logits_grad"):
            return None
        if getattr(loss, "from_logits", False) or not loss._own_call():
            return None
        expected = "sigmoid" if "binary" in type(loss).__name__.lower() else "softmax"
        return act if act.name == expected else None

    def _require_compiled(self, method: str) -> None:
        if self.optimizer is None:
            raise RuntimeError(f"You must call `compile()` before `{method}()`.")

    def _fit_batch(self, x: Any, y: Any, sample_weight: Any = None) -> tuple[float, Any]:
        """Forward, compiled loss and backward of a batch (gradients set, not applied);
        returns `(loss, y_pred)`. With several CPU threads a single-output batch is split
        over model replicas (`parallel.py`)."""
        if self.compiled_loss is None or getattr(self, "losses", None):
            raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`.")
        ys, _, sws = self.compiled_loss.flatten(y, None, sample_weight)
        n = parallel.samples(x)
        shards = 1 if self._multi_output else parallel.shard_count(self, n, training=True)
        if shards > 1:
            return parallel.train_step(self, x, ys[0], shards, sws[0])
        y_pred = self.forward(x, training=True)
        loss, grad = self._loss_and_grad(ys, _as_list(self, y_pred), sws)
        self._backward_from_loss(grad if self._multi_output else grad[0])
        return loss, y_pred

    def _loss_and_grad(self, y: Any, y_pred: Any, sample_weight: Any = None) -> tuple:
        """The loss and its gradient wrt each output (lists in output order), or wrt the
        logits where an output softmax/sigmoid is fused; single arrays for one output."""
        single = not isinstance(y_pred, list)
        if single:
            y, y_pred, sample_weight = [y], [y_pred], [sample_weight]
        fused = [act is not None for act in self._fused_act]
        loss, grads = self.compiled_loss.value_and_grads(y, y_pred, sample_weight, fused)
        return loss, (grads[0] if single else grads)

    def _backward_from_loss(self, grad: Any, fused: bool = True) -> None:
        """Backward from `_loss_and_grad`'s gradient; sets every layer's `gradients`."""
        acts = [act for act in self._fused_act if act is not None] if fused else []
        # The data needs no gradient, and with the fused loss `grad` is already wrt the logits.
        self._skip_input_grad = True
        for act in acts:
            act.passthrough = True
        try:
            self.backward(grad)
        finally:
            self._skip_input_grad = False
            for act in acts:
                act.passthrough = False

    def train_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None,
                       class_weight: Any = None, return_dict: bool = False) -> Any:
        """One `train_step` on one batch; returns the loss (and metrics) of that batch."""
        from kernelnet.models import data_adapters

        self._require_compiled("train_on_batch")
        x = training.as_model_input(self, x)
        self._ensure_built(x)
        y = data_adapters.map_structure(np.asarray, y)
        if class_weight is not None:
            sample_weight = data_adapters.class_weight_to_sample_weights(y, class_weight)
        self.reset_metrics()
        data = data_adapters.pack_x_y_sample_weight(x, y, sample_weight)
        logs = training._as_logs(self.train_step(data))
        if return_dict:
            return logs
        values = training.flatten_logs_in_order(self, logs)
        return values[0] if len(values) == 1 else values

    def test_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None,
                      return_dict: bool = False) -> Any:
        self._require_compiled("test_on_batch")
        n = parallel.samples(training.as_model_input(self, x))
        return self.evaluate(x, y, batch_size=max(n, 1), verbose=0, sample_weight=sample_weight,
                             return_dict=return_dict)

    def predict_on_batch(self, x: Any) -> Array:
        x = training.as_model_input(self, x)
        self._ensure_built(x)
        return self.inference_forward(x)

    # Inference sub-batches hold about `inference_chunk_bytes` of layer outputs, and at least
    # `inference_chunk` samples. NOTE: measured at batch 1000: sub-batches run 1.3-2x faster
    # than one pass over the whole batch (activations stay in cache); with two threads, 32
    # samples suit the MNIST and CIFAR-10 CNNs (0.3-0.4 MB per sample; 64: MNIST -11%), while
    # LeNet-5 (34 KB per sample) gains 20% from 128 over 32 (fewer NumPy calls per sample).
    inference_chunk = 32
    inference_chunk_bytes = 4 * 2**20

    def _inference_step(self) -> int:
        """Samples per inference sub-batch for this model's layer output sizes (cached)."""
        key = (id(self._nodes), len(self._nodes), str(self.batch_input_shape), self.dtype,
               self.inference_chunk, self.inference_chunk_bytes)
        if self._step_cache is None or self._step_cache[0] != key:
            per_sample = max(summary.activation_bytes(self), 1)
            self._step_cache = (key, max(self.inference_chunk,
                                         self.inference_chunk_bytes // per_sample))
        return self._step_cache[1]

    def inference_forward(self, x: Array | list[Array]) -> Array | list[Array]:
        """`forward(x, training=False)` for predict/evaluate, in sub-batches (see
        `inference_chunk_bytes`) with no backward caches kept: memory stays bounded at any
        batch size. Inference is per-sample, so the result equals one forward pass. With
        several CPU threads the batch is split over model replicas (`parallel.py`). Freed
        memory is kept for the next sub-batch (`backend.keep_freed_memory`)."""
        backend.keep_freed_memory()
        xs = list(x) if self._multi_input else x
        n = parallel.samples(xs)
        shards = min(parallel.shard_count(self, n, training=False), -(-n // self.inference_chunk))
        if shards > 1:
            outputs = parallel.inference(self, xs, shards)
        else:
            outputs = self._chunked_inference(xs)
        return outputs if self._multi_output else outputs[0]

    def _chunked_inference(self, x: Array | list[Array]) -> list[Array]:
        """The outputs (always a list) of cache-free forward passes over `_inference_step()`
        samples at a time."""
        n, step = parallel.samples(x), self._inference_step()
        with graph.cache_free(self):
            if n <= step:
                out = self.forward(x, training=False)
                return list(out) if self._multi_output else [out]
            outputs = None
            for lo in range(0, n, step):
                part = self.forward(parallel.take(x, lo, lo + step), training=False)
                parts = part if self._multi_output else [part]
                if outputs is None:
                    outputs = [np.empty((n, *p.shape[1:]), dtype=p.dtype) for p in parts]
                for out, p in zip(outputs, parts):
                    out[lo:lo + step] = p
        return outputs

    def _ensure_built(self, x: Array | list[Array]) -> None:
        if not self.built:
            self.build([a.shape for a in x] if isinstance(x, list) else x.shape)
            self.built = True

    fit = training.fit
    train_step = training.train_step
    test_step = training.test_step
    predict_step = training.predict_step
    compute_loss = training.compute_loss
    compute_metrics = training.compute_metrics
    get_metrics_result = training.get_metrics_result
    reset_metrics = training.reset_metrics
    metrics = property(training.metrics)

    @property
    def metrics_names(self) -> list[str]:
        return [m.name for m in self.metrics]

    evaluate = training.evaluate
    predict = training.predict
    fit_generator = training.fit_generator
    evaluate_generator = training.evaluate_generator
    predict_generator = training.predict_generator

    # ------------------------------------------------------------ reporting and saving
    def summary(self, line_length: int | None = None, positions: Any = None,
                print_fn: Any = None, expand_nested: bool = False, show_trainable: bool = False,
                batch_size: int = 32) -> None:
        """Prints Keras' layer table plus multiply-adds per sample and activation memory."""
        summary.print_summary(self, line_length=line_length, print_fn=print_fn,
                              batch_size=batch_size, show_trainable=show_trainable)

    def count_params(self) -> int:
        if not self.built:
            raise RuntimeError(
                f"You tried to call `count_params` on model {self.name!r}, but the model has not "
                "been built. Build it first with `build(input_shape)` or by calling it on data."
            )
        return int(sum(w.size for w in self.weights))

    def save(self, filepath: Any, overwrite: bool = True, include_optimizer: bool = True) -> None:
        """Saves architecture, weights and (optionally) optimizer state to one zip file."""
        from kernelnet import saving

        saving.save_model(self, filepath, overwrite=overwrite,
                          include_optimizer=include_optimizer)

    def save_weights(self, filepath: Any, overwrite: bool = True) -> None:
        from kernelnet import saving

        saving.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath: Any, skip_mismatch: bool = False) -> None:
        from kernelnet import saving

        saving.load_weights(self, filepath, skip_mismatch=skip_mismatch)

    def get_config(self) -> dict:
        from kernelnet.models import functional

        return functional.get_config(self)

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> Model:
        from kernelnet.models import functional

        return functional.from_config(config, custom_objects)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}, layers={len(self._layers)}>"

    def __deepcopy__(self, memo: dict) -> Model:
        # Defined because __getstate__ below refuses pickling; copying in memory is safe.
        clone = object.__new__(type(self))
        memo[id(self)] = clone
        clone.__dict__.update(copy.deepcopy(self.__dict__, memo))
        return clone

    def __getstate__(self):
        raise TypeError(
            "kernelnet models are not picklable by design (loading a pickle can execute code). "
            "Use model.save(path) and kernelnet.models.load_model(path)."
        )


def _as_list(model: Model, y_pred: Any) -> list:
    return list(y_pred) if isinstance(y_pred, (list, tuple)) else [y_pred]


def _metric_names(metrics: Any) -> Any:
    def one(m):
        if isinstance(m, (list, tuple)):
            return [one(v) for v in m]
        if isinstance(m, dict):
            return {k: one(v) for k, v in m.items()}
        return m if isinstance(m, str) or m is None else getattr(m, "name", str(m))

    if metrics is None:
        return []
    return one(metrics) if isinstance(metrics, (list, tuple, dict)) else [one(metrics)]
