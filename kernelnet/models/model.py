"""`Model`: a `Layer` made of layers, with Keras' compile/fit/evaluate/predict.

A model holds its layers as a graph of `Node`s (see `graph.py`). `Model(inputs, outputs)` builds
the graph from symbolic `KerasTensor`s (functional API); `Sequential` builds a chain; a subclass
of `Model` with `__init__` + `call()` is its own graph. Because a model is a layer, it can be
called on tensors or added to another model, e.g. a frozen backbone.

Training records the forward pass on a `GradientTape` and walks it back from the loss gradient
at the output (`compute_gradients`); every kind of model trains this one way.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from kernelnet import backend
from kernelnet._typing import Array, Shape
from kernelnet.autodiff import GradientTape, is_tracked, stop_recording, unwrap
from kernelnet.autodiff.tape import recording
from kernelnet.layers.base import Layer, collect_losses
from kernelnet.models import fusion, graph, parallel, summary, training


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
        self._step_cache = None  # (structure key, samples), see _inference_step
        self._fused_nodes = None  # (structure key, nodes), see _inference_nodes
        if inputs is not None or outputs is not None:
            from kernelnet.models import functional

            functional.build_graph(self, inputs, outputs)
        elif type(self) is Model:
            raise ValueError(
                "Model(inputs, outputs) needs the symbolic input and output tensors, e.g. "
                "`inputs = kernelnet.Input((28, 28, 1)); Model(inputs, layers.Dense(10)(...))`. "
                "Received: inputs=None, outputs=None.")

    # ------------------------------------------------------------ layers and weights
    @property
    def layers(self) -> list[Layer]:
        return list(self._sublayers())

    def _sublayers(self) -> list[Layer]:
        # A graph model's layers, or the layers a subclassed model holds in its attributes.
        return self._layers if self._nodes else super()._sublayers()

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """Returns a layer by name or by index in `layers`."""
        layers = self.layers
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not (
                    -len(layers) <= index < len(layers)):
                raise ValueError(
                    f"Was asked to retrieve layer at index {index!r} but model {self.name!r} "
                    f"only has {len(layers)} layers (valid indices "
                    f"{-len(layers)}..{len(layers) - 1}).")
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        names = [layer.name for layer in layers]
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

    # ------------------------------------------------------------ calling
    def build(self, input_shape: Shape) -> None:
        if not self._nodes and not self._subclassed:
            raise RuntimeError(f"Model {self.name!r} has no layers to build.")
        self.built = True

    def call(self, inputs: Any, training: bool = False) -> Any:
        """Runs the layer graph (subclassed models override this with their own code)."""
        if self._multi_input:
            xs = list(inputs)
        else:
            xs = [inputs[0] if isinstance(inputs, (list, tuple)) and len(inputs) == 1
                  else inputs]
        # Calls that record nothing run the graph with BatchNormalizations folded into the
        # convolutions before them (`fusion.py`).
        nodes = self._nodes if training or recording() else self._inference_nodes()
        outputs = graph.run(nodes, self._input_ids, self._output_ids, xs, training)
        return outputs if self._multi_output else outputs[0]

    def _inference_nodes(self) -> list:
        key = (id(self._nodes), len(self._nodes))
        if self._fused_nodes is None or self._fused_nodes[0] != key:
            self._fused_nodes = (key, fusion.inference_nodes(self._nodes, self._output_ids))
        return self._fused_nodes[1]

    call._runs_graph = True

    @property
    def _tensor_inputs(self) -> bool:
        return self._subclassed

    @property
    def _subclassed(self) -> bool:
        """Whether the model's graph is its own `call()` code (not Sequential/functional)."""
        return not getattr(type(self).call, "_runs_graph", False)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        from kernelnet.models import functional

        if self._subclassed:
            return self._probe_output_shape(input_shape)
        return functional.output_shapes(self, input_shape)

    def compute_macs(self, input_shape: Shape) -> int:
        return sum(row.macs for row in summary.layer_rows(self))

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
        self._warn_probabilities_as_logits()

    def _warn_probabilities_as_logits(self) -> None:
        """Keras' warning for a loss with from_logits=True on an output softmax/sigmoid (the
        probabilities are then taken as logits)."""
        if self.compiled_loss is None or not self.compiled_loss.built or not self._nodes:
            return
        for out_id, loss in zip(self._output_ids, self.compiled_loss.losses):
            act = getattr(_output_layer(self, out_id), "_act", None)
            if act is None or not getattr(loss, "from_logits", False):
                continue
            expected = "sigmoid" if "binary" in type(loss).__name__.lower() else "softmax"
            if act.name == expected:
                import warnings

                warnings.warn(f"`{loss.name}` received `from_logits=True`, but the `output` "
                              f"argument was produced by a {expected.capitalize()} activation "
                              "and thus does not represent logits. Was this intended?",
                              stacklevel=3)

    def _require_compiled(self, method: str) -> None:
        if self.optimizer is None:
            raise RuntimeError(f"You must call `compile()` before `{method}()`.")

    def _fit_batch(self, x: Any, y: Any, sample_weight: Any = None) -> tuple[float, Any, list]:
        """`compute_gradients` with the compiled losses: `(loss, y_pred, grads)`, nothing
        applied. With several CPU threads a single-output batch is split (`parallel.py`)."""
        if self.compiled_loss is None:
            raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`.")
        n = parallel.samples(x)
        shards = 1 if self._multi_output else parallel.shard_count(self, n, training=True)
        if shards > 1 and self.compiled_loss.built:
            ys, _, sws = self.compiled_loss.flatten(y, None, sample_weight)
            return parallel.train_step(self, x, ys[0], shards, sws[0])
        with parallel.unsplit_blas():
            return self.compute_gradients(x, y, sample_weight)

    def compute_gradients(self, x: Any, y: Any, sample_weight: Any = None) -> tuple:
        """The training step's math: record the forward pass on a tape, seed each output's
        loss gradient (at the logits where the loss fuses with the output softmax/sigmoid),
        walk back.

        Returns `(loss, y_pred, grads)`, the gradients aligned with `trainable_weights` (None
        where the loss does not depend on a weight). The loss includes `add_loss()` terms.
        """
        weights = self.trainable_weights
        with GradientTape() as tape, collect_losses() as extra:
            out = self(x, training=True)
        outs = _as_list(self, out)
        loss, targets, seeds = self.loss_and_seeds(y, outs, sample_weight)
        for value in extra:
            loss += float(unwrap(value))
            if is_tracked(value):
                targets.append(value)
                seeds.append(np.ones(np.shape(value), np.asarray(unwrap(value)).dtype))
        y_pred = [unwrap(o) for o in outs]
        y_pred = y_pred if isinstance(out, (list, tuple)) else y_pred[0]
        if not weights or not any(is_tracked(t) for t in targets):
            return loss, y_pred, [None] * len(weights)
        pairs = [(t, s) for t, s in zip(targets, seeds) if is_tracked(t)]
        grads = tape.gradient([t for t, _ in pairs], weights,
                              output_gradients=[s for _, s in pairs])
        return loss, y_pred, grads

    def loss_and_seeds(self, y: Any, outs: list, sample_weight: Any = None) -> tuple:
        """`(loss, targets, seeds)` for the output Tensors `outs`: each output with a loss is
        a target (or the logits behind its softmax/sigmoid, `fused_logits`), seeded with the
        gradient of the weighted total loss."""
        ys, preds, sws = self.compiled_loss.flatten(y, [unwrap(o) for o in outs], sample_weight)
        losses = self.compiled_loss.losses
        logits = [None if item is None else self.fused_logits(out, item)
                  for out, item in zip(outs, losses)]
        loss, grads = self.compiled_loss.value_and_grads(ys, preds, sws,
                                                         [g is not None for g in logits])
        targets, seeds = [], []
        for out, at, item, grad in zip(outs, logits, losses, grads):
            if item is not None:
                targets.append(out if at is None else at)
                seeds.append(grad)
        return loss, targets, seeds

    def fused_logits(self, out: Any, loss: Any) -> Any:
        """The logits Tensor behind an output's softmax (sigmoid for a binary crossentropy)
        when its built-in crossentropy can take the gradient wrt them, as Keras does with
        `_keras_logits`: the gradient is then `(p - y) / n`, without the activation's
        Jacobian. None otherwise."""
        logits = getattr(out, "_keras_logits", None)
        if logits is None or not hasattr(loss, "value_and_logits_grad") \
                or getattr(loss, "from_logits", False) or not loss._own_call():
            return None
        expected = "sigmoid" if "binary" in type(loss).__name__.lower() else "softmax"
        return logits if getattr(out, "activation", None) == expected else None

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
        """`model(x, training=False)` for predict/evaluate, in sub-batches (see
        `inference_chunk_bytes`); nothing is recorded, so no layer keeps anything for a
        backward: memory stays bounded at any batch size. Inference is per-sample, so the result
        equals one forward pass. With several CPU threads the batch is split into shares run
        concurrently. Freed memory is kept for the next sub-batch
        (`backend.keep_freed_memory`)."""
        backend.keep_freed_memory()
        xs = list(x) if self._multi_input else x
        n = parallel.samples(xs)
        # NOTE: shares of MIN_SHARD samples, even below a sub-batch: ResNet50 predict of 32
        # samples split over 2 threads ran 42 img/s against 32 unsplit with 2-thread BLAS
        # (benchmarks/ab.py, 3 rounds).
        shards = parallel.shard_count(self, n, training=False)
        if shards > 1:
            outputs = parallel.inference(self, xs, shards)
        else:
            with parallel.unsplit_blas():
                outputs = self._chunked_inference(xs)
        return outputs if self._multi_output else outputs[0]

    def _chunked_inference(self, x: Array | list[Array]) -> list[Array]:
        """The outputs (always a list) of cache-free forward passes over `_inference_step()`
        samples at a time."""
        n, step = parallel.samples(x), self._inference_step()
        with stop_recording():
            if n <= step:
                out = self(x, training=False)
                return list(out) if self._multi_output else [out]
            outputs = None
            for lo in range(0, n, step):
                part = self(parallel.take(x, lo, lo + step), training=False)
                parts = part if self._multi_output else [part]
                if outputs is None:
                    outputs = [np.empty((n, *p.shape[1:]), dtype=p.dtype) for p in parts]
                for out, p in zip(outputs, parts):
                    out[lo:lo + step] = p
        return outputs

    def _ensure_built(self, x: Array | list[Array]) -> None:
        if not self.built:
            if self._subclassed:
                # A subclassed model creates its weights by running: one sample, nothing
                # recorded.
                with stop_recording():
                    self(parallel.take(x, 0, 1), training=False)
                self._clear_losses()
            else:
                self.build([a.shape for a in x] if isinstance(x, list) else x.shape)
                self.built = True
        self._check_batch(x)

    def _call_ops(self, inputs: Any, training: bool | None, kwargs: dict) -> Any:
        if self.built or not self._subclassed:
            return super()._call_ops(inputs, training, kwargs)
        # The first call of a subclassed model: its input and output structure become known.
        multi = isinstance(inputs, (list, tuple))
        shapes = [np.shape(a) for a in inputs] if multi else [np.shape(inputs)]
        batch = [(None, *s[1:]) for s in shapes]
        self.batch_input_shape = batch if multi else batch[0]
        self._multi_input = multi
        out = super()._call_ops(inputs, training, kwargs)
        self._multi_output = isinstance(out, (list, tuple))
        return out

    def _check_batch(self, x: Array | list[Array]) -> None:
        """Checks a whole batch against the input shape before it is split over threads, so an
        error shows the batch the user passed (not a per-thread share) and the usual fix."""
        expected = getattr(self, "batch_input_shape", None)
        if expected is None:
            return
        arrays = x if isinstance(x, list) else [x]
        shapes = list(expected) if self._multi_input else [expected]
        if len(arrays) != len(shapes):
            got = (f"a list of {len(arrays)} arrays with shapes "
                   f"{[tuple(a.shape) for a in arrays]}" if isinstance(x, list) else
                   f"one array of shape {tuple(x.shape)}")
            raise ValueError(
                f"Model {self.name!r} expects {len(shapes)} input(s) but received {got}. "
                + ("Pass one array, not a list." if len(shapes) == 1 else
                   f"Pass a list of {len(shapes)} arrays, one per input."))
        def fits(got: tuple, want: tuple) -> bool:
            return len(got) == len(want) and all(w is None or w == g for w, g in zip(want, got))

        for i, (a, want) in enumerate(zip(arrays, shapes)):
            got = tuple(int(d) for d in a.shape)
            if fits(got[1:], tuple(want[1:])):
                continue
            hint = ""
            if fits(got, tuple(want[1:])):
                hint = " This is one sample without the batch axis: pass x[None]."
            elif want[-1] == 1 and fits(got[1:], tuple(want[1:-1])):
                hint = " If these are single-channel images, add a channel axis: x[..., None]."
            raise ValueError(f"Input {i} of model {self.name!r} is incompatible: expected shape "
                             f"{tuple(want)}, received {got}.{hint}")

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
        """Prints Keras' layer table plus multiply-adds per sample and activation memory.

        The table is `line_length` characters wide, or as wide as the terminal (at most the
        width every column prefers); cells that do not fit wrap onto more lines. `positions`
        are Keras' column right edges (fractions of the line, or character positions).
        """
        summary.print_summary(self, line_length=line_length, print_fn=print_fn,
                              batch_size=batch_size, show_trainable=show_trainable,
                              positions=positions)

    def export(self, filepath: Any, format: str = "onnx", verbose: bool = True,
               input_signature: Any = None, **kwargs: Any) -> None:
        """Writes the model for inference elsewhere, with Keras 3's signature.

        Only `format="onnx"` exists here (Keras' "tf_saved_model" and "openvino" need
        TensorFlow/OpenVINO); it is `kernelnet.onnx_export.export_onnx(model, filepath,
        opset=13)`, which needs the `onnx` extra. `kwargs` may give `opset`.
        `input_signature` must be None: the batch axis is already dynamic.
        """
        if format != "onnx":
            raise ValueError(f"Unrecognized format for `export()` of model {self.name!r}: "
                             f"expected 'onnx'. Received: format={format!r}. Keras' "
                             "'tf_saved_model' and 'openvino' formats need TensorFlow/OpenVINO.")
        if input_signature is not None:
            raise ValueError("`export()` takes no `input_signature`: the ONNX graph has the "
                             f"model's input shape with a dynamic batch axis. Received: "
                             f"input_signature={input_signature!r}.")
        unknown = set(kwargs) - {"opset"}
        if unknown:
            raise TypeError(f"`export()` got unexpected keyword arguments {sorted(unknown)}; "
                            "format='onnx' takes `opset`.")
        from kernelnet import onnx_export

        onnx_export.export_onnx(self, filepath, **kwargs)
        if verbose:
            print(f"Saved model {self.name!r} to {filepath} (ONNX).")

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


def _output_layer(model: Model, out_id: int) -> Any:
    """The layer computing output `out_id` of a graph model, looking inside nested models."""
    layer = next(n.layer for n in model._nodes if n.out_id == out_id)
    while getattr(layer, "_output_ids", None):
        layer = next(n.layer for n in layer._nodes if n.out_id == layer._output_ids[0])
    return layer


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
