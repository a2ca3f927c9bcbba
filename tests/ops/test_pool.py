"""ops.pool: max/avg/global pooling vs loop references; backward vs finite differences."""

import numpy as np
import pytest
from helpers import numerical_grad, rel_error
from reference import naive_avg_pool2d, naive_max_pool2d

from kernelnet import ops

CASES = [  # (x_shape, pool_size, strides, padding)
    ((2, 6, 6, 3), 2, None, "valid"),
    ((2, 7, 5, 2), 2, None, "valid"),
    ((2, 7, 5, 2), 2, None, "same"),
    ((1, 7, 7, 2), 3, 2, "valid"),
    ((1, 7, 8, 2), 3, 2, "same"),
    ((2, 5, 6, 1), (2, 3), (1, 2), "same"),
    ((1, 6, 6, 2), 3, 1, "valid"),
    ((1, 9, 9, 1), 2, 3, "valid"),
]


def _no_ties(rng, shape):
    return rng.permutation(np.prod(shape)).reshape(shape) / np.prod(shape) + rng.random() * 0.1


@pytest.mark.parametrize("x_shape,pool,strides,padding", CASES)
def test_max_pool_matches_reference(rng, x_shape, pool, strides, padding):
    x = rng.standard_normal(x_shape)
    expected = naive_max_pool2d(x, pool, strides, padding)
    y, _ = ops.max_pool2d_forward(x, pool, strides, padding)
    np.testing.assert_array_equal(y, expected)
    np.testing.assert_array_equal(ops.max_pool2d(x, pool, strides, padding), expected)


@pytest.mark.parametrize("x_shape,pool,strides,padding", CASES)
def test_avg_pool_matches_reference(rng, x_shape, pool, strides, padding):
    x = rng.standard_normal(x_shape)
    np.testing.assert_allclose(ops.avg_pool2d(x, pool, strides, padding),
                               naive_avg_pool2d(x, pool, strides, padding), atol=1e-12)


@pytest.mark.parametrize("x_shape,pool,strides,padding", CASES)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool_backward_matches_finite_differences(rng, kind, x_shape, pool, strides, padding):
    forward = ops.max_pool2d_forward if kind == "max" else ops.avg_pool2d_forward
    backward = ops.max_pool2d_backward if kind == "max" else ops.avg_pool2d_backward
    x = _no_ties(rng, x_shape)
    y, cache = forward(x, pool, strides, padding)
    upstream = rng.standard_normal(y.shape)
    upstream.setflags(write=False)
    dx = backward(upstream, cache)
    assert dx.shape == x.shape

    def loss():
        return float(np.sum(forward(x, pool, strides, padding)[0] * upstream))

    assert rel_error(dx, numerical_grad(loss, x)) < 1e-7


def test_max_pool_ties_send_whole_gradient_to_first_max():
    x = np.ones((1, 2, 2, 1))
    y, cache = ops.max_pool2d_forward(x, 2)
    dx = ops.max_pool2d_backward(np.full(y.shape, 3.0), cache)
    np.testing.assert_array_equal(dx[0, :, :, 0], [[3.0, 0.0], [0.0, 0.0]])
    y, cache = ops.global_max_pool2d_forward(x)
    dx = ops.global_max_pool2d_backward(np.full(y.shape, 3.0), cache)
    np.testing.assert_array_equal(dx[0, :, :, 0], [[3.0, 0.0], [0.0, 0.0]])


def test_same_avg_pool_divides_by_real_pixels():
    y = ops.avg_pool2d(np.ones((1, 3, 3, 1)), 2, padding="same")
    np.testing.assert_array_equal(y, np.ones((1, 2, 2, 1)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool_preserves_dtype_and_handles_views(rng, dtype, kind):
    forward = ops.max_pool2d_forward if kind == "max" else ops.avg_pool2d_forward
    backward = ops.max_pool2d_backward if kind == "max" else ops.avg_pool2d_backward
    reference = naive_max_pool2d if kind == "max" else naive_avg_pool2d
    x = rng.standard_normal((2, 6, 7, 3)).astype(dtype).transpose(0, 2, 1, 3)
    x0 = x.copy()
    y, cache = forward(x, 2, None, "same")
    assert y.dtype == dtype
    np.testing.assert_allclose(y, reference(x.astype(float), 2, None, "same"), rtol=1e-6)
    assert backward(np.ones_like(y), cache).dtype == dtype
    np.testing.assert_array_equal(x, x0)


@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pools(rng, keepdims):
    x = _no_ties(rng, (2, 3, 4, 5))
    shape = (2, 1, 1, 5) if keepdims else (2, 5)
    y = ops.global_avg_pool2d(x, keepdims)
    np.testing.assert_allclose(y.reshape(2, 5), x.mean(axis=(1, 2)))
    y, cache = ops.global_max_pool2d_forward(x, keepdims)
    assert y.shape == shape
    np.testing.assert_array_equal(y.reshape(2, 5), x.max(axis=(1, 2)))
    np.testing.assert_array_equal(ops.global_max_pool2d(x, keepdims), y)
    upstream = rng.standard_normal(shape)

    def max_loss():
        return float(np.sum(ops.global_max_pool2d(x, keepdims) * upstream))

    def avg_loss():
        return float(np.sum(ops.global_avg_pool2d(x, keepdims) * upstream))

    dx = ops.global_max_pool2d_backward(upstream, cache)
    assert rel_error(dx, numerical_grad(max_loss, x)) < 1e-7
    dx = ops.global_avg_pool2d_backward(upstream, x.shape)
    assert rel_error(dx, numerical_grad(avg_loss, x)) < 1e-7


def test_global_pools_preserve_float32(rng):
    x = rng.standard_normal((2, 3, 3, 4)).astype(np.float32)
    assert ops.global_avg_pool2d(x).dtype == np.float32
    y, cache = ops.global_max_pool2d_forward(x)
    assert y.dtype == np.float32
    assert ops.global_max_pool2d_backward(y, cache).dtype == np.float32
    assert ops.global_avg_pool2d_backward(y, x.shape).dtype == np.float32


def test_pool_empty_output_error():
    with pytest.raises(ValueError, match=r"empty output.*pool_size=\(4, 4\)"):
        ops.max_pool2d(np.zeros((1, 3, 3, 1)), 4)
