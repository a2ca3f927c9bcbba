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
from kernelnet.layers.base import Layer, collect_losses
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
        self.compiled_metrics: list = []
        self.stop_training = False
        self.history = None
        self._step_cache = None  # (structure key, samples), see _inference_step
        if inputs is not None or outputs is not None:
            from kernelnet.models import functional

            functional.build_graph(self, inputs, outputs)

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
        outputs = graph.run(self._nodes, self._input_ids, self._output_ids, xs, training)
        return outputs if self._multi_output else outputs[0]

    call._runs_graph = True

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

    # ------------------------------------------------------------ compile / train
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, metrics: Any = None,
                loss_weights: Any = None, **kwargs: Any) -> None:
        """Configures the model for training (optimizer, loss and metric names or objects)."""
        from kernelnet import losses, optimizers
        from kernelnet import metrics as metrics_module

        unsupported = {k: v for k, v in kwargs.items() if v not in (None, False, 1, "auto")}
        if unsupported or loss_weights is not None:
            raise ValueError(
                "compile() got arguments kernelnet does not support: "
                f"{unsupported or {'loss_weights': loss_weights}}."
            )
        if self._multi_output:
            raise NotImplementedError(
                f"Model {self.name!r} has several outputs; kernelnet trains single-output models. "
                "Use predict() for multi-output models."
            )
        self.optimizer = optimizers.get(optimizer)
        self.loss = losses.get(loss) if loss is not None else None
        names = metrics if isinstance(metrics, (list, tuple)) else ([metrics] if metrics else [])
        self.compiled_metrics = [metrics_module.get(m, loss=self.loss) for m in names]
        self._compile_config = {
            "optimizer": optimizers.serialize(self.optimizer),
            "loss": losses.serialize(self.loss) if self.loss is not None else None,
            "metrics": [m if isinstance(m, str) else getattr(m, "name", str(m)) for m in names],
        }

    def _require_compiled(self, method: str) -> None:
        if self.optimizer is None or self.loss is None:
            raise RuntimeError(f"You must call `compile()` before `{method}()`.")

    def train_step(self, x: Array, y: Array) -> dict[str, Any]:
        """One optimisation step on a batch: gradients (`compute_gradients`), then update.

        With several CPU threads the batch is split into shares run concurrently on this same
        model (`parallel.py`). Freed memory is kept for the next step
        (`backend.keep_freed_memory`).
        """
        backend.keep_freed_memory()
        shards = parallel.shard_count(self, len(y), training=True)
        if shards > 1:
            loss, y_pred, grads = parallel.train_step(self, x, y, shards)
        else:
            loss, y_pred, grads = self.compute_gradients(x, y)
        self.optimizer.apply(grads, self.trainable_weights)
        return {"loss": loss, "y_pred": y_pred}

    def compute_gradients(self, x: Any, y: Array) -> tuple[float, Array, list]:
        """The training step's math: record the forward pass on a tape, seed the loss
        gradient at the output, walk back.

        Returns `(loss, y_pred, grads)`, the gradients aligned with `trainable_weights` (None
        where the loss does not depend on a weight). The loss includes `add_loss()` terms.
        """
        weights = self.trainable_weights
        with GradientTape() as tape, collect_losses() as extra:
            out = self(x, training=True)
        loss, target, seed = self.loss_and_seed(y, out)
        targets, seeds = [target], [seed]
        for value in extra:
            loss += float(unwrap(value))
            if is_tracked(value):
                targets.append(value)
                seeds.append(np.ones(np.shape(value), np.asarray(unwrap(value)).dtype))
        if not weights or not any(is_tracked(t) for t in targets):
            return loss, unwrap(out), [None] * len(weights)
        pairs = [(t, s) for t, s in zip(targets, seeds) if is_tracked(t)]
        grads = tape.gradient([t for t, _ in pairs], weights,
                              output_gradients=[s for _, s in pairs])
        return loss, unwrap(out), grads

    def loss_and_seed(self, y: Array, out: Any) -> tuple[float, Any, Array]:
        """`(loss, target, dloss/dtarget)` for the model output `out`: the target is `out`,
        or the logits behind its softmax/sigmoid when the loss fuses with it
        (`fused_logits`)."""
        logits = self.fused_logits(out)
        if logits is not None:
            loss, seed = self.loss.value_and_logits_grad(y, unwrap(out))
            return loss, logits, seed
        loss, seed = self.loss.value_and_grad(y, unwrap(out))
        return loss, out, seed

    def fused_logits(self, out: Any) -> Any:
        """The logits Tensor behind the output's softmax (sigmoid for a binary crossentropy)
        when the loss can take its gradient wrt them, as Keras does with `_keras_logits`: the
        gradient is then `(p - y) / n`, without the activation's Jacobian. None otherwise."""
        logits = getattr(out, "_keras_logits", None)
        if logits is None or not hasattr(self.loss, "value_and_logits_grad") \
                or getattr(self.loss, "from_logits", False):
            return None
        expected = "sigmoid" if "binary" in type(self.loss).__name__.lower() else "softmax"
        return logits if getattr(out, "activation", None) == expected else None

    def train_on_batch(self, x: Any, y: Any) -> float | list[float]:
        self._require_compiled("train_on_batch")
        x = training.as_model_input(self, x)
        self._ensure_built(x)
        result = self.train_step(x, np.asarray(y))
        values = [result["loss"]]
        for metric in self.compiled_metrics:
            metric.reset_state()
            metric.update_state(y, result["y_pred"])
            values.append(metric.result())
        return values[0] if len(values) == 1 else values

    def test_on_batch(self, x: Any, y: Any) -> float | list[float]:
        self._require_compiled("test_on_batch")
        return self.evaluate(x, y, batch_size=len(y), verbose=0)

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
        if self.built:
            return
        if self._subclassed:
            # A subclassed model creates its weights by running: one sample, nothing recorded.
            with stop_recording():
                self(parallel.take(x, 0, 1), training=False)
            self._clear_losses()
            return
        self.build([a.shape for a in x] if isinstance(x, list) else x.shape)
        self.built = True

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

    fit = training.fit
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
