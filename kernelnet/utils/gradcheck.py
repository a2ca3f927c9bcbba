"""`gradient_check`: the gradients training uses, against central differences, in float64.

This is the from-scratch books' check, run on a float64 copy of the model (or layer) so float32
models can be checked too. It works for anything that trains: built-in layers with their
hand-written backward, layers written with `call()` from ops, subclassed models and shared
layers. Random layers are made repeatable by restoring the library generator's state and every
layer's own generator (`Dropout(seed=...)`) before each forward pass.
"""

from __future__ import annotations

import copy

import numpy as np

from kernelnet import backend


def _float64_clone(model):
    """A deep copy of `model` whose float weights and computations are float64."""
    from kernelnet.autodiff import Variable

    memo = {}
    for w in model.weights:
        value = w.value.astype(np.float64) if w.value.dtype.kind == "f" else w.value.copy()
        memo[id(w)] = Variable(value, trainable=w.trainable, name=w.name)
    clone = copy.deepcopy(model, memo)
    for layer in clone._flatten_layers():
        if np.dtype(layer.dtype).kind == "f":
            layer.dtype = "float64"
    return clone


def _generator_states(model) -> list:
    """The library generator and each layer's own one, to restore between evaluations."""
    owned = [layer._rng for layer in model._flatten_layers()
             if isinstance(getattr(layer, "_rng", None), np.random.Generator)]
    return [(g, g.bit_generator.state) for g in [backend.rng(), *owned]]


def _restore(states: list) -> None:
    for generator, state in states:
        generator.bit_generator.state = state


def _analytic(clone, loss, x, y, training: bool) -> list:
    """The weight gradients as training computes them: `Model.compute_gradients`, or a
    `GradientTape` over a layer call."""
    from kernelnet.autodiff import GradientTape, is_tracked, unwrap
    from kernelnet.layers.base import collect_losses

    weights = clone.trainable_weights
    if hasattr(clone, "compute_gradients") and training:
        clone.compile(optimizer="sgd", loss=loss)
        grads = clone.compute_gradients(x, y)[2]
    else:
        with GradientTape() as tape, collect_losses() as extra:
            out = clone(x, training=training)
        _, seed = loss.value_and_grad(y, unwrap(out))
        pairs = [(out, seed)] + [(t, np.ones(np.shape(t))) for t in extra if is_tracked(t)]
        pairs = [(t, s) for t, s in pairs if is_tracked(t)]
        grads = (tape.gradient([t for t, _ in pairs], weights,
                               output_gradients=[s for _, s in pairs]) if pairs
                 else [None] * len(weights))
    return [np.zeros(w.shape) if g is None else np.asarray(g) for g, w in zip(grads, weights)]


def gradient_check(model, x, y, loss=None, eps: float = 1e-6, training: bool = True,
                   max_elements: int = 64, seed: int = 0) -> dict[str, float]:
    """Relative error `|a - n| / max(|a| + |n|, 1e-12)` per trainable weight.

    Args:
        model: a compiled model, or any layer or model with `loss=` given.
        x, y: a small batch.
        loss: a loss name or object; defaults to the model's compiled loss.
        eps: central-difference step.
        training: run layers in training mode (batch-norm batch statistics, dropout).
        max_elements: at most this many randomly chosen entries per weight are perturbed.

    Returns:
        `{"conv2d/kernel": 3.1e-10, ...}` for every trainable weight.
    """
    from kernelnet import losses
    from kernelnet.autodiff import stop_recording, unwrap

    loss = loss if loss is not None else getattr(model, "loss", None)
    if loss is None:
        raise RuntimeError("You must call `compile()` (or pass `loss=`) before gradient_check().")
    loss = losses.get(loss)
    clone = _float64_clone(model)
    x = [np.asarray(a, np.float64) for a in x] if isinstance(x, list) else \
        np.asarray(x, np.float64)
    states = _generator_states(clone)

    def value() -> float:
        _restore(states)
        with stop_recording():
            out = clone(x, training=training)
        extra = sum(float(unwrap(t)) for t in clone.losses)
        return float(loss(y, unwrap(out))) + extra

    _restore(states)
    analytic = _analytic(clone, loss, x, y, training)
    rng = np.random.default_rng(seed)
    errors = {}
    for name, w, a in zip(clone.trainable_weight_names, clone.trainable_weights, analytic):
        flat_w, flat_a = w.value.reshape(-1), a.reshape(-1)
        picks = rng.choice(w.size, size=min(max_elements, w.size), replace=False)
        numeric = np.empty(len(picks))
        for j, i in enumerate(picks):
            old = flat_w[i]
            flat_w[i] = old + eps
            plus = value()
            flat_w[i] = old - eps
            minus = value()
            flat_w[i] = old
            numeric[j] = (plus - minus) / (2 * eps)
        diff = np.linalg.norm(flat_a[picks] - numeric)
        errors[name] = float(diff / max(np.linalg.norm(flat_a[picks]) + np.linalg.norm(numeric),
                                        1e-12))
    _restore(states)
    return errors
