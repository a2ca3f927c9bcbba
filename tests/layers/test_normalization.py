"""BatchNormalization, LayerNormalization and LocalResponseNormalization vs direct formulas."""

import numpy as np
import pytest

from kernelnet.layers import normalization
from kernelnet.layers.base import context


def _bn(**kwargs):
    return normalization.BatchNormalization(**kwargs)


def test_bn_weights_in_keras_order():
    layer = _bn()
    layer(np.zeros((2, 4, 4, 3)))
    assert [n.split("/")[1] for n in layer.weight_names] == [
        "gamma", "beta", "moving_mean", "moving_variance"]
    assert len(layer.trainable_weights) == 2 and len(layer.non_trainable_weights) == 2
    assert layer.count_params() == 12


def test_bn_training_uses_batch_statistics_and_updates_moving_stats(rng):
    layer = _bn(momentum=0.9, epsilon=1e-3)
    x = (5 + 2 * rng.standard_normal((4, 3, 3, 2))).astype("float32")
    y = layer(x, training=True)
    flat = x.reshape(-1, 2).astype(np.float64)
    mean, var = flat.mean(0), flat.var(0)                   # biased variance
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-3), rtol=1e-4, atol=1e-5)
    # moving = moving * momentum + batch * (1 - momentum), from zeros / ones
    np.testing.assert_allclose(layer.moving_mean, 0.1 * mean, rtol=1e-5)
    np.testing.assert_allclose(layer.moving_variance, 0.9 + 0.1 * var, rtol=1e-5)
    assert layer.moving_mean.dtype == np.float32 and y.dtype == np.float32


def test_bn_inference_formula_and_no_update(rng):
    layer = _bn(axis=1)
    x = rng.standard_normal((5, 3, 2))
    layer.build(x.shape)
    gamma, beta, mm, mv = (rng.uniform(0.5, 2, 3).astype("float32") for _ in range(4))
    layer.set_weights([gamma, beta, mm, mv])
    y = layer(x, training=False)
    shape = (1, 3, 1)
    expected = (gamma.reshape(shape) * (x - mm.reshape(shape)) / np.sqrt(mv.reshape(shape) + 1e-3)
                + beta.reshape(shape))
    np.testing.assert_allclose(y, expected, rtol=1e-5)
    np.testing.assert_array_equal(layer.moving_mean, mm)


def test_bn_frozen_runs_in_inference_mode_even_when_training(rng):
    layer = _bn(trainable=False)
    x = rng.standard_normal((8, 4)).astype("float32")
    y = layer(x, training=True)
    np.testing.assert_allclose(y, x / np.sqrt(1 + 1e-3), rtol=1e-6)    # moving stats 0 / 1
    np.testing.assert_array_equal(layer.moving_mean, np.zeros(4))
    ctx = context(x, training=True)
    layer.forward(ctx, x, training=True)
    assert layer.backward(ctx, np.ones_like(y))[1] == [] and layer.trainable_weights == []
    assert len(layer.non_trainable_weights) == 4


def test_bn_moving_stats_updated_in_place():
    layer = _bn()
    layer(np.zeros((2, 3)))
    held = layer.moving_mean
    layer(np.ones((2, 3)), training=True)
    assert held is layer.weights[2] and held[0] != 0


def test_bn_errors():
    with pytest.raises(ValueError, match="Received: axis='c'"):
        _bn(axis="c")
    with pytest.raises(ValueError, match="axis=4, which is out of range"):
        _bn(axis=4)(np.zeros((2, 3, 3, 2)))


@pytest.mark.parametrize("kwargs,match", [
    ({"momentum": 2}, r"`momentum` of BatchNormalization: expected a float in \[0, 1\]\. "
                      r"Received: momentum=2\."),
    ({"momentum": -0.1}, r"Received: momentum=-0\.1\."),
    ({"momentum": "0.9"}, r"Received: momentum='0\.9'\."),
    ({"epsilon": 0}, r"`epsilon` of BatchNormalization: expected a positive float\. "
                     r"Received: epsilon=0\."),
    ({"epsilon": -1e-3}, r"Received: epsilon=-0\.001\."),
    ({"epsilon": float("nan")}, r"Received: epsilon=nan\."),
])
def test_bn_rejects_bad_momentum_and_epsilon(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _bn(**kwargs)


def test_bn_accepts_momentum_bounds():
    assert _bn(momentum=0).momentum == 0.0 and _bn(momentum=1).momentum == 1.0


def test_layer_normalization_rejects_non_positive_epsilon():
    with pytest.raises(ValueError, match=r"`epsilon` of LayerNormalization: .* epsilon=0\."):
        normalization.LayerNormalization(epsilon=0)


def test_layer_normalization_formula(rng):
    x = rng.standard_normal((3, 4, 5)).astype("float32")
    layer = normalization.LayerNormalization()
    y = layer(x)
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-3), rtol=1e-4, atol=1e-5)
    assert layer.gamma.shape == (5,) and y.dtype == np.float32
    multi = normalization.LayerNormalization(axis=[1, 2])
    multi(x)
    assert multi.gamma.shape == (4, 5)


def _lrn_reference(x, r, bias, alpha, beta):
    c = x.shape[-1]
    out = np.empty_like(x)
    for j in range(c):
        window = x[..., max(0, j - r):min(c, j + r + 1)]
        out[..., j] = x[..., j] / (bias + alpha * np.sum(window ** 2, axis=-1)) ** beta
    return out


@pytest.mark.parametrize("r", [0, 1, 5])
def test_lrn_matches_tf_definition(rng, r):
    x = rng.standard_normal((2, 3, 3, 8))
    layer = normalization.LocalResponseNormalization(r, bias=2.0, alpha=1e-1, beta=0.75)
    np.testing.assert_allclose(layer(x), _lrn_reference(x, r, 2.0, 1e-1, 0.75), rtol=1e-5)


def test_lrn_defaults_and_errors():
    config = normalization.LocalResponseNormalization().get_config()
    assert (config["depth_radius"], config["bias"], config["alpha"], config["beta"]) == (
        5, 1.0, 1.0, 0.5)
    with pytest.raises(ValueError, match="Received: depth_radius=-1"):
        normalization.LocalResponseNormalization(depth_radius=-1)
