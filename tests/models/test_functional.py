import numpy as np
import pytest
from helpers import numerical_grad, rel_error

from kernelnet import Input, layers
from kernelnet.autodiff import GradientTape, Variable, convert_to_tensor
from kernelnet.models import Model


def residual_model():
    inputs = Input(shape=(6, 6, 2))
    a = layers.Conv2D(3, 3, padding="same", name="a")(inputs)
    b = layers.Conv2D(3, 1, name="b")(inputs)
    s = layers.Add(name="add")([a, b])
    s = layers.Activation("tanh")(s)
    c = layers.Concatenate(name="cat")([s, a])
    out = layers.Dense(2, name="head")(layers.GlobalAveragePooling2D()(c))
    return Model(inputs, out, name="res")


def test_graph_output_shape_and_layers():
    model = residual_model()
    assert model.compute_output_shape((None, 6, 6, 2)) == (None, 2)
    assert model.layers[0].name.startswith("input_layer")
    assert [layer.name for layer in model.layers][-1] == "head"


def test_backward_accumulates_at_branches(rng, float64):
    model = residual_model()
    x = rng.standard_normal((2, 6, 6, 2))
    upstream = rng.standard_normal((2, 2))
    xt = convert_to_tensor(x)
    with GradientTape() as tape:
        tape.watch(xt)
        out = model(xt, training=True)
    dx, *grads = tape.gradient(out, [xt, *model.trainable_weights], output_gradients=upstream)

    def loss():
        return float(np.sum(model(x, training=True) * upstream))

    assert rel_error(dx, numerical_grad(loss, x)) < 1e-7
    assert len(grads) == len(model.trainable_weights) == 6
    for w, g in zip(model.trainable_weights, grads):
        assert rel_error(g, numerical_grad(loss, w.value)) < 1e-7


def test_multi_input_model(rng):
    a, b = Input(shape=(3,)), Input(shape=(4,))
    out = layers.Dense(1)(layers.Concatenate()([a, b]))
    model = Model([a, b], out)
    model.compile("sgd", "mse")
    xa, xb = rng.standard_normal((8, 3)), rng.standard_normal((8, 4))
    y = rng.standard_normal((8, 1))
    model.fit([xa, xb], y, epochs=1, batch_size=4, verbose=0)
    assert model.predict([xa, xb], verbose=0).shape == (8, 1)


def test_disconnected_graph_is_an_error():
    a, b = Input(shape=(3,)), Input(shape=(3,))
    out = layers.Add()([a, b])
    with pytest.raises(ValueError, match="Graph disconnected"):
        Model(a, out)


def test_layer_called_twice_in_a_row_sums_its_gradients(rng, float64):
    inputs = Input(shape=(3,))
    dense = layers.Dense(3, activation="tanh")
    model = Model(inputs, dense(dense(inputs)))
    assert model.layers == [model.layers[0], dense] and len(model.trainable_weights) == 2
    x, upstream = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    with GradientTape() as tape:
        out = model(x, training=True)
    grads = tape.gradient(out, model.trainable_weights, output_gradients=upstream)

    def loss():
        return float(np.sum(model(x) * upstream))

    for w, g in zip(model.trainable_weights, grads):
        assert rel_error(g, numerical_grad(loss, w.value)) < 1e-7
    clone = Model.from_config(model.get_config())     # the config keeps the two calls
    clone.set_weights(model.get_weights())
    np.testing.assert_array_equal(clone.predict(x, verbose=0), model.predict(x, verbose=0))
    assert len(clone.layers) == 2


def test_model_called_on_tensor_nests(rng):
    inner = residual_model()
    inputs = Input(shape=(6, 6, 2))
    outer = Model(inputs, layers.Dense(1)(inner(inputs)))
    assert outer.count_params() == inner.count_params() + 3
    assert outer.predict(rng.standard_normal((3, 6, 6, 2)), verbose=0).shape == (3, 1)


def test_config_round_trip(rng):
    model = residual_model()
    clone = Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    x = rng.standard_normal((2, 6, 6, 2)).astype("float32")
    np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)


def test_keras_shape_attributes():
    model = residual_model()
    assert model.input_shape == (None, 6, 6, 2)
    assert model.output_shape == (None, 2)
    assert len(model.inputs) == 1 and model.outputs[0].shape == (None, 2)


def _arrays_held(model):
    """Arrays a model's layers hold besides their weights (attributes and activations)."""
    return [(layer.name, name) for layer in model.layers for name, value in vars(layer).items()
            if not isinstance(value, Variable) and (
                isinstance(value, np.ndarray)
                or isinstance(getattr(value, "__dict__", None), dict)
                and any(isinstance(v, np.ndarray) for v in vars(value).values()))]


def test_layers_keep_nothing_of_a_call(rng):
    model = residual_model()
    model.predict(rng.standard_normal((40, 6, 6, 2)).astype("float32"), verbose=0)
    assert _arrays_held(model) == []
    model.compile("sgd", "mse")  # training still works after a predict
    model.fit(rng.standard_normal((8, 6, 6, 2)), rng.standard_normal((8, 2)), verbose=0)
    assert _arrays_held(model) == []     # what backward needed lived on per-call contexts
