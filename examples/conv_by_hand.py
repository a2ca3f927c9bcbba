"""Convolution by hand: Sobel edge kernels on an MNIST digit, with a loop and with ops.conv2d.

A convolution layer slides a small kernel over the image and takes a weighted sum at every
position. With hand-made Sobel kernels the sums are large where brightness changes: edges.

    python examples/conv_by_hand.py --out runs/conv_by_hand
"""

import argparse
import pathlib

import numpy as np

from kernelnet import ops
from kernelnet.datasets import mnist

SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype="float32")  # vertical edges
SOBEL_Y = SOBEL_X.T                                                       # horizontal edges


def conv_loop(image, kernel):
    """The definition: out[i, j] = sum over (a, b) of image[i + a, j + b] * kernel[a, b]."""
    kh, kw = kernel.shape
    out = np.zeros((image.shape[0] - kh + 1, image.shape[1] - kw + 1), dtype=image.dtype)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(image[i:i + kh, j:j + kw] * kernel)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=" ".join(__doc__.split("\n\n")[0].split()),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--index", type=int, default=0, help="which MNIST test digit")
    parser.add_argument("--quick", action="store_true", help="(nothing to shorten here)")
    parser.add_argument("--out", default="runs/conv_by_hand", help="output folder")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    (_, _), (x_test, y_test) = mnist.load_data()
    digit = x_test[args.index].astype("float32") / 255          # (28, 28)
    # NHWC input (1, 28, 28, 1); kernel (kh, kw, c_in, c_out) = (3, 3, 1, 2): both Sobels.
    kernel = np.stack([SOBEL_X, SOBEL_Y], axis=-1)[:, :, np.newaxis, :]
    edges = ops.conv2d(digit[np.newaxis, :, :, np.newaxis], kernel)[0]   # (26, 26, 2)
    for k, name in enumerate(("x", "y")):
        by_hand = conv_loop(digit, kernel[:, :, 0, k])
        if not np.allclose(by_hand, edges[..., k], atol=1e-5):
            raise RuntimeError("the loop and ops.conv2d disagree")
        print(f"Sobel-{name}: loop == ops.conv2d, output {by_hand.shape} from input {digit.shape}")
    magnitude = np.hypot(edges[..., 0], edges[..., 1])

    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 2.8))
    panels = [(digit, f"digit {y_test[args.index]}"), (edges[..., 0], "Sobel x"),
              (edges[..., 1], "Sobel y"), (magnitude, "edge magnitude")]
    for i, (image, title) in enumerate(panels):
        ax = fig.add_subplot(1, 4, i + 1)
        ax.imshow(image, cmap="gray" if i in (0, 3) else "RdBu_r")
        ax.set_title(title)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(out / "sobel.png", dpi=80)
    print(f"Saved {out / 'sobel.png'}")
    return magnitude


if __name__ == "__main__":
    main()
