"""ops.conv: im2col/col2im, conv2d forward vs a loop reference, backward vs finite differences."""

import importlib

import numpy as np
import pytest
from helpers import numerical_grad, rel_error
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import naive_conv2d

from kernelnet import ops

conv = importlib.import_module("kernelnet.ops.conv")  # the kernel module (ops.conv is the op)

CASES = [  # (x_shape, kernel (kh, kw), strides, padding, dilation)
    ((2, 7, 6, 3), (3, 3), 1, "valid", 1),
    ((2, 7, 6, 3), (3, 3), 1, "same", 1),
    ((1, 8, 9, 2), (3, 2), 2, "same", 1),
    ((2, 9, 7, 2), (2, 3), 3, "valid", 1),
    ((1, 7, 8, 2), (3, 3), (2, 1), 1, 1),
    ((2, 6, 5, 3), (1, 1), 1, "valid", 1),
    ((2, 7, 5, 3), (1, 1), 2, "same", 1),
    ((1, 9, 9, 2), (3, 3), 1, "valid", 2),
    ((1, 10, 8, 2), (3, 2), 1, "same", 3),
    ((2, 8, 7, 1), (2, 2), 1, (2, 1), (1, 2)),
    ((1, 5, 5, 2), (5, 5), 1, "valid", 1),
    ((2, 9, 8, 1), (3, 2), (2, 3), "same", 1),  # one channel: the transposed im2col path
    ((1, 10, 9, 1), (3, 3), 1, "same", 2),
]


def _params(x_shape, k, c_out=4):
    return x_shape, (k[0], k[1], x_shape[3], c_out)


def test_conv_output_size_and_same_padding():
    assert conv.conv_output_size(28, 3, 1, "valid") == 26
    assert conv.conv_output_size(28, 3, 2, "same") == 14
    assert conv.conv_output_size(7, 3, 2, (1, 1)) == 4
    assert conv.conv_output_size(9, 3, 1, "valid", dilation=3) == 3
    # TF: size 6, k 3, s 2 -> out 3, total pad (3-1)*2+3-6 = 1 -> (0, 1)
    assert conv.resolve_padding("same", (6, 6), (3, 3), 2, 1) == ((0, 1), (0, 1))
    assert conv.resolve_padding(2, (6, 6), 3, 1, 1) == ((2, 2), (2, 2))
    assert conv.resolve_padding((1, 2), (6, 6), 3, 1, 1) == ((1, 1), (2, 2))
    assert conv.resolve_padding(((0, 1), (2, 3)), (6, 6), 3, 1, 1) == ((0, 1), (2, 3))


@pytest.mark.parametrize("x_shape,k,strides,padding,dilation", CASES)
def test_conv2d_matches_reference(rng, x_shape, k, strides, padding, dilation):
    x_shape, k_shape = _params(x_shape, k)
    x = rng.standard_normal(x_shape)
    kernel = rng.standard_normal(k_shape)
    bias = rng.standard_normal(k_shape[3])
    y = ops.conv2d(x, kernel, bias, strides, padding, dilation)
    expected = naive_conv2d(x, kernel, bias, strides, padding, dilation)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("x_shape,k,strides,padding,dilation", CASES)
def test_conv2d_in_batch_chunks_matches_reference(rng, monkeypatch, x_shape, k, strides,
                                                  padding, dilation):
    monkeypatch.setattr(conv, "CHUNK_BYTES", 1)  # one sample per chunk
    x_shape, k_shape = _params((5, *x_shape[1:]), k)
    x = rng.standard_normal(x_shape)
    kernel = rng.standard_normal(k_shape)
    bias = rng.standard_normal(k_shape[3])
    np.testing.assert_allclose(ops.conv2d(x, kernel, bias, strides, padding, dilation),
                               naive_conv2d(x, kernel, bias, strides, padding, dilation),
                               rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("x_shape,k,strides,padding,dilation",
                         [*CASES, ((5, 9, 10, 8), (3, 3), 1, "same", 1)])     # last: Winograd
@pytest.mark.parametrize("chunk_bytes", [1, None])                         # many chunks / one
def test_conv2d_epilogue_runs_once_on_every_output_element(rng, monkeypatch, x_shape, k,
                                                          strides, padding, dilation,
                                                          chunk_bytes):
    if chunk_bytes is not None:
        monkeypatch.setattr(conv, "CHUNK_BYTES", chunk_bytes)
        monkeypatch.setattr(ops.winograd, "CHUNK_BYTES", chunk_bytes)
    x_shape, k_shape = _params((5, *x_shape[1:]), k, c_out=8)
    x = rng.standard_normal(x_shape)
    kernel = rng.standard_normal(k_shape)
    bias = rng.standard_normal(k_shape[3])
    blocks = []

    def epilogue(block):
        blocks.append(block.size)
        np.tanh(block, out=block)

    y = ops.conv2d(x, kernel, bias, strides, padding, dilation, epilogue=epilogue)
    np.testing.assert_allclose(y, np.tanh(ops.conv2d(x, kernel, bias, strides, padding,
                                                     dilation)), rtol=1e-12, atol=1e-12)
    assert sum(blocks) == y.size
    if chunk_bytes is not None and y.size // 8 > 64:
        assert len(blocks) > 1                      # applied chunk by chunk, not at the end


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv2d_preserves_dtype_and_inputs(rng, dtype):
    x = rng.standard_normal((2, 6, 6, 3)).astype(dtype)
    kernel = rng.standard_normal((3, 3, 3, 4)).astype(dtype)
    bias = rng.standard_normal(4).astype(dtype)
    x0, k0 = x.copy(), kernel.copy()
    y, cache = ops.conv2d_forward(x, kernel, bias, 2, "same")
    assert y.dtype == dtype and cache.x is x
    dx, dk, db = ops.conv2d_backward(np.ones_like(y), cache)
    assert dx.dtype == dk.dtype == db.dtype == dtype
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(kernel, k0)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(y, naive_conv2d(x.astype(float), kernel, bias, 2, "same"),
                               rtol=tol, atol=tol)


@pytest.mark.parametrize("k", [(3, 3), (1, 1)])
def test_conv2d_non_contiguous_input(rng, k):
    x = rng.standard_normal((2, 6, 7, 3)).transpose(0, 2, 1, 3)  # a (2, 7, 6, 3) view
    assert not x.flags.c_contiguous
    kernel = rng.standard_normal((*k, 3, 2))
    y, cache = ops.conv2d_forward(x, kernel, None, 1, "same")
    np.testing.assert_allclose(y, naive_conv2d(x, kernel, None, 1, "same"), atol=1e-10)
    grad = rng.standard_normal(y.shape).transpose(0, 2, 1, 3).copy().transpose(0, 2, 1, 3)
    dx, dk, db = ops.conv2d_backward(grad, cache)
    assert dx.shape == x.shape and db is None


@pytest.mark.parametrize("x_shape,k,strides,padding,dilation", CASES)
def test_im2col_col2im_are_adjoint(rng, x_shape, k, strides, padding, dilation):
    x = rng.standard_normal(x_shape)
    cols = ops.im2col(x, k[0], k[1], strides, padding, dilation)
    assert cols.shape[1] == k[0] * k[1] * x_shape[3]
    c = rng.standard_normal(cols.shape)
    back = ops.col2im(c, x_shape, k[0], k[1], strides, padding, dilation)
    assert back.shape == x_shape
    assert np.isclose(np.sum(cols * c), np.sum(x * back), rtol=1e-12)


def test_im2col_column_order_matches_kernel_reshape(rng):
    x = rng.standard_normal((1, 3, 3, 2))
    kernel = rng.standard_normal((3, 3, 2, 1))
    cols = ops.im2col(x, 3, 3)
    np.testing.assert_allclose(cols @ kernel.reshape(-1, 1), np.sum(x[0] * kernel[..., 0]))


@pytest.mark.parametrize("x_shape,k,strides,padding,dilation", CASES[:10:2] + CASES[5:10:2])
@pytest.mark.parametrize("c_out", [4, 1])  # c_out <= c_in takes the flipped-kernel dx path
@pytest.mark.parametrize("columns", ["kept", "rebuilt", "rebuilt per sample"])
def test_conv2d_backward_matches_finite_differences(rng, monkeypatch, x_shape, k, strides,
                                                    padding, dilation, c_out, columns):
    monkeypatch.setattr(conv, "RECOMPUTE_MIN_COLUMNS", 10**9 if columns == "kept" else 0)
    if columns == "rebuilt per sample":
        monkeypatch.setattr(conv, "CHUNK_BYTES", 1)
        x_shape = (3, *x_shape[1:])
    x_shape, k_shape = _params(x_shape, k, c_out)
    x = rng.standard_normal(x_shape)
    kernel = rng.standard_normal(k_shape)
    bias = rng.standard_normal(k_shape[3])
    y, cache = ops.conv2d_forward(x, kernel, bias, strides, padding, dilation)
    pointwise = k == (1, 1) and strides == 1 and padding == "valid"  # columns: x itself
    assert (cache.cols is not None) == (columns == "kept" or pointwise)
    upstream = rng.standard_normal(y.shape)
    upstream.setflags(write=False)
    dx, dk, db = ops.conv2d_backward(upstream, cache)

    def loss():
        return float(np.sum(ops.conv2d(x, kernel, bias, strides, padding, dilation) * upstream))

    assert rel_error(dx, numerical_grad(loss, x)) < 1e-7
    assert rel_error(dk, numerical_grad(loss, kernel)) < 1e-7
    assert rel_error(db, numerical_grad(loss, bias)) < 1e-7


def test_conv2d_backward_skips_parts(rng):
    x, kernel = rng.standard_normal((1, 5, 5, 2)), rng.standard_normal((3, 3, 2, 3))
    y, cache = ops.conv2d_forward(x, kernel)
    dx, dk, db = ops.conv2d_backward(np.ones_like(y), cache, need_dx=False)
    assert dx is None and dk is not None and db is None
    dx, dk, db = ops.conv2d_backward(np.ones_like(y), cache, need_dkernel=False)
    assert dx is not None and dk is None and db is None


def test_conv2d_errors():
    with pytest.raises(ValueError, match="empty output"):
        ops.conv2d(np.zeros((1, 2, 2, 1)), np.zeros((3, 3, 1, 1)))
    with pytest.raises(ValueError, match=r"Received input with shape \(1, 4, 4, 2\)"):
        ops.conv2d(np.zeros((1, 4, 4, 2)), np.zeros((3, 3, 1, 1)))
    with pytest.raises(ValueError, match="padding='full'"):
        ops.conv2d(np.zeros((1, 4, 4, 1)), np.zeros((3, 3, 1, 1)), padding="full")


@settings(max_examples=30, deadline=None)
@given(h=st.integers(1, 8), w=st.integers(1, 8), kh=st.integers(1, 3), kw=st.integers(1, 3),
       s=st.integers(1, 3), d=st.integers(1, 3), padding=st.sampled_from(["valid", "same", 1]),
       seed=st.integers(0, 2**16))
def test_conv2d_property_vs_reference(h, w, kh, kw, s, d, padding, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, h, w, 2))
    kernel = rng.standard_normal((kh, kw, 2, 3))
    eff_h, eff_w = (kh - 1) * d + 1, (kw - 1) * d + 1
    pad = 2 if padding == 1 else 0
    if padding != "same" and (h + pad < eff_h or w + pad < eff_w):
        with pytest.raises(ValueError, match="empty output"):
            ops.conv2d(x, kernel, None, s, padding, d)
        return
    y = ops.conv2d(x, kernel, None, s, padding, d)
    np.testing.assert_allclose(y, naive_conv2d(x, kernel, None, s, padding, d), atol=1e-10)
