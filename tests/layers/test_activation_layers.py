"""Activation layers: ReLU options, LeakyReLU (and legacy alpha=), ELU, Softmax, PReLU."""

import numpy as np
import pytest

from kernelnet.layers import activation


def test_relu_default_and_options():
    x = np.array([[-2.0, -0.5, 0.5, 2.0, 8.0]], dtype="float32")
    assert activation.ReLU()(x).tolist() == [[0.0, 0.0, 0.5, 2.0, 8.0]]
    assert activation.ReLU(max_value=6)(x).tolist() == [[0.0, 0.0, 0.5, 2.0, 6.0]]
    y = activation.ReLU(negative_slope=0.5, threshold=1.0)(x)
    # below the threshold: 0.5 * (x - 1)
    np.testing.assert_allclose(y, [[-1.5, -0.75, -0.25, 2.0, 8.0]])


def test_relu_rejects_negative_arguments():
    with pytest.raises(ValueError, match="Received: max_value=-1"):
        activation.ReLU(max_value=-1)
    with pytest.raises(ValueError, match="Received: negative_slope=-0.1"):
        activation.ReLU(negative_slope=-0.1)
    with pytest.raises(ValueError, match="Received: threshold=-1.0"):
        activation.ReLU(threshold=-1.0)


def test_leaky_relu_default_and_alpha_alias():
    x = np.array([[-1.0, 2.0]], dtype="float32")
    np.testing.assert_allclose(activation.LeakyReLU()(x), [[-0.3, 2.0]])
    layer = activation.LeakyReLU(alpha=0.1)
    np.testing.assert_allclose(layer(x), [[-0.1, 2.0]])
    assert layer.get_config()["negative_slope"] == 0.1
    assert activation.LeakyReLU()(x).dtype == np.float32


def test_elu():
    x = np.array([[-1.0, 1.0]])
    np.testing.assert_allclose(activation.ELU(alpha=2.0)(x), [[2.0 * (np.exp(-1) - 1), 1.0]],
                               rtol=1e-6)


def test_softmax_axis(rng):
    x = rng.standard_normal((2, 3, 4))
    y = activation.Softmax(axis=1)(x)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-6)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    np.testing.assert_allclose(y, e / e.sum(axis=1, keepdims=True), rtol=1e-5)
    with pytest.raises(ValueError, match="Received: axis='x'"):
        activation.Softmax(axis="x")


def test_prelu_shared_axes_weight_shape():
    layer = activation.PReLU(shared_axes=[1, 2])
    layer(np.zeros((2, 5, 5, 3)))
    assert layer.alpha.shape == (1, 1, 3)
    with pytest.raises(ValueError, match="shared_axes=\\[4\\]"):
        activation.PReLU(shared_axes=[4])(np.zeros((2, 5, 5, 3)))
