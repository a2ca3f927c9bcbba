"""The Keras cifar10_cnn example: a small convnet trained with real-time data augmentation.

Uses the CIFAR-10 files under $KERNELNET_HOME/datasets (downloaded there when missing). With
--quick it trains one epoch on 64 random CIFAR-shaped images instead, so it runs offline in CI.

    python examples/cifar10_cnn.py --epochs 25 --out runs/cifar10
"""

import argparse
import pathlib

import numpy as np

import kernelnet
from kernelnet import visualization as vis
from kernelnet.applications import Cifar10CNN
from kernelnet.preprocessing.image import ImageDataGenerator
from kernelnet.utils import to_categorical

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
           "truck"]


def load(quick):
    if quick:
        rng = np.random.default_rng(0)
        return ((rng.integers(0, 256, (64, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, 64)),
                (rng.integers(0, 256, (16, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, 16)))
    from kernelnet.datasets import cifar10

    try:
        return cifar10.load_data()
    except (OSError, ValueError) as err:      # offline, or no file placed: one clear line
        raise SystemExit(f"cifar10_cnn.py: {' '.join(str(err).split())}") from None


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=" ".join(__doc__.split("\n\n")[0].split()),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--epochs", type=int, default=25, help="passes over the data")
    parser.add_argument("--batch-size", type=int, default=32, help="images per step")
    parser.add_argument("--samples", type=int, default=None, help="train on the first N images")
    parser.add_argument("--quick", action="store_true", help="1 epoch on 64 random images (CI)")
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2),
                        help="0 quiet, 1 progress bar, 2 one line per epoch")
    parser.add_argument("--out", default="runs/cifar10_cnn", help="output folder")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    kernelnet.utils.set_random_seed(0)

    (x_train, y_train), (x_test, y_test) = load(args.quick)
    x_train = x_train[: args.samples].astype("float32") / 255
    x_test = x_test.astype("float32") / 255
    y_train = to_categorical(y_train[: args.samples], 10)
    y_test = to_categorical(y_test, 10)

    model = Cifar10CNN(input_shape=x_train.shape[1:], classes=10)
    # The Keras example uses RMSprop(learning_rate=0.0001, decay=1e-6).
    model.compile(optimizer=kernelnet.optimizers.RMSprop(learning_rate=1e-4),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    datagen = ImageDataGenerator(width_shift_range=0.1, height_shift_range=0.1,
                                 horizontal_flip=True)
    batches = datagen.flow(x_train, y_train, batch_size=args.batch_size, seed=0)
    vis.plot_images(batches[0][0], batches[0][1], CLASSES, n=16, path=out / "augmented.png")
    history = model.fit(batches, epochs=1 if args.quick else args.epochs,
                        validation_data=(x_test, y_test), verbose=args.verbose)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"Test accuracy: {accuracy:.4f}")
    probs = model.predict(x_test[:8], verbose=0)
    vis.plot_history(history, path=out / "cifar10_history.png")
    vis.plot_predictions(x_test[:8], probs, CLASSES, y_test[:8], path=out / "predictions.png")
    model.save(out / "cifar10_cnn.kn")
    print(f"Saved the model and pictures in {out}/")
    return accuracy


if __name__ == "__main__":
    main()
