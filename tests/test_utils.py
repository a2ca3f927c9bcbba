import numpy as np
import pytest

import kernelnet
from kernelnet import layers
from kernelnet.models import Sequential
from kernelnet.utils import gradient_check, np_utils, set_random_seed, to_categorical


def test_to_categorical_matches_keras():
    np.testing.assert_array_equal(to_categorical([0, 2, 1], 3),
                                  [[1, 0, 0], [0, 0, 1], [0, 1, 0]])
    assert to_categorical(np.array([[1], [0]])).shape == (2, 2)  # CIFAR (n, 1) labels
    assert np_utils.to_categorical is to_categorical
    assert to_categorical([1], 3).dtype == np.float32


def test_to_categorical_errors():
    with pytest.raises(ValueError, match="class id 5, .*num_classes=3"):
        to_categorical([0, 5], 3)
    with pytest.raises(ValueError, match="expects class ids >= 0"):
        to_categorical([-1, 2])


def _model():
    return Sequential([
        layers.Conv2D(2, 3, activation="tanh", input_shape=(5, 5, 1)),
        layers.BatchNormalization(),
        layers.Flatten(),
        layers.Dropout(0.3),
        layers.Dense(3, activation="softmax"),
    ])


def test_set_random_seed_makes_runs_repeatable(rng):
    x, y = rng.random((16, 5, 5, 1)), rng.integers(0, 3, 16)
    results = []
    for _ in range(2):
        set_random_seed(42)
        model = _model()
        model.compile("adam", "sparse_categorical_crossentropy")
        model.fit(x, y, epochs=2, batch_size=4, verbose=0)
        results.append(model.get_weights())
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_gradient_check_passes_on_correct_model(rng):
    model = _model()
    model.compile("adam", "sparse_categorical_crossentropy")
    errors = gradient_check(model, rng.standard_normal((4, 5, 5, 1)), rng.integers(0, 3, 4))
    assert set(errors) == set(model.trainable_weight_names)
    assert max(errors.values()) < 1e-6
    assert model.layers[0].kernel.dtype == np.float32  # the check ran on a float64 clone


def test_gradient_check_catches_a_wrong_backward(rng, monkeypatch):
    model = Sequential([layers.Dense(3, input_shape=(4,)), layers.Dense(2)])
    model.compile("sgd", "mse")
    original = layers.Dense.backward

    def broken(self, ctx, grad):
        dx, weight_grads = original(self, ctx, grad)
        return dx, [weight_grads[0] * 1.5, *weight_grads[1:]]

    monkeypatch.setattr(layers.Dense, "backward", broken)
    errors = gradient_check(model, rng.standard_normal((5, 4)), rng.standard_normal((5, 2)))
    # only the kernels were scaled by 1.5: rel error |1.5a - a| / (2.5|a|) = 0.2
    assert all(abs(e - 0.2) < 1e-6 for n, e in errors.items() if n.endswith("kernel"))
    assert all(e < 1e-6 for n, e in errors.items() if n.endswith("bias"))


def test_backend_floatx_switch():
    assert kernelnet.backend.floatx() == "float32"
    with pytest.raises(ValueError, match="Received: floatx='float8'"):
        kernelnet.backend.set_floatx("float8")
