"""Writes the Keras fixture files that tests/test_keras_io.py loads with kernelnet.

Run it with Keras 3 and a CPU backend; the `test` extra installs Keras and torch (CPU wheel)
into the project's venv (`make install`):

    KERAS_BACKEND=torch .venv/bin/python scripts/make_keras_fixtures.py

For each model it writes, into tests/fixtures/keras/:
    NAME.keras          Keras 3 zip (config.json + model.weights.h5)
    NAME.h5             legacy HDF5 full model (model_config attribute + model_weights group)
    NAME.weights.h5     Keras 3 weights-only file
    NAME.npz            x (inputs) and y (Keras predictions, inference mode)
plus unsupported_lstm.keras (a model with a layer kernelnet does not have) and README.md.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "keras"


def mnist_cnn() -> keras.Model:
    """The Keras mnist_cnn example, shrunk to 12x12x1 inputs."""
    return keras.Sequential(
        [
            keras.Input((12, 12, 1)),
            layers.Conv2D(8, (3, 3), activation="relu"),
            layers.Conv2D(16, (3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Dropout(0.25),
            layers.Flatten(),
            layers.Dense(16, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ],
        name="mnist_cnn",
    )


def resnet_graph() -> keras.Model:
    """A small ResNet-style functional graph with every layer the ResNet family uses."""
    inp = keras.Input((16, 16, 3), name="image")
    x = layers.ZeroPadding2D(((1, 2), (2, 1)), name="stem_pad")(inp)
    x = layers.Conv2D(8, 3, strides=2, name="stem_conv")(x)
    x = layers.BatchNormalization(epsilon=1.001e-5, name="stem_bn")(x)
    x = layers.Activation("relu", name="stem_relu")(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)
    # residual block with a projection shortcut
    shortcut = layers.Conv2D(12, 1, strides=2, name="b1_0_conv")(x)
    shortcut = layers.BatchNormalization(name="b1_0_bn")(shortcut)
    y = layers.Conv2D(6, 3, strides=2, padding="same", use_bias=False, name="b1_1_conv")(x)
    y = layers.BatchNormalization(scale=False, name="b1_1_bn")(y)
    y = layers.ReLU(name="b1_1_relu")(y)
    y = layers.Conv2D(12, 3, padding="same", name="b1_2_conv")(y)
    y = layers.BatchNormalization(center=False, momentum=0.9, name="b1_2_bn")(y)
    x = layers.Add(name="b1_add")([shortcut, y])
    x = layers.Activation("relu", name="b1_out")(x)
    # two heads concatenated
    a = layers.AveragePooling2D(2, padding="same", name="avg_pool")(x)
    a = layers.GlobalMaxPooling2D(name="gmp")(a)
    g = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Concatenate(name="concat")([g, a])
    out = layers.Dense(5, activation="softmax", name="predictions")(x)
    return keras.Model(inp, out, name="resnet_graph")


def dense_stack() -> keras.Model:
    """A Sequential MLP with the activation layers and reshaping layers."""
    return keras.Sequential(
        [
            keras.Input((20,)),
            layers.Dense(32, kernel_initializer="he_normal"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Dense(16, activation="tanh", bias_initializer="ones"),
            layers.Reshape((4, 4)),
            layers.LayerNormalization(),
            layers.Flatten(),
            layers.ReLU(),
            layers.Dropout(0.3),
            layers.Dense(8),
            layers.Activation("sigmoid"),
            layers.Dense(6, use_bias=False),
            layers.Softmax(),
        ],
        name="dense_stack",
    )


def nested_backbone() -> keras.Model:
    """A functional classifier around a frozen Sequential backbone (transfer learning)."""
    backbone = keras.Sequential(
        [
            keras.Input((10, 10, 2)),
            layers.Conv2D(6, 3, padding="same", name="bb_conv"),
            layers.BatchNormalization(name="bb_bn"),
            layers.Activation("relu", name="bb_relu"),
            layers.GlobalAveragePooling2D(name="bb_gap"),
        ],
        name="backbone",
    )
    inp = keras.Input((10, 10, 2), name="image")
    x = backbone(inp)
    out = layers.Dense(3, activation="softmax", name="head")(x)
    return keras.Model(inp, out, name="nested_backbone")


def unsupported_lstm() -> keras.Model:
    return keras.Sequential(
        [keras.Input((5, 3)), layers.LSTM(4, name="lstm_1"), layers.Dense(2)], name="lstm_model"
    )


def randomize_norm_stats(model: keras.Model, rng: np.random.Generator) -> None:
    """Gives every normalization layer non-trivial weights (incl. moving mean/variance)."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            randomize_norm_stats(layer, rng)
        if isinstance(layer, (layers.BatchNormalization, layers.LayerNormalization)):
            new = []
            for w in layer.weights:
                shape = tuple(w.shape)
                if "variance" in w.path:
                    new.append(rng.uniform(0.5, 2.0, shape))
                elif "gamma" in w.path:
                    new.append(rng.uniform(0.5, 1.5, shape))
                else:
                    new.append(rng.normal(0.0, 0.3, shape))
            layer.set_weights([v.astype("float32") for v in new])


def train_briefly(model: keras.Model, x: np.ndarray, rng: np.random.Generator) -> None:
    """A few SGD steps so that weights and BatchNormalization moving stats move."""
    n_out = model.output_shape[-1]
    y = keras.utils.to_categorical(rng.integers(0, n_out, len(x)), n_out)
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)


def write(model: keras.Model, name: str, x: np.ndarray) -> None:
    model.save(OUT / f"{name}.keras")
    model.save(OUT / f"{name}.h5")
    model.save_weights(OUT / f"{name}.weights.h5")
    y = model.predict(x, verbose=0)
    np.savez_compressed(OUT / f"{name}.npz", x=x, y=y)
    print(f"{name}: {model.count_params()} params, y {y.shape}")


def write_readme() -> None:
    backend = keras.backend.backend()
    import h5py

    versions = f"keras {keras.__version__}, backend {backend}"
    if backend == "torch":
        import torch

        versions += f" (torch {torch.__version__})"
    versions += f", h5py {h5py.__version__}, numpy {np.__version__}"
    text = f"""# Keras fixtures

Generated by `scripts/make_keras_fixtures.py` with {versions}.
Do not edit by hand: re-run the script (see its docstring) to regenerate.

| file | what |
| --- | --- |
| `NAME.keras` | Keras 3 zip archive (config.json + model.weights.h5) |
| `NAME.h5` | legacy HDF5 full model (`model.save("NAME.h5")`) |
| `NAME.weights.h5` | Keras 3 weights-only file (`model.save_weights`) |
| `NAME.npz` | `x` (inputs) and `y` (Keras `model.predict(x)`) |
| `unsupported_lstm.keras` | a model with an LSTM, which kernelnet does not support |

Models: `mnist_cnn` (Sequential: Conv2D, MaxPooling2D, Dropout, Flatten, Dense on 12x12x1),
`resnet_graph` (functional: ZeroPadding2D, Conv2D, BatchNormalization with trained and random
moving statistics, Activation, ReLU, MaxPooling2D, Add, AveragePooling2D, global pooling,
Concatenate, Dense), `dense_stack` (Sequential: Dense, LeakyReLU, Reshape, LayerNormalization,
Flatten, ReLU, Dropout, Activation, Softmax), `nested_backbone` (functional model around a frozen
Sequential backbone with BatchNormalization).
"""
    (OUT / "README.md").write_text(text)


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(1234)
    rng = np.random.default_rng(1234)
    specs = [
        ("mnist_cnn", mnist_cnn, (6, 12, 12, 1)),
        ("resnet_graph", resnet_graph, (6, 16, 16, 3)),
        ("dense_stack", dense_stack, (6, 20)),
        ("nested_backbone", nested_backbone, (6, 10, 10, 2)),
    ]
    for name, factory, x_shape in specs:
        model = factory()
        x_train = rng.normal(size=(32, *x_shape[1:])).astype("float32")
        randomize_norm_stats(model, rng)
        if name == "nested_backbone":
            model.get_layer("backbone").trainable = False
        train_briefly(model, x_train, rng)
        x = rng.normal(size=x_shape).astype("float32")
        write(model, name, x)
    unsupported_lstm().save(OUT / "unsupported_lstm.keras")
    write_readme()
    return 0


if __name__ == "__main__":
    sys.exit(main())
