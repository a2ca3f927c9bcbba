"""`gradient_check`: backprop gradients of any model against central differences, in float64.

This is the from-scratch books' check, run on a float64 clone of the model so float32 models can
be checked too. Dropout masks are made repeatable by restoring the library generator's state
before every forward pass.
"""

from __future__ import annotations

import numpy as np

from kernelnet import backend


def _as_float64_config(config):
    if isinstance(config, dict):
        return {k: ("float64" if k == "dtype" and v in ("float16", "float32") else
                    _as_float64_config(v)) for k, v in config.items()}
    if isinstance(config, list):
        return [_as_float64_config(v) for v in config]
    return config


def _float64_clone(model, loss, loss_weights):
    from kernelnet import layers

    previous = backend.floatx()
    backend.set_floatx("float64")
    try:
        clone = layers.deserialize(_as_float64_config(layers.serialize(model)))
        clone.set_weights(model.get_weights())
        clone.compile(optimizer="sgd", loss=loss, loss_weights=loss_weights)
    finally:
        backend.set_floatx(previous)
    return clone


def gradient_check(model, x, y, loss=None, eps: float = 1e-6, training: bool = True,
                   max_elements: int = 64, seed: int = 0,
                   sample_weight=None) -> dict[str, float]:
    """Relative error `|a - n| / max(|a| + |n|, 1e-12)` per trainable weight.

    Args:
        model: a compiled model (or pass `loss`), with one or several outputs.
        x, y: a small batch (`y` a list or a dict by output name for several outputs).
        sample_weight: optional weights, as `fit` takes them.
        eps: central-difference step.
        training: run layers in training mode (batch-norm batch statistics, dropout).
        max_elements: at most this many randomly chosen entries per weight are perturbed.

    Returns:
        `{"conv2d/kernel": 3.1e-10, ...}` for every trainable weight.
    """
    from kernelnet.models import compile_utils

    compiled = getattr(model, "compiled_loss", None)
    weights = compiled.weights if loss is None and compiled is not None else None
    loss = loss if loss is not None else model.loss
    if loss is None:
        raise RuntimeError("You must call `compile()` (or pass `loss=`) before gradient_check().")
    clone = _float64_clone(model, loss, weights)
    x = [np.asarray(a, np.float64) for a in x] if isinstance(x, list) else \
        np.asarray(x, np.float64)
    names = clone.output_names
    ys = compile_utils.flatten_targets(y, names)
    sws = compile_utils.flatten_targets(sample_weight, names, "sample_weight")
    state = backend.get_rng_state()

    def outputs() -> list:
        backend.set_rng_state(state)
        out = clone.forward(x, training=training)
        return list(out) if clone._multi_output else [out]

    def value() -> float:
        return float(clone.compiled_loss(ys, outputs(), sws))

    _, grads = clone._loss_and_grad(ys, outputs(), sws)
    clone._backward_from_loss(grads if clone._multi_output else grads[0])
    analytic = [g.copy() for g in clone.gradients]
    rng = np.random.default_rng(seed)
    errors = {}
    for name, w, a in zip(clone.trainable_weight_names, clone.trainable_weights, analytic):
        flat_w, flat_a = w.reshape(-1), a.reshape(-1)
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
    backend.set_rng_state(state)
    return errors
