"""The classic Keras MNIST CNN (keras/examples/mnist_cnn.py), with `keras` replaced by `kernelnet`.

Trains on the MNIST copy shipped inside kernelnet, prints the test accuracy, saves the model,
its history and a training-curve plot into --out.

    python examples/mnist_cnn.py --epochs 5 --out runs/mnist_cnn
"""

import argparse
import json
import pathlib
import time

import kernelnet
from kernelnet import layers
from kernelnet.datasets import mnist
from kernelnet.models import Sequential
from kernelnet.utils import np_utils


def build_model(num_classes: int = 10) -> Sequential:
    return Sequential([
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu", input_shape=(28, 28, 1)),
        layers.Conv2D(64, (3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Dropout(0.25),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dropout(0.5),
        layers.Dense(num_classes, activation="softmax"),
    ])


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(
        description=" ".join(__doc__.split("\n\n")[0].split()),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--epochs", type=int, default=5, help="passes over the data")
    parser.add_argument("--batch-size", type=int, default=128, help="images per step")
    parser.add_argument("--samples", type=int, default=None, help="train on the first N images")
    parser.add_argument("--test-samples", type=int, default=None,
                        help="evaluate on the first N test images")
    parser.add_argument("--quick", action="store_true",
                        help="CI mode: 1 epoch on 512 images, 500 test images")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--verbose", type=int, default=1,
                        help="0 quiet, 1 progress bar, 2 one line per epoch")
    parser.add_argument("--out", default="runs/mnist_cnn", help="output folder")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.samples, args.test_samples = 1, 512, 500
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    kernelnet.utils.set_random_seed(args.seed)

    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    x_train = x_train[: args.samples].reshape(-1, 28, 28, 1).astype("float32") / 255
    x_test = x_test[: args.test_samples].reshape(-1, 28, 28, 1).astype("float32") / 255
    y_train = np_utils.to_categorical(y_train[: args.samples], 10)
    y_test = np_utils.to_categorical(y_test[: args.test_samples], 10)

    model = build_model()
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.summary()
    start = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
                        verbose=args.verbose, validation_data=(x_test, y_test))
    seconds = time.perf_counter() - start
    loss, accuracy = model.evaluate(x_test, y_test, batch_size=1000, verbose=0)
    print(f"Test loss: {loss:.4f}")
    print(f"Test accuracy: {accuracy:.4f}")
    print(f"Training time: {seconds:.1f} s ({len(x_train) * args.epochs / seconds:.0f} images/s)")

    model.save(out / "mnist_cnn.kn")
    (out / "history.json").write_text(json.dumps(history.history, indent=1))
    try:
        from kernelnet import visualization

        visualization.plot_history(history, path=out / "history.png")
        print(f"Saved {out / 'mnist_cnn.kn'}, {out / 'history.json'} and {out / 'history.png'}")
    except ImportError as err:
        print(f"Saved {out / 'mnist_cnn.kn'} and {out / 'history.json'} (no plot: {err})")
    return accuracy


if __name__ == "__main__":
    main()
