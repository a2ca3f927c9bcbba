"""Pooling layers: shapes, config, gradients and error messages."""

import json

import numpy as np
import pytest
from helpers import check_layer_gradients
from reference import naive_avg_pool2d, naive_max_pool2d

from kernelnet.layers.base import context
from kernelnet.layers.pooling import (
    AveragePooling2D,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    MaxPooling2D,
)


def _no_ties(rng, shape):
    return rng.permutation(np.prod(shape)).reshape(shape) / np.prod(shape)


@pytest.mark.parametrize("cls", [MaxPooling2D, AveragePooling2D])
@pytest.mark.parametrize("kwargs", [{}, {"pool_size": 3, "strides": 2, "padding": "same"},
                                    {"pool_size": (2, 3), "strides": 1}])
def test_pooling_gradients(rng, float64, cls, kwargs):
    check_layer_gradients(cls(**kwargs), _no_ties(rng, (2, 7, 6, 3)), rng)


@pytest.mark.parametrize("cls", [GlobalAveragePooling2D, GlobalMaxPooling2D])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling_gradients_and_shapes(rng, float64, cls, keepdims):
    layer = cls(keepdims=keepdims)
    x = _no_ties(rng, (2, 4, 3, 5))
    assert layer(x).shape == layer.compute_output_shape(x.shape)
    expected = (None, 1, 1, 5) if keepdims else (None, 5)
    assert layer.compute_output_shape((None, 4, 3, 5)) == expected
    check_layer_gradients(layer, x, rng)
    assert layer.trainable_weights == [] and layer.weights == []


def test_pooling_forward_matches_reference(rng):
    x = rng.standard_normal((2, 7, 7, 2)).astype(np.float32)
    y = MaxPooling2D(3, 2, "same")(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, naive_max_pool2d(x, 3, 2, "same"))
    # float32 sums in another order than the reference's (rows first): a few ulps of the
    # summands apart, so the tolerance is absolute as well as relative.
    np.testing.assert_allclose(AveragePooling2D(padding="same")(x),
                               naive_avg_pool2d(x, 2, None, "same"), rtol=1e-6, atol=1e-6)


def test_pooling_shapes_and_config():
    layer = MaxPooling2D()
    assert layer.strides == (2, 2)
    assert layer.compute_output_shape((None, 28, 28, 8)) == (None, 14, 14, 8)
    assert MaxPooling2D(3, 2, "same").compute_output_shape((1, 7, 7, 2)) == (1, 4, 4, 2)
    assert AveragePooling2D(2).compute_output_shape((1, 7, 5, 2)) == (1, 3, 2, 2)
    config = AveragePooling2D(3, 1, "same", name="p").get_config()
    json.dumps(config)
    assert config["pool_size"] == (3, 3) and config["strides"] == (1, 1)
    assert AveragePooling2D.from_config(config).padding == "same"
    config = GlobalMaxPooling2D(keepdims=True).get_config()
    assert GlobalMaxPooling2D.from_config(config).keepdims is True


def test_pooling_input_needing_no_grad(rng):
    layer = MaxPooling2D()
    x = np.ones((1, 4, 4, 1))
    ctx = context(x)
    ctx.needs_input_grad = (False,)
    layer.forward(ctx, x)
    assert layer.backward(ctx, np.ones((1, 2, 2, 1))) == (None, [])


def test_pooling_errors():
    with pytest.raises(ValueError, match=r"'max_pooling2d.*' \(MaxPooling2D\) would produce an "
                                         r"empty output.*\(3, 3\).*pool_size=\(4, 4\)"):
        MaxPooling2D(4)(np.zeros((1, 3, 3, 1)))
    with pytest.raises(ValueError, match="Received: padding='full'"):
        MaxPooling2D(padding="full")
    with pytest.raises(ValueError, match=r"Received: pool_size=\(2, 0\)"):
        AveragePooling2D((2, 0))
    with pytest.raises(ValueError, match=r"expects 4D input.*\(3, 4, 4\).*np.newaxis"):
        MaxPooling2D()(np.zeros((3, 4, 4)))
    with pytest.raises(ValueError, match="expects 4D input"):
        GlobalAveragePooling2D()(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="data_format='channels_first'"):
        GlobalMaxPooling2D(data_format="channels_first")
