"""kernelnet.ops.nn helpers that have fast paths: add_bias and sum_rows."""

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
