import numpy as np
import pytest

import kernelnet
from kernelnet import layers
from kernelnet.models import Model, Sequential


def small_cnn(num_classes=3, input_shape=(8, 8, 1)):
    return Sequential([
        layers.Conv2D(4, 3, activation="relu", input_shape=input_shape),
        layers.MaxPooling2D(),
        layers.Flatten(),
        layers.Dense(num_classes, activation="softmax"),
    ])


def test_builds_from_input_shape_and_counts_params():
    model = small_cnn()
    assert model.built
    # conv: 3*3*1*4 + 4 = 40; dense: 36*3 + 3 = 111
    assert model.count_params() == 151
    assert [w.shape for w in model.get_weights()] == [(3, 3, 1, 4), (4,), (36, 3), (3,)]


def test_add_pop_and_deferred_build(rng):
    model = Sequential()
    model.add(layers.Dense(4))
    model.add(layers.Dense(2))
    assert not model.built
    with pytest.raises(RuntimeError, match="not been built"):
        model.count_params()
    y = model(rng.standard_normal((5, 3)))
    assert y.shape == (5, 2) and model.count_params() == 3 * 4 + 4 + 4 * 2 + 2
    popped = model.pop()
    assert popped.units == 2 and len(model.layers) == 1
    assert model(rng.standard_normal((5, 3))).shape == (5, 4)


def test_input_first_item_sets_shape():
    model = Sequential([kernelnet.Input(shape=(6,)), layers.Dense(2)])
    assert model.built and model.count_params() == 14
    assert len(model.layers) == 1


def test_wrong_input_shape_is_reported(rng):
    model = small_cnn()
    with pytest.raises(ValueError, match=r"expected shape \(None, 8, 8, 1\), received"):
        model.predict(rng.standard_normal((2, 9, 8, 1)), verbose=0)


def test_add_rejects_non_layers():
    with pytest.raises(TypeError, match="expects a kernelnet Layer"):
        Sequential().add("dense")


def test_duplicate_layer_names_rejected():
    with pytest.raises(ValueError, match="must be unique"):
        Sequential([layers.Dense(2, name="d", input_shape=(3,)), layers.Dense(2, name="d")])


def test_model_inside_sequential_trains_and_freezes(rng):
    backbone = Sequential([layers.Dense(4, activation="relu", input_shape=(3,))], name="bb")
    model = Sequential([backbone, layers.Dense(2, activation="softmax")])
    backbone.trainable = False
    assert all(not layer.trainable for layer in backbone.layers)
    assert len(model.trainable_weights) == 2
    before = [w.copy() for w in backbone.get_weights()]
    model.compile("sgd", "sparse_categorical_crossentropy")
    model.fit(rng.standard_normal((16, 3)), rng.integers(0, 2, 16), epochs=2, verbose=0)
    for b, a in zip(before, backbone.get_weights()):
        np.testing.assert_array_equal(b, a)


def test_frozen_bottom_layers_are_not_visited_in_backward(rng):
    calls = []

    class Spy(layers.Dense):
        def backward(self, ctx, grad):
            calls.append((self.name, ctx.needs_input_grad[0]))
            return super().backward(ctx, grad)

    model = Sequential([Spy(4, input_shape=(3,), name="a"), Spy(4, name="b"), Spy(2, name="c")])
    model.layers[0].trainable = False
    model.compile("sgd", "mse")
    model.train_on_batch(rng.standard_normal((4, 3)), rng.standard_normal((4, 2)))
    # "a" is frozen with nothing trainable below: not recorded; "b" need not compute dx.
    assert calls == [("c", True), ("b", False)]


def test_model_is_a_layer():
    assert issubclass(Model, kernelnet.layers.Layer)
    assert issubclass(Sequential, Model)
