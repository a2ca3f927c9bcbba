"""ops.winograd: F(2x2, 3x3) convolution vs the loop reference, and its use by ops.conv2d.

Winograd serves the cache-free (inference) convolution only, when enabled
(`conv.WINOGRAD_MIN_CHANNELS`); training runs im2col, whose columns the kernel gradient reads
(kept or rebuilt), so there is no Winograd backward to test.
"""

import importlib

import numpy as np
import pytest
from reference import naive_conv2d

from kernelnet import ops
from kernelnet.ops import winograd

conv = importlib.import_module("kernelnet.ops.conv")  # the kernel module (ops.conv is the op)

CASES = [  # (x_shape, c_out, padding): odd and even output sizes, asymmetric padding
    ((2, 7, 6, 3), 4, "valid"),
    ((2, 7, 6, 3), 4, "same"),
    ((1, 4, 4, 1), 1, "valid"),
    ((3, 5, 9, 2), 5, "same"),
    ((1, 3, 3, 4), 2, "valid"),          # one tile, odd output (1x1)
    ((2, 8, 5, 3), 3, ((2, 0), (1, 2))),  # explicit asymmetric padding
]


@pytest.mark.parametrize("x_shape,c_out,padding", CASES)
def test_winograd_matches_loop_reference_float64(rng, x_shape, c_out, padding):
    x = rng.standard_normal(x_shape)
    kernel = rng.standard_normal((3, 3, x_shape[3], c_out))
    bias = rng.standard_normal(c_out)
    pads = conv.resolve_padding(padding, x_shape[1:3], (3, 3))
    y = winograd.conv2d(x, kernel, bias, pads)
    expected = naive_conv2d(np.pad(x, ((0, 0), *pads, (0, 0))), kernel, bias, 1, "valid")
    assert y.shape == expected.shape and y.dtype == np.float64 and y.flags.c_contiguous
    np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-10)


def test_winograd_float32_in_several_chunks(rng, monkeypatch):
    # A chunk of 2 samples (the last one smaller) and 20 channels, in float32.
    x = rng.standard_normal((5, 10, 11, 20)).astype(np.float32)
    kernel = rng.standard_normal((3, 3, 20, 7)).astype(np.float32)
    monkeypatch.setattr(winograd, "CHUNK_BYTES", 2 * 16 * 5 * 5 * 20 * 4)
    y = winograd.conv2d(x, kernel, None, ((1, 1), (1, 1)))
    assert y.dtype == np.float32
    expected = naive_conv2d(x.astype(np.float64), kernel.astype(np.float64), None, 1, "same")
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def test_transform_kernel_is_g_kernel_gt(rng):
    g_matrix = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])
    kernel = rng.standard_normal((3, 3, 2, 3))
    u = winograd.transform_kernel(kernel, np.float64).reshape(4, 4, 2, 3)
    np.testing.assert_allclose(u, np.einsum("ai,ijco,bj->abco", g_matrix, kernel, g_matrix),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape,strides,dilation,expected", [
    ((3, 3, 4, 4), (1, 1), (1, 1), True),
    ((3, 3, 4, 4), (2, 2), (1, 1), False),
    ((3, 3, 4, 4), (1, 1), (2, 2), False),
    ((5, 5, 4, 4), (1, 1), (1, 1), False),
])
def test_applies_only_to_stride1_undilated_3x3(shape, strides, dilation, expected):
    assert winograd.applies(shape, strides, dilation) is expected


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_conv2d_uses_winograd_only_when_enabled_and_above_thresholds(rng, monkeypatch, padding):
    x = rng.standard_normal((2, 6, 7, 3))
    kernel = rng.standard_normal((3, 3, 3, 4))
    bias = rng.standard_normal(4)
    calls = []
    original = winograd.conv2d
    monkeypatch.setattr(winograd, "conv2d", lambda *a, **k: calls.append(1) or original(*a, **k))
    ops.conv2d(x, kernel, bias, 1, padding)
    assert not calls  # off by default
    monkeypatch.setattr(conv, "WINOGRAD_MIN_CHANNELS", 4)
    ops.conv2d(x, kernel, bias, 1, padding)
    assert not calls  # 3 input channels: below the threshold
    monkeypatch.setattr(conv, "WINOGRAD_MIN_CHANNELS", 1)
    monkeypatch.setattr(conv, "WINOGRAD_MIN_TILES", 1)
    y = ops.conv2d(x, kernel, bias, 1, padding)
    assert calls == [1]
    np.testing.assert_allclose(y, naive_conv2d(x, kernel, bias, 1, padding), rtol=1e-10,
                               atol=1e-10)
