import numpy as np
import pytest

import kernelnet
from kernelnet import backend, callbacks, layers
from kernelnet.autodiff import GradientTape
from kernelnet.models import Sequential, summary
from kernelnet.utils import to_categorical


def tiny_cnn(num_classes=4):
    return Sequential([
        layers.Conv2D(8, 3, activation="relu", padding="same", input_shape=(8, 8, 1)),
        layers.MaxPooling2D(),
        layers.Conv2D(8, 3, activation="relu"),
        layers.Flatten(),
        layers.Dense(num_classes, activation="softmax"),
    ])


@pytest.fixture
def images(rng):
    x = rng.random((64, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 4, 64)
    return x, y


def test_small_cnn_overfits_tiny_set(images):
    kernelnet.utils.set_random_seed(1)
    x, y = images
    model = tiny_cnn()
    model.compile(optimizer=kernelnet.optimizers.Adam(learning_rate=0.01),
                  loss="sparse_categorical_crossentropy", metrics=["acc"])
    history = model.fit(x, y, batch_size=16, epochs=60, verbose=0)
    assert history.history["acc"][-1] == 1.0
    assert history.history["loss"][-1] < history.history["loss"][0] / 5


def test_history_keys_follow_user_names(images):
    x, y = images
    model = tiny_cnn()
    model.compile("sgd", "categorical_crossentropy", metrics=["acc"])
    hist = model.fit(x, to_categorical(y, 4), epochs=2, validation_split=0.25, verbose=0)
    assert set(hist.history) == {"loss", "acc", "val_loss", "val_acc"}
    assert len(hist.history["loss"]) == 2 and hist.epoch == [0, 1]
    model.compile("sgd", "categorical_crossentropy", metrics=["accuracy"])
    hist = model.fit(x, to_categorical(y, 4), epochs=1, verbose=0,
                     validation_data=(x, to_categorical(y, 4)))
    assert {"accuracy", "val_accuracy"} <= set(hist.history)


def test_uint8_images_are_cast(rng):
    x = rng.integers(0, 255, (32, 8, 8, 1)).astype("uint8")
    model = tiny_cnn()
    model.compile("sgd", "sparse_categorical_crossentropy")
    model.fit(x, rng.integers(0, 4, 32), epochs=1, verbose=0)
    assert model.predict(x, verbose=0).dtype == np.float32


def test_fit_accepts_generators_and_sequences(images):
    x, y = images

    def gen():
        while True:
            for i in range(0, 64, 16):
                yield x[i:i + 16], y[i:i + 16]

    class Seq:
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return x[i * 16:(i + 1) * 16], y[i * 16:(i + 1) * 16]

    model = tiny_cnn()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["acc"])
    h1 = model.fit(gen(), steps_per_epoch=4, epochs=2, verbose=0, validation_data=Seq())
    assert len(h1.history["val_loss"]) == 2
    h2 = model.fit(Seq(), epochs=1, verbose=0)
    assert len(h2.history["loss"]) == 1
    loss, acc = model.evaluate(Seq(), verbose=0)
    assert 0 <= acc <= 1
    assert model.predict(Seq(), verbose=0).shape == (64, 4)


def test_verbose_modes_print(images, capsys):
    x, y = images
    model = tiny_cnn()
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["acc"])
    model.fit(x, y, epochs=1, verbose=2)
    out = capsys.readouterr().out
    assert "loss:" in out and "acc:" in out
    model.fit(x, y, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


def test_evaluate_return_forms(images):
    x, y = images
    model = tiny_cnn()
    model.compile("sgd", "sparse_categorical_crossentropy")
    assert isinstance(model.evaluate(x, y, verbose=0), float)
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["acc"])
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert set(logs) == {"loss", "acc"}


def test_fused_and_unfused_gradients_agree(rng):
    x = rng.standard_normal((6, 5))
    y = to_categorical(rng.integers(0, 3, 6), 3)
    model = Sequential([layers.Dense(3, activation="softmax", input_shape=(5,))])
    model.compile("sgd", "categorical_crossentropy")
    with GradientTape() as tape:
        out = model(x, training=True)
    assert model.fused_logits(out) is out._keras_logits is not None
    loss, grad = model.loss.value_and_grad(y, out.numpy())
    unfused = tape.gradient(out, model.trainable_weights, output_gradients=grad)
    fused_loss, _, fused = model.compute_gradients(x, y)   # seeded at the logits
    assert fused_loss == pytest.approx(loss)
    for a, b in zip(unfused, fused):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_initial_epoch_and_early_stopping(images):
    x, y = images
    model = tiny_cnn()
    model.compile("sgd", "sparse_categorical_crossentropy")
    hist = model.fit(x, y, epochs=5, initial_epoch=3, verbose=0)
    assert hist.epoch == [3, 4]
    # Keras semantics: epoch 0 sets the best value, epoch 1 fails to improve by min_delta.
    stopper = callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=1e9)
    hist = model.fit(x, y, epochs=10, verbose=0, callbacks=[stopper])
    assert len(hist.epoch) == 2


def test_errors_are_clear(images):
    x, y = images
    model = tiny_cnn()
    with pytest.raises(RuntimeError, match=r"You must call `compile\(\)` before `fit\(\)`"):
        model.fit(x, y)
    model.compile("adam", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="x has 64, y has 63"):
        model.fit(x, y[:63], verbose=0)
    bad = x.copy()
    bad[5, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite values .first in sample 5"):
        model.fit(bad, y, verbose=0)
    with pytest.raises(ValueError, match="Unknown optimizer 'adamm'.*Did you mean 'adam'"):
        model.compile("adamm", "mse")


def test_loss_falls_on_mnist_subset():
    from kernelnet.datasets import mnist

    (x, y), _ = mnist.load_data()
    x = x[:512, :, :, None].astype("float32") / 255
    kernelnet.utils.set_random_seed(0)
    model = Sequential([
        layers.Conv2D(8, 3, activation="relu", input_shape=(28, 28, 1)),
        layers.MaxPooling2D(),
        layers.Flatten(),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["acc"])
    hist = model.fit(x, y[:512], batch_size=32, epochs=4, verbose=0)
    assert hist.history["loss"][-1] < 0.7 * hist.history["loss"][0]


@pytest.mark.parametrize("dtype,rtol", [("float32", 1e-5), ("float64", 1e-12)])
def test_predict_in_sub_batches_equals_one_forward(rng, request, dtype, rtol):
    # Inference is per-sample, so sub-batches give one forward's values up to float rounding:
    # BLAS may pick other kernels and blockings for other matrix sizes (on AMD EPYC with
    # OpenBLAS's Haswell kernels 3 of 300 float32 values differed by 6e-8). A misplaced or
    # reordered sub-batch would differ by ~0.1.
    if dtype == "float64":
        request.getfixturevalue("float64")
    model = Sequential([
        layers.Conv2D(4, 3, input_shape=(8, 8, 2)),
        layers.BatchNormalization(),
        layers.Dropout(0.5),
        layers.Flatten(),
        layers.Dense(3, activation="softmax"),
    ])
    x = rng.standard_normal((100, 8, 8, 2)).astype(dtype)
    backend.set_num_threads(1)  # sub-batches only (threads split the batch in another place)
    request.addfinalizer(lambda: backend.set_num_threads(None))
    with GradientTape():   # one recorded pass over the whole batch (no inference chunking)
        whole = model(x, training=False).numpy()
    model.inference_chunk_bytes = 1  # sub-batches of `inference_chunk` samples
    assert model._inference_step() == model.inference_chunk < len(x)
    for got in (model.predict(x, batch_size=100, verbose=0), model.predict_on_batch(x)):
        assert got.dtype == whole.dtype
        np.testing.assert_allclose(got, whole, rtol=rtol, atol=rtol / 10)


def test_inference_sub_batches_hold_about_inference_chunk_bytes():
    small = Sequential([layers.Dense(8, input_shape=(4,)), layers.Dense(2)])
    assert summary.activation_bytes(small) == (8 + 2) * 4
    assert small._inference_step() == small.inference_chunk_bytes // 40
    small.add(layers.Dense(1000))  # the cached size follows the model
    assert small._inference_step() == small.inference_chunk_bytes // ((8 + 2 + 1000) * 4)
    # 64x64x64 float32 outputs are 1 MiB per sample: the floor of `inference_chunk` samples
    big = Sequential([layers.Conv2D(64, 3, padding="same", input_shape=(64, 64, 3))])
    assert big._inference_step() == big.inference_chunk == 32
