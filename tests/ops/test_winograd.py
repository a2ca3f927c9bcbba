"""ops.winograd: F(4x4, 3x3) convolution and its two gradients vs the loop reference and
float64 finite differences, and when ops.conv2d_forward / conv2d_backward use it."""

import importlib

import numpy as np
import pytest
from helpers import numerical_grad, rel_error
from reference import naive_conv2d

from kernelnet import ops
from kernelnet.ops import winograd

conv = importlib.import_module("kernelnet.ops.conv")  # the kernel module (ops.conv is the op)

CASES = [  # (x_shape, c_out, padding): output sizes below, at and past one 4x4 tile, ragged
    ((2, 7, 6, 3), 4, "valid"),
    ((2, 7, 6, 3), 4, "same"),
    ((1, 4, 4, 1), 1, "valid"),           # one 2x2 output in one tile
    ((3, 5, 9, 2), 5, "same"),
    ((1, 3, 3, 4), 2, "valid"),           # 1x1 output
    ((2, 10, 11, 3), 3, "same"),          # 3 x 3 tiles, the last ones ragged
    ((1, 6, 6, 2), 2, "valid"),           # exactly one full tile
    ((2, 8, 5, 3), 3, ((2, 0), (1, 2))),  # explicit asymmetric padding
    ((2, 10, 7, 2), 3, "valid"),          # 8 x 5: whole tile rows, a ragged last column
    ((1, 9, 10, 2), 2, "valid"),          # 7 x 8: a ragged last row, whole tile columns
]


def _case(rng, x_shape, c_out, padding):
    x = rng.standard_normal(x_shape)
    kernel = rng.standard_normal((3, 3, x_shape[3], c_out))
    return x, kernel, conv.resolve_padding(padding, x_shape[1:3], (3, 3))


@pytest.mark.parametrize("x_shape,c_out,padding", CASES)
def test_winograd_matches_loop_reference_float64(rng, x_shape, c_out, padding):
    x, kernel, pads = _case(rng, x_shape, c_out, padding)
    bias = rng.standard_normal(c_out)
    y = winograd.conv2d(x, kernel, bias, pads)
    expected = naive_conv2d(np.pad(x, ((0, 0), *pads, (0, 0))), kernel, bias, 1, "valid")
    assert y.shape == expected.shape and y.dtype == np.float64 and y.flags.c_contiguous
    np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("x_shape,c_out,padding", CASES)
def test_winograd_gradients_match_finite_differences(rng, x_shape, c_out, padding):
    x, kernel, pads = _case(rng, x_shape, c_out, padding)
    upstream = rng.standard_normal(winograd.conv2d(x, kernel, None, pads).shape)

    def loss():
        return float(np.sum(winograd.conv2d(x, kernel, None, pads) * upstream))

    dx = winograd.input_grad(upstream, kernel, pads)
    dk = winograd.kernel_grad(x, upstream, pads)
    assert dx.shape == x.shape and dk.shape == kernel.shape
    assert rel_error(dx, numerical_grad(loss, x)) < 1e-7
    assert rel_error(dk, numerical_grad(loss, kernel)) < 1e-7


def test_winograd_float32_in_several_chunks(rng, monkeypatch):
    # Chunks of 2 samples (the last one smaller), 20 -> 7 channels, ragged tiles, float32.
    x = rng.standard_normal((5, 10, 11, 20)).astype(np.float32)
    kernel = (rng.standard_normal((3, 3, 20, 7)) / 13).astype(np.float32)
    upstream = rng.standard_normal((5, 10, 11, 7)).astype(np.float32)
    pads = ((1, 1), (1, 1))
    monkeypatch.setattr(winograd, "CHUNK_BYTES", 2 * 36 * 3 * 3 * 20 * 4)
    y = winograd.conv2d(x, kernel, None, pads)
    dx = winograd.input_grad(upstream, kernel, pads)
    dk = winograd.kernel_grad(x, upstream, pads)
    assert y.dtype == dx.dtype == dk.dtype == np.float32
    x64, k64, up64 = (a.astype(np.float64) for a in (x, kernel, upstream))
    monkeypatch.setattr(winograd, "CHUNK_BYTES", 2**30)  # the reference: one chunk, float64
    for got, expected in ((y, winograd.conv2d(x64, k64, None, pads)),
                          (dx, winograd.input_grad(up64, k64, pads)),
                          (dk, winograd.kernel_grad(x64, up64, pads))):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    np.testing.assert_allclose(y, naive_conv2d(x64, k64, None, 1, "same"), rtol=1e-4,
                               atol=1e-4 * np.abs(y).max())


def test_transform_kernel_is_g_kernel_gt(rng):
    kernel = rng.standard_normal((3, 3, 2, 3))
    u = winograd.transform_kernel(kernel, np.float64).reshape(6, 6, 2, 3)
    expected = np.einsum("ai,ijco,bj->abco", winograd.G, kernel, winograd.G)
    np.testing.assert_allclose(u, expected, rtol=1e-12, atol=1e-12)


def test_transforms_compute_one_tile_by_the_formula(rng):
    # y = A^T [(G g G^T) * (B^T d B)] A for one 6x6 tile and one channel pair.
    d, g = rng.standard_normal((6, 6)), rng.standard_normal((3, 3))
    bt, gm, at = winograd.BT, winograd.G, winograd.AT
    y = at @ ((gm @ g @ gm.T) * (bt @ d @ bt.T)) @ at.T
    expected = np.array([[np.sum(d[i:i + 3, j:j + 3] * g) for j in range(4)] for i in range(4)])
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape,strides,dilation,expected", [
    ((3, 3, 4, 4), (1, 1), (1, 1), True),
    ((3, 3, 4, 4), (2, 2), (1, 1), False),
    ((3, 3, 4, 4), (1, 1), (2, 2), False),
    ((5, 5, 4, 4), (1, 1), (1, 1), False),
])
def test_applies_only_to_stride1_undilated_3x3(shape, strides, dilation, expected):
    assert winograd.applies(shape, strides, dilation) is expected


@pytest.mark.parametrize("c_in,c_out,strides,padding,expected", [
    (8, 8, 1, "same", True),
    (16, 32, 1, "valid", True),
    (7, 32, 1, "same", False),    # too few input channels: im2col is faster
    (32, 7, 1, "same", False),
    (8, 8, 2, "same", False),
    (8, 8, 1, 3, False),          # pads past 2: the input gradient could not pad by 2 - pad
])
def test_conv2d_forward_uses_winograd_by_shape(rng, c_in, c_out, strides, padding, expected):
    x = rng.standard_normal((2, 9, 10, c_in))
    kernel = rng.standard_normal((3, 3, c_in, c_out)) / 10
    y, cache = ops.conv2d_forward(x, kernel, None, strides, padding)
    assert cache.winograd is expected
    assert cache.cols is None or not expected
    np.testing.assert_allclose(y, naive_conv2d(x, kernel, None, strides, padding), rtol=1e-10,
                               atol=1e-10)


def test_winograd_can_be_turned_off(rng, monkeypatch):
    x, kernel = rng.standard_normal((1, 6, 6, 8)), rng.standard_normal((3, 3, 8, 8))
    monkeypatch.setattr(conv, "WINOGRAD_MIN_CHANNELS", None)
    assert not ops.conv2d_forward(x, kernel)[1].winograd


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_conv2d_backward_through_winograd_matches_finite_differences(rng, monkeypatch, padding):
    monkeypatch.setattr(conv, "WINOGRAD_MIN_CHANNELS", 2)
    x = rng.standard_normal((2, 7, 9, 3))
    kernel = rng.standard_normal((3, 3, 3, 2))
    bias = rng.standard_normal(2)
    y, cache = ops.conv2d_forward(x, kernel, bias, 1, padding)
    assert cache.winograd and cache.cols is None
    upstream = rng.standard_normal(y.shape)
    dx, dk, db = ops.conv2d_backward(upstream, cache)

    def loss():
        return float(np.sum(ops.conv2d(x, kernel, bias, 1, padding) * upstream))

    assert rel_error(dx, numerical_grad(loss, x)) < 1e-7
    assert rel_error(dk, numerical_grad(loss, kernel)) < 1e-7
    assert rel_error(db, numerical_grad(loss, bias)) < 1e-7
    dx, dk, db = ops.conv2d_backward(upstream, cache, need_dx=False)
    assert dx is None and dk is not None and db is not None


def test_inference_reuses_the_transformed_kernel_while_it_is_unchanged(rng):
    import gc

    x = rng.standard_normal((2, 9, 9, 8)).astype(np.float32)
    kernel = rng.standard_normal((3, 3, 8, 8)).astype(np.float32)
    key = (id(kernel), np.dtype(np.float32).str)
    first = ops.conv2d(x, kernel, padding="same")
    u = winograd._TRANSFORMED[key][1]
    np.testing.assert_allclose(first, ops.conv2d_forward(x, kernel, padding="same")[0],
                               rtol=1e-5, atol=1e-5)
    assert winograd.transformed(kernel, np.float32) is u                 # reused as is
    kernel[1, 1, 0, 0] += 1.0                                             # an in-place update
    second = ops.conv2d(x, kernel, padding="same")
    assert winograd._TRANSFORMED[key][1] is not u
    np.testing.assert_allclose(second, ops.conv2d_forward(x, kernel, padding="same")[0],
                               rtol=1e-5, atol=1e-5)
    assert not np.allclose(first, second)
    ops.conv2d(x.astype(np.float64), kernel, padding="same")              # its own entry
    assert (id(kernel), np.dtype(np.float64).str) in winograd._TRANSFORMED
    del kernel
    gc.collect()
    assert key not in winograd._TRANSFORMED                               # gone with the kernel
