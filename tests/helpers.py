"""Shared test helpers: finite differences, relative error, direct-loop references."""

import numpy as np


def rel_error(a, b) -> float:
    """Norm-based relative error ||a - b|| / max(||a|| + ||b||, 1e-12)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-12))


def numerical_grad(f, arr, eps=1e-6):
    """Central differences of scalar `f()` wrt `arr`, perturbing `arr` in place and restoring it."""
    grad = np.zeros_like(arr, dtype=np.float64)
    it = np.nditer(arr, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = arr[i]
        arr[i] = old + eps
        plus = f()
        arr[i] = old - eps
        minus = f()
        arr[i] = old
        grad[i] = (plus - minus) / (2 * eps)
    return grad


def check_layer_gradients(layer, x, rng, tol=1e-7, training=True):
    """Asserts dx and every weight gradient of `layer` match finite differences (float64).

    Works for single inputs (array) and multi-input layers (list of arrays).
    """
    y = layer(x, training=training)
    upstream = rng.standard_normal(y.shape)
    layer.forward(x, training=training)
    dx = layer.backward(upstream.copy())

    def loss():
        return float(np.sum(layer.forward(x, training=training) * upstream))

    xs, dxs = (x, dx) if isinstance(x, list) else ([x], [dx])
    for i, (xi, dxi) in enumerate(zip(xs, dxs)):
        err = rel_error(dxi, numerical_grad(loss, xi))
        assert err < tol, f"input {i}: rel error {err:.2e}"
    assert len(layer.gradients) == len(layer.trainable_weights)
    for i, (w, dw) in enumerate(zip(layer.trainable_weights, layer.gradients)):
        err = rel_error(dw, numerical_grad(loss, w))
        assert err < tol, f"trainable weight {i}: rel error {err:.2e}"
