"""Keras 3 training hooks on the tape: add_loss in the total loss, a subclassed model with its
own train_step/test_step and metrics, and a two-output subclassed model."""

import numpy as np
import pytest

import kernelnet
from kernelnet import GradientTape, Input, layers, metrics, ops
from kernelnet.models import Model
from kernelnet.utils import gradient_check


class PenalizedDense(layers.Layer):
    """`x @ w` that adds `rate * sum(w^2)` to the loss with add_loss()."""

    def __init__(self, units, rate, **kwargs):
        super().__init__(**kwargs)
        self.units, self.rate = units, rate

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                 initializer="glorot_uniform", name="w")

    def call(self, x):
        self.add_loss(self.rate * ops.sum(self.w * self.w))
        return ops.matmul(x, self.w)


def test_add_loss_is_part_of_the_total_loss_and_its_gradient(rng):
    kernelnet.utils.set_random_seed(0)
    inputs = Input(shape=(4,))
    layer = PenalizedDense(3, rate=0.1)
    model = Model(inputs, layers.Dense(2, name="out")(layer(inputs)))
    model.compile("sgd", "mse")
    x = rng.standard_normal((10, 4)).astype("float32")
    y = rng.standard_normal((10, 2)).astype("float32")
    w = np.asarray(layer.w, np.float64)
    mse = np.mean((model.predict(x, verbose=0).astype(np.float64) - y) ** 2)
    loss = model.evaluate(x, y, batch_size=10, verbose=0)
    assert loss == pytest.approx(mse + 0.1 * np.sum(w * w), rel=1e-5)
    errors = gradient_check(model, x, y, sample_weight=np.linspace(0.5, 1.5, 10))
    assert max(errors.values()) < 1e-6
    hist = model.fit(x, y, batch_size=10, epochs=1, verbose=0)
    assert hist.history["loss"][0] == pytest.approx(loss, rel=1e-5)


class CustomStepModel(Model):
    """A subclassed model with Keras' "customizing fit" train_step/test_step and metrics."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = layers.Dense(4, activation="tanh")
        self.head = layers.Dense(2)
        self.loss_tracker = metrics.Mean(name="loss")
        self.mae_metric = metrics.MeanAbsoluteError(name="mae")
        self.calls = {"train_step": 0, "test_step": 0}

    def call(self, x, training=False):
        return self.head(self.hidden(x))

    def train_step(self, data):
        self.calls["train_step"] += 1
        x, y = data
        with GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply(grads, self.trainable_weights)
        self.loss_tracker.update_state(loss)
        self.mae_metric.update_state(y, y_pred)
        return {"loss": self.loss_tracker.result(), "mae": self.mae_metric.result()}

    def test_step(self, data):
        self.calls["test_step"] += 1
        x, y = data
        y_pred = self(x, training=False)
        self.loss_tracker.update_state(self.compute_loss(y=y, y_pred=y_pred, training=False))
        self.mae_metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}

    @property
    def metrics(self):
        return [self.loss_tracker, self.mae_metric]


def test_subclassed_model_with_its_own_train_and_test_step(rng):
    kernelnet.utils.set_random_seed(1)
    x = rng.standard_normal((32, 3)).astype("float32")
    y = np.stack([x[:, 0] - x[:, 1], x[:, 2]], axis=1).astype("float32")
    model = CustomStepModel()
    model.compile(kernelnet.optimizers.Adam(learning_rate=0.03), loss="mse")
    hist = model.fit(x, y, batch_size=8, epochs=20, verbose=0, validation_data=(x, y))
    assert model.calls == {"train_step": 80, "test_step": 80}
    assert list(hist.history) == ["loss", "mae", "val_loss", "val_mae"]
    assert hist.history["loss"][-1] < 0.3 * hist.history["loss"][0]
    # the metrics were reset before each epoch and before validation: val_mae is exact
    mae = np.mean(np.abs(model.predict(x, verbose=0) - y))
    assert hist.history["val_mae"][-1] == pytest.approx(mae, rel=1e-5)


class TwoHeads(Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.trunk = layers.Dense(6, activation="relu")
        self.a = layers.Dense(3, activation="softmax")
        self.b = layers.Dense(1)

    def call(self, x, training=False):
        h = self.trunk(x)
        return [self.a(h), self.b(h)]


def test_two_output_subclassed_model_trains_with_loss_weights(rng):
    kernelnet.utils.set_random_seed(2)
    x = rng.standard_normal((24, 4)).astype("float32")
    ya, yb = rng.integers(0, 3, 24), rng.standard_normal((24, 1)).astype("float32")
    model = TwoHeads()
    model.compile(kernelnet.optimizers.Adam(learning_rate=0.02),
                  loss=["sparse_categorical_crossentropy", "mse"], loss_weights=[1.0, 0.5])
    hist = model.fit(x, [ya, yb], batch_size=8, epochs=20, verbose=0)
    assert hist.history["loss"][-1] < 0.7 * hist.history["loss"][0]
    pa, pb = model.predict(x, verbose=0)
    expected = (np.mean(-np.log(pa[np.arange(24), ya].astype(np.float64)))
                + 0.5 * np.mean((pb.astype(np.float64) - yb) ** 2))
    assert model.evaluate(x, [ya, yb], batch_size=24, verbose=0)[0] == \
        pytest.approx(expected, rel=1e-5)


class CountingLoss(Model):
    """compute_loss overridden but unchanged: the step records it on the tape."""

    def compute_loss(self, *args, **kwargs):
        self.count = getattr(self, "count", 0) + 1
        return super().compute_loss(*args, **kwargs)


@pytest.mark.parametrize("loss,act,units", [("sparse_categorical_crossentropy", "softmax", 3),
                                            ("binary_crossentropy", "sigmoid", 1)])
def test_tape_path_equals_the_seeded_path(rng, loss, act, units):
    # The overridden compute_loss runs the built-in crossentropy on the tape, fused at the
    # logits behind the output activation (_keras_logits); the default step seeds (p - y)
    # there directly. Both must train the same weights.
    x = rng.standard_normal((16, 5)).astype("float32")
    y = rng.integers(0, 3 if units == 3 else 2, 16)
    sw = rng.uniform(0.5, 2.0, 16)
    runs = []
    for cls in (CountingLoss, Model):
        kernelnet.utils.set_random_seed(4)
        inputs = Input(shape=(5,))
        hidden = layers.Dense(6, activation="relu")(inputs)
        model = cls(inputs, layers.Dense(units, activation=act)(hidden))
        model.compile("sgd", loss)
        hist = model.fit(x, y, sample_weight=sw, batch_size=8, epochs=2, shuffle=False,
                         verbose=0)
        runs.append((hist.history["loss"], model.get_weights(), getattr(model, "count", 0)))
    assert runs[0][2] == 4 and runs[1][2] == 0
    np.testing.assert_allclose(runs[0][0], runs[1][0], rtol=1e-5)
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_builtin_crossentropy_on_the_tape_is_one_node_at_the_logits(rng):
    from kernelnet import losses

    inputs = Input(shape=(5,))
    model = Model(inputs, layers.Dense(3, activation="softmax")(inputs))
    x = rng.standard_normal((4, 5)).astype("float32")
    with GradientTape() as tape:
        out = model(x, training=True)
        loss = losses.SparseCategoricalCrossentropy()(np.array([0, 1, 2, 0]), out)
    names = [node.name for node in tape._nodes]
    assert "_LogitsValues" in names and "_Values" not in names
    (dkernel,) = tape.gradient(loss, [model.trainable_weights[0]])
    p = np.asarray(out)
    expected = x.T @ ((p - np.eye(3)[[0, 1, 2, 0]]) / 4)  # (p - y) / n at the logits
    np.testing.assert_allclose(dkernel, expected, rtol=1e-4, atol=1e-6)
