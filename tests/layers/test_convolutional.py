"""Conv2D: shapes, config, gradients (float64 finite differences) and error messages."""

import json

import numpy as np
import pytest
from helpers import check_layer_gradients, rel_error
from reference import naive_conv2d

from kernelnet.layers.base import context
from kernelnet.layers.convolutional import Conv2D


@pytest.mark.parametrize("kwargs", [
    {"strides": 1, "padding": "valid"},
    {"strides": 2, "padding": "same"},
    {"strides": (1, 2), "padding": "same", "activation": "tanh"},
    {"dilation_rate": 2, "padding": "same"},
    {"dilation_rate": (1, 2), "padding": "valid", "use_bias": False},
])
def test_conv2d_gradients(rng, float64, kwargs):
    layer = Conv2D(3, (3, 2), **kwargs)
    x = rng.standard_normal((2, 7, 6, 2))
    check_layer_gradients(layer, x, rng)
    assert layer.kernel.dtype == np.float64


def test_conv2d_1x1_gradients(rng, float64):
    check_layer_gradients(Conv2D(4, 1), rng.standard_normal((2, 3, 4, 5)), rng)


def test_conv2d_forward_matches_reference_and_keras_weight_order(rng):
    layer = Conv2D(4, 3, strides=2, padding="same", activation="relu")
    x = rng.standard_normal((2, 9, 8, 3)).astype(np.float32)
    y = layer(x)
    kernel, bias = layer.get_weights()
    assert kernel.shape == (3, 3, 3, 4) and bias.shape == (4,)
    expected = np.maximum(naive_conv2d(x.astype(float), kernel, bias, 2, "same"), 0)
    assert y.dtype == np.float32
    assert y.shape == layer.compute_output_shape(x.shape) == (2, 5, 4, 4)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


def test_conv2d_shapes_and_macs():
    layer = Conv2D(32, 3)
    assert layer.compute_output_shape((None, 28, 28, 1)) == (None, 26, 26, 32)
    assert layer.compute_macs((None, 28, 28, 1)) == 26 * 26 * 9 * 1 * 32
    same = Conv2D(8, 3, strides=2, padding="same")
    assert same.compute_output_shape((4, 7, 7, 3)) == (4, 4, 4, 8)
    assert Conv2D(8, 3, dilation_rate=2).compute_output_shape((1, 7, 7, 3)) == (1, 3, 3, 8)
    assert Conv2D(8, 3).compute_output_shape((None, None, None, 3)) == (None, None, None, 8)


def test_conv2d_config_round_trip(rng):
    layer = Conv2D(5, (3, 2), strides=(2, 1), padding="same", activation="relu", use_bias=False,
                   kernel_initializer="he_normal", name="c")
    config = layer.get_config()
    json.dumps(config)
    for key in ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate",
                "groups", "activation", "use_bias", "kernel_initializer", "bias_initializer"):
        assert key in config
    clone = Conv2D.from_config(config)
    x = rng.standard_normal((1, 6, 6, 2)).astype(np.float32)
    layer(x)
    clone(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone(x), layer(x))


def test_conv2d_frozen_and_input_needing_no_grad(rng):
    layer = Conv2D(2, 3)
    x = rng.standard_normal((1, 5, 5, 2)).astype(np.float32)
    grad = np.ones(layer(x).shape, np.float32)
    grad.setflags(write=False)
    layer.trainable = False
    ctx = context(x)
    layer.forward(ctx, x)
    dx, weight_grads = layer.backward(ctx, grad)
    assert dx.shape == x.shape and weight_grads == []
    layer.trainable = True
    ctx = context(x)
    ctx.needs_input_grad = (False,)
    layer.forward(ctx, x)
    dx, weight_grads = layer.backward(ctx, grad)
    assert dx is None
    assert [g.shape for g in weight_grads] == [(3, 3, 2, 2), (2,)]
    ref = weight_grads[0]
    cols_grad = np.tensordot(np.lib.stride_tricks.sliding_window_view(x, (3, 3), (1, 2)),
                             grad, axes=([0, 1, 2], [0, 1, 2]))  # (c_in, kh, kw, c_out)
    assert rel_error(ref, cols_grad.transpose(1, 2, 0, 3)) < 1e-6


@pytest.mark.parametrize("kwargs,match", [
    ({"filters": 0, "kernel_size": 3}, "Received: filters=0"),
    ({"filters": 2.5, "kernel_size": 3}, "Received: filters=2.5"),
    ({"filters": 4, "kernel_size": (3, 0)}, r"Received: kernel_size=\(3, 0\)"),
    ({"filters": 4, "kernel_size": 3, "padding": "full"}, "Received: padding='full'"),
    ({"filters": 4, "kernel_size": 3, "strides": 2, "dilation_rate": 2}, "dilation_rate > 1"),
    ({"filters": 4, "kernel_size": 3, "groups": 3}, "groups=3, filters=4"),
    ({"filters": 4, "kernel_size": 3, "data_format": "channels_first"}, "channels_first"),
    ({"filters": 4, "kernel_size": 3, "kernel_regularizer": "l2"}, "kernel_regularizer"),
])
def test_conv2d_argument_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Conv2D(**kwargs)


def test_conv2d_input_errors():
    with pytest.raises(ValueError, match=r"expects 4D input .*\(32, 28, 28\).*np.newaxis"):
        Conv2D(4, 3)(np.zeros((32, 28, 28)))
    with pytest.raises(ValueError, match=r"empty output.*\(2, 2\).*kernel_size=\(3, 3\)"):
        Conv2D(4, 3)(np.zeros((1, 2, 2, 1)))
    layer = Conv2D(4, 3)
    layer(np.zeros((1, 5, 5, 3)))
    with pytest.raises(ValueError, match=r"conv2d.*3 channels.*\(1, 5, 5, 1\)"):
        layer(np.zeros((1, 5, 5, 1)))
    with pytest.raises(ValueError, match="empty output"):
        layer(np.zeros((1, 2, 5, 3)))
