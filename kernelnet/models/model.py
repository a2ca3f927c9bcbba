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
        self.compiled_metrics: list = []
        self.stop_training = False
        self.history = None
        self._fused_act = None
        self._replicas = None  # (structure key, thread replicas), see parallel.replicas
        self._step_cache = None  # (structure key, samples), see _inference_step
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
        return list(self._layers)

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """Returns a layer by name or by index in `layers`."""
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not (
                    -len(self._layers) <= index < len(self._layers)):
                raise ValueError(
                    f"Was asked to retrieve layer at index {index!r} but model {self.name!r} "
                    f"only has {len(self._layers)} layers (valid indices "
                    f"{-len(self._layers)}..{len(self._layers) - 1}).")
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

    def output_layer(self) -> Layer:
        """The layer producing the (single) output, looking inside nested models."""
        layer = next(n.layer for n in self._nodes if n.out_id == self._output_ids[0])
        return layer.output_layer() if isinstance(layer, Model) else layer

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
        self._fused_act = self._find_fused_activation()

    def _find_fused_activation(self) -> activations.ActivationFunction | None:
        """The output softmax/sigmoid whose backward the loss can replace by (p - y) / n."""
        act = getattr(self.output_layer(), "_act", None)
        if act is None or not hasattr(self.loss, "value_and_logits_grad"):
            return None
        expected = "sigmoid" if "binary" in type(self.loss).__name__.lower() else "softmax"
        if getattr(self.loss, "from_logits", False):
            if act.name == expected:  # Keras' warning; the probabilities are taken as logits
                import warnings

                warnings.warn(f"`{self.loss.name}` received `from_logits=True`, but the "
                              f"`output` argument was produced by a {expected.capitalize()} "
                              "activation and thus does not represent logits. Was this "
                              "intended?", stacklevel=3)
            return None
        return act if act.name == expected else None

    def _require_compiled(self, method: str) -> None:
        if self.optimizer is None or self.loss is None:
            raise RuntimeError(f"You must call `compile()` before `{method}()`.")

    def train_step(self, x: Array, y: Array) -> dict[str, Any]:
        """One optimisation step on a batch: forward, loss, backward, update.

        With several CPU threads the batch is split over model replicas (`parallel.py`).
        Freed memory is kept for the next step (`backend.keep_freed_memory`).
        """
        backend.keep_freed_memory()
        shards = parallel.shard_count(self, len(y), training=True)
        if shards > 1:
            loss, y_pred = parallel.train_step(self, x, y, shards)
        else:
            y_pred = self.forward(x, training=True)
            loss, grad = self._loss_and_grad(y, y_pred)
            self._backward_from_loss(grad)
        self.optimizer.apply(self.gradients, self.trainable_weights)
        return {"loss": loss, "y_pred": y_pred}

    def _loss_and_grad(self, y: Array, y_pred: Array) -> tuple[float, Array]:
        """The loss and its gradient wrt the output, or wrt the logits with a fused
        softmax/sigmoid."""
        if self._fused_act is not None:
            return self.loss.value_and_logits_grad(y, y_pred)
        return self.loss.value_and_grad(y, y_pred)

    def _backward_from_loss(self, grad: Array) -> None:
        """Backward from `_loss_and_grad`'s gradient; sets every layer's `gradients`."""
        fused = self._fused_act
        # The data needs no gradient, and with the fused loss `grad` is already wrt the logits.
        self._skip_input_grad = True
        if fused is not None:
            fused.passthrough = True
        try:
            self.backward(grad)
        finally:
            self._skip_input_grad = False
            if fused is not None:
                fused.passthrough = False

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
        self._check_batch(x)

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
