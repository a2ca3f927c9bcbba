"""im2col: turning a convolution into one matrix multiplication.

Each output position's receptive field (kh * kw * c numbers) becomes one row of a matrix; the
kernels become a (kh * kw * c, filters) matrix; the convolution is their product. This is how
kernelnet (and Caffe, Chainer, DLFS) computes Conv2D fast in NumPy.

    python examples/im2col_demo.py --out runs/im2col
"""

import argparse
import pathlib
import time

import numpy as np

from kernelnet import ops


def conv_naive(x, kernel):
    """Six nested loops over batch, output rows/cols, filters (vectorised over the window)."""
    n, h, w, c = x.shape
    kh, kw, _, f = kernel.shape
    out = np.zeros((n, h - kh + 1, w - kw + 1, f), dtype=x.dtype)
    for b in range(n):
        for i in range(out.shape[1]):
            for j in range(out.shape[2]):
                for k in range(f):
                    out[b, i, j, k] = np.sum(x[b, i:i + kh, j:j + kw, :] * kernel[..., k])
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=" ".join(__doc__.split("\n\n")[0].split()),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller timing problem")
    parser.add_argument("--out", default="runs/im2col", help="output folder")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    cols = ops.im2col(x, 3, 3)                           # (n*oh*ow, kh*kw*c) = (4, 9)
    print("input 4x4:\n", x[0, :, :, 0])
    print("im2col with a 3x3 window -> one row per output pixel:\n", cols)

    rng = np.random.default_rng(0)
    n, size = (2, 12) if args.quick else (8, 28)
    x = rng.standard_normal((n, size, size, 3)).astype("float32")
    kernel = rng.standard_normal((3, 3, 3, 8)).astype("float32")
    start = time.perf_counter()
    slow = conv_naive(x, kernel)
    naive_s = time.perf_counter() - start
    start = time.perf_counter()
    cols = ops.im2col(x, 3, 3)                            # (n*oh*ow, 27)
    fast = (cols @ kernel.reshape(-1, 8)).reshape(n, size - 2, size - 2, 8)
    im2col_s = time.perf_counter() - start
    if not (np.allclose(slow, fast, atol=1e-4) and np.allclose(fast, ops.conv2d(x, kernel),
                                                                atol=1e-4)):
        raise RuntimeError("im2col + matmul differs from the loops")
    print(f"loops: {naive_s * 1e3:.1f} ms, im2col + matmul: {im2col_s * 1e3:.2f} ms "
          f"({naive_s / max(im2col_s, 1e-9):.0f}x faster), same result")

    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 2.8))
    grid = fig.add_gridspec(1, 2, width_ratios=[4, 9])
    image = np.arange(16).reshape(4, 4)
    cols = ops.im2col(np.arange(16.0).reshape(1, 4, 4, 1), 3, 3).astype(int)   # (4, 9)
    for k, (values, title) in enumerate([
            (image, "input 4x4 (pixel values)"),
            (cols, "im2col: one row per 3x3 window (4 x 9)")]):
        ax = fig.add_subplot(grid[0, k])
        ax.imshow(values, cmap="viridis", vmin=0, vmax=15)
        for (i, j), v in np.ndenumerate(values):             # the numbers, on each cell
            ax.text(j, i, str(v), ha="center", va="center", fontsize=9,
                    color="white" if v < 8 else "black")
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    ax.set_yticks(range(4), labels=[f"window {w}" for w in range(4)], fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "im2col.png", dpi=100)
    print(f"Saved {out / 'im2col.png'}")
    return naive_s, im2col_s


if __name__ == "__main__":
    main()
