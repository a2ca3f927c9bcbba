"""Losses: values vs direct formulas, gradients vs finite differences, fused path, messages."""

import json
import re

import numpy as np
import pytest
from helpers import numerical_grad, rel_error

from kernelnet import backend, losses
from kernelnet.ops import nn

EPS = backend.epsilon()


@pytest.fixture
def data(rng):
    """Non-saturated logits, their softmax, one-hot targets and integer labels."""
    z = rng.standard_normal((6, 4))
    labels = np.array([0, 1, 2, 3, 1, 2])
    return z, nn.softmax(z), np.eye(4)[labels], labels


# -- values vs direct formulas ------------------------------------------------------------------
def test_categorical_crossentropy_value(data):
    z, p, y, labels = data
    expected = np.mean(-np.log(p[np.arange(6), labels]))
    assert losses.CategoricalCrossentropy()(y, p) == pytest.approx(expected, rel=1e-12)
    # Keras renormalizes the predictions to sum to 1
    assert losses.CategoricalCrossentropy()(y, 3 * p) == pytest.approx(expected, rel=1e-12)
    assert losses.CategoricalCrossentropy(from_logits=True)(y, z) == pytest.approx(expected)


def test_crossentropy_clips_probabilities():
    y, p = np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]])
    assert losses.CategoricalCrossentropy()(y, p) == pytest.approx(-np.log(EPS))
    assert losses.BinaryCrossentropy()(np.array([[1.0]]), np.array([[0.0]])) == pytest.approx(
        -np.log(EPS))


def test_sparse_matches_categorical(data):
    z, p, y, labels = data
    expected = losses.CategoricalCrossentropy()(y, p)
    sparse = losses.SparseCategoricalCrossentropy()
    assert sparse(labels, p) == pytest.approx(expected, rel=1e-12)
    assert sparse(labels[:, None], p) == pytest.approx(expected, rel=1e-12)  # (n, 1)
    assert sparse(labels.astype(np.float32), p) == pytest.approx(expected, rel=1e-12)
    logits = losses.SparseCategoricalCrossentropy(from_logits=True)
    assert logits(labels, z) == pytest.approx(expected, rel=1e-10)


def test_sparse_ignore_class_averages_over_the_other_samples(data):
    z, p, y, labels = data
    ignored = losses.SparseCategoricalCrossentropy(ignore_class=1)
    keep = labels != 1
    expected = np.mean(-np.log(p[np.arange(6), labels])[keep])
    value, grad = ignored.value_and_grad(labels, p)
    assert value == pytest.approx(expected, rel=1e-12)
    assert np.all(grad[~keep] == 0)


def test_binary_crossentropy_value(rng):
    p = rng.uniform(0.05, 0.95, (5, 3))
    y = rng.integers(0, 2, (5, 3)).astype(float)
    elementwise = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert losses.BinaryCrossentropy()(y, p) == pytest.approx(elementwise.mean(), rel=1e-12)
    np.testing.assert_allclose(losses.binary_crossentropy(y, p), elementwise.mean(axis=1))
    z = np.log(p / (1 - p))
    assert losses.BinaryCrossentropy(from_logits=True)(y, z) == pytest.approx(elementwise.mean())
    # targets (n,) for an output (n, 1)
    assert losses.BinaryCrossentropy()(y[:, 0], p[:, :1]) == pytest.approx(
        elementwise[:, 0].mean(), rel=1e-12)


def test_label_smoothing(data):
    z, p, y, labels = data
    smoothed = y * 0.8 + 0.2 / 4
    expected = np.mean(-np.sum(smoothed * np.log(p), axis=1))
    assert losses.CategoricalCrossentropy(label_smoothing=0.2)(y, p) == pytest.approx(expected)
    q = p[:, :1]
    t = (labels[:, None] % 2).astype(float)
    ts = t * 0.8 + 0.1
    expected = np.mean(-(ts * np.log(q) + (1 - ts) * np.log(1 - q)))
    assert losses.BinaryCrossentropy(label_smoothing=0.2)(t, q) == pytest.approx(expected)


def test_regression_losses_values(rng):
    y, p = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    d = p - y
    assert losses.MeanSquaredError()(y, p) == pytest.approx(np.mean(d**2))
    assert losses.MeanAbsoluteError()(y, p) == pytest.approx(np.mean(np.abs(d)))
    huber = np.where(np.abs(d) <= 0.5, 0.5 * d**2, 0.5 * (np.abs(d) - 0.25))
    assert losses.Huber(delta=0.5)(y, p) == pytest.approx(np.mean(huber))
    np.testing.assert_allclose(losses.mse(y, p), np.mean(d**2, axis=1))
    np.testing.assert_allclose(losses.mae(y, p), np.mean(np.abs(d), axis=1))
    assert losses.MeanSquaredError(reduction="sum")(y, p) == pytest.approx(np.sum(d**2) / 3)
    a, b = rng.uniform(0.1, 1, (4, 3)), rng.uniform(0.1, 1, (4, 3))
    assert losses.KLDivergence()(a, b) == pytest.approx(np.mean(np.sum(a * np.log(a / b), 1)))


def test_functional_forms_return_per_sample_values(data):
    z, p, y, labels = data
    per_sample = -np.log(p[np.arange(6), labels])
    np.testing.assert_allclose(losses.categorical_crossentropy(y, p), per_sample, rtol=1e-12)
    np.testing.assert_allclose(losses.sparse_categorical_crossentropy(labels, p), per_sample,
                               rtol=1e-12)
    np.testing.assert_allclose(losses.categorical_crossentropy(y, z, from_logits=True),
                               per_sample, rtol=1e-10)


def test_sample_weight_weights_the_mean(data):
    z, p, y, labels = data
    sw = np.array([1.0, 0.0, 2.0, 1.0, 0.5, 0.5])
    per_sample = -np.log(p[np.arange(6), labels])
    loss = losses.CategoricalCrossentropy()
    assert loss(y, p, sample_weight=sw) == pytest.approx(np.sum(per_sample * sw) / 6)


# -- gradients vs finite differences (float64) -------------------------------------------------
def _grad_cases(rng):
    z = rng.standard_normal((5, 4))
    p = nn.softmax(z)
    y = np.eye(4)[[0, 1, 2, 3, 1]]
    labels = np.array([0, 1, 2, 3, 1])
    q = rng.uniform(0.1, 0.9, (5, 3))
    t = rng.integers(0, 2, (5, 3)).astype(float)
    r, s = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    s[np.abs(s - r) < 0.05] += 0.1  # keep MAE away from its kink
    return [
        ("cce", losses.CategoricalCrossentropy(), y, rng.uniform(0.1, 1.0, (5, 4))),
        ("cce_logits", losses.CategoricalCrossentropy(from_logits=True), y, z),
        ("cce_smooth", losses.CategoricalCrossentropy(label_smoothing=0.1), y, p.copy()),
        ("sparse", losses.SparseCategoricalCrossentropy(), labels, p.copy()),
        ("sparse_logits", losses.SparseCategoricalCrossentropy(from_logits=True), labels, z),
        ("bce", losses.BinaryCrossentropy(), t, q),
        ("bce_logits", losses.BinaryCrossentropy(from_logits=True), t, r),
        ("bce_smooth", losses.BinaryCrossentropy(label_smoothing=0.2), t, q.copy()),
        ("mse", losses.MeanSquaredError(), r, s),
        ("mae", losses.MeanAbsoluteError(), r, s.copy()),
        ("huber", losses.Huber(delta=0.7), r, s.copy()),
        ("kld", losses.KLDivergence(), q.copy(), rng.uniform(0.1, 0.9, (5, 3))),
        ("mse_1d", losses.MeanSquaredError(), r[:, 0], s[:, 0].copy()),
    ]


@pytest.mark.parametrize("case", range(13))
@pytest.mark.parametrize("weighted", [False, True])
def test_gradients_match_finite_differences(rng, case, weighted):
    name, loss, y_true, y_pred = _grad_cases(rng)[case]
    sw = rng.uniform(0.5, 2.0, len(y_pred)) if weighted else None
    value, grad = loss.value_and_grad(y_true, y_pred, sample_weight=sw)
    assert value == pytest.approx(loss(y_true, y_pred, sample_weight=sw), rel=1e-12)
    assert grad.shape == y_pred.shape and grad.dtype == y_pred.dtype
    numeric = numerical_grad(lambda: loss(y_true, y_pred, sample_weight=sw), y_pred)
    assert rel_error(grad, numeric) < 1e-7, name


def test_gradient_is_zero_where_probabilities_are_clipped():
    y, p = np.array([[0.0, 1.0]]), np.array([[0.0, 1.0]])  # p = 1 is clipped to 1 - eps
    _, grad = losses.BinaryCrossentropy().value_and_grad(y, p)
    np.testing.assert_array_equal(grad, [[0.0, 0.0]])


def test_float32_in_float32_gradient_out_and_inputs_untouched(data):
    z, p, y, labels = data
    p32 = p.astype(np.float32)
    p32.setflags(write=False)
    for loss, target in ((losses.CategoricalCrossentropy(), y), (losses.MeanSquaredError(), y),
                         (losses.SparseCategoricalCrossentropy(), labels)):
        value, grad = loss.value_and_grad(target, p32)
        assert isinstance(value, float) and grad.dtype == np.float32
        _, fused = losses.CategoricalCrossentropy().value_and_logits_grad(y, p32)
        assert fused.dtype == np.float32


# -- fused softmax/sigmoid + crossentropy ------------------------------------------------------
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_fused_categorical_matches_unfused_chain(data, smoothing):
    z, p, y, labels = data
    loss = losses.CategoricalCrossentropy(label_smoothing=smoothing)
    value, grad_p = loss.value_and_grad(y, p)
    fused_value, grad_z = loss.value_and_logits_grad(y, p)
    assert fused_value == value
    assert rel_error(grad_z, nn.softmax_grad(grad_p, z, p)) < 1e-7
    # (p - y_smoothed) / n
    np.testing.assert_allclose(grad_z, (p - (y * (1 - smoothing) + smoothing / 4)) / 6,
                               atol=1e-15)


def test_fused_sparse_matches_unfused_chain(data):
    z, p, y, labels = data
    loss = losses.SparseCategoricalCrossentropy()
    sw = np.linspace(0.5, 1.5, 6)
    _, grad_p = loss.value_and_grad(labels, p, sample_weight=sw)
    _, grad_z = loss.value_and_logits_grad(labels, p, sample_weight=sw)
    assert rel_error(grad_z, nn.softmax_grad(grad_p, z, p)) < 1e-7


@pytest.mark.parametrize("shape", [(6, 1), (6, 3)])
def test_fused_binary_matches_unfused_chain(rng, shape):
    z = rng.standard_normal(shape)
    p = nn.sigmoid(z)
    y = rng.integers(0, 2, shape).astype(float)
    loss = losses.BinaryCrossentropy(label_smoothing=0.1)
    _, grad_p = loss.value_and_grad(y, p)
    _, grad_z = loss.value_and_logits_grad(y, p)
    assert rel_error(grad_z, nn.sigmoid_grad(grad_p, z, p)) < 1e-7


def test_fused_path_rejects_logits_losses(data):
    z, p, y, labels = data
    with pytest.raises(ValueError, match="from_logits=True"):
        losses.CategoricalCrossentropy(from_logits=True).value_and_logits_grad(y, p)


# -- validation messages ------------------------------------------------------------------------
def test_categorical_message_for_integer_targets():
    expected = (
        "Loss 'categorical_crossentropy' expects one-hot targets with the same shape as the model "
        "output (batch, 10). Received targets of shape (600, 1). If your targets are integer class "
        'ids, use loss="sparse_categorical_crossentropy" or convert them with '
        "kernelnet.utils.to_categorical(y, 10)."
    )
    with pytest.raises(ValueError, match=re.escape(expected)):
        losses.CategoricalCrossentropy()(np.zeros((600, 1)), np.full((600, 10), 0.1))


def test_sparse_messages():
    p = np.full((4, 10), 0.1)
    loss = losses.SparseCategoricalCrossentropy()
    with pytest.raises(ValueError, match=re.escape(
            "received a label value of 10 which is outside the valid range of [0, 10)")):
        loss(np.array([1, 2, 10, 3]), p)
    with pytest.raises(ValueError, match=re.escape("label value of -1 which is outside")):
        loss(np.array([1, -1, 0, 3]), p)
    with pytest.raises(ValueError, match='look like one-hot targets: use loss="categorical_'):
        loss(np.eye(10)[[1, 2, 3, 4]], p)
    with pytest.raises(ValueError, match="non-integer label value 0.5"):
        loss(np.array([1, 0.5, 0, 3]), p)
    with pytest.raises(ValueError, match=re.escape("of shape (batch,) or (batch, 1)")):
        loss(np.zeros((4, 2)), p)


def test_shape_and_batch_messages():
    with pytest.raises(ValueError, match=re.escape(
            "Loss 'binary_crossentropy' expects targets with the same shape as the model output "
            "(batch, 1). Received targets of shape (8, 2).")):
        losses.BinaryCrossentropy()(np.zeros((8, 2)), np.full((8, 1), 0.5))
    with pytest.raises(ValueError, match=re.escape("output (batch, 3). Received targets of shape "
                                                   "(8, 2).")):
        losses.MeanSquaredError()(np.zeros((8, 2)), np.zeros((8, 3)))
    with pytest.raises(ValueError, match=re.escape(
            "received 600 targets for 599 predictions: y_true and y_pred must have the same batch "
            "size. Received: y_true.shape=(600, 10), y_pred.shape=(599, 10).")):
        losses.CategoricalCrossentropy()(np.zeros((600, 10)), np.full((599, 10), 0.1))
    with pytest.raises(ValueError, match="Received: y_true.shape=\\(5,\\)"):
        losses.SparseCategoricalCrossentropy()(np.zeros(5), np.full((4, 3), 0.3))
    with pytest.raises(ValueError, match="Received: label_smoothing=2"):
        losses.CategoricalCrossentropy(label_smoothing=2)
    with pytest.raises(ValueError, match="Received: reduction='mean_please'"):
        losses.MeanSquaredError(reduction="mean_please")


# -- registry ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,cls", [
    ("categorical_crossentropy", losses.CategoricalCrossentropy),
    ("sparse_categorical_crossentropy", losses.SparseCategoricalCrossentropy),
    ("binary_crossentropy", losses.BinaryCrossentropy),
    ("mse", losses.MeanSquaredError), ("mean_squared_error", losses.MeanSquaredError),
    ("MSE", losses.MeanSquaredError), ("mae", losses.MeanAbsoluteError),
    ("mean_absolute_error", losses.MeanAbsoluteError),
    ("CategoricalCrossentropy", losses.CategoricalCrossentropy), ("huber", losses.Huber),
])
def test_get_by_name(name, cls):
    assert type(losses.get(name)) is cls


def test_get_instances_functions_dicts_and_callables(data):
    z, p, y, labels = data
    loss = losses.BinaryCrossentropy(label_smoothing=0.1)
    assert losses.get(loss) is loss
    # Keras 2 scripts pass the functions: they map to the trainable classes
    assert type(losses.get(losses.categorical_crossentropy)) is losses.CategoricalCrossentropy
    config = json.loads(json.dumps(losses.serialize(loss)))
    again = losses.get(config)
    assert type(again) is losses.BinaryCrossentropy and again.get_config() == loss.get_config()

    def my_loss(y_true, y_pred):
        return np.sum(np.abs(y_true - y_pred), axis=-1)

    wrapped = losses.get(my_loss)
    assert wrapped.name == "my_loss"
    assert wrapped(y, p) == pytest.approx(np.mean(np.sum(np.abs(y - p), axis=-1)))
    with pytest.raises(TypeError, match="cannot compute its gradient"):
        wrapped.value_and_grad(y, p)


def test_unknown_loss_names_suggest():
    with pytest.raises(ValueError, match=r"Unknown loss 'categorical_crossentropyy'.*"
                                         r"Did you mean 'categorical_crossentropy'\?"):
        losses.get("categorical_crossentropyy")
    with pytest.raises(TypeError, match="Could not interpret loss identifier"):
        losses.get(42)
