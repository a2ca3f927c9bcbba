"""How kernel size, stride, padding and pool size change a feature map's size.

For one axis: valid padding gives floor((n - k) / s) + 1, same padding gives ceil(n / s).
Each formula is checked against the shape the real ops produce.

    python examples/output_sizes.py --out runs/output_sizes
"""

import argparse
import math
import pathlib

import numpy as np

from kernelnet import ops


def formula(n, k, s, padding):
    return math.floor((n - k) / s) + 1 if padding == "valid" else math.ceil(n / s)


def check(*sizes):
    if len(set(sizes)) != 1:
        raise RuntimeError(f"output sizes disagree: {sizes}")


def table(size=28):
    """Rows (what, kernel, stride, padding, output size), each checked against the ops."""
    x = np.zeros((1, size, size, 1), dtype="float32")
    rows = []
    for k, s, padding in [(3, 1, "valid"), (3, 1, "same"), (5, 1, "valid"), (3, 2, "valid"),
                          (3, 2, "same"), (7, 3, "valid"), (1, 1, "valid")]:
        got = ops.conv2d(x, np.zeros((k, k, 1, 1), "float32"), strides=s, padding=padding)
        check(got.shape[1], formula(size, k, s, padding), ops.conv_output_size(size, k, s, padding))
        rows.append(("conv", k, s, padding, got.shape[1]))
    for p, s in [(2, 2), (3, 2), (3, 3)]:
        got = ops.max_pool2d(x, p, s)
        check(got.shape[1], formula(size, p, s, "valid"))
        rows.append(("max-pool", p, s, "valid", got.shape[1]))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=" ".join(__doc__.split("\n\n")[0].split()),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--size", type=int, default=28, help="input size N of an N x N image")
    parser.add_argument("--quick", action="store_true", help="(already quick)")
    parser.add_argument("--out", default="runs/output_sizes", help="output folder")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = table(args.size)
    lines = [f"input {args.size}x{args.size}", "| op | kernel/pool | stride | padding | output |",
             "|---|---|---|---|---|"]
    lines += [f"| {op} | {k} | {s} | {p} | {n}x{n} |" for op, k, s, p, n in rows]
    text = "\n".join(lines)
    print(text)
    (out / "output_sizes.md").write_text(text + "\n")

    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 3.2))
    ax = fig.add_subplot()
    strides = np.arange(1, 6)
    for k in (3, 5, 7):
        ax.plot(strides, [formula(args.size, k, s, "valid") for s in strides], "-o",
                label=f"valid, k={k}")
    ax.plot(strides, [formula(args.size, 3, s, "same") for s in strides], "--s", label="same")
    ax.set_xlabel("stride")
    ax.set_ylabel(f"output size (input {args.size})")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "output_sizes.png", dpi=80)
    print(f"Saved {out / 'output_sizes.md'} and {out / 'output_sizes.png'}")
    return rows


if __name__ == "__main__":
    main()
