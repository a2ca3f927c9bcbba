"""Keras 3 `Loss` and `Metric` subclasses, reductions with sample weights, and built-in losses
recorded by the tape (fused and through the logits)."""

import numpy as np
import pytest

import kernelnet
from kernelnet import layers, losses, metrics, ops
from kernelnet.autodiff import GradientTape
from kernelnet.models import Sequential
from kernelnet.ops import nn
from tests.helpers import numerical_grad, rel_error


class CubedError(losses.Loss):
    """Mean cubed absolute error over the last axis, written with kernelnet.ops."""

    def call(self, y_true, y_pred):
        d = y_pred - y_true
        return ops.sum(ops.abs(d) * d * d, axis=-1) / y_pred.shape[-1]


class ScaledMSE(losses.Loss):
    def __init__(self, scale=2.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale

    def call(self, y_true, y_pred):
        d = y_pred - y_true
        return ops.sum(d * d, axis=-1) * (self.scale / y_pred.shape[-1])

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


def _tape_grad(loss, y_true, y_pred, sample_weight=None):
    pred = ops.convert_to_tensor(y_pred)
    with GradientTape() as tape:
        tape.watch(pred)
        value = loss(y_true, pred, sample_weight=sample_weight)
    return float(value), tape.gradient(value, pred)


def test_custom_loss_value_by_hand(rng):
    y, p = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    sw = np.array([1.0, 0.0, 2.0, 0.5, 1.0])
    per_sample = np.sum(np.abs(p - y) ** 3, axis=-1) / 3
    loss = CubedError()
    assert loss.name == "cubed_error" and loss.reduction == "sum_over_batch_size"
    assert loss(y, p) == pytest.approx(per_sample.mean(), rel=1e-12)
    assert loss(y, p, sample_weight=sw) == pytest.approx(np.sum(per_sample * sw) / 5, rel=1e-12)
    assert CubedError(reduction="sum")(y, p, sw) == pytest.approx(np.sum(per_sample * sw))
    assert CubedError(reduction="mean_with_sample_weight")(y, p, sw) == pytest.approx(
        np.sum(per_sample * sw) / sw.sum())
    np.testing.assert_allclose(CubedError(reduction="none")(y, p, sw), per_sample * sw)
    again = ScaledMSE.from_config(ScaledMSE(scale=3.0, name="s").get_config())
    assert (again.scale, again.name) == (3.0, "s")


@pytest.mark.parametrize("weighted", [False, True])
def test_custom_loss_gradient_matches_finite_differences(rng, weighted):
    y, p = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    sw = rng.uniform(0.5, 2.0, 4) if weighted else None
    loss = CubedError()
    value, grad = _tape_grad(loss, y, p, sw)
    assert value == pytest.approx(loss(y, p, sw), rel=1e-12)
    assert rel_error(grad, numerical_grad(lambda: loss(y, p, sw), p)) < 1e-7
    value2, grad2 = loss.value_and_grad(y, p, sample_weight=sw)  # what training calls
    assert value2 == pytest.approx(value) and rel_error(grad2, grad) < 1e-12


def _cases(rng):
    z = rng.standard_normal((5, 4))
    return [
        (losses.CategoricalCrossentropy(), np.eye(4)[[0, 1, 2, 3, 1]], nn.softmax(z)),
        (losses.SparseCategoricalCrossentropy(), np.array([0, 1, 2, 3, 1]), nn.softmax(z)),
        (losses.SparseCategoricalCrossentropy(ignore_class=1), np.array([0, 1, 2, 3, 1]),
         nn.softmax(z)),
        (losses.BinaryCrossentropy(label_smoothing=0.1),
         rng.integers(0, 2, (5, 3)).astype(float), rng.uniform(0.1, 0.9, (5, 3))),
        (losses.MeanSquaredError(), rng.standard_normal((5, 3)), rng.standard_normal((5, 3))),
        (losses.Huber(delta=0.5), rng.standard_normal((5, 3)), rng.standard_normal((5, 3))),
    ]


@pytest.mark.parametrize("index", range(6))
def test_builtin_losses_on_the_tape_match_their_direct_gradient(rng, index):
    loss, y, p = _cases(rng)[index]
    sw = np.array([1.0, 0.5, 2.0, 0.0, 1.5])
    value, grad = _tape_grad(loss, y, p, sw)
    direct_value, direct = loss.value_and_grad(y, p, sample_weight=sw)
    assert value == pytest.approx(direct_value, rel=1e-12)
    assert rel_error(grad, direct) < 1e-12
    assert rel_error(grad, numerical_grad(lambda: loss(y, p, sw), p)) < 1e-7


def test_sparse_ignore_class_mean_is_over_the_other_samples(rng):
    p = nn.softmax(rng.standard_normal((4, 3)))
    labels = np.array([0, 2, 2, 1])
    sw = np.array([1.0, 3.0, 1.0, 2.0])
    per = -np.log(p[np.arange(4), labels])
    loss = losses.SparseCategoricalCrossentropy(ignore_class=2)
    # Keras 3: the kept samples weigh total/valid = 4/2, the mean is over all 4 values
    expected = (per[0] * 1.0 + per[3] * 2.0) * 2 / 4
    assert loss(labels, p, sample_weight=sw) == pytest.approx(expected, rel=1e-12)
    assert _tape_grad(loss, labels, p, sw)[0] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("cls,act", [(losses.CategoricalCrossentropy, nn.softmax),
                                     (losses.BinaryCrossentropy, nn.sigmoid)])
def test_logits_marked_by_an_output_activation_get_the_fused_gradient(rng, cls, act):
    z = rng.standard_normal((6, 3))
    y = np.eye(3)[rng.integers(0, 3, 6)]
    sw = rng.uniform(0.5, 2.0, 6)
    logits = ops.convert_to_tensor(z)
    probs = ops.convert_to_tensor(act(z))
    probs._keras_logits = logits
    loss = cls()
    with GradientTape() as tape:
        tape.watch(logits)
        value = loss(y, probs, sample_weight=sw)
    grad = tape.gradient(value, logits)
    _, fused = loss.value_and_logits_grad(y, act(z), sample_weight=sw)
    assert float(value) == pytest.approx(loss(y, act(z), sw), rel=1e-12)
    assert rel_error(grad, fused) < 1e-12
    # a mark that does not fit this loss's activation is not fused: no path to the logits
    probs._keras_logits = ops.convert_to_tensor(z + 1.0)
    with GradientTape() as tape:
        tape.watch(logits)
        value = loss(y, probs)
    assert tape.gradient(value, logits) is None


def test_loss_function_written_with_ops_trains_and_numpy_one_says_why_not(rng):
    y, p = rng.standard_normal((4, 2)), rng.standard_normal((4, 2))

    def l1(y_true, y_pred):
        return ops.sum(ops.abs(y_pred - y_true), axis=-1)

    value, grad = losses.get(l1).value_and_grad(y, p)
    assert value == pytest.approx(np.mean(np.sum(np.abs(p - y), axis=-1)))
    np.testing.assert_allclose(grad, np.sign(p - y) / 4)

    def numpy_l1(y_true, y_pred):
        return np.sum(np.abs(y_true - y_pred), axis=-1)

    with pytest.raises(TypeError, match="Write the loss with kernelnet.ops"):
        losses.get(numpy_l1).value_and_grad(y, p)


def test_custom_loss_trains_like_the_builtin(rng):
    x = rng.standard_normal((32, 5)).astype("float32")
    y = rng.standard_normal((32, 2)).astype("float32")
    sw = rng.uniform(0.0, 2.0, 32)
    trained = []
    for loss in ("mse", ScaledMSE(scale=1.0)):
        kernelnet.utils.set_random_seed(3)
        model = Sequential([layers.Dense(4, activation="tanh", input_shape=(5,)),
                            layers.Dense(2)])
        model.compile("sgd", loss)
        hist = model.fit(x, y, sample_weight=sw, batch_size=8, epochs=3, shuffle=False,
                         verbose=0)
        trained.append((hist.history["loss"], model.get_weights()))
    np.testing.assert_allclose(trained[0][0], trained[1][0], rtol=1e-5)
    for a, b in zip(trained[0][1], trained[1][1]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert trained[1][0][-1] < trained[1][0][0]


class WeightedAbsSum(metrics.Metric):
    """Sum of sample-weighted |y_pred - y_true| and the number of samples seen."""

    def __init__(self, name="weighted_abs_sum", **kwargs):
        super().__init__(name=name, **kwargs)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.seen = self.add_variable(shape=(), initializer="zeros", name="seen")

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = ops.sum(ops.abs(ops.convert_to_tensor(y_pred) - y_true), axis=-1)
        if sample_weight is not None:
            values = values * np.asarray(sample_weight, values.dtype).reshape(values.shape)
        self.total.assign_add(ops.sum(values))
        self.seen.assign_add(len(y_true))

    def result(self):
        return self.total / self.seen


def test_custom_metric_api(rng):
    m = WeightedAbsSum()
    assert [v.name for v in m.variables] == ["total", "seen"]
    assert not any(v.trainable for v in m.variables)
    y, p = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    sw = np.array([1.0, 2.0, 0.0])
    m.update_state(y, p, sample_weight=sw)
    m.update_state(y, p)
    expected = (np.sum(np.abs(p - y).sum(-1) * sw) + np.abs(p - y).sum()) / 6
    assert float(np.asarray(m.result())) == pytest.approx(expected, rel=1e-6)
    m.reset_state()
    assert float(m.total.value) == 0.0 and float(m.seen.value) == 0.0


def test_custom_metric_in_fit_history(rng):
    x = rng.standard_normal((20, 3)).astype("float32")
    y = rng.standard_normal((20, 1)).astype("float32")
    model = Sequential([layers.Dense(1, input_shape=(3,))])
    metric = WeightedAbsSum()
    model.compile("sgd", "mse", metrics=[metric, "mae"])
    hist = model.fit(x, y, batch_size=5, epochs=2, verbose=0, validation_data=(x, y))
    assert list(hist.history) == ["loss", "weighted_abs_sum", "mae", "val_loss",
                                  "val_weighted_abs_sum", "val_mae"]
    # the metric is reset before evaluation: its value is the mean over the whole set
    expected = np.mean(np.abs(model.predict(x, verbose=0) - y))
    assert hist.history["val_weighted_abs_sum"][-1] == pytest.approx(expected, rel=1e-5)
    assert hist.history["val_mae"][-1] == pytest.approx(expected, rel=1e-5)


def test_builtin_metric_sample_weight_and_weighted_metrics(rng):
    y = np.array([0, 1, 2, 1])
    p = np.eye(3)[[0, 2, 2, 1]]
    sw = np.array([1.0, 3.0, 1.0, 0.0])
    acc = metrics.SparseCategoricalAccuracy()
    acc.update_state(y, p, sample_weight=sw)
    assert acc.result() == pytest.approx(2.0 / 5.0)
    x = rng.standard_normal((4, 3)).astype("float32")
    model = Sequential([layers.Dense(3, activation="softmax", input_shape=(3,))])
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"],
                  weighted_metrics=["accuracy"])
    logs = model.evaluate(x, y, sample_weight=sw, verbose=0, return_dict=True)
    assert list(logs) == ["loss", "accuracy", "weighted_accuracy"]
    hits = (np.argmax(model.predict(x, verbose=0), -1) == y).astype(float)
    assert logs["accuracy"] == pytest.approx(hits.mean())
    assert logs["weighted_accuracy"] == pytest.approx(np.sum(hits * sw) / sw.sum())


def test_custom_loss_keeps_float32_with_integer_targets(rng):
    p = rng.standard_normal((4, 3)).astype("float32")
    y = rng.integers(0, 2, (4, 3))
    value, grad = CubedError().value_and_grad(y, p)
    assert isinstance(value, float) and grad.dtype == np.float32
    np.testing.assert_allclose(grad, 3 * np.abs(p - y) * (p - y) / 3 / 4, rtol=1e-5)


def test_saved_model_with_a_custom_loss_loads_compiled(rng, tmp_path):
    model = Sequential([layers.Input(shape=(3,)), layers.Dense(2)])
    model.compile("adam", ScaledMSE(scale=3.0))
    x, y = rng.standard_normal((8, 3)).astype("float32"), np.zeros((8, 2), "float32")
    model.fit(x, y, verbose=0)
    model.save(tmp_path / "m.kn")
    with pytest.raises(ValueError, match=r"Unknown loss 'ScaledMSE'.*custom_objects"):
        kernelnet.models.load_model(tmp_path / "m.kn")
    loaded = kernelnet.models.load_model(tmp_path / "m.kn",
                                         custom_objects={"ScaledMSE": ScaledMSE})
    assert isinstance(loaded.loss, ScaledMSE) and loaded.loss.scale == 3.0
    np.testing.assert_allclose(loaded.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0),
                               rtol=1e-6)
    # a class name from the file only selects among the classes given: a non-Loss is refused
    with pytest.raises(ValueError, match="Unknown loss"):
        kernelnet.models.load_model(tmp_path / "m.kn", custom_objects={"ScaledMSE": dict})
