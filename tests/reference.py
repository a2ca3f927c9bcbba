"""Direct-loop references for convolution and pooling (slow, obviously correct)."""

import numpy as np


def _pads(padding, h, w, kh, kw, s, d):
    if padding == "valid":
        return (0, 0), (0, 0)
    if padding == "same":
        out = []
        for size, k, st, dl in ((h, kh, s[0], d[0]), (w, kw, s[1], d[1])):
            o = -(-size // st)
            total = max((o - 1) * st + (k - 1) * dl + 1 - size, 0)
            out.append((total // 2, total - total // 2))
        return tuple(out)
    if isinstance(padding, int):
        return (padding, padding), (padding, padding)
    ph, pw = padding
    return (ph, ph), (pw, pw)


def naive_conv2d(x, kernel, bias=None, strides=1, padding="valid", dilation_rate=1):
    """Cross-correlation in float64 with explicit loops over every output pixel."""
    s = (strides, strides) if isinstance(strides, int) else tuple(strides)
    d = (dilation_rate,) * 2 if isinstance(dilation_rate, int) else tuple(dilation_rate)
    n, h, w, c = x.shape
    kh, kw, _, c_out = kernel.shape
    (t, b), (l, r) = _pads(padding, h, w, kh, kw, s, d)
    xp = np.zeros((n, h + t + b, w + l + r, c))
    xp[:, t:t + h, l:l + w] = x
    oh = (h + t + b - (kh - 1) * d[0] - 1) // s[0] + 1
    ow = (w + l + r - (kw - 1) * d[1] - 1) // s[1] + 1
    y = np.zeros((n, oh, ow, c_out))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, i * s[0]:i * s[0] + (kh - 1) * d[0] + 1:d[0],
                       j * s[1]:j * s[1] + (kw - 1) * d[1] + 1:d[1], :]
            y[:, i, j, :] = np.tensordot(patch, kernel, axes=([1, 2, 3], [0, 1, 2]))
    return y if bias is None else y + bias


def _pool(x, pool_size, strides, padding, reduce):
    p = (pool_size,) * 2 if isinstance(pool_size, int) else tuple(pool_size)
    s = p if strides is None else ((strides,) * 2 if isinstance(strides, int) else tuple(strides))
    n, h, w, c = x.shape
    (t, _), (l, _) = _pads(padding, h, w, p[0], p[1], s, (1, 1))
    oh = -(-h // s[0]) if padding == "same" else (h - p[0]) // s[0] + 1
    ow = -(-w // s[1]) if padding == "same" else (w - p[1]) // s[1] + 1
    y = np.zeros((n, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * s[0] - t, j * s[1] - l
            win = x[:, max(r0, 0):r0 + p[0], max(c0, 0):c0 + p[1], :]  # real pixels only
            y[:, i, j, :] = reduce(win, axis=(1, 2))
    return y


def naive_max_pool2d(x, pool_size, strides=None, padding="valid"):
    return _pool(x, pool_size, strides, padding, np.max)


def naive_avg_pool2d(x, pool_size, strides=None, padding="valid"):
    return _pool(x, pool_size, strides, padding, np.mean)
