"""Depthwise, grouped and transposed convolutions: forward against direct loops, backward
against float64 finite differences."""

import importlib

import numpy as np
import pytest
from helpers import numerical_grad, rel_error

from kernelnet.ops import depthwise, transposed

conv = importlib.import_module("kernelnet.ops.conv")  # the kernel module (ops.conv is the op)


def _padded(x, pads):
    (t, b), (l, r) = pads
    return np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)))


def naive_depthwise(x, k, s, padding, d):
    kh, kw, c, m = k.shape
    pads = conv.resolve_padding(padding, x.shape[1:3], (kh, kw), s, d)
    xp = _padded(x, pads)
    oh = conv.conv_output_size(x.shape[1], kh, s[0], pads[0], d[0])
    ow = conv.conv_output_size(x.shape[2], kw, s[1], pads[1], d[1])
    y = np.zeros((x.shape[0], oh, ow, c * m))
    for n in range(x.shape[0]):
        for i in range(oh):
            for j in range(ow):
                for ci in range(c):
                    for q in range(m):
                        acc = 0.0
                        for a in range(kh):
                            for b in range(kw):
                                acc += xp[n, i * s[0] + a * d[0], j * s[1] + b * d[1], ci] * \
                                    k[a, b, ci, q]
                        y[n, i, j, ci * m + q] = acc
    return y


def naive_grouped(x, k, g, s, padding, d):
    kh, kw, cg, f = k.shape
    fg = f // g
    outs = [conv.conv2d_forward(x[..., gi * cg:(gi + 1) * cg], k[..., gi * fg:(gi + 1) * fg],
                                None, s, padding, d)[0] for gi in range(g)]
    return np.concatenate(outs, axis=-1)


def naive_transpose(x, k, s, padding, output_padding, d):
    kh, kw, f, c = k.shape
    n, h, w, _ = x.shape
    full = [(size - 1) * st + (kk - 1) * dd + 1 for size, kk, st, dd in zip((h, w), (kh, kw), s, d)]
    canvas = np.zeros((n, *full, f))
    for b in range(n):
        for i in range(h):
            for j in range(w):
                for a in range(kh):
                    for e in range(kw):
                        canvas[b, i * s[0] + a * d[0], j * s[1] + e * d[1]] += k[a, e] @ x[b, i, j]
    op = (None, None) if output_padding is None else output_padding
    out = [transposed.output_length(size, kk, st, padding, o, dd)
           for size, kk, st, o, dd in zip((h, w), (kh, kw), s, op, d)]
    starts = [max(fl - o2, 0) // 2 if padding == "same" else 0 for fl, o2 in zip(full, out)]
    y = np.zeros((n, *out, f))
    part = canvas[:, starts[0]:starts[0] + out[0], starts[1]:starts[1] + out[1]]
    y[:, :part.shape[1], :part.shape[2]] = part
    return y


DEPTHWISE = [  # x_shape, (kh, kw), m, strides, padding, dilation
    ((2, 6, 5, 3), (3, 3), 1, (1, 1), "valid", (1, 1)),
    ((1, 7, 6, 2), (3, 2), 2, (2, 2), "same", (1, 1)),
    ((2, 8, 8, 2), (3, 3), 3, (1, 1), "same", (2, 2)),
    ((1, 5, 7, 4), (1, 1), 1, (2, 1), "valid", (1, 1)),
    ((5, 6, 5, 3), (3, 3), 1, (1, 1), "same", (1, 1)),
    ((3, 7, 6, 2), (3, 2), 2, (2, 2), "same", (1, 1)),
]


@pytest.mark.parametrize("chunk_bytes", [1, 1 << 30], ids=["sample_per_chunk", "one_chunk"])
@pytest.mark.parametrize("x_shape,ks,m,s,padding,d", DEPTHWISE)
def test_depthwise_forward_and_gradients(rng, monkeypatch, x_shape, ks, m, s, padding, d,
                                         chunk_bytes):
    monkeypatch.setattr(depthwise, "_CHUNK_BYTES", chunk_bytes)  # cache blocking over the batch
    x = rng.standard_normal(x_shape)
    k = rng.standard_normal((*ks, x_shape[3], m))
    bias = rng.standard_normal(x_shape[3] * m)
    y, cache = depthwise.depthwise_conv2d_forward(x, k, bias, s, padding, d)
    np.testing.assert_allclose(y, naive_depthwise(x, k, s, padding, d) + bias, rtol=1e-10,
                               atol=1e-12)
    up = rng.standard_normal(y.shape)
    dx, dk, db = depthwise.depthwise_conv2d_backward(up, cache)

    def loss():
        return float(np.sum(depthwise.depthwise_conv2d_forward(x, k, bias, s, padding, d)[0] * up))

    assert rel_error(dx, numerical_grad(loss, x)) < 1e-7
    assert rel_error(dk, numerical_grad(loss, k)) < 1e-7
    assert rel_error(db, numerical_grad(loss, bias)) < 1e-7


GROUPED = [  # x_shape, (kh, kw), groups, filters, strides, padding, dilation
    ((2, 6, 5, 4), (3, 3), 2, 6, (1, 1), "valid", (1, 1)),
    ((1, 7, 6, 6), (3, 2), 3, 3, (2, 2), "same", (1, 1)),
    ((2, 6, 6, 4), (2, 2), 4, 8, (1, 1), "same", (2, 2)),
]


@pytest.mark.parametrize("x_shape,ks,g,f,s,padding,d", GROUPED)
def test_grouped_forward_and_gradients(rng, x_shape, ks, g, f, s, padding, d):
    x = rng.standard_normal(x_shape)
    k = rng.standard_normal((*ks, x_shape[3] // g, f))
    bias = rng.standard_normal(f)
    y, cache = depthwise.grouped_conv2d_forward(x, k, bias, g, s, padding, d)
    np.testing.assert_allclose(y, naive_grouped(x, k, g, s, padding, d) + bias, rtol=1e-10,
                               atol=1e-12)
    up = rng.standard_normal(y.shape)
    dx, dk, db = depthwise.grouped_conv2d_backward(up, cache)

    def loss():
        return float(np.sum(depthwise.grouped_conv2d_forward(x, k, bias, g, s, padding, d)[0]
                            * up))

    assert rel_error(dx, numerical_grad(loss, x)) < 1e-7
    assert rel_error(dk, numerical_grad(loss, k)) < 1e-7
    assert rel_error(db, numerical_grad(loss, bias)) < 1e-7


TRANSPOSED = [  # x_shape, (kh, kw), filters, strides, padding, output_padding, dilation
    ((2, 3, 4, 2), (3, 3), 3, (2, 2), "valid", None, (1, 1)),
    ((1, 4, 3, 3), (3, 3), 2, (2, 2), "same", None, (1, 1)),
    ((2, 3, 3, 2), (2, 2), 2, (2, 2), "same", None, (1, 1)),
    ((1, 3, 4, 2), (3, 2), 2, (3, 2), "valid", (1, 1), (1, 1)),
    ((1, 4, 4, 2), (3, 3), 2, (2, 2), "same", (1, 0), (1, 1)),
    ((1, 4, 5, 1), (3, 3), 2, (1, 1), "same", None, (2, 2)),
    ((2, 3, 3, 2), (1, 1), 3, (3, 3), "valid", None, (1, 1)),
]


@pytest.mark.parametrize("x_shape,ks,f,s,padding,op,d", TRANSPOSED)
def test_transpose_forward_and_gradients(rng, x_shape, ks, f, s, padding, op, d):
    x = rng.standard_normal(x_shape)
    k = rng.standard_normal((*ks, f, x_shape[3]))
    bias = rng.standard_normal(f)
    y, cache = transposed.conv2d_transpose_forward(x, k, bias, s, padding, op, d)
    np.testing.assert_allclose(y, naive_transpose(x, k, s, padding, op, d) + bias, rtol=1e-10,
                               atol=1e-12)
    up = rng.standard_normal(y.shape)
    dx, dk, db = transposed.conv2d_transpose_backward(up, cache)

    def loss():
        return float(np.sum(transposed.conv2d_transpose_forward(x, k, bias, s, padding, op,
                                                                d)[0] * up))

    assert rel_error(dx, numerical_grad(loss, x)) < 1e-7
    assert rel_error(dk, numerical_grad(loss, k)) < 1e-7
    assert rel_error(db, numerical_grad(loss, bias)) < 1e-7


def test_transpose_is_the_adjoint_of_conv2d(rng):
    # <conv(x), y> == <x, conv_transpose(y)> with the same kernel (stride 2, 'same').
    x = rng.standard_normal((2, 8, 8, 3))
    k = rng.standard_normal((3, 3, 3, 4))         # conv: 3 -> 4 channels
    y = rng.standard_normal((2, 4, 4, 4))
    cx = conv.conv2d_forward(x, k, None, 2, "same")[0]
    ty = transposed.conv2d_transpose_forward(y, k, None, 2, "same")[0]   # 4 -> 3 channels
    np.testing.assert_allclose(np.sum(cx * y), np.sum(x * ty), rtol=1e-10)


def test_output_lengths_follow_keras():
    assert transposed.output_length(4, 3, 2, "valid") == 9
    assert transposed.output_length(4, 3, 2, "same") == 8
    assert transposed.output_length(4, 1, 3, "valid") == 12
    assert transposed.output_length(4, 3, 2, "same", output_padding=1) == 8
    assert transposed.output_length(4, 3, 2, "valid", output_padding=1) == 10
    assert transposed.output_length(None, 3, 2, "same") is None


def test_kernel_channel_mismatch_names_shapes():
    with pytest.raises(ValueError, match=r"3 channels.*\(1, 4, 4, 2\)"):
        depthwise.depthwise_conv2d_forward(np.ones((1, 4, 4, 2)), np.ones((3, 3, 3, 1)))
    with pytest.raises(ValueError, match="groups=2"):
        depthwise.grouped_conv2d_forward(np.ones((1, 4, 4, 2)), np.ones((3, 3, 2, 4)), groups=2)
