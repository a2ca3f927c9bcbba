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


def _float64_clone(model, loss):
    from kernelnet import layers

    previous = backend.floatx()
    backend.set_floatx("float64")
    try:
        clone = layers.deserialize(_as_float64_config(layers.serialize(model)))
        clone.set_weights(model.get_weights())
        clone.compile(optimizer="sgd", loss=loss)
    finally:
        backend.set_floatx(previous)
    return clone


def gradient_check(model, x, y, loss=None, eps: float = 1e-6, training: bool = True,
                   max_elements: int = 64, seed: int = 0) -> dict[str, float]:
    """Relative error `|a - n| / max(|a| + |n|, 1e-12)` per trainable weight.

    Args:
        model: a compiled model (or pass `loss`).
        x, y: a small batch.
        eps: central-difference step.
        training: run layers in training mode (batch-norm batch statistics, dropout).
        max_elements: at most this many randomly chosen entries per weight are perturbed.

    Returns:
        `{"conv2d/kernel": 3.1e-10, ...}` for every trainable weight.
    """
    loss = loss if loss is not None else model.loss
    if loss is None:
        raise RuntimeError("You must call `compile()` (or pass `loss=`) before gradient_check().")
    clone = _float64_clone(model, loss)
    x = [np.asarray(a, np.float64) for a in x] if isinstance(x, list) else \
        np.asarray(x, np.float64)
    state = backend.get_rng_state()

    def value() -> float:
        backend.set_rng_state(state)
        return float(clone.loss(y, clone.forward(x, training=training)))

    backend.set_rng_state(state)
    _, grad = clone.loss.value_and_grad(y, clone.forward(x, training=training))
    clone.backward(grad)
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
