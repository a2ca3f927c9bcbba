"""`Layer`: the base class of every layer (and of `Model`).

A layer holds its weights (`Variable`s, updated in place by optimizers) and hyper-parameters,
nothing of any one call, so it can be called several times per step and from several threads.
It builds its weights from the first input shape it sees. There are two ways to write one:

- **Fused** (every built-in layer): `forward(ctx, x, training) -> y` keeps what backward needs on
  `ctx`, a context made for that call (None when no backward follows), and
  `backward(ctx, grad) -> (dx, weight_grads)` returns dL/dx (None where
  `ctx.needs_input_grad` says no) and the gradients of `trainable_weights`, in order. Under a
  recording `GradientTape` the call is one node of the tape.
- **From ops** (Keras 3 style): `build(input_shape)` with `add_weight`, and `call(inputs)` made
  of differentiable `kernelnet.ops`; the ops record themselves.

Calling a layer on a `KerasTensor` (from `kernelnet.Input`) records a graph node instead of
computing, which is how functional `Model(inputs, outputs)` graphs are built.
"""

from __future__ import annotations

import functools
import inspect
import re
import threading
from collections import defaultdict
from contextlib import contextmanager
from typing import Any

import numpy as np

from kernelnet import backend
from kernelnet._typing import Array, Shape
from kernelnet.autodiff import tape
from kernelnet.autodiff.tensor import Tensor, Variable, is_tracked, unwrap
from kernelnet.utils import validation

_NAME_COUNTS: defaultdict[str, int] = defaultdict(int)


def _snake_case(name: str) -> str:
    # Conv2D -> conv2d, MaxPooling2D -> max_pooling2d, BatchNormalization -> batch_normalization
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def unique_name(base: str) -> str:
    """`base`, then `base_1`, `base_2`, ... as Keras names layers."""
    count = _NAME_COUNTS[base]
    _NAME_COUNTS[base] += 1
    return base if count == 0 else f"{base}_{count}"


def reset_names() -> None:
    """Restarts automatic layer numbering (Keras' `clear_session`)."""
    _NAME_COUNTS.clear()


class KerasTensor:
    """A symbolic tensor: a shape `(None, ...)` plus the layer call that produced it."""

    def __init__(self, shape: Shape, layer: Layer | None = None, inputs: list | None = None,
                 dtype: str | None = None, name: str | None = None):
        self.shape = tuple(shape)
        self.layer = layer          # the layer whose call produced this tensor
        self.inputs = inputs or []  # the KerasTensors that call consumed
        self.dtype = dtype or backend.floatx()
        self.name = name
        self.multi = False          # the call took a list of inputs

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        origin = f", from={self.layer.name!r}" if self.layer is not None else ""
        return f"<KerasTensor shape={self.shape}{origin}>"


_LAYER_KWARGS = ("name", "trainable", "dtype", "input_shape", "batch_input_shape", "input_dim",
                 "batch_size")
_LOGIT_ACTIVATIONS = ("softmax", "sigmoid")
_CALLS = threading.local()  # per thread: depth of nested layer calls, collected losses


class LayerContext(tape.Context):
    """The per-call context of a fused layer (see `tape.Context`).

    Attributes:
        needs_input_grad: one bool per input: whether backward must return dL/dx for it.
        training: the call's `training` flag.
        linear_output: set by `Layer.__call__` when it applies the layer's softmax/sigmoid
            activation itself, as a separate tape node, so that a crossentropy can seed the
            gradient at the logits (`Tensor._keras_logits`); forward then returns the logits.
    """

    def __init__(self, needs_input_grad=(True,), training: bool = False,
                 linear_output: bool = False):
        super().__init__(needs_input_grad, training)
        self.linear_output = linear_output


def context(inputs: Any = None, training: bool = False) -> LayerContext:
    """A context for running a fused layer by hand: every input needs its gradient.

    Example:
        >>> from kernelnet.layers import Dense
        >>> layer, x = Dense(2), np.ones((3, 4))
        >>> layer.build(x.shape)
        >>> ctx = context(x, training=True)
        >>> y = layer.forward(ctx, x, training=True)
        >>> dx, (dkernel, dbias) = layer.backward(ctx, np.ones_like(y))
        >>> dx.shape, dkernel.shape, dbias.shape
        ((3, 4), (4, 2), (2,))
    """
    n = len(inputs) if isinstance(inputs, (list, tuple)) else 1
    return LayerContext((True,) * n, training)


class _Activated(Tensor):
    """The output of a softmax/sigmoid applied by `Layer.__call__`, which remembers its logits
    (`_keras_logits`) and the activation's name, so a crossentropy can fuse with it."""

    __slots__ = ("activation",)


def _activation_backward(ctx: tape.Context, grad: Array) -> Array:
    return ctx.act.backward(grad, ctx.z, ctx.y)


@functools.cache
def _call_arguments(cls: type) -> frozenset:
    """Names of the keyword arguments `cls.call` accepts (`training`, `mask`, ...)."""
    params = inspect.signature(cls.call).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return frozenset({"training", "mask", "*"})
    return frozenset(p.name for p in params)


def _check_call_output(layer: Layer, out: Any) -> None:
    for value in tape._flatten(out):
        if not isinstance(value, (Tensor, Variable, np.ndarray, np.number)):
            raise TypeError(
                f"{validation.describe(layer)}: call() must return a tensor (or a list, tuple or "
                f"dict of tensors). It returned a value of type {type(value).__name__}: "
                f"{str(value)[:80]!r}. Build the result with kernelnet.ops, and return it."
            )


def _unwrap_all(value: Any) -> Any:
    """Tensors in a (nested) output replaced by their arrays."""
    if isinstance(value, dict):
        return {k: _unwrap_all(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrap_all(v) for v in value)
    return unwrap(value)


@contextmanager
def collect_losses():
    """Within the block, `add_loss()` calls of this thread are also appended to the yielded
    list (a training step's own losses, whatever other threads do)."""
    outer = getattr(_CALLS, "losses", None)
    _CALLS.losses = collected = []
    try:
        yield collected
    finally:
        _CALLS.losses = outer


class Layer:
    """Base class for all layers: holds weights, and runs on NHWC arrays or Tensors.

    Subclasses either override `build`, `forward`, `backward` (a fused layer with a hand-written
    gradient), or `build` and `call` (a layer made of differentiable ops); plus
    `compute_output_shape` and `get_config`.

    Args:
        name: unique name; generated from the class name when None ("conv2d", "conv2d_1", ...).
        trainable: whether the weights are updated by training.
        dtype: float dtype of the weights and computation. Defaults to `backend.floatx()`.
        input_shape: shape of one sample (no batch axis), for the first layer of a Sequential.
    """

    # True for a layer whose training forward mixes samples of the batch (batch statistics):
    # models then train on the whole batch in one thread (see kernelnet.models.parallel).
    batch_dependent = False
    # Whether the class runs `forward`/`backward` (fused) rather than `call`; see
    # __init_subclass__.
    _fused = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for klass in cls.__mro__:
            if klass is Layer:
                break
            if "call" in vars(klass):
                cls._fused = False
                break
            if "forward" in vars(klass):
                cls._fused = True
                break

    def __init__(self, *, name: str | None = None, trainable: bool = True,
                 dtype: str | None = None, input_shape: Shape | None = None,
                 batch_input_shape: Shape | None = None, input_dim: int | None = None,
                 batch_size: int | None = None, **kwargs: Any):
        if kwargs:
            raise TypeError(
                f"Unrecognized keyword arguments passed to {type(self).__name__}: {kwargs}."
            )
        self.name = name or unique_name(_snake_case(type(self).__name__))
        self._trainable = bool(trainable)
        self.dtype = str(np.dtype(dtype)) if dtype else backend.floatx()
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        if batch_input_shape is not None:
            self.batch_input_shape = tuple(batch_input_shape)
        elif input_shape is not None:
            if isinstance(input_shape, int):
                input_shape = (input_shape,)
            self.batch_input_shape = (batch_size, *input_shape)
        else:
            self.batch_input_shape = None
        self.built = False
        self._weights: list[Variable] = []
        self._losses: list = []
        self._inbound: list[KerasTensor] = []  # outputs of this layer's symbolic calls

    # ----------------------------------------------------------------- weights
    def add_weight(self, shape: Shape | None = None, initializer: Any = None,
                   dtype: str | None = None, trainable: bool = True, name: str | None = None,
                   regularizer: Any = None, constraint: Any = None, **kwargs: Any) -> Variable:
        """Creates a weight `Variable` (Keras 3 signature) and registers it with the layer.

        Args:
            shape: tuple of ints; None or () for a scalar.
            initializer: name, initializer object or callable. Defaults to
                `"glorot_uniform"` for float weights, `"zeros"` otherwise.
            dtype: defaults to the layer's dtype.
            trainable: whether optimizers update it (and tapes watch it).
            name: the weight's name (`"kernel"`, ...).
        """
        if isinstance(shape, str):
            raise TypeError(
                f"add_weight() of {validation.describe(self)} takes the shape first (Keras 3 "
                f"signature). Received shape={shape!r}; pass the name as name={shape!r}."
            )
        for arg, value in (("regularizer", regularizer), ("constraint", constraint)):
            if value is not None:
                raise ValueError(
                    f"add_weight() of {validation.describe(self)}: `{arg}` is not supported by "
                    f"kernelnet. Received: {arg}={value!r}. Add a penalty with add_loss() instead."
                )
        unknown = set(kwargs) - {"autocast", "aggregation", "overwrite_with_gradient",
                                 "synchronization", "use_resource", "experimental_autocast"}
        if unknown:
            raise TypeError(f"add_weight() got unexpected keyword arguments {sorted(unknown)}.")
        dtype = str(np.dtype(dtype)) if dtype else self.dtype
        if initializer is None:
            initializer = "glorot_uniform" if np.dtype(dtype).kind == "f" else "zeros"
        name = name or f"variable_{len(self._weights)}"
        var = Variable(initializer, shape=tuple(shape or ()), dtype=dtype,
                       trainable=trainable, name=name)
        var.path = f"{self.name}/{name}"
        self._weights.append(var)
        return var

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        # Keras semantics: freezing a layer freezes every layer inside it.
        self._trainable = bool(value)
        for layer in self._sublayers():
            layer.trainable = value

    def _sublayers(self) -> list[Layer]:
        """Layers held in this layer's attributes (directly, or in lists/tuples/dicts), in
        assignment order: the layers a custom layer or subclassed model is made of."""
        found, seen = [], set()
        for value in vars(self).values():
            items = (value.values() if isinstance(value, dict)
                     else value if isinstance(value, (list, tuple)) else (value,))
            for item in items:
                if isinstance(item, Layer) and id(item) not in seen:
                    seen.add(id(item))
                    found.append(item)
        return found

    def _flatten_layers(self) -> list[Layer]:
        """This layer and every layer inside it, each once."""
        found, seen, todo = [], set(), [self]
        while todo:
            layer = todo.pop(0)
            if id(layer) not in seen:
                seen.add(id(layer))
                found.append(layer)
                todo.extend(layer._sublayers())
        return found

    def _own_trainable(self) -> list[Variable]:
        return [w for w in self._weights if w.trainable] if self._trainable else []

    @property
    def weights(self) -> list[Variable]:
        """All weights in creation order (the order of `get_weights()`): this layer's own,
        then those of the layers inside it."""
        return [*self._weights, *(w for layer in self._sublayers() for w in layer.weights)]

    @property
    def weight_names(self) -> list[str]:
        """`"{layer}/{weight}"` for each of `weights`."""
        return [*(f"{self.name}/{w.name}" for w in self._weights),
                *(n for layer in self._sublayers() for n in layer.weight_names)]

    @property
    def trainable_weights(self) -> list[Variable]:
        if not self.trainable:
            return []
        return [*self._own_trainable(),
                *(w for layer in self._sublayers() for w in layer.trainable_weights)]

    @property
    def non_trainable_weights(self) -> list[Variable]:
        if not self.trainable:
            return self.weights
        return [*(w for w in self._weights if not w.trainable),
                *(w for layer in self._sublayers() for w in layer.non_trainable_weights)]

    @property
    def trainable_weight_names(self) -> list[str]:
        if not self.trainable:
            return []
        return [*(f"{self.name}/{w.name}" for w in self._weights if w.trainable),
                *(n for layer in self._sublayers() for n in layer.trainable_weight_names)]

    # Keras 3 names
    variables = weights
    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    def get_weights(self) -> list[Array]:
        """Copies of the weights, in Keras order."""
        return [w.value.copy() for w in self.weights]

    def set_weights(self, weights: list) -> None:
        """Copies `weights` into this layer's arrays in place, checking count and shapes."""
        own = self.weights
        names = self.weight_names
        if len(weights) != len(own):
            raise ValueError(
                f"{validation.describe(self)} expects {len(own)} weight arrays "
                f"({[n.split('/', 1)[1] for n in names]}), but set_weights() received "
                f"{len(weights)}."
            )
        for name, target, value in zip(names, own, weights):
            value = np.asarray(value)
            if value.shape != target.shape:
                raise ValueError(
                    f"Shape mismatch when loading weights into layer {self.name!r} "
                    f"({type(self).__name__}), weight {name.split('/', 1)[1]!r}: the file has "
                    f"{tuple(value.shape)} but the layer has {tuple(target.shape)}. "
                    "Was the model built with a different input_shape?"
                )
            target.value[...] = value

    def count_params(self) -> int:
        return int(sum(w.size for w in self.weights))

    # ----------------------------------------------------------------- losses
    def add_loss(self, loss: Any) -> None:
        """Adds a scalar (a Tensor made of ops, to be differentiated) to the training loss.

        Call it from `call()`; `layer.losses` holds the losses of the latest outermost call.
        """
        value = np.asarray(unwrap(loss))
        if value.size != 1:
            raise ValueError(
                f"add_loss() of {validation.describe(self)} expects a scalar. Received a value "
                f"of shape {value.shape}; reduce it first (ops.sum / ops.mean)."
            )
        self._losses.append(loss)
        collected = getattr(_CALLS, "losses", None)
        if collected is not None:
            collected.append(loss)

    @property
    def losses(self) -> list:
        """Losses added by `add_loss()` in this layer and the layers inside it."""
        return [loss for layer in self._flatten_layers() for loss in layer._losses]

    def _clear_losses(self) -> None:
        for layer in self._flatten_layers():
            layer._losses = []

    # ----------------------------------------------------------------- symbolic graph
    @property
    def output(self) -> KerasTensor:
        """The symbolic output of this layer's (single) call in a functional graph."""
        return self._single_inbound("output")

    @property
    def input(self) -> Any:
        """The symbolic input(s) of this layer's (single) call in a functional graph."""
        t = self._single_inbound("input")
        return t.inputs[0] if len(t.inputs) == 1 and not t.multi else list(t.inputs)

    def _single_inbound(self, what: str) -> KerasTensor:
        if not self._inbound:
            raise AttributeError(
                f"Layer {self.name!r} has never been called on symbolic inputs and thus has no "
                f"defined {what}. Use it in a Sequential model with an input shape, or call it "
                "on kernelnet.Input(...) tensors."
            )
        if len(self._inbound) > 1:
            raise AttributeError(
                f"Layer {self.name!r} has been called {len(self._inbound)} times, so its {what} "
                "is ambiguous. Use the tensor each call returned instead."
            )
        return self._inbound[0]

    # ----------------------------------------------------------------- calling
    def __call__(self, inputs: Any, training: bool | None = None, **kwargs: Any) -> Any:
        if _is_symbolic(inputs):
            return self._call_symbolic(inputs)
        if self._fused:
            if kwargs:
                raise TypeError(f"{validation.describe(self)} got unexpected call arguments "
                                f"{sorted(kwargs)}; it takes `inputs` and `training`.")
            out = self._call_fused(inputs, bool(training))
        else:
            out = self._call_ops(inputs, training, kwargs)
        shapes = getattr(_CALLS, "shapes", None)
        if shapes is not None and id(self) not in shapes:
            shapes[id(self)] = (_shapes(inputs), _shapes(out))
        return out

    def _as_input(self, x: Any) -> Any:
        """A float array of the layer's dtype, or a Tensor as given."""
        if isinstance(x, (Tensor, Variable)):
            return x
        return validation.as_float_array(x, self.dtype, self)

    def _call_fused(self, inputs: Any, training: bool) -> Any:
        multi = isinstance(inputs, (list, tuple))
        xs = [self._as_input(x) for x in inputs] if multi else [self._as_input(inputs)]
        values = [unwrap(x) for x in xs]
        if not self.built:
            self._maybe_build([v.shape for v in values] if multi else values[0].shape)
        arg = values if multi else values[0]
        tracked = any(is_tracked(x) for x in xs)
        if tape.recording():
            needs = [tape.requires_grad(x) for x in xs]
            weights = self._own_trainable()
            if any(needs) or weights:
                return self._record(xs, arg, needs, weights, training)
        y = self.forward(None, arg, training=training)
        return Tensor(y) if tracked else y

    def _record(self, xs: list, arg: Any, needs: list, weights: list, training: bool) -> Tensor:
        """Runs forward with a context and records the call as one tape node (two with an
        output softmax/sigmoid, which then becomes its own node after the logits)."""
        act = getattr(self, "_act", None)
        split = act is not None and act.name in _LOGIT_ACTIVATIONS
        ctx = LayerContext(needs, training, linear_output=split)
        ctx.multi = isinstance(arg, list)
        out = Tensor(self.forward(ctx, arg, training=training))
        tape.record(self._tape_backward, ctx, [*xs, *weights], [out], self.name)
        if not split:
            return out
        act_ctx = tape.Context((True,), training)
        act_ctx.act, act_ctx.z = act, out.value
        y = act_ctx.y = act.forward(out.value)
        activated = _Activated(y)
        activated.activation, activated._keras_logits = act.name, out
        tape.record(_activation_backward, act_ctx, [out], [activated], act.name)
        return activated

    def _tape_backward(self, ctx: LayerContext, grad: Array) -> tuple:
        dx, weight_grads = self.backward(ctx, grad)
        return (*(dx if ctx.multi else (dx,)), *weight_grads)

    def _call_ops(self, inputs: Any, training: bool | None, kwargs: dict) -> Any:
        """Runs `call()` (a layer made of ops, or a model); the ops record themselves."""
        outermost = not getattr(_CALLS, "depth", 0)
        if outermost:
            self._clear_losses()
        _CALLS.depth = getattr(_CALLS, "depth", 0) + 1
        try:
            if isinstance(inputs, (list, tuple)):
                xs = type(inputs)(self._as_input(x) for x in inputs)
                tracked = any(is_tracked(x) for x in xs)
                shape = [tuple(x.shape) for x in xs]
            elif isinstance(inputs, dict):
                xs, tracked, shape = inputs, True, None
            else:
                xs = self._as_input(inputs)
                tracked, shape = is_tracked(xs), tuple(xs.shape)
            if not self.built:
                self._maybe_build(shape)
            accepted = _call_arguments(type(self))
            if training is not None and ("training" in accepted):
                kwargs = {**kwargs, "training": bool(training)}
            out = self.call(xs, **kwargs)
        finally:
            _CALLS.depth -= 1
        _check_call_output(self, out)
        if not tracked and not tape.recording():
            return _unwrap_all(out)
        return out

    def call(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        """The layer's computation from differentiable ops (override it, or forward/backward)."""
        raise NotImplementedError(
            f"{type(self).__name__} implements neither call() nor forward()/backward()."
        )

    def _maybe_build(self, input_shape: Any) -> None:
        if not self.built:
            self.build(input_shape)
            self.built = True

    def _call_symbolic(self, inputs: Any) -> KerasTensor:
        multi = isinstance(inputs, (list, tuple))
        flat = list(inputs) if multi else [inputs]
        shapes = [t.shape for t in flat]
        input_shape = shapes if multi else shapes[0]
        self._maybe_build(input_shape)
        out_shape = self.compute_output_shape(input_shape)
        out = KerasTensor(out_shape, layer=self, inputs=flat, dtype=self.dtype)
        out.multi = multi
        self._inbound.append(out)
        return out

    # ----------------------------------------------------- subclass interface
    def build(self, input_shape: Shape) -> None:
        """Creates the weights for inputs of `input_shape` (batch axis included)."""
        self.built = True

    def forward(self, ctx: LayerContext | None, x: Array, training: bool = False) -> Array:
        """Computes the output for `x`, keeping on `ctx` what `backward` needs (`ctx` is None
        when no backward follows: keep nothing)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement forward().")

    def backward(self, ctx: LayerContext, grad: Array) -> tuple[Any, list[Array]]:
        """Returns `(dL/dx, [dL/dw for w in trainable_weights])` for the upstream `grad`
        (dL/dy); dL/dx is None where `ctx.needs_input_grad` is False."""
        raise NotImplementedError(f"{type(self).__name__} does not implement backward().")

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if self._fused:
            return tuple(input_shape)
        return self._probe_output_shape(input_shape)

    def _probe_output_shape(self, input_shape: Any) -> Any:
        """The output shape of `call()`, found by running it on zeros (unknown sizes as 1)."""
        def zeros(shape):
            return np.zeros([1 if d is None else d for d in shape], dtype=self.dtype)

        multi = isinstance(input_shape, list)
        probe = [zeros(s) for s in input_shape] if multi else zeros(input_shape)
        with tape.stop_recording():
            out = self._call_ops(probe, False, {})
        self._clear_losses()
        batch = input_shape[0][0] if multi else input_shape[0]
        if isinstance(out, (list, tuple)):
            return [(batch, *np.shape(o)[1:]) for o in out]
        return (batch, *np.shape(out)[1:])

    def compute_macs(self, input_shape: Shape) -> int:
        """Multiply-adds for one sample of `input_shape` (0 for layers without products)."""
        return 0

    def get_config(self) -> dict:
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
        if self.batch_input_shape is not None:
            config["batch_input_shape"] = list(self.batch_input_shape)
        return config

    @classmethod
    def from_config(cls, config: dict) -> Layer:
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}, built={self.built}>"


def _shapes(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [tuple(np.shape(v)) for v in value]
    return tuple(np.shape(value))


@contextmanager
def record_shapes():
    """Within the block, the first call of each layer in this thread records
    `{id(layer): (input shape, output shape)}` in the yielded dict (for summaries of
    subclassed models, whose graph is code)."""
    outer = getattr(_CALLS, "shapes", None)
    _CALLS.shapes = seen = {}
    try:
        yield seen
    finally:
        _CALLS.shapes = outer


def _is_symbolic(inputs: Any) -> bool:
    if isinstance(inputs, KerasTensor):
        return True
    return isinstance(inputs, (list, tuple)) and any(isinstance(t, KerasTensor) for t in inputs)


@contextmanager
def share_generators(generators: dict):
    """Within the block, layers of this thread draw random numbers from `generators`
    ({id(layer): Generator}) instead of their own: one share of a parallel training step."""
    outer = getattr(_CALLS, "generators", None)
    _CALLS.generators = generators
    try:
        yield
    finally:
        _CALLS.generators = outer


def share_generator(layer: Layer) -> np.random.Generator | None:
    """The generator `share_generators` gave `layer` in this thread, if any."""
    generators = getattr(_CALLS, "generators", None)
    return None if generators is None else generators.get(id(layer))
