"""What a trained CNN sees: its kernels, the feature maps of every conv and pooling layer for
one digit, and Grad-CAM heat maps of the pixels behind its decision.

Without --model it trains the tutorial's LeNet-5 for one epoch on the MNIST copy shipped in
kernelnet (about a minute on a laptop CPU); with --model it looks inside a saved MNIST model,
e.g. the one `examples/lenet.py` writes.

    python examples/visualize.py --model runs/lenet/lenet.kn --out runs/visualize
"""

import argparse
import pathlib

import kernelnet
from kernelnet import visualization as vis
from kernelnet.applications import LeNet5
from kernelnet.datasets import mnist
from kernelnet.models import load_model
from kernelnet.utils import to_categorical


def trained_model(quick):
    """LeNet-5 after one epoch on MNIST (2,000 digits with --quick)."""
    (x, y), _ = mnist.load_data()
    n = 2000 if quick else None
    x = x[:n, :, :, None].astype("float32") / 255
    model = LeNet5()
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    print(f"Training LeNet-5 for 1 epoch on {len(x)} digits (pass --model to skip this)")
    model.fit(x, to_categorical(y[:n], 10), batch_size=64, epochs=1, verbose=2)
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Kernels, feature maps and Grad-CAM of a CNN trained on MNIST.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--model", default=None,
                        help="a saved MNIST model (28x28x1); default: train LeNet-5 first")
    parser.add_argument("--index", type=int, default=0, help="which test digit to look at")
    parser.add_argument("--quick", action="store_true", help="train on 2,000 digits (CI)")
    parser.add_argument("--out", default="runs/visualize", help="folder for the pictures")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    kernelnet.utils.set_random_seed(0)
    model = load_model(args.model) if args.model else trained_model(args.quick)

    _, (x_test, y_test) = mnist.load_data()
    digit = x_test[args.index, :, :, None].astype("float32") / 255
    convs = vis.conv_layers(model)
    vis.plot_kernels(convs[0], path=out / "kernels.png")
    vis.plot_feature_maps(model, digit, max_maps=8, path=out / "feature_maps.png")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.6 * len(convs), 4))               # one Grad-CAM per conv layer
    for i, layer in enumerate(convs):
        vis.plot_grad_cam(model, digit, layer.name, ax=fig.add_subplot(1, len(convs), i + 1))
    fig.tight_layout()
    fig.savefig(out / "grad_cam.png", dpi=100, bbox_inches="tight")
    heat = vis.grad_cam(model, digit)
    print(f"Digit {y_test[args.index]}: predicted {model.predict(digit[None], verbose=0).argmax()}"
          f"; Grad-CAM at {convs[-1].name}: map {heat.shape}, strongest at "
          f"{divmod(int(heat.argmax()), heat.shape[1])}. Pictures in {out}/")
    return heat


if __name__ == "__main__":
    main()
