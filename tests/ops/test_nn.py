"""kernelnet.ops.nn helpers that have fast paths: add_bias, sum_rows and relu_into."""

import numpy as np
import pytest

from kernelnet.ops import nn


@pytest.mark.parametrize("shape", [(64, 784, 6), (5000, 7), (3, 3), (2**14 + 3, 5), (128, 10)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_add_bias_equals_broadcast_add(shape, dtype):
    rng = np.random.default_rng(0)
    z = rng.standard_normal(shape).astype(dtype)
    bias = rng.standard_normal(shape[-1]).astype(dtype)
    expected = z + bias
    out = nn.add_bias(z, bias)
    assert out is z
    np.testing.assert_array_equal(z, expected)


def test_add_bias_on_a_non_contiguous_view():
    z = np.zeros((200, 200, 8))[:, ::2]
    nn.add_bias(z, np.arange(8.0))
    np.testing.assert_array_equal(z[3, 4], np.arange(8.0))


@pytest.mark.parametrize("shape", [(100352, 6), (7, 3), (1, 5)])
def test_sum_rows_equals_numpy_sum(shape):
    x = np.random.default_rng(1).standard_normal(shape)
    np.testing.assert_allclose(nn.sum_rows(x), x.sum(axis=0), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("size", [1, 7, 2**14 - 1, 2**14, 2**14 + 1, 3 * 2**14, 301056])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("in_place", [False, True])
def test_relu_into_equals_maximum_with_zero(size, dtype, in_place):
    z = np.random.default_rng(size).standard_normal(size).astype(dtype)
    z[::97] = np.nan
    z[1::89] = -0.0
    expected = np.maximum(z, 0)
    out = z if in_place else np.full_like(z, 123)
    assert nn.relu_into(z, out) is out
    np.testing.assert_array_equal(out, expected)        # NaN stays NaN; -0.0 == 0.0


@pytest.mark.parametrize("z", [np.arange(-6.0, 6.0).reshape(3, 4)[:, ::2],   # a strided view
                               np.arange(-6, 6),                          # integers
                               np.asfortranarray(np.arange(-6.0, 6.0).reshape(3, 4))])
def test_relu_into_other_layouts_and_dtypes(z):
    out = np.empty_like(z)
    nn.relu_into(z, out)
    np.testing.assert_array_equal(out, np.maximum(z, 0))


def test_relu_keeps_its_argument():
    z = np.linspace(-1, 1, 5 * 6555, dtype=np.float32).reshape(5, -1)
    before = z.copy()
    np.testing.assert_array_equal(nn.relu(z), np.maximum(before, 0))
    np.testing.assert_array_equal(z, before)
