"""Transfer learning with a small ResNet: pretrain, freeze, train a new head, fine-tune.

1. Pretrain a small ResNet (kernelnet.applications.resnet blocks) on MNIST digits 0-4.
2. Freeze the backbone (`backbone.trainable = False`: weights and BatchNormalization statistics
   stay fixed, and backward stops before it) and train a new head on digits 5-9.
3. Unfreeze the top residual block and fine-tune it with a small learning rate.

The same steps with Keras' ResNet50 and ImageNet weights are
`applications.ResNet50(include_top=False, weights="imagenet", pooling="avg")` as the backbone.

    python examples/resnet_transfer.py            # a few minutes on a laptop CPU
    python examples/resnet_transfer.py --quick    # seconds, for CI
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from kernelnet import Input, layers, optimizers, utils
from kernelnet.applications import resnet
from kernelnet.models import Model


def small_resnet(input_shape: tuple, width: int = 16) -> Model:
    """Stem conv + two stages of basic residual blocks + global average pooling."""
    inputs = Input(shape=input_shape)
    x = layers.Conv2D(width, 3, padding="same", use_bias=False, name="conv1_conv")(inputs)
    x = layers.BatchNormalization(name="conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = resnet.stack(x, resnet.basic_block, width, 1, stride1=2, name="conv2", use_bias=False)
    x = resnet.stack(x, resnet.basic_block, 2 * width, 1, stride1=2, name="conv3",
                     use_bias=False)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    backbone = Model(inputs, x, name="backbone")
    for layer in backbone.layers:
        if isinstance(layer, layers.BatchNormalization):
            # NOTE: Keras' momentum 0.99 needs thousands of steps before the moving statistics
            # used at inference match the batch statistics; this short run uses 0.9.
            layer.momentum = 0.9
    return backbone


def with_head(backbone: Model, classes: int, name: str) -> Model:
    inputs = Input(shape=backbone.batch_input_shape[1:])
    outputs = layers.Dense(classes, activation="softmax", name=f"{name}_head")(backbone(inputs))
    return Model(inputs, outputs, name=name)


def load_digits(n_train: int, n_test: int) -> tuple:
    """MNIST as float32 in [0, 1] with a channel axis; split into digits 0-4 and 5-9."""
    from kernelnet.datasets import mnist

    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    x_train = (x_train[..., None] / 255.0).astype("float32")
    x_test = (x_test[..., None] / 255.0).astype("float32")

    def task(x, y, digits, n):
        keep = np.isin(y, digits)
        return x[keep][:n], utils.to_categorical(y[keep][:n] - digits[0], 5)

    a = task(x_train, y_train, range(5), n_train), task(x_test, y_test, range(5), n_test)
    b = task(x_train, y_train, range(5, 10), n_train), task(x_test, y_test, range(5, 10), n_test)
    return a, b


def train(model: Model, data: tuple, lr: float, epochs: int, title: str) -> float:
    (x, y), (x_test, y_test) = data
    model.compile(optimizer=optimizers.Adam(learning_rate=lr), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    print(f"{title}: training {epochs} epoch(s) on {len(x)} digits")
    model.fit(x, y, batch_size=64, epochs=epochs, verbose=2)     # one line per epoch
    _, acc = model.evaluate(x_test, y_test, verbose=0)
    print(f"{title}: test accuracy {acc:.3f} ({len(model.trainable_weights)} trainable arrays)")
    return acc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Transfer learning with a small ResNet: pretrain on digits 0-4, freeze the "
                    "backbone and train a new head on 5-9, then fine-tune the top block.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny subset and 1 epoch (CI)")
    parser.add_argument("--out", default="runs/resnet_transfer",
                        help="folder for the fine-tuned model")
    args = parser.parse_args(argv)
    n_train, n_test, epochs = (256, 128, 1) if args.quick else (6000, 1000, 3)
    utils.set_random_seed(0)
    task_a, task_b = load_digits(n_train, n_test)

    backbone = small_resnet((28, 28, 1))
    train(with_head(backbone, 5, "digits_0_4"), task_a, 1e-3, epochs, "1. pretrain on 0-4")

    backbone.trainable = False
    frozen = [w.copy() for w in backbone.weights]
    model_b = with_head(backbone, 5, "digits_5_9")
    train(model_b, task_b, 1e-3, epochs, "2. new head on 5-9, frozen backbone")
    unchanged = all(np.array_equal(a, b) for a, b in zip(frozen, backbone.weights))
    print(f"   backbone weights and BatchNormalization statistics unchanged: {unchanged}")
    if not unchanged:
        return 1

    backbone.trainable = True
    for layer in backbone.layers:
        layer.trainable = layer.name.startswith("conv3")      # only the top block
    train(model_b, task_b, 1e-4, epochs, "3. fine-tune the top block on 5-9")
    model_b.save(f"{args.out}/resnet_transfer.kn")
    print(f"Saved {args.out}/resnet_transfer.kn")
    return 0


if __name__ == "__main__":
    sys.exit(main())
