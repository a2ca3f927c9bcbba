"""Float64 finite-difference checks of backward for the core, activation, norm and merge layers."""

import numpy as np
import pytest
from helpers import check_layer_gradients, numerical_grad, rel_error

from kernelnet import activations
from kernelnet.layers import activation as act_layers
from kernelnet.layers import core, merging, normalization
from kernelnet.layers.base import context


def _away_from_kinks(x, kinks=(0.0,), gap=1e-2):
    """Moves values within `gap` of a kink (0 for ReLU, 6 for relu6, +-3 for hard_sigmoid)."""
    x = x.copy()
    for k in kinks:
        near = np.abs(x - k) < gap
        x[near] += 3 * gap
    return x


@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 3, 5)])
@pytest.mark.parametrize("use_bias", [True, False])
def test_dense(rng, float64, shape, use_bias):
    check_layer_gradients(core.Dense(3, activation="tanh", use_bias=use_bias),
                          rng.standard_normal(shape), rng)


@pytest.mark.parametrize("name", sorted(activations._REGISTRY))
def test_every_registered_activation(rng, float64, name):
    x = _away_from_kinks(3 * rng.standard_normal((3, 5)), kinks=(0.0, 6.0, 3.0, -3.0))
    check_layer_gradients(core.Activation(name), x, rng)


@pytest.mark.parametrize("layer", [
    lambda: act_layers.ReLU(),
    lambda: act_layers.ReLU(max_value=1.0, negative_slope=0.1, threshold=0.5),
    lambda: act_layers.LeakyReLU(),
    lambda: act_layers.LeakyReLU(alpha=0.1),
    lambda: act_layers.ELU(alpha=0.7),
    lambda: act_layers.Softmax(),
    lambda: act_layers.Softmax(axis=1),
    lambda: act_layers.PReLU(alpha_initializer="random_normal"),
    lambda: act_layers.PReLU(alpha_initializer="random_normal", shared_axes=[1, 2]),
], ids=["relu", "relu-options", "leaky", "leaky-alpha", "elu", "softmax", "softmax-axis1",
        "prelu", "prelu-shared"])
def test_activation_layers(rng, float64, layer):
    x = _away_from_kinks(rng.standard_normal((2, 3, 3, 4)), kinks=(0.0, 0.5, 1.0))
    check_layer_gradients(layer(), x, rng)


@pytest.mark.parametrize("layer", [
    lambda: core.Flatten(), lambda: core.Reshape((-1, 4)), lambda: core.Permute((3, 1, 2)),
], ids=["flatten", "reshape", "permute"])
def test_shape_layers(rng, float64, layer):
    check_layer_gradients(layer(), rng.standard_normal((2, 3, 2, 4)), rng)


def test_dropout_inference_is_identity_gradient(rng, float64):
    check_layer_gradients(core.Dropout(0.5), rng.standard_normal((4, 6)), rng, training=False)


def test_dropout_training_with_fixed_mask(rng, float64):
    layer = core.Dropout(0.4, noise_shape=(None, 1, 6))
    # every forward redraws the mask; a generator reset to one state makes it the same mask
    layer._generator = lambda: np.random.default_rng(7)
    check_layer_gradients(layer, rng.standard_normal((4, 3, 6)), rng, training=True)


def test_dropout_backward_is_grad_times_mask(rng, float64):
    layer = core.Dropout(0.5, seed=1)
    x = rng.standard_normal((8, 10))
    ctx = context(x, training=True)
    y = layer.forward(ctx, x, training=True)
    grad = rng.standard_normal(y.shape)
    mask = ctx.mask
    assert set(np.unique(mask)) <= {0.0, 2.0}
    np.testing.assert_array_equal(y, x * mask)
    np.testing.assert_array_equal(layer.backward(ctx, grad)[0], grad * mask)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("kwargs", [{}, {"axis": 1}, {"center": False}, {"scale": False}],
                         ids=["default", "axis1", "no-center", "no-scale"])
def test_batch_normalization(rng, float64, training, kwargs):
    layer = normalization.BatchNormalization(**kwargs)
    x = 2 + 3 * rng.standard_normal((3, 4, 2, 5))
    layer.build(x.shape)
    # non-trivial parameters and moving statistics
    for w in layer.weights:
        w[...] = rng.uniform(0.5, 1.5, w.shape)
    check_layer_gradients(layer, x, rng, training=training)


def test_batch_normalization_frozen(rng, float64):
    layer = normalization.BatchNormalization(trainable=False)
    x = rng.standard_normal((6, 3))
    layer.build(x.shape)
    layer.moving_variance[...] = rng.uniform(0.5, 2.0, 3)
    check_layer_gradients(layer, x, rng, training=True)   # runs in inference mode
    ctx = context(x, training=True)
    layer.forward(ctx, x, training=True)
    assert layer.backward(ctx, np.ones_like(x))[1] == []


def test_batch_normalization_training_dense_input(rng, float64):
    check_layer_gradients(normalization.BatchNormalization(), rng.standard_normal((5, 4)), rng)


@pytest.mark.parametrize("axis", [-1, [1, 2, 3], [2, 3]])
def test_layer_normalization(rng, float64, axis):
    layer = normalization.LayerNormalization(axis=axis)
    x = rng.standard_normal((2, 3, 2, 4))
    layer.build(x.shape)
    for w in layer.weights:
        w[...] = rng.standard_normal(w.shape)
    check_layer_gradients(layer, x, rng)


@pytest.mark.parametrize("depth_radius", [0, 2, 5])
def test_local_response_normalization(rng, float64, depth_radius):
    layer = normalization.LocalResponseNormalization(depth_radius, bias=2.0, alpha=0.3, beta=0.75)
    check_layer_gradients(layer, rng.standard_normal((2, 3, 3, 7)), rng)


@pytest.mark.parametrize("cls", [merging.Add, merging.Subtract, merging.Multiply,
                                 merging.Average, merging.Maximum, merging.Minimum])
def test_elementwise_merges(rng, float64, cls):
    n_inputs = 2 if cls is merging.Subtract else 3
    xs = [rng.standard_normal((2, 3, 4)) for _ in range(n_inputs)]
    check_layer_gradients(cls(), xs, rng)


@pytest.mark.parametrize("axis,shapes", [
    (-1, [(2, 3, 3, 2), (2, 3, 3, 4)]),
    (1, [(2, 1, 3, 2), (2, 4, 3, 2), (2, 2, 3, 2)]),
    (2, [(2, 3, 2), (2, 3, 5)]),
])
def test_concatenate(rng, float64, axis, shapes):
    check_layer_gradients(merging.Concatenate(axis=axis),
                          [rng.standard_normal(s) for s in shapes], rng)


def test_random_direction_for_bn_on_conv_sized_input(rng, float64):
    """Chainer's random-direction check: <dx, r> vs a directional finite difference."""
    layer = normalization.BatchNormalization()
    x = rng.standard_normal((8, 6, 6, 16))
    upstream = rng.standard_normal(x.shape)
    layer.build(x.shape)
    ctx = context(x, training=True)
    layer.forward(ctx, x, training=True)
    dx, _ = layer.backward(ctx, upstream)
    r = rng.standard_normal(x.shape)
    eps = 1e-6

    def loss(t):
        return float(np.sum(layer.forward(None, x + t * r, training=True) * upstream))

    numeric = (loss(eps) - loss(-eps)) / (2 * eps)
    assert rel_error(np.sum(dx * r), numeric) < 1e-7


def test_numerical_grad_helper_sees_weight_aliasing(rng, float64):
    """The weights listed by the layer are the arrays forward uses (in-place update contract)."""
    layer = core.Dense(2)
    x = rng.standard_normal((3, 4))
    layer(x)
    layer.kernel[...] = 0.0
    assert np.all(layer(x) == layer.bias.value)
    dk = numerical_grad(lambda: float(layer(x).sum()), layer.trainable_weights[0].value)
    np.testing.assert_allclose(dk, np.repeat(x.sum(0)[:, None], 2, axis=1), atol=1e-8)
