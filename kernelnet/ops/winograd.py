"""Winograd F(4x4, 3x3) convolution for stride-1, undilated 3x3 kernels on NHWC arrays.

Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks" (2016). Each 4x4 output tile
is computed from the 6x6 input tile `d` around it (tiles overlap by 2, stride 4) as

    y = A^T [ (G g G^T) * (B^T d B) ] A           (* elementwise over the 6x6 positions)

so one tile and channel pair costs 36 multiplies instead of 16 * 9 = 144 (4x fewer). Summed
over input channels, the 36 elementwise products become one batched matmul
`(36, tiles, c_in) @ (36, c_in, c_out)`. The transforms are small matrices applied along one
tile axis at a time, each one matmul over all tiles and channels, so nothing loops per tile.

Training uses the same algebra (the gradients of the formula above):
- input gradient: the stride-1 correlation of the gradient with the kernel rotated by 180
  degrees (in and out channels swapped), i.e. `conv2d` again;
- kernel gradient: `dg = G^T [ sum over tiles (B^T d B) * (A dy A^T) ] G`, with `dy` the 4x4
  gradient tile: the same batched matmul, contracted over tiles instead of channels.

Shape letters as in `conv.py`; th/tw are the numbers of tile rows/columns (`ceil(oh / 4)`),
T the number of tiles in a batch chunk. Results equal the im2col convolution up to float
rounding (about 1e-5 relative in float32: the transforms' entries reach 8, 5 and 1/24).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import numpy as np

from kernelnet._typing import Array

BT = np.array([[4, 0, -5, 0, 1, 0],
               [0, -4, -4, 1, 1, 0],
               [0, 4, -4, -1, 1, 0],
               [0, -2, -1, 2, 1, 0],
               [0, 2, -1, -2, 1, 0],
               [0, 4, 0, -5, 0, 1]], dtype=np.float64)         # input transform (6, 6)
G = np.array([[1 / 4, 0, 0],
              [-1 / 6, -1 / 6, -1 / 6],
              [-1 / 6, 1 / 6, -1 / 6],
              [1 / 24, 1 / 12, 1 / 6],
              [1 / 24, -1 / 12, 1 / 6],
              [0, 0, 1]], dtype=np.float64)                    # kernel transform (6, 3)
GG = np.kron(G, G)                                             # G g G^T on flat 3x3: (36, 9)
AT = np.array([[1, 1, 1, 1, 1, 0],
               [0, 1, -1, 2, -2, 0],
               [0, 1, 1, 4, 4, 0],
               [0, 1, -1, 8, -8, 1]], dtype=np.float64)        # output transform (4, 6)

# Bytes of transformed tiles per batch chunk: a chunk's tiles stay in cache from the input
# transform through the product to the output transform. NOTE: 256 KiB-2 MiB measured within
# 15% of each other on the MNIST and CIFAR-10 CNNs' convolutions (one core, 1 MiB fastest); a
# chunk is never smaller than the transformed kernel, which each chunk's product reads whole
# (ResNet50's 512-channel 7x7 layer, batch 16: 78 ms in 256 KiB chunks of one sample, 37 in
# 1 MiB, 25 in 2 MiB; its kernel is 36 MiB transformed).
CHUNK_BYTES = 2**20


def applies(kernel_shape: tuple, strides: tuple, dilation: tuple) -> bool:
    """Whether Winograd F(4x4, 3x3) computes this convolution (3x3, stride 1, no dilation)."""
    return tuple(kernel_shape[:2]) == (3, 3) and tuple(strides) == (1, 1) and \
        tuple(dilation) == (1, 1)


def _along(matrix: Array, t: Array, axis: int, out: Array) -> Array:
    """`matrix` (p, q) applied along axis 0 or 1 of `t` (q, r, ...) / (r, q, ...), as one
    matmul batched over r.

    NOTE: along axis 0 as r products of (q, M/r) blocks rather than one (q, M) product: a
    3-sample chunk of a 32-channel layer's tiles, (6, 6) @ (6, 36864), 99-123 us against 67-73
    (OpenBLAS on one core)."""
    if axis == 0:
        q, r = t.shape[:2]
        np.matmul(matrix, t.reshape(q, r, -1).transpose(1, 0, 2),
                  out=out.reshape(matrix.shape[0], r, -1).transpose(1, 0, 2))
    else:
        np.matmul(matrix, t.reshape(t.shape[0], t.shape[1], -1),
                  out=out.reshape(t.shape[0], matrix.shape[0], -1))
    return out


def transform_kernel(kernel: Array, dtype) -> Array:
    """U = G g G^T for every (c_in, c_out) pair: `(36, c_in, c_out)` in `dtype`."""
    _, _, c_in, c_out = kernel.shape
    return (GG.astype(dtype) @ kernel.astype(dtype, copy=False).reshape(9, c_in * c_out)).reshape(
        36, c_in, c_out)


# Transformed kernels of the cache-free (inference) path: (id of the kernel array, dtype) ->
# (copy of the kernel, U). Weights change in place, so an entry is used only while the kernel
# still equals its copy; it goes when the kernel array does. NOTE: ResNet50 at batch 16, one
# core, per `conv.conv2d` call: 512 channels 28.3 -> 18.3 ms (the transform alone 9.7, the
# comparison 0.4), 256 channels 12.2 -> 10.7, 128 and fewer within 3%.
_TRANSFORMED: dict[tuple[int, str], tuple[Array, Array]] = {}


def transformed(kernel: Array, dtype) -> Array:
    """`transform_kernel(kernel, dtype)`, reused from an earlier call while `kernel` holds the
    same values (compared with a copy: a read of the kernel, not the 4x larger U)."""
    key = (id(kernel), np.dtype(dtype).str)
    hit = _TRANSFORMED.get(key)
    if hit is not None and hit[0].shape == kernel.shape and np.array_equal(hit[0], kernel):
        return hit[1]
    u = transform_kernel(kernel, dtype)
    if hit is None:
        weakref.finalize(kernel, _TRANSFORMED.pop, key, None)
    _TRANSFORMED[key] = (kernel.copy(), u)
    return u


class _Tiles:
    """The per-chunk buffers of one call: the zero-padded input chunk and two scratch arrays
    the transforms ping-pong between (refilled warm, never reallocated per chunk)."""

    def __init__(self, chunk: int, th: int, tw: int, c_in: int, width: int, dtype):
        self.th, self.tw = th, tw
        self.xp = np.zeros((chunk, 4 * th + 2, 4 * tw + 2, c_in), dtype=dtype)
        self.a = np.empty(36 * chunk * th * tw * width, dtype=dtype)
        self.b = np.empty_like(self.a)

    def input(self, x: Array, top: int, left: int) -> Array:
        """V = B^T d B of every 6x6 tile (stride 4) of `x` placed at (top, left) in the zero
        padding: `(36, T, c_in)` in buffer `a`."""
        k, h, w, c = x.shape
        xp = self.xp[:k]
        xp[:, top:top + h, left:left + w] = x
        sn, sh, sw, sc = xp.strides
        d = np.lib.stride_tricks.as_strided(
            xp, (6, 6, k, self.th, self.tw, c), (sh, sw, sn, 4 * sh, 4 * sw, sc),
            writeable=False)
        size = 36 * k * self.th * self.tw * c
        tiles = self.a[:size].reshape(d.shape)
        np.copyto(tiles, d)                                         # the one gather
        bt = BT.astype(x.dtype)
        _along(bt, tiles, 0, self.b[:size])                         # B^T d
        v = _along(bt, self.b[:size].reshape(6, 6, -1), 1, self.a[:size])   # (B^T d) B
        return v.reshape(36, k * self.th * self.tw, c)

    def output(self, m: Array, out: Array) -> None:
        """A^T m A of the products `m` `(36, T, c_out)` (in buffer `b`), cropped into `out`
        `(k, oh, ow, c_out)`."""
        th, tw, c = self.th, self.tw, m.shape[2]
        k, oh, ow = out.shape[:3]
        at = AT.astype(m.dtype)
        size = 16 * m.shape[1] * c
        rows = _along(at, m.reshape(6, 6, -1), 0, self.a[:size * 6 // 4])       # A^T m
        o = _along(at, rows.reshape(4, 6, -1), 1, self.b[:size])                 # ... A
        o = o.reshape(4, 4, k, th, tw, c).transpose(2, 3, 0, 4, 1, 5)  # (k, th, 4, tw, 4, c)
        # Ragged edge tiles (oh or ow not a multiple of 4) are cropped while copying: whole
        # tiles and the partial last tile row/column as separate blocks of `out`.
        fh, fw = oh // 4, ow // 4
        for r0, r1 in ((0, fh), (fh, th)):
            for c0, c1 in ((0, fw), (fw, tw)):
                rh, cw = min(4 * r1, oh) - 4 * r0, min(4 * c1, ow) - 4 * c0
                if rh <= 0 or cw <= 0:
                    continue
                block = out[:, 4 * r0:4 * r0 + rh, 4 * c0:4 * c0 + cw]
                rr, cc = min(rh, 4), min(cw, 4)   # rows (cols) per tile in this block
                np.copyto(block.reshape(k, rh // rr, rr, cw // cc, cc, c),
                          o[:, r0:r1, :rr, c0:c1, :cc])


def _chunk(n: int, th: int, tw: int, width: int, kernel_bytes: int, itemsize: int) -> int:
    """Samples per chunk: about max(CHUNK_BYTES, kernel_bytes) of transformed tiles."""
    per_sample = 36 * th * tw * width * itemsize
    return max(1, min(n, max(CHUNK_BYTES, kernel_bytes) // per_sample))


def conv2d(x: Array, kernel: Array, bias: Array | None = None,
           pads: tuple = ((0, 0), (0, 0)), u: Array | None = None,
           epilogue: Callable[[Array], None] | None = None) -> Array:
    """Stride-1 3x3 cross-correlation of NHWC `x` padded by `pads` `((top, bottom), (left,
    right))`, by Winograd F(4x4, 3x3); equal to `conv.conv2d` up to float rounding.

    `u`: the kernel already transformed by `transform_kernel`. `epilogue`: an in-place
    function applied to each batch chunk of the output as it is written (`conv.conv2d`).

    Example:
        >>> conv2d(np.ones((1, 4, 4, 1)), np.ones((3, 3, 1, 2)))[0, :, :, 0]
        array([[9., 9.],
               [9., 9.]])
    """
    n, h, w, c_in = x.shape
    c_out = kernel.shape[3]
    (t, b), (l, r) = pads
    oh, ow = h + t + b - 2, w + l + r - 2
    th, tw = -(-oh // 4), -(-ow // 4)
    if u is None:
        u = transform_kernel(kernel, x.dtype)
    y = np.empty((n, oh, ow, c_out), dtype=x.dtype)
    chunk = _chunk(n, th, tw, max(c_in, c_out), u.nbytes, x.itemsize)
    tiles = _Tiles(chunk, th, tw, c_in, max(c_in, c_out), x.dtype)
    for lo in range(0, n, chunk):
        k = min(chunk, n - lo)
        v = tiles.input(x[lo:lo + k], t, l)
        m = tiles.b[:v.shape[1] * 36 * c_out].reshape(36, -1, c_out)
        np.matmul(v, u, out=m)
        if bias is not None:
            # A^T's column 1 is all ones, so the bias added at tile position (1, 1) reaches
            # all 16 outputs of every tile: 1/36 of a pass over the products, not a pass
            # over the output.
            m[7] += bias.astype(x.dtype, copy=False)
        tiles.output(m, y[lo:lo + k])
        if epilogue is not None:
            epilogue(y[lo:lo + k])
    return y


def input_grad(grad: Array, kernel: Array, pads: tuple) -> Array:
    """dL/dx of `conv2d(x, kernel, pads=pads)` for dL/dy `grad` `(n, oh, ow, c_out)`.

    The adjoint of a stride-1 correlation is the correlation of the gradient with the kernel
    rotated by 180 degrees and its channel axes swapped, padded by `2 - pad` on each side
    (pads of at most 2, as "valid" and "same" give).

    Example:
        >>> input_grad(np.ones((1, 2, 2, 1)), np.ones((3, 3, 1, 1)), ((0, 0), (0, 0)))[0, :, :, 0]
        array([[1., 2., 2., 1.],
               [2., 4., 4., 2.],
               [2., 4., 4., 2.],
               [1., 2., 2., 1.]])
    """
    (t, b), (l, r) = pads
    rotated = kernel[::-1, ::-1].transpose(0, 1, 3, 2)
    return conv2d(grad, rotated, None, ((2 - t, 2 - b), (2 - l, 2 - r)))


def kernel_grad(x: Array, grad: Array, pads: tuple) -> Array:
    """dL/dkernel `(3, 3, c_in, c_out)` of `conv2d(x, kernel, pads=pads)` for dL/dy `grad`.

    Per tile, `dg = G^T [(B^T d B) * (A dy A^T)] G`; the sum over tiles and samples of the
    36 elementwise products is one batched matmul `(36, c_in, T) @ (36, T, c_out)` per chunk.

    Example:
        >>> kernel_grad(np.ones((1, 4, 4, 1)), np.ones((1, 2, 2, 1)), ((0, 0), (0, 0)))[..., 0, 0]
        array([[4., 4., 4.],
               [4., 4., 4.],
               [4., 4., 4.]])
    """
    n, c_in = x.shape[0], x.shape[3]
    _, oh, ow, c_out = grad.shape
    (t, _), (l, _) = pads
    th, tw = -(-oh // 4), -(-ow // 4)
    dtype = grad.dtype
    chunk = _chunk(n, th, tw, max(c_in, c_out), 36 * c_in * c_out * grad.itemsize,
                   grad.itemsize)
    tiles = _Tiles(chunk, th, tw, c_in, max(c_in, c_out), dtype)
    gpad = np.zeros((chunk, 4 * th, 4 * tw, c_out), dtype=dtype)
    rows = np.empty(24 * chunk * th * tw * c_out, dtype=dtype)
    a = AT.T.astype(dtype)                                           # (6, 4)
    m = np.zeros((36, c_in, c_out), dtype=dtype)
    part = np.empty_like(m)
    for lo in range(0, n, chunk):
        k = min(chunk, n - lo)
        v = tiles.input(x[lo:lo + k].astype(dtype, copy=False), t, l)
        gp = gpad[:k]
        gp[:, :oh, :ow] = grad[lo:lo + k]
        size = 16 * k * th * tw * c_out
        dy = tiles.b[:size].reshape(4, 4, k, th, tw, c_out)
        np.copyto(dy, gp.reshape(k, th, 4, tw, 4, c_out).transpose(2, 4, 0, 1, 3, 5))
        ady = _along(a, dy, 0, rows[:size * 6 // 4])                       # A dy
        wk = _along(a, ady.reshape(6, 4, -1), 1, tiles.b[:size * 36 // 16])  # (A dy) A^T
        np.matmul(v.transpose(0, 2, 1), wk.reshape(36, -1, c_out), out=part)
        m += part
    return (GG.T.astype(dtype) @ m.reshape(36, -1)).reshape(3, 3, c_in, c_out)
