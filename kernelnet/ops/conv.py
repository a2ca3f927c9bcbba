"""2D convolution (cross-correlation, as `tf.nn.conv2d`) on NHWC arrays via im2col + one matmul.

Shape letters: n batch, h/w input height/width, c (= c_in) input channels, kh/kw kernel size,
oh/ow output size, c_out filters, s strides, d dilation. Kernels are `(kh, kw, c_in, c_out)`.

The column matrix `cols` has shape `(n*oh*ow, kh*kw*c)` with columns ordered `(kh, kw, c)`, so
`kernel.reshape(kh*kw*c_in, c_out)` lines up with it and the convolution is `cols @ kernel2d`.
`col2im` is the exact adjoint of `im2col`, which gives the input gradient. Stride-1 3x3
convolutions with enough channels run Winograd F(4x4, 3x3) instead (`winograd.py`, about 2x
faster in training and inference; `WINOGRAD_MIN_CHANNELS`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from kernelnet._typing import Array
from kernelnet.ops import nn, winograd

Pads = tuple[tuple[int, int], tuple[int, int]]


def _pair(value: Any, arg: str) -> tuple[int, int]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value), int(value)
    pair = tuple(value)
    if len(pair) != 2:
        raise ValueError(f"`{arg}` must be an int or a tuple of 2 ints. Received: {arg}={value!r}.")
    return int(pair[0]), int(pair[1])


def _effective(kernel: int, dilation: int) -> int:
    return (kernel - 1) * dilation + 1


def conv_output_size(size: int, kernel: int, stride: int, padding: Any, dilation: int = 1) -> int:
    """Output length along one axis (may be <= 0, meaning an empty output).

    `padding` is "valid", "same" (TF: `ceil(size / stride)`), an int (both sides) or a
    `(before, after)` pair.

    Example:
        >>> conv_output_size(28, 3, 1, "valid"), conv_output_size(28, 3, 2, "same")
        (26, 14)
    """
    if isinstance(padding, str):
        if padding.lower() == "same":
            return -(-size // stride)
        if padding.lower() != "valid":
            raise ValueError(f'`padding` must be "valid" or "same". Received: padding={padding!r}.')
        before = after = 0
    else:
        before, after = _pair(padding, "padding")
    return (size + before + after - _effective(kernel, dilation)) // stride + 1


def resolve_padding(padding: Any, in_hw: tuple[int, int], kernel_hw: Any, strides: Any = 1,
                    dilation: Any = 1) -> Pads:
    """Explicit `((top, bottom), (left, right))` padding for a padding spec.

    "same" follows TF/Keras: total `max((out - 1) * s + eff_k - size, 0)`, the extra pixel at the
    bottom/right. An int or `(ph, pw)` pads symmetrically; `((t, b), (l, r))` is returned as is.

    Example:
        >>> resolve_padding("same", (5, 6), (3, 4), 1, 1)
        ((1, 1), (1, 2))
    """
    kernel_hw, strides, dilation = (_pair(v, a) for v, a in
                                    ((kernel_hw, "kernel"), (strides, "strides"),
                                     (dilation, "dilation_rate")))
    if isinstance(padding, str):
        mode = padding.lower()
        if mode == "valid":
            return (0, 0), (0, 0)
        if mode != "same":
            raise ValueError(f'`padding` must be "valid" or "same". Received: padding={padding!r}.')
        pads = []
        for size, k, s, d in zip(in_hw, kernel_hw, strides, dilation):
            out = -(-size // s)
            total = max((out - 1) * s + _effective(k, d) - size, 0)
            pads.append((total // 2, total - total // 2))
        return pads[0], pads[1]
    if isinstance(padding, (int, np.integer)):
        return (int(padding),) * 2, (int(padding),) * 2
    ph, pw = padding
    ph = (int(ph),) * 2 if isinstance(ph, (int, np.integer)) else _pair(ph, "padding")
    pw = (int(pw),) * 2 if isinstance(pw, (int, np.integer)) else _pair(pw, "padding")
    return ph, pw


def _pad(x: Array, pads: Pads, value: float = 0.0) -> Array:
    """Pads axes 1 and 2 of NHWC `x` (returns `x` itself when there is nothing to pad)."""
    (t, b), (l, r) = pads
    if t == b == l == r == 0:
        return x
    n, h, w, c = x.shape
    out = np.full((n, h + t + b, w + l + r, c), value, dtype=x.dtype)
    out[:, t:t + h, l:l + w, :] = x
    return out


def _geometry(x_shape: tuple, kh: int, kw: int, strides: Any, padding: Any,
              dilation_rate: Any) -> tuple:
    """(pads, strides, dilation, oh, ow); raises ValueError for an empty output."""
    s, d = _pair(strides, "strides"), _pair(dilation_rate, "dilation_rate")
    pads = resolve_padding(padding, x_shape[1:3], (kh, kw), s, d)
    oh = conv_output_size(x_shape[1], kh, s[0], pads[0], d[0])
    ow = conv_output_size(x_shape[2], kw, s[1], pads[1], d[1])
    if oh <= 0 or ow <= 0:
        raise ValueError(
            f"The convolution would produce an empty output: input spatial size "
            f"{tuple(x_shape[1:3])} is smaller than the (dilated) kernel "
            f"{(_effective(kh, d[0]), _effective(kw, d[1]))} with padding={padding!r}."
        )
    return pads, s, d, oh, ow


def _windows(xp: Array, kh: int, kw: int, s: tuple, d: tuple, oh: int, ow: int) -> Array:
    """Strided view `(n, oh, ow, kh, kw, c)` of the padded input; no copy."""
    sn, sh, sw, sc = xp.strides
    shape = (xp.shape[0], oh, ow, kh, kw, xp.shape[3])
    strides = (sn, sh * s[0], sw * s[1], sh * d[0], sw * d[1], sc)
    return np.lib.stride_tricks.as_strided(xp, shape, strides, writeable=False)


def im2col(x: Array, kh: int, kw: int, strides: Any = 1, padding: Any = "valid",
           dilation_rate: Any = 1) -> Array:
    """Unfolds NHWC `x` into columns `(n*oh*ow, kh*kw*c)`, column order `(kh, kw, c)`.

    Example:
        >>> im2col(np.arange(16.0).reshape(1, 4, 4, 1), 2, 2, strides=2)[:2]
        array([[0., 1., 4., 5.],
               [2., 3., 6., 7.]])
    """
    pads, s, d, oh, ow = _geometry(x.shape, kh, kw, strides, padding, dilation_rate)
    return _im2col(x, kh, kw, pads, s, d, oh, ow)


def _im2col(x: Array, kh: int, kw: int, pads: Pads, s: tuple, d: tuple, oh: int, ow: int,
            out: Array | None = None) -> Array:
    """`out`: optional reusable buffer with at least n*oh*ow*kh*kw*c elements of x's dtype
    (refilling warm memory is ~2x faster than first-touching a fresh allocation, measured)."""
    n, c = x.shape[0], x.shape[3]
    xp = _pad(x, pads)
    size = n * oh * ow * kh * kw * c
    if out is not None and out.dtype == x.dtype and out.size >= size:
        buffer = out.reshape(-1)[:size]
    else:
        buffer = np.empty(size, dtype=x.dtype)
    if c == 1:
        # NOTE: with one channel, the transposed matrix (kh*kw, n*oh*ow) is one strided copy
        # with contiguous rows; the returned `.T` view is Fortran-ordered, which BLAS
        # multiplies without a copy. Measured 4-20x faster than strided column writes.
        sn, sh, sw, _ = xp.strides
        view = np.lib.stride_tricks.as_strided(
            xp, (kh, kw, n, oh, ow), (sh * d[0], sw * d[1], sn, sh * s[0], sw * s[1]),
            writeable=False)
        cols_t = buffer.reshape(kh, kw, n, oh, ow)
        np.copyto(cols_t, view)  # the one copy
        return cols_t.reshape(kh * kw, n * oh * ow).T
    cols = buffer.reshape(n, oh, ow, kh, kw, c)
    np.copyto(cols, _windows(xp, kh, kw, s, d, oh, ow))  # the one copy
    return cols.reshape(n * oh * ow, kh * kw * c)


def _offsets(kh: int, kw: int, s: tuple, d: tuple, oh: int, ow: int):
    """Yields (i, j, rows, cols): the strided slices of the padded input seen by offset (i, j)."""
    for i in range(kh):
        rows = slice(i * d[0], i * d[0] + s[0] * (oh - 1) + 1, s[0])
        for j in range(kw):
            yield i, j, rows, slice(j * d[1], j * d[1] + s[1] * (ow - 1) + 1, s[1])


def col2im(cols: Array, x_shape: tuple, kh: int, kw: int, strides: Any = 1,
           padding: Any = "valid", dilation_rate: Any = 1) -> Array:
    """Folds columns `(n*oh*ow, kh*kw*c)` back onto `x_shape`, summing overlaps (adjoint of im2col).

    Example:
        >>> col2im(np.ones((4, 4)), (1, 3, 3, 1), 2, 2)[0, :, :, 0]
        array([[1., 2., 1.],
               [2., 4., 2.],
               [1., 2., 1.]])
    """
    pads, s, d, oh, ow = _geometry(tuple(x_shape), kh, kw, strides, padding, dilation_rate)
    return _col2im(cols, tuple(x_shape), kh, kw, pads, s, d, oh, ow)


def _col2im(cols: Array, x_shape: tuple, kh: int, kw: int, pads: Pads, s: tuple, d: tuple,
            oh: int, ow: int) -> Array:
    n, h, w, c = x_shape
    (t, b), (l, r) = pads
    cols6 = cols.reshape(n, oh, ow, kh, kw, c)
    dxp = np.zeros((n, h + t + b, w + l + r, c), dtype=cols.dtype)
    # One vectorized strided add per kernel offset; windows of one offset never overlap.
    for i, j, rows, cols_j in _offsets(kh, kw, s, d, oh, ow):
        dxp[:, rows, cols_j, :] += cols6[:, :, :, i, j, :]
    return dxp[:, t:t + h, l:l + w, :]


def _pointwise(kh: int, kw: int, s: tuple, pads: Pads) -> bool:
    """Whether the convolution is a 1x1, stride-1, unpadded one: a plain matmul over pixels."""
    return kh == kw == 1 and s == (1, 1) and pads == ((0, 0), (0, 0))


class Conv2DCache(NamedTuple):
    x: Array               # (n, h, w, c_in), the caller's array (not copied)
    cols: Array | None     # (n*oh*ow, kh*kw*c_in) kept when narrow, else None (rebuilt)
    kernel: Array          # (kh, kw, c_in, c_out), the caller's array (not copied)
    has_bias: bool
    pads: Pads             # ((top, bottom), (left, right))
    strides: tuple[int, int]
    dilation: tuple[int, int]
    out_hw: tuple[int, int]
    winograd: bool = False  # computed by Winograd F(4x4, 3x3) (`_winograd`), forward and back

    @property
    def x_shape(self) -> tuple[int, int, int, int]:
        return tuple(self.x.shape)


def conv2d_forward(x: Array, kernel: Array, bias: Array | None = None, strides: Any = 1,
                   padding: Any = "valid", dilation_rate: Any = 1,
                   keep_columns: bool | None = None,
                   epilogue: Epilogue | None = None) -> tuple[Array, Conv2DCache]:
    """Cross-correlates NHWC `x` with `kernel` (kh, kw, c_in, c_out); returns `(y, cache)`.

    `y` has shape `(n, oh, ow, c_out)` and the dtype of `x`. Stride-1 3x3 convolutions with
    at least `WINOGRAD_MIN_CHANNELS` input and output channels run Winograd F(4x4, 3x3)
    (`winograd.py`), forward and backward, and keep only `x`. Others run im2col: the cache
    keeps `x` itself; the column matrix `(n*oh*ow, kh*kw*c_in)` is kept only when it has fewer
    than `RECOMPUTE_MIN_COLUMNS` columns, else the backward rebuilds it chunk by chunk
    (`_chunks`) and it is never whole in memory. `keep_columns` overrides that choice (False:
    never whole, as the cache-free `conv2d` runs it). `epilogue`: see `conv2d`.

    Example:
        >>> y, cache = conv2d_forward(np.ones((1, 4, 4, 2)), np.ones((3, 3, 2, 5)))
        >>> y.shape, float(y[0, 0, 0, 0])
        ((1, 2, 2, 5), 18.0)
    """
    kh, kw, c_in, c_out = kernel.shape
    _check_input(x, kernel)
    pads, s, d, oh, ow = _geometry(x.shape, kh, kw, strides, padding, dilation_rate)
    if _winograd(kernel.shape, s, d, pads):
        y = winograd.conv2d(x, kernel.astype(x.dtype, copy=False), bias, pads, epilogue=epilogue)
        return y, Conv2DCache(x, None, kernel, bias is not None, pads, s, d, (oh, ow), True)
    if keep_columns is None:
        keep_columns = kh * kw * c_in < RECOMPUTE_MIN_COLUMNS
    cols = None
    if _pointwise(kh, kw, s, pads):
        cols = x.reshape(-1, c_in)  # 1x1: the columns are x itself
    elif keep_columns:
        cols = _im2col(x, kh, kw, pads, s, d, oh, ow)
    cache = Conv2DCache(x, cols, kernel, bias is not None, pads, s, d, (oh, ow))
    y = np.empty((x.shape[0], oh, ow, c_out), dtype=x.dtype)
    y2d = y.reshape(-1, c_out)
    for rows, cols in _chunks(cache, c_out if epilogue is not None else 0):
        block = _product(cols, kernel, bias, out=y2d[rows])
        if epilogue is not None:
            epilogue(block)
    return y, cache


# An in-place function of a block of output rows, e.g. the layer's activation: applied to each
# chunk of the output as soon as it is computed, while it is in cache, instead of in a pass
# over the whole output afterwards.
Epilogue = Callable[[Array], None]


def _check_input(x: Array, kernel: Array) -> None:
    if x.ndim != 4 or x.shape[3] != kernel.shape[2]:
        raise ValueError(
            f"conv2d expects NHWC input with {kernel.shape[2]} channels to match kernel shape "
            f"{tuple(kernel.shape)}. Received input with shape {tuple(x.shape)}."
        )


def _chunks(cache: Conv2DCache, split_kept: int = 0):
    """Yields `(rows, cols)`: the column matrix of `cache.x`, a batch chunk at a time.

    `rows` is the slice of output rows `(n*oh*ow)` the chunk's columns produce. A chunk's
    columns take about `CHUNK_BYTES` and one buffer is refilled for every chunk, so each
    product reads its columns back from cache (the whole matrix would stream from memory:
    the forward product of the MNIST CNN's second convolution ran 15.6 ms chunked against
    21.3 ms whole, batch 64, one core). Kept columns (`cache.cols`) are one chunk, or, with
    `split_kept` output channels, blocks of rows with about `CHUNK_BYTES` of output each.
    """
    if cache.cols is not None:
        cols = cache.cols
        step = max(64, CHUNK_BYTES // (max(split_kept, 1) * cols.itemsize)) if split_kept \
            else len(cols)
        for lo in range(0, len(cols), step):
            yield slice(lo, lo + step), cols[lo:lo + step]
        return
    x = cache.x
    kh, kw = cache.kernel.shape[:2]
    (oh, ow), n, c = cache.out_hw, x.shape[0], x.shape[3]
    per_sample = oh * ow * kh * kw * c
    chunk = max(1, CHUNK_BYTES // max(per_sample * x.dtype.itemsize, 1))
    buffer = np.empty(min(chunk, n) * per_sample, dtype=x.dtype)
    for lo in range(0, n, chunk):
        hi = min(lo + chunk, n)
        yield slice(lo * oh * ow, hi * oh * ow), _im2col(
            x[lo:hi], kh, kw, cache.pads, cache.strides, cache.dilation, oh, ow, buffer)


def _product(cols: Array, kernel: Array, bias: Array | None, out: Array | None = None) -> Array:
    """`cols @ kernel2d + bias`: the output rows `(m, c_out)` of the columns `cols`, written
    into `out` when given."""
    kh, kw, c_in, c_out = kernel.shape
    y = np.matmul(cols, kernel.reshape(kh * kw * c_in, c_out).astype(cols.dtype, copy=False),
                  out=out)
    if bias is not None:
        nn.add_bias(y, bias)
    return y


def conv2d_backward(grad: Array, cache: Conv2DCache, need_dx: bool = True,
                    need_dkernel: bool = True) -> tuple[Array | None, Array | None, Array | None]:
    """Given dL/dy `(n, oh, ow, c_out)`, returns `(dx, dkernel, dbias)`.

    Parts not asked for (and dbias without a bias) are None. Gradients have the dtype of `grad`.

    Example:
        >>> y, cache = conv2d_forward(np.ones((1, 4, 4, 2)), np.ones((3, 3, 2, 5)), np.zeros(5))
        >>> dx, dkernel, dbias = conv2d_backward(np.ones_like(y), cache)
        >>> dx.shape, dkernel.shape, dbias.tolist()
        ((1, 4, 4, 2), (3, 3, 2, 5), [4.0, 4.0, 4.0, 4.0, 4.0])
    """
    kh, kw, c_in, c_out = cache.kernel.shape
    grad2d = grad.reshape(-1, c_out)  # (n*oh*ow, c_out)
    dkernel = dbias = dx = None
    if need_dkernel and cache.winograd:
        dkernel = winograd.kernel_grad(cache.x, grad, cache.pads)
    elif need_dkernel:
        dkernel = np.zeros((kh * kw * c_in, c_out), dtype=grad.dtype)
        for rows, cols in _chunks(cache):
            dkernel += cols.T.astype(grad.dtype, copy=False) @ grad2d[rows]
        dkernel = dkernel.reshape(cache.kernel.shape)
    if need_dkernel and cache.has_bias:
        dbias = nn.sum_rows(grad2d)
    if need_dx and cache.winograd:
        dx = winograd.input_grad(grad, cache.kernel.astype(grad.dtype, copy=False), cache.pads)
    elif need_dx:
        dx = _input_grad(grad, grad2d, cache)
    return dx, dkernel, dbias


def _input_grad(grad: Array, grad2d: Array, cache: Conv2DCache) -> Array:
    """dL/dx: one matmul for 1x1 stride-1 convolutions, else the fused col2im below.

    NOTE: computing the stride-1 dx as a 'full' convolution of grad with the flipped kernel was
    measured too: slower on 7 of 8 CNN layer shapes than the chunked col2im (e.g. 69 vs 43 ms),
    so there is a single path.
    """
    kernel = cache.kernel.astype(grad.dtype, copy=False)
    kh, kw, c_in, c_out = kernel.shape
    if _pointwise(kh, kw, cache.strides, cache.pads):
        return (grad2d @ kernel.reshape(c_in, c_out).T).reshape(cache.x_shape)
    return _col2im_matmul(grad2d, kernel, cache)


def _col2im_matmul(grad2d: Array, kernel: Array, cache: Conv2DCache) -> Array:
    """col2im(grad2d @ kernel2d.T) fused per kernel offset: kh*kw small matmuls + strided adds.

    Equal to `_col2im(grad2d @ kernel2d.T, ...)` but never materializes the
    (n*oh*ow, kh*kw*c_in) matrix. The batch is walked in chunks of about `_DX_CHUNK_BYTES` of
    partial products, so each chunk's products and input-gradient slice stay in cache while
    the kh*kw offsets accumulate into it (measured 1.8x faster than whole-batch passes, 45 vs
    81 ms on the MNIST CNN's second convolution at batch 128).
    """
    n, h, w, c_in = cache.x_shape
    (t, b), (l, r) = cache.pads
    oh, ow = cache.out_hw
    kh, kw = kernel.shape[:2]
    dxp = np.zeros((n, h + t + b, w + l + r, c_in), dtype=grad2d.dtype)
    grad3 = grad2d.reshape(n, oh * ow, -1)
    chunk = max(1, _DX_CHUNK_BYTES // (oh * ow * c_in * grad2d.itemsize))
    part = np.empty((min(chunk, n) * oh * ow, c_in), dtype=grad2d.dtype)
    for lo in range(0, n, chunk):
        g = grad3[lo:lo + chunk].reshape(-1, grad2d.shape[1])   # (chunk*oh*ow, c_out)
        p = part[:len(g)]
        dx_chunk = dxp[lo:lo + chunk]
        for i, j, rows, cols in _offsets(kh, kw, cache.strides, cache.dilation, oh, ow):
            np.matmul(g, kernel[i, j].T, out=p)
            dx_chunk[:, rows, cols, :] += p.reshape(-1, oh, ow, c_in)
    return dxp[:, t:t + h, l:l + w, :]


_DX_CHUNK_BYTES = 2**20


# Stride-1 3x3 convolutions with at least this many input and output channels run Winograd
# F(4x4, 3x3) (`winograd.py`) in inference and training; None turns it off. NOTE: forward +
# both gradients, batch 64, one core, im2col / Winograd: 3 -> 32 channels 0.77x (hence the
# threshold), 8 -> 32 1.36x, 16 -> 16 2.0x, 32 -> 64 (MNIST CNN) 2.0x, 64 -> 64 at 15x15 2.0x;
# inference alone 0.78x, 1.2x, 1.3x, 2.2x, 1.9x.
WINOGRAD_MIN_CHANNELS: int | None = 8


def _winograd(kernel_shape: tuple, s: tuple, d: tuple, pads: Pads) -> bool:
    """Whether a convolution runs Winograd: 3x3, stride 1, undilated, wide enough, pads <= 2
    (the input gradient pads the output gradient by `2 - pad`)."""
    return (WINOGRAD_MIN_CHANNELS is not None
            and min(kernel_shape[2:]) >= WINOGRAD_MIN_CHANNELS
            and winograd.applies(kernel_shape, s, d) and max(max(p) for p in pads) <= 2)

# Convolutions with at least this many columns (kh*kw*c_in) rebuild their column matrix in
# the backward instead of keeping it. NOTE: one layer's forward + backward, batch 64, one core,
# kept / rebuilt: 288 columns (MNIST CNN, CIFAR-10 CNN) 64.8 / 58.4 and 68.3 / 60.4 ms, 576
# columns 29.7 / 29.7; below that the product is cheap next to the im2col pass it would repeat:
# 9-150 columns (LeNet-5, first layers) 2.2 / 2.7, 3.3 / 3.7, 3.2 / 3.4, 7.5 / 9.1 ms.
RECOMPUTE_MIN_COLUMNS = 256

# Column-matrix bytes per batch chunk (`_chunks`). NOTE: 2 MiB (a chunk's columns are read
# back from cache by the product) against 32 MiB, predict on 2 cores: LeNet-5 +18%, MNIST CNN
# +23%, CIFAR-10 CNN +18%, ResNet50 unchanged; 1 MiB is slower again.
CHUNK_BYTES = 2 * 2**20


def conv2d(x: Array, kernel: Array, bias: Array | None = None, strides: Any = 1,
           padding: Any = "valid", dilation_rate: Any = 1,
           epilogue: Epilogue | None = None) -> Array:
    """Cache-free convolution (the inference path), equal to `conv2d_forward(...)[0]`.

    A Winograd convolution reuses its transformed kernel from the previous call while the
    kernel's values are unchanged (`winograd.transformed`). `epilogue`: an in-place function
    (an activation) applied to every chunk of output rows right after its product.

    Example:
        >>> conv2d(np.ones((2, 5, 5, 1)), np.ones((3, 3, 1, 4)), padding="same").shape
        (2, 5, 5, 4)
    """
    _check_input(x, kernel)
    pads, s, d, _, _ = _geometry(x.shape, *kernel.shape[:2], strides, padding, dilation_rate)
    if _winograd(kernel.shape, s, d, pads):
        return winograd.conv2d(x, kernel, bias, pads, u=winograd.transformed(kernel, x.dtype),
                               epilogue=epilogue)
    return conv2d_forward(x, kernel, bias, strides, padding, dilation_rate, False, epilogue)[0]
