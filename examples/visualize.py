"""What a trained CNN sees: its kernels, the feature maps of every conv/pool layer for one
digit, and a Grad-CAM heat map of the pixels behind its decision.

Trains the Keras MNIST CNN briefly (or loads --model) on the MNIST copy shipped in kernelnet.

    python examples/visualize.py --out runs/visualize
"""

import argparse
import pathlib

import kernelnet
from kernelnet import visualization as vis
from kernelnet.applications import MnistCNN
from kernelnet.datasets import mnist
from kernelnet.models import load_model
from kernelnet.utils import to_categorical


def trained_model(quick):
    (x, y), _ = mnist.load_data()
    n = 300 if quick else 10000
    x = x[:n, :, :, None].astype("float32") / 255
    model = MnistCNN()
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, to_categorical(y[:n], 10), batch_size=64, epochs=1, verbose=2)
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="a saved MNIST model (28x28x1)")
    parser.add_argument("--index", type=int, default=0, help="which test digit to look at")
    parser.add_argument("--quick", action="store_true", help="train on 300 digits (CI)")
    parser.add_argument("--out", default="runs/visualize")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    kernelnet.utils.set_random_seed(0)
    model = load_model(args.model) if args.model else trained_model(args.quick)

    _, (x_test, y_test) = mnist.load_data()
    digit = x_test[args.index, :, :, None].astype("float32") / 255
    first_conv = vis.conv_layers(model)[0]
    vis.plot_kernels(first_conv, path=out / "kernels.png")
    vis.plot_feature_maps(model, digit, max_maps=8, path=out / "feature_maps.png")
    heat = vis.grad_cam(model, digit)
    vis.plot_grad_cam(model, digit, path=out / "grad_cam.png")
    print(f"Digit {y_test[args.index]}: Grad-CAM map {heat.shape}, strongest at "
          f"{divmod(int(heat.argmax()), heat.shape[1])}. Pictures in {out}/")
    return heat


if __name__ == "__main__":
    main()
