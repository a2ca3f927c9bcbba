"""The define-by-run tape: what gets recorded, and the reverse walk that turns it into gradients.

While a `GradientTape` is active (per thread), every differentiable call whose inputs need a
gradient appends one `Node` to it: the call's `backward` function, the per-call `Context` its
forward filled, and the ids of its inputs and outputs. `gradient()` walks the nodes in reverse
recording order (a valid topological order for define-by-run), sums gradients where a value
fans out, and drops each node's context once it has been passed.

Nothing is recorded when no tape is active, or when no input of a call needs a gradient, so
predict and evaluate pay nothing. This is micrograd's closure-per-op idea with Chainer's and
PyTorch's per-call context (`ctx`) and DeZero's "record only what needs a gradient".
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

_STATE = threading.local()
_UIDS = itertools.count(1)  # ids of tracked values; never reused (unlike id())


def new_uid() -> int:
    return next(_UIDS)


def _active() -> list[GradientTape]:
    tapes = getattr(_STATE, "tapes", None)
    if tapes is None:
        tapes = _STATE.tapes = []
    return tapes


def recording() -> bool:
    """True when this thread has a tape that is recording now."""
    return any(t._recording for t in _active())


@contextmanager
def stop_recording():
    """Within the block, no tape of this thread records (fused kernels, optimizer updates)."""
    tapes = [t for t in _active() if t._recording]
    for t in tapes:
        t._recording = False
    try:
        yield
    finally:
        for t in tapes:
            t._recording = True


class Context:
    """What one call's forward keeps for its backward (Chainer's retained arrays, PyTorch's
    `ctx`). Forward sets attributes freely (`ctx.x = x`); the tape frees the context once the
    backward of that call has run.

    Attributes:
        needs_input_grad: tuple of bools, one per input: whether backward must return its
            gradient (return None for the others and skip computing it).
        training: the `training` flag of the call.
    """

    def __init__(self, needs_input_grad: Sequence[bool] = (True,), training: bool = False):
        self.needs_input_grad = tuple(needs_input_grad)
        self.training = training

    def save_for_backward(self, *arrays: Any) -> None:
        """PyTorch's spelling: `ctx.saved_tensors` returns them in backward."""
        self.saved_tensors = arrays


class Node:
    """One recorded call: `backward(ctx, *output_grads) -> one gradient (or None) per input`."""

    __slots__ = ("backward", "ctx", "in_uids", "in_shapes", "out_uids", "out_meta", "name")

    def __init__(self, backward: Callable, ctx: Context, inputs: list, outputs: Sequence,
                 name: str):
        self.backward = backward
        self.ctx = ctx
        # Ids and shapes of the tracked inputs (None for constants), not the inputs themselves:
        # holding them would keep every layer's input alive until the backward pass.
        self.in_uids = [None if x is None else x._uid for x in inputs]
        self.in_shapes = [None if x is None else tuple(x.shape) for x in inputs]
        self.out_uids = [t._uid for t in outputs]
        self.out_meta = [(t.shape, t.dtype) for t in outputs]  # for zero seeds
        self.name = name

    def __repr__(self) -> str:
        return f"<Node {self.name} in={self.in_uids} out={self.out_uids}>"


def requires_grad(value: Any) -> bool:
    """Whether a gradient must flow into `value`: a trainable Variable, a Tensor computed by
    a recorded call, or a Tensor some active tape watches."""
    uid = getattr(value, "_uid", None)
    if uid is None:
        return False
    if getattr(value, "_node_recorded", False) or getattr(value, "trainable", False):
        return True
    return any(uid in t._watched for t in _active())


def record(backward: Callable, ctx: Context, inputs: Sequence, outputs: Sequence,
           name: str) -> None:
    """Appends one node to every recording tape of this thread.

    `inputs` are the call's inputs as given (tracked values or constants); `outputs` the
    Tensors it returned, which become differentiable."""
    tracked = [x if requires_grad(x) else None for x in inputs]
    node = Node(backward, ctx, tracked, outputs, name)
    for t in outputs:
        t._node_recorded = True
    for tape in _active():
        if tape._recording:
            tape._nodes.append(node)


def _check_grad(grad: Any, shape: tuple, name: str) -> None:
    if np.shape(grad) != shape:
        raise ValueError(
            f"The backward of {name} returned a gradient of shape {np.shape(grad)} for an input "
            f"of shape {shape}; a gradient must have its input's shape."
        )


def backprop(nodes: list[Node], seeds: dict[int, np.ndarray], wanted: set[int],
             keep: bool) -> dict[int, np.ndarray]:
    """Reverse walk over `nodes` from the `seeds` ({uid: dL/dvalue}); returns the summed
    gradient of every uid in `wanted` that the walk reached. Contexts are freed as they are
    passed unless `keep`."""
    grads = dict(seeds)
    # Only nodes downstream of a wanted uid need their backward run (forward sweep).
    useful = [False] * len(nodes)
    reach: set[int] = set(wanted)
    for i, node in enumerate(nodes):
        if any(u in reach for u in node.in_uids if u is not None):
            useful[i] = True
            reach.update(node.out_uids)
    for i in range(len(nodes) - 1, -1, -1):
        node = nodes[i]
        out_grads = [grads.pop(u, None) if u not in wanted else grads.get(u)
                     for u in node.out_uids]
        if not useful[i] or all(g is None for g in out_grads):
            continue
        if len(out_grads) > 1 and any(g is None for g in out_grads):
            # A multi-output call reached through some outputs only: the others get zeros.
            out_grads = [g if g is not None else np.zeros(shape, dtype)
                         for g, (shape, dtype) in zip(out_grads, node.out_meta)]
        in_grads = node.backward(node.ctx, *out_grads)
        if not isinstance(in_grads, (tuple, list)):
            in_grads = (in_grads,)
        if len(in_grads) != len(node.in_uids):
            raise ValueError(
                f"The backward of {node.name} returned {len(in_grads)} gradients for "
                f"{len(node.in_uids)} inputs."
            )
        if not keep:
            node.ctx = None
        for u, shape, g in zip(node.in_uids, node.in_shapes, in_grads):
            if u is None or g is None:
                continue
            _check_grad(g, shape, node.name)
            grads[u] = g if u not in grads else grads[u] + g
    return {u: grads[u] for u in wanted if u in grads}


class GradientTape:
    """Records differentiable calls made inside its `with` block (TensorFlow's interface).

    Trainable `Variable`s are watched automatically (`watch_accessed_variables=True`); other
    Tensors must be `watch`ed to be differentiated against.

    Example:
        >>> import kernelnet as kn
        >>> from kernelnet import ops
        >>> x = ops.convert_to_tensor(np.array([1.0, 2.0]))
        >>> with kn.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = ops.sum(x * x)
        >>> tape.gradient(y, x).tolist()
        [2.0, 4.0]
    """

    def __init__(self, persistent: bool = False, watch_accessed_variables: bool = True):
        self.persistent = bool(persistent)
        self.watch_accessed_variables = bool(watch_accessed_variables)
        self._nodes: list[Node] = []
        self._watched: set[int] = set()
        self._recording = False
        self._used = False

    def __enter__(self) -> GradientTape:
        self._recording = True
        _active().append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._recording = False
        tapes = _active()
        if self in tapes:
            tapes.remove(self)

    @contextmanager
    def stop_recording(self):
        """Within the block this tape records nothing."""
        was, self._recording = self._recording, False
        try:
            yield
        finally:
            self._recording = was

    def watch(self, tensor: Any) -> None:
        """Makes `tensor` (a Tensor or Variable, or a list/dict of them) a differentiable
        source for this tape."""
        for t in _flatten(tensor):
            if getattr(t, "_uid", None) is None:
                raise TypeError(
                    "GradientTape.watch() takes kernelnet Tensors or Variables; received "
                    f"{type(t).__name__}. Convert arrays first: x = ops.convert_to_tensor(x)."
                )
            self._watched.add(t._uid)

    def reset(self) -> None:
        """Forgets everything recorded so far."""
        self._nodes.clear()

    def gradient(self, target: Any, sources: Any, output_gradients: Any = None,
                 unconnected_gradients: str = "none") -> Any:
        """d target / d sources, shaped like `sources` (one, a list/tuple, or a dict).

        Args:
            target: a Tensor (or a list of them, whose gradients are summed). A target with
                more than one element needs `output_gradients` (its seed).
            sources: Tensors/Variables (or layer weights) to differentiate against.
            output_gradients: seed(s) dL/dtarget, shaped like the target(s).
            unconnected_gradients: "none" (None for a source the target does not depend on)
                or "zero".
        """
        if self._used and not self.persistent:
            raise RuntimeError(
                "GradientTape.gradient can only be called once on non-persistent tapes. "
                "Use GradientTape(persistent=True) to call it several times."
            )
        if unconnected_gradients not in ("none", "zero"):
            raise ValueError(
                "`unconnected_gradients` must be 'none' or 'zero'. "
                f"Received: {unconnected_gradients!r}."
            )
        self._used = True
        targets = _flatten(target)
        seeds_in = (_flatten(output_gradients) if output_gradients is not None
                    else [None] * len(targets))
        if len(seeds_in) != len(targets):
            raise ValueError(
                f"GradientTape.gradient got {len(targets)} targets but {len(seeds_in)} "
                "output_gradients."
            )
        seeds: dict[int, np.ndarray] = {}
        for t, s in zip(targets, seeds_in):
            if getattr(t, "_uid", None) is None:
                raise TypeError(
                    "GradientTape.gradient() target must be a Tensor computed inside the tape; "
                    f"received {type(t).__name__}. Did the computation use only plain arrays "
                    "and no watched Tensor or Variable?"
                )
            value = np.asarray(t)
            if s is None:
                if value.size != 1:
                    raise ValueError(
                        f"GradientTape.gradient() target has shape {value.shape}: only a "
                        "single-element target has an implicit seed. Reduce it first "
                        "(ops.sum / ops.mean) or pass output_gradients shaped like it."
                    )
                s = np.ones_like(value)
            s = np.asarray(s, dtype=value.dtype)
            if s.shape != value.shape:
                raise ValueError(
                    f"output_gradients has shape {s.shape} but the target has {value.shape}."
                )
            seeds[t._uid] = seeds[t._uid] + s if t._uid in seeds else s
        flat_sources = _flatten(sources)
        uids = []
        for s in flat_sources:
            uid = getattr(as_tracked(s), "_uid", None)
            if uid is None:
                raise TypeError(
                    f"GradientTape.gradient() sources must be Tensors or Variables; received "
                    f"{type(s).__name__}."
                )
            uids.append(uid)
        result = backprop(self._nodes, seeds, set(uids), keep=self.persistent)
        if not self.persistent:
            self._nodes = []
        grads = []
        for s, uid in zip(flat_sources, uids):
            g = result.get(uid)
            if g is None and unconnected_gradients == "zero":
                g = np.zeros(np.shape(s), dtype=np.asarray(s).dtype)
            grads.append(g)
        return _unflatten(sources, grads)

    def __repr__(self) -> str:
        return f"<GradientTape nodes={len(self._nodes)} persistent={self.persistent}>"


def as_tracked(value: Any) -> Any:
    """A layer weight given as its plain array maps to its Variable (so that
    `tape.gradient(loss, model.trainable_weights)` works either way)."""
    if getattr(value, "_uid", None) is not None:
        return value
    from kernelnet.autodiff.tensor import Variable

    var = Variable.of(value)
    return value if var is None else var


def _flatten(value: Any) -> list:
    if isinstance(value, dict):
        return [v for k in value for v in _flatten(value[k])]
    if isinstance(value, (list, tuple)):
        return [v for item in value for v in _flatten(item)]
    return [value]


def _unflatten(structure: Any, flat: list) -> Any:
    it = iter(flat)

    def build(s):
        if isinstance(s, dict):
            return {k: build(v) for k, v in s.items()}
        if isinstance(s, (list, tuple)):
            return type(s)(build(v) for v in s) if isinstance(s, list) else tuple(
                build(v) for v in s)
        return next(it)

    return build(structure)
