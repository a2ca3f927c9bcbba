"""Training beyond one output: losses/metrics/loss_weights per output, Keras history names,
sample and class weights, and the Keras 3 step hooks (train_step, test_step, compute_loss)."""

import numpy as np
import pytest

import kernelnet
from kernelnet import Input, layers, ops
from kernelnet.models import Model, Sequential
from kernelnet.utils import gradient_check, to_categorical


def two_output_model():
    inputs = Input(shape=(6,))
    hidden = layers.Dense(8, activation="tanh", name="hidden")(inputs)
    out_a = layers.Dense(3, activation="softmax", name="out_a")(hidden)
    out_b = layers.Dense(2, name="out_b")(hidden)
    return Model(inputs, [out_a, out_b])


@pytest.fixture
def data(rng):
    x = rng.standard_normal((24, 6)).astype("float32")
    ya = rng.integers(0, 3, 24)
    yb = rng.standard_normal((24, 2)).astype("float32")
    return x, ya, yb


def _compiled(**kwargs):
    kernelnet.utils.set_random_seed(0)
    model = two_output_model()
    model.compile(kernelnet.optimizers.SGD(learning_rate=0.05), **kwargs)
    return model


def test_history_names_follow_keras(data):
    x, ya, yb = data
    model = _compiled(loss={"out_a": "sparse_categorical_crossentropy", "out_b": "mse"},
                      loss_weights={"out_a": 1.0, "out_b": 0.5},
                      metrics={"out_a": ["accuracy"], "out_b": ["mae", "mse"]})
    assert model.output_names == ["out_a", "out_b"]
    hist = model.fit(x, {"out_a": ya, "out_b": yb}, batch_size=8, epochs=2, verbose=0,
                     validation_split=0.25)
    assert list(hist.history) == [
        "loss", "out_a_accuracy", "out_b_mae", "out_b_mse", "out_a_loss", "out_b_loss",
        "val_loss", "val_out_a_accuracy", "val_out_b_mae", "val_out_b_mse", "val_out_a_loss",
        "val_out_b_loss"]
    values = model.evaluate(x, [ya, yb], verbose=0)
    logs = model.evaluate(x, [ya, yb], verbose=0, return_dict=True)
    # Keras 3's evaluate order: `model.metrics` names first (loss, per-output losses), then
    # the other keys sorted
    assert values == [logs[k] for k in ["loss", "out_a_loss", "out_b_loss", "out_a_accuracy",
                                        "out_b_mae", "out_b_mse"]]


def test_two_output_loss_matches_a_hand_computation(data):
    x, ya, yb = data
    sw = np.linspace(0.0, 2.0, 24)
    model = _compiled(loss=["sparse_categorical_crossentropy", "mse"], loss_weights=[0.3, 2.0])
    pa, pb = model.predict(x, verbose=0)
    ce = -np.log(pa[np.arange(24), ya].astype(np.float64))
    se = np.mean((pb.astype(np.float64) - yb) ** 2, axis=-1)
    logs = model.evaluate(x, {"out_a": ya, "out_b": yb}, sample_weight=sw, batch_size=24,
                          verbose=0, return_dict=True)
    # sum_over_batch_size: the weighted sum over the number of samples (not the weights' sum)
    assert logs["out_a_loss"] == pytest.approx(np.sum(ce * sw) / 24, rel=1e-5)
    assert logs["out_b_loss"] == pytest.approx(np.sum(se * sw) / 24, rel=1e-5)
    assert logs["loss"] == pytest.approx(0.3 * np.sum(ce * sw) / 24 + 2.0 * np.sum(se * sw) / 24,
                                         rel=1e-5)
    # the first training step reports the same loss (computed before the update)
    hist = model.fit(x, [ya, yb], sample_weight=sw, batch_size=24, epochs=1, verbose=0)
    assert hist.history["loss"][0] == pytest.approx(logs["loss"], rel=1e-5)


def test_two_output_model_trains_and_gradients_check(data):
    x, ya, yb = data
    model = _compiled(loss=["sparse_categorical_crossentropy", "mse"], loss_weights=[1.0, 0.5])
    sw = np.linspace(0.5, 1.5, 8)
    errors = gradient_check(model, x[:8], [ya[:8], yb[:8]], sample_weight=sw)
    assert len(errors) == len(model.trainable_weights) and max(errors.values()) < 1e-6
    model.compile(kernelnet.optimizers.Adam(learning_rate=0.02),
                  loss=["sparse_categorical_crossentropy", "mse"], loss_weights=[1.0, 0.5])
    hist = model.fit(x, [ya, yb], batch_size=8, epochs=30, verbose=0)
    assert hist.history["loss"][-1] < 0.6 * hist.history["loss"][0]
    assert hist.history["out_b_loss"][-1] < hist.history["out_b_loss"][0]


def test_single_loss_applies_to_every_output_and_none_skips_one(data):
    x, ya, yb = data
    model = _compiled(loss="mse")
    ya_hot = to_categorical(ya, 3)
    logs = model.evaluate(x, [ya_hot, yb], verbose=0, return_dict=True)
    assert logs["loss"] == pytest.approx(logs["out_a_loss"] + logs["out_b_loss"], rel=1e-6)
    model = _compiled(loss={"out_b": "mse"})
    logs = model.evaluate(x, {"out_a": ya_hot, "out_b": yb}, verbose=0, return_dict=True)
    assert list(logs) == ["loss"]  # one loss: no per-output tracker, as in Keras
    model.fit(x, {"out_a": ya_hot, "out_b": yb}, epochs=1, verbose=0)


def test_errors_name_the_outputs(data):
    x, ya, yb = data
    with pytest.raises(ValueError, match=r"Unknown output name\(s\) \['out_c'\] in `loss`"):
        _compiled(loss={"out_a": "mse", "out_c": "mse"})
    with pytest.raises(ValueError, match="`loss_weights` must have one entry per model output"):
        _compiled(loss="mse", loss_weights=[1.0])
    model = _compiled(loss="mse")
    with pytest.raises(ValueError, match="pass `y` as a list of arrays or a dict"):
        model.fit(x, yb, verbose=0)
    with pytest.raises(ValueError, match="only supported for models with a single output"):
        model.fit(x, [yb, yb], class_weight={0: 1.0}, verbose=0)


def _single(seed=1):
    kernelnet.utils.set_random_seed(seed)
    model = Sequential([layers.Dense(5, activation="relu", input_shape=(4,)),
                        layers.Dense(3, activation="softmax")])
    model.compile(kernelnet.optimizers.SGD(learning_rate=0.1), "categorical_crossentropy",
                  metrics=["accuracy"])
    return model


@pytest.mark.parametrize("sparse", [False, True])
def test_class_weight_equals_the_matching_sample_weight(rng, sparse):
    x = rng.standard_normal((30, 4)).astype("float32")
    labels = rng.integers(0, 3, 30)
    y = labels if sparse else to_categorical(labels, 3)
    class_weight = {0: 0.5, 2: 3.0}  # class 1 is missing: weight 1.0, as in Keras
    sw = np.array([class_weight.get(int(c), 1.0) for c in labels])
    runs = []
    for kwargs in ({"class_weight": class_weight}, {"sample_weight": sw}):
        model = _single()
        if sparse:
            model.compile(model.optimizer, "sparse_categorical_crossentropy")
        hist = model.fit(x, y, batch_size=10, epochs=2, shuffle=False, verbose=0, **kwargs)
        runs.append((hist.history["loss"], model.get_weights()))
    np.testing.assert_allclose(runs[0][0], runs[1][0], rtol=1e-6)
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)
    # and the weighted loss is the hand-computed one
    model = _single()
    p = model.predict(x, verbose=0).astype(np.float64)
    expected = np.sum(-np.log(p[np.arange(30), labels]) * sw) / 30
    hot = to_categorical(labels, 3)
    assert model.evaluate(x, hot, sample_weight=sw, batch_size=30, verbose=0)[0] == \
        pytest.approx(expected, rel=1e-5)


def test_sample_weight_from_a_generator_and_train_on_batch(rng):
    x = rng.standard_normal((20, 4)).astype("float32")
    y = to_categorical(rng.integers(0, 3, 20), 3)
    sw = rng.uniform(0.0, 2.0, 20)

    def batches():
        for lo in range(0, 20, 5):
            yield x[lo:lo + 5], y[lo:lo + 5], sw[lo:lo + 5]

    from_arrays, from_generator = _single(), _single()
    from_arrays.fit(x, y, sample_weight=sw, batch_size=5, shuffle=False, verbose=0)
    from_generator.fit(batches(), steps_per_epoch=4, verbose=0)
    for a, b in zip(from_arrays.get_weights(), from_generator.get_weights()):
        np.testing.assert_array_equal(a, b)
    by_batch = _single()
    for lo in range(0, 20, 5):
        loss, acc = by_batch.train_on_batch(x[lo:lo + 5], y[lo:lo + 5],
                                            sample_weight=sw[lo:lo + 5])
    for a, b in zip(from_arrays.get_weights(), by_batch.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="`class_weight` and `sample_weight` at the same time"):
        _single().fit(batches(), steps_per_epoch=1, class_weight={0: 2.0}, verbose=0)


class CountingModel(Model):
    """Counts the calls of the Keras 3 hooks and forwards to the defaults."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = {"train_step": 0, "test_step": 0, "predict_step": 0}

    def train_step(self, data):
        self.calls["train_step"] += 1
        return super().train_step(data)

    def test_step(self, data):
        self.calls["test_step"] += 1
        return super().test_step(data)

    def predict_step(self, data):
        self.calls["predict_step"] += 1
        return super().predict_step(data)


def test_step_overrides_are_called(rng):
    inputs = Input(shape=(4,))
    model = CountingModel(inputs, layers.Dense(2)(inputs))
    model.compile("sgd", "mse")
    x = rng.standard_normal((12, 4)).astype("float32")
    y = rng.standard_normal((12, 2)).astype("float32")
    model.fit(x, y, batch_size=4, epochs=2, verbose=0, validation_data=(x, y))
    assert model.calls == {"train_step": 6, "test_step": 6, "predict_step": 0}
    model.evaluate(x, y, batch_size=6, verbose=0)
    model.predict(x, batch_size=3, verbose=0)
    assert model.calls == {"train_step": 6, "test_step": 8, "predict_step": 4}


class SquaredSumLoss(Model):
    """compute_loss overridden with ops: the sum over outputs of squared errors, over n."""

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        self.seen_training = training
        d = y_pred - y
        return ops.sum(d * d) / (len(y) * y.shape[-1])


def test_compute_loss_override_is_differentiated(rng):
    x = rng.standard_normal((16, 4)).astype("float32")
    y = rng.standard_normal((16, 2)).astype("float32")
    runs = []
    for cls, loss in ((SquaredSumLoss, None), (Model, "mse")):
        kernelnet.utils.set_random_seed(5)
        inputs = Input(shape=(4,))
        model = cls(inputs, layers.Dense(2)(layers.Dense(3, activation="tanh")(inputs)))
        model.compile("sgd", loss)
        hist = model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
        runs.append((hist.history["loss"], model.get_weights()))
        if cls is SquaredSumLoss:
            model.evaluate(x, y, verbose=0)
            assert model.seen_training is False
    np.testing.assert_allclose(runs[0][0], runs[1][0], rtol=1e-5)
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_multi_input_multi_output_with_dict_validation_data(rng):
    kernelnet.utils.set_random_seed(2)
    image = Input(shape=(5,), name="image")
    meta = Input(shape=(3,), name="meta")
    merged = layers.Concatenate()([layers.Dense(4, activation="relu")(image),
                                   layers.Dense(4, activation="relu")(meta)])
    score = layers.Dense(1, activation="sigmoid", name="score")(merged)
    value = layers.Dense(1, name="value")(merged)
    model = Model([image, meta], [score, value])
    model.compile(kernelnet.optimizers.Adam(learning_rate=0.02),
                  loss={"score": "binary_crossentropy", "value": "mae"},
                  loss_weights={"score": 2.0}, metrics={"score": "accuracy"})
    assert model.compiled_loss.weights == [2.0, 1.0]  # missing dict entries weigh 1.0
    xi, xm = rng.standard_normal((40, 5)), rng.standard_normal((40, 3))
    ys = (xi[:, 0] > 0).astype("float32")
    yv = xm[:, :1].astype("float32")
    sw = {"score": np.ones(40), "value": np.linspace(0.0, 1.0, 40)}
    hist = model.fit([xi, xm], {"score": ys, "value": yv}, sample_weight=sw, epochs=25,
                     batch_size=10, verbose=0,
                     validation_data=([xi, xm], {"score": ys, "value": yv}, sw))
    assert set(hist.history) == {"loss", "score_accuracy", "score_loss", "value_loss",
                                 "val_loss", "val_score_accuracy", "val_score_loss",
                                 "val_value_loss"}
    assert hist.history["loss"][-1] < 0.7 * hist.history["loss"][0]
    last = {k: v[-1] for k, v in hist.history.items()}
    assert last["val_loss"] == pytest.approx(2.0 * last["val_score_loss"]
                                             + last["val_value_loss"], rel=1e-5)
