"""Core layers: Dense, Activation, Flatten, Reshape, Permute, Dropout, Lambda."""

import json

import numpy as np
import pytest

from kernelnet import backend
from kernelnet.autodiff import GradientTape, convert_to_tensor
from kernelnet.layers import core
from kernelnet.layers.base import context


def test_dense_matches_matmul(rng):
    layer = core.Dense(3)
    x = rng.standard_normal((4, 5)).astype("float32")
    y = layer(x)
    kernel, bias = layer.get_weights()
    assert kernel.shape == (5, 3) and bias.shape == (3,)
    np.testing.assert_allclose(y, x @ kernel + bias, rtol=1e-6)


def test_dense_on_nd_input_acts_on_last_axis(rng):
    layer = core.Dense(2, activation="relu", bias_initializer="ones")
    x = rng.standard_normal((2, 3, 4, 5)).astype("float32")
    y = layer(x)
    kernel, bias = layer.get_weights()
    assert y.shape == (2, 3, 4, 2)
    expected = np.maximum(np.einsum("nhwf,fu->nhwu", x, kernel) + bias, 0)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
    assert layer.compute_output_shape((None, 3, 4, 5)) == (None, 3, 4, 2)
    assert layer.compute_macs((None, 3, 4, 5)) == 3 * 4 * 5 * 2


def test_dense_without_bias_has_one_weight():
    layer = core.Dense(3, use_bias=False)
    layer(np.zeros((1, 2)))
    assert [w.shape for w in layer.weights] == [(2, 3)]


def test_dense_input_needing_no_grad_returns_none(rng):
    layer = core.Dense(3)
    x = rng.standard_normal((2, 4)).astype("float32")
    layer(x)
    ctx = context(x)
    ctx.needs_input_grad = (False,)
    layer.forward(ctx, x)
    dx, weight_grads = layer.backward(ctx, np.ones((2, 3), dtype="float32"))
    assert dx is None
    assert [g.shape for g in weight_grads] == [(4, 3), (3,)]


def test_dense_invalid_units():
    with pytest.raises(ValueError, match="Received: units=0"):
        core.Dense(0)


def test_dense_feature_mismatch_message():
    layer = core.Dense(10)
    layer(np.zeros((1, 9216), dtype="float32"))
    with pytest.raises(ValueError) as info:
        layer(np.zeros((128, 4608), dtype="float32"))
    assert str(info.value).startswith(
        f"Layer '{layer.name}' (Dense) was built for inputs with 9216 features but received "
        "shape (128, 4608). A layer's input size is fixed after its first call; check the layers "
        "before it (Flatten output changed?)."
    )


def test_dense_unknown_activation_suggests():
    with pytest.raises(ValueError, match="Did you mean 'relu'"):
        core.Dense(3, activation="rellu")


def test_dense_config_serializes_initializer_objects():
    from kernelnet import initializers

    layer = core.Dense(3, kernel_initializer=initializers.RandomNormal(stddev=0.1))
    config = json.loads(json.dumps(layer.get_config()))
    clone = core.Dense.from_config(config)
    assert clone.get_weights() == [] and clone.units == 3
    clone(np.zeros((2, 50)))
    assert 0.05 < clone.kernel.numpy().std() < 0.15


def test_activation_layer_and_callable_activation():
    x = np.array([[-1.0, 0.5]], dtype="float32")
    assert core.Activation("relu")(x).tolist() == [[0.0, 0.5]]
    assert core.Activation(np.tanh).get_config()["activation"] == "tanh"
    layer = core.Activation(None)
    ctx = context(x)
    y = layer.forward(ctx, x)
    grad = np.ones_like(y)
    dx, _ = layer.backward(ctx, grad)
    assert dx is not grad and np.array_equal(dx, grad)


def test_flatten_and_shapes():
    layer = core.Flatten()
    assert layer(np.zeros((2, 3, 4, 5))).shape == (2, 60)
    assert layer.compute_output_shape((None, 3, 4, 5)) == (None, 60)
    assert layer.compute_output_shape((None, None, 5)) == (None, None)


def test_reshape_infers_minus_one():
    layer = core.Reshape((2, -1))
    assert layer(np.arange(24.0).reshape(2, 12)).shape == (2, 2, 6)
    assert layer.compute_output_shape((None, 3, 4)) == (None, 2, 6)


def test_reshape_incompatible_size():
    with pytest.raises(ValueError, match=r"cannot reshape input of shape \(None, 10\) \(10 values"):
        core.Reshape((3, 3)).compute_output_shape((None, 10))
    with pytest.raises(ValueError, match="target_shape"):
        core.Reshape((4, -1))(np.zeros((2, 10)))


@pytest.mark.parametrize("target", [(-1, -1), (0, 2), "3", ()])
def test_reshape_invalid_target(target):
    with pytest.raises(ValueError, match="Received: target_shape="):
        core.Reshape(target)


def test_permute():
    x = np.arange(24.0).reshape(2, 3, 4)
    assert np.array_equal(core.Permute((2, 1))(x), x.transpose(0, 2, 1))
    with pytest.raises(ValueError, match="Received: dims=\\(1, 3\\)"):
        core.Permute((1, 3))


def test_dropout_statistics_and_inference_identity(rng):
    backend.set_rng_seed(0)
    layer = core.Dropout(0.3)
    x = np.ones((200, 500), dtype="float32")
    y = layer(x, training=True)
    assert y.dtype == np.float32
    assert abs(np.mean(y == 0) - 0.3) < 0.01                # fraction dropped
    assert abs(y.mean() - 1.0) < 0.02                       # inverted dropout keeps the mean
    assert np.allclose(y[y != 0], 1 / 0.7)
    assert layer(x, training=False) is x                    # identity at inference


def test_dropout_seed_is_reproducible_and_noise_shape_broadcasts():
    x = np.ones((4, 3, 3, 8))
    a = core.Dropout(0.5, noise_shape=(None, 1, 1, None), seed=3)(x, training=True)
    b = core.Dropout(0.5, noise_shape=(None, 1, 1, None), seed=3)(x, training=True)
    assert np.array_equal(a, b)
    # whole feature maps dropped: each (sample, channel) is constant over h, w
    assert np.all(a == a[:, :1, :1, :])


def test_dropout_uses_library_generator_when_unseeded():
    x = np.ones((10, 10))
    backend.set_rng_seed(5)
    a = core.Dropout(0.5)(x, training=True)
    backend.set_rng_seed(5)
    b = core.Dropout(0.5)(x, training=True)
    assert np.array_equal(a, b)


@pytest.mark.parametrize("rate", [1.5, -0.1, 1.0, "0.5"])
def test_dropout_invalid_rate(rate):
    with pytest.raises(ValueError, match=f"Received: rate={rate!r}"):
        core.Dropout(rate)


def test_lambda_of_ops_trains_and_numpy_lambda_says_why_not():
    layer = core.Lambda(lambda x: x[:, :2] * 2)
    x = np.ones((3, 5), dtype="float32")
    assert layer(x).tolist() == [[2.0, 2.0]] * 3
    assert layer.compute_output_shape((None, 5)) == (None, 2)
    t = convert_to_tensor(x)
    with GradientTape() as tape:
        tape.watch(t)
        y = layer(t)
    np.testing.assert_array_equal(tape.gradient(y, t, output_gradients=np.ones((3, 2))),
                                  np.repeat([[2.0, 2.0, 0, 0, 0]], 3, axis=0))
    with GradientTape() as tape:
        tape.watch(t)
        with pytest.raises(TypeError, match="write the function with kernelnet.ops"):
            core.Lambda(np.tanh)(t)
    with pytest.raises(ValueError, match="Cannot rebuild Lambda layer"):
        core.Lambda.from_config(layer.get_config())
    with pytest.raises(TypeError, match="must be callable"):
        core.Lambda(3)


def test_unknown_keyword_is_rejected():
    with pytest.raises(TypeError, match="Unrecognized keyword arguments"):
        core.Dense(3, unit=4)
