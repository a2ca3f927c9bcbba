"""ZeroPadding2D, Cropping2D and UpSampling2D."""

import json

import numpy as np
import pytest
from helpers import check_layer_gradients

from kernelnet.layers.reshaping import Cropping2D, UpSampling2D, ZeroPadding2D


@pytest.mark.parametrize("padding,expected", [
    (1, ((1, 1), (1, 1))),
    ((2, 0), ((2, 2), (0, 0))),
    (((1, 0), (2, 3)), ((1, 0), (2, 3))),
])
def test_zero_padding_forms(padding, expected):
    layer = ZeroPadding2D(padding)
    assert layer.padding == expected
    (t, b), (l, r) = expected
    x = np.arange(12.0).reshape(1, 2, 3, 2)
    y = layer(x)
    assert y.shape == (1, 2 + t + b, 3 + l + r, 2) == layer.compute_output_shape(x.shape)
    np.testing.assert_array_equal(y[:, t:t + 2, l:l + 3], x)
    assert y.sum() == x.sum()


@pytest.mark.parametrize("layer", [ZeroPadding2D(((1, 0), (2, 1))), Cropping2D(((1, 0), (0, 2))),
                                   UpSampling2D((2, 3))])
def test_reshaping_gradients(rng, float64, layer):
    check_layer_gradients(layer, rng.standard_normal((2, 4, 5, 3)), rng)


def test_cropping_and_upsampling_forward():
    x = np.arange(20.0).reshape(1, 4, 5, 1)
    np.testing.assert_array_equal(Cropping2D(((1, 0), (0, 2)))(x), x[:, 1:, :3])
    y = UpSampling2D((2, 3))(x)
    np.testing.assert_array_equal(y, x.repeat(2, axis=1).repeat(3, axis=2))


def test_reshaping_config_round_trip():
    for layer in (ZeroPadding2D((1, 2)), Cropping2D(1), UpSampling2D(3)):
        config = layer.get_config()
        json.dumps(config)
        assert type(layer).from_config(config).get_config() == config


def test_reshaping_errors():
    with pytest.raises(ValueError, match=r"Received: padding=\(1, -1\)"):
        ZeroPadding2D((1, -1))
    with pytest.raises(ValueError, match="Received: padding='x'"):
        ZeroPadding2D("x")
    with pytest.raises(ValueError, match=r"expects 4D input.*\(2, 3, 3\)"):
        ZeroPadding2D()(np.zeros((2, 3, 3)))
    with pytest.raises(ValueError, match="empty output"):
        Cropping2D(2)(np.zeros((1, 4, 6, 1)))
    with pytest.raises(ValueError, match="interpolation='bilinear'"):
        UpSampling2D(interpolation="bilinear")
