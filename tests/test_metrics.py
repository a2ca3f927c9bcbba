"""Metrics: hand-computed values, running averages across batches, name resolution."""

import numpy as np
import pytest

from kernelnet import losses, metrics

# 4 samples, 3 classes; argmax of the predictions: 0, 2, 1, 1
P = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.2, 0.5, 0.3], [0.4, 0.45, 0.15]])
LABELS = np.array([0, 1, 1, 0])  # correct: yes, no, yes, no -> 2 / 4
ONEHOT = np.eye(3)[LABELS]


def test_functional_accuracies_by_hand():
    np.testing.assert_array_equal(metrics.categorical_accuracy(ONEHOT, P), [1, 0, 1, 0])
    np.testing.assert_array_equal(metrics.sparse_categorical_accuracy(LABELS, P), [1, 0, 1, 0])
    np.testing.assert_array_equal(metrics.sparse_categorical_accuracy(LABELS[:, None], P),
                                  [1, 0, 1, 0])
    # top-2 sets: {0, 1}, {2, 1}, {1, 2}, {1, 0} -> the true class is in all of them
    np.testing.assert_array_equal(metrics.sparse_top_k_categorical_accuracy(LABELS, P, k=2),
                                  [1, 1, 1, 1])
    np.testing.assert_array_equal(metrics.top_k_categorical_accuracy(ONEHOT, P, k=1),
                                  [1, 0, 1, 0])
    np.testing.assert_array_equal(metrics.accuracy([1, 2, 3], [1, 0, 3]), [1, 0, 1])


def test_binary_accuracy_threshold_and_shapes():
    y = np.array([1, 0, 1, 0])
    p = np.array([[0.9], [0.6], [0.4], [0.1]])  # > 0.5: 1, 1, 0, 0 -> right, wrong, wrong, right
    np.testing.assert_array_equal(metrics.binary_accuracy(y, p), [1, 0, 0, 1])
    np.testing.assert_array_equal(metrics.binary_accuracy(y, p, threshold=0.3), [1, 0, 1, 1])
    multi = metrics.binary_accuracy(np.array([[1, 0], [1, 1]]), np.array([[0.8, 0.7], [0.6, 0.9]]))
    np.testing.assert_array_equal(multi, [0.5, 1.0])


def test_running_average_is_weighted_by_batch_size():
    m = metrics.SparseCategoricalAccuracy()
    m.update_state(LABELS[:1], P[:1])  # 1 / 1 correct
    assert m.result() == 1.0
    m.update_state(LABELS[1:], P[1:])  # 1 / 3 correct -> 2 / 4 overall, not mean(1, 1/3)
    assert m.result() == pytest.approx(0.5)
    m.reset_state()
    assert m.result() == 0.0
    assert m(LABELS, P) == pytest.approx(0.5)  # __call__ updates and returns the result


def test_sample_weight():
    m = metrics.CategoricalAccuracy()
    m.update_state(ONEHOT, P, sample_weight=[1.0, 3.0, 1.0, 0.0])
    assert m.result() == pytest.approx(2.0 / 5.0)  # (1 + 0 + 1 + 0) / (1 + 3 + 1 + 0)


def test_mean_metric_for_the_running_loss():
    m = metrics.Mean(name="loss")
    m.update_state(2.0, sample_weight=32)
    m.update_state(1.0, sample_weight=16)  # last, smaller batch
    assert m.result() == pytest.approx((2.0 * 32 + 1.0 * 16) / 48)
    assert m.name == "loss"


def test_regression_metrics():
    y, p = np.array([[1.0, 2.0], [0.0, 0.0]]), np.array([[1.0, 4.0], [1.0, -1.0]])
    # per sample mse: (0 + 4) / 2 = 2, (1 + 1) / 2 = 1 -> 1.5; mae: 1, 1 -> 1
    assert metrics.MeanSquaredError()(y, p) == pytest.approx(1.5)
    assert metrics.MeanAbsoluteError()(y, p) == pytest.approx(1.0)
    assert metrics.get("mse")(y, p) == pytest.approx(1.5)


@pytest.mark.parametrize("loss,cls", [
    ("categorical_crossentropy", metrics.CategoricalAccuracy),
    (losses.categorical_crossentropy, metrics.CategoricalAccuracy),
    ("sparse_categorical_crossentropy", metrics.SparseCategoricalAccuracy),
    (losses.SparseCategoricalCrossentropy(from_logits=True), metrics.SparseCategoricalAccuracy),
    ("binary_crossentropy", metrics.BinaryAccuracy),
])
@pytest.mark.parametrize("name", ["acc", "accuracy"])
def test_accuracy_resolves_from_the_loss_and_keeps_its_name(loss, cls, name):
    metric = metrics.get(name, loss=loss)
    assert type(metric) is cls
    assert metric.name == name


def test_accuracy_without_a_deciding_loss_uses_the_shapes():
    acc = metrics.get("acc", loss="mse")
    assert acc.name == "acc"
    assert acc(ONEHOT, P) == pytest.approx(0.5)  # same shapes -> categorical
    acc.reset_state()
    assert acc(LABELS, P) == pytest.approx(0.5)  # integer ids -> sparse categorical
    acc.reset_state()
    assert acc(np.array([1, 0]), np.array([[0.9], [0.2]])) == 1.0  # one unit -> binary
    assert metrics.get("accuracy").name == "accuracy"


def test_get_other_identifiers():
    assert type(metrics.get("top_k_categorical_accuracy")) is metrics.TopKCategoricalAccuracy
    sparse_top = metrics.get("sparse_top_k_categorical_accuracy")
    assert sparse_top.name == "sparse_top_k_categorical_accuracy"
    assert sparse_top(LABELS, P) == 1.0  # k=5 >= 3 classes
    assert metrics.get("mae").name == "mae"
    instance = metrics.BinaryAccuracy(threshold=0.7)
    assert metrics.get(instance) is instance
    assert type(metrics.get(metrics.CategoricalAccuracy)) is metrics.CategoricalAccuracy
    assert metrics.get({"class_name": "TopKCategoricalAccuracy", "config": {"k": 2}})(
        LABELS[:, None] == np.arange(3), P) == 1.0

    def my_metric(y_true, y_pred):
        return np.abs(y_true - y_pred).max(axis=-1)

    custom = metrics.get(my_metric)
    assert custom.name == "my_metric"
    assert custom(ONEHOT, P) == pytest.approx(np.mean(np.abs(ONEHOT - P).max(axis=-1)))


def test_unknown_names_and_bad_targets():
    with pytest.raises(ValueError, match=r"Unknown metric 'acuracy'.*Did you mean 'accuracy'\?"):
        metrics.get("acuracy")
    with pytest.raises(TypeError, match="Could not interpret metric identifier"):
        metrics.get(3)
    with pytest.raises(ValueError, match="use 'sparse_categorical_accuracy'"):
        metrics.categorical_accuracy(LABELS, P)
    with pytest.raises(ValueError, match="same batch size"):
        metrics.sparse_categorical_accuracy(LABELS[:3], P)
