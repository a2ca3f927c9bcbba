"""Shared test helpers: finite differences, relative error, direct-loop references, and a
subprocess running real Keras."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest


def run_with_keras(args: list, home: Path, timeout: float, pythonpath: str | None = None):
    """Runs `python *args` with real Keras 3 on its torch CPU backend (`KERAS_HOME` under
    `home`); fails the test, with how to install them, when keras or torch is missing, and
    when the script exits non-zero (with its stderr's tail)."""
    missing = [m for m in ("keras", "torch") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.fail(f"This test runs real Keras 3 and needs {missing}, which are not installed. "
                    "Install the test extra: `pip install -e '.[test]'` (or run `make test`, "
                    "which does).")
    env = {**os.environ, "KERAS_BACKEND": "torch", "KERAS_HOME": str(home / "keras_home"),
           "CUDA_VISIBLE_DEVICES": ""}
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    run = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True,
                         timeout=timeout)
    assert run.returncode == 0, run.stderr[-3000:]


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
    """Asserts dx and every weight gradient of `layer` match finite differences (float64), both
    from `backward` run by hand and from a `GradientTape` over `layer(x)`.

    Works for single inputs (array) and multi-input layers (list of arrays).
    """
    from kernelnet.autodiff import GradientTape, convert_to_tensor
    from kernelnet.layers.base import context

    y = layer(x, training=training)
    upstream = rng.standard_normal(y.shape)
    ctx = context(x, training=training)
    layer.forward(ctx, x, training=training)
    dx, weight_grads = layer.backward(ctx, upstream.copy())

    def loss():
        return float(np.sum(layer.forward(None, x, training=training) * upstream))

    xs, dxs = (x, dx) if isinstance(x, list) else ([x], [dx])
    numeric_x = [numerical_grad(loss, xi) for xi in xs]
    for i, (dxi, num) in enumerate(zip(dxs, numeric_x)):
        err = rel_error(dxi, num)
        assert err < tol, f"input {i}: rel error {err:.2e}"
    assert len(weight_grads) == len(layer.trainable_weights)
    numeric_w = [numerical_grad(loss, w.value) for w in layer.trainable_weights]
    for i, (dw, num) in enumerate(zip(weight_grads, numeric_w)):
        err = rel_error(dw, num)
        assert err < tol, f"trainable weight {i}: rel error {err:.2e}"

    tensors = [convert_to_tensor(xi) for xi in xs]
    with GradientTape() as tape:
        tape.watch(tensors)
        out = layer(tensors if isinstance(x, list) else tensors[0], training=training)
    taped = tape.gradient(out, [*tensors, *layer.trainable_weights], output_gradients=upstream)
    for i, (g, num) in enumerate(zip(taped, numeric_x + numeric_w)):
        err = rel_error(g, num)
        assert err < tol, f"tape gradient {i}: rel error {err:.2e}"
