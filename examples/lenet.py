"""LeNet-5 on MNIST (LeCun et al. 1998): tanh convolutions and average-pool subsampling.

Pictures in --out: training curves, confusion matrix and the six first-layer kernels.

    python examples/lenet.py --epochs 5 --out runs/lenet
"""

import argparse
import pathlib

import kernelnet
from kernelnet import visualization as vis
from kernelnet.applications import LeNet5
from kernelnet.datasets import mnist
from kernelnet.utils import to_categorical


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=" ".join(__doc__.split("\n\n")[0].split()),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--epochs", type=int, default=5, help="passes over the data")
    parser.add_argument("--batch-size", type=int, default=64, help="images per step")
    parser.add_argument("--quick", action="store_true", help="1 epoch on 1,000 images (CI)")
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2),
                        help="0 quiet, 1 progress bar, 2 one line per epoch")
    parser.add_argument("--out", default="runs/lenet", help="output folder")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    kernelnet.utils.set_random_seed(0)

    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    n_train, n_test = (1000, 500) if args.quick else (None, None)
    epochs = 1 if args.quick else args.epochs
    x_train = x_train[:n_train, :, :, None].astype("float32") / 255
    x_test = x_test[:n_test, :, :, None].astype("float32") / 255
    y_train, y_test = to_categorical(y_train[:n_train], 10), to_categorical(y_test[:n_test], 10)

    model = LeNet5(input_shape=(28, 28, 1), classes=10)
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    model.summary()
    history = model.fit(x_train, y_train, batch_size=args.batch_size, epochs=epochs,
                        validation_data=(x_test, y_test), verbose=args.verbose)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"Test accuracy: {accuracy:.4f}")

    vis.plot_history(history, path=out / "lenet_history.png")
    vis.plot_confusion_matrix(y_test, model.predict(x_test, verbose=0),
                              path=out / "lenet_confusion.png")
    vis.plot_kernels(model.get_layer("c1"), path=out / "lenet_kernels_c1.png")
    model.save(out / "lenet.kn")
    print(f"Saved the model and pictures in {out}/")
    return accuracy


if __name__ == "__main__":
    main()
