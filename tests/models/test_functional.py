import numpy as np
import pytest
from helpers import numerical_grad, rel_error

from kernelnet import Input, layers
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
    model.forward(x, training=True)
    dx = model.backward(upstream)

    def loss():
        return float(np.sum(model.forward(x, training=True) * upstream))

    assert rel_error(dx, numerical_grad(loss, x)) < 1e-7
    for w, g in zip(model.trainable_weights, model.gradients):
        assert rel_error(g, numerical_grad(loss, w)) < 1e-7


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


def test_shared_layer_is_rejected():
    inputs = Input(shape=(3,))
    dense = layers.Dense(3)
    with pytest.raises(ValueError, match="called more than once"):
        Model(inputs, dense(dense(inputs)))


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


def test_inference_keeps_no_backward_caches(rng):
    model = residual_model()
    model.predict(rng.standard_normal((40, 6, 6, 2)).astype("float32"), verbose=0)
    for layer in model.layers:
        for name in layer._CACHES:
            assert getattr(layer, name, None) is None, (layer.name, name)
        act = getattr(layer, "_act", None)
        assert act is None or (act._z is None and act._y is None), layer.name
    model.compile("sgd", "mse")  # training still works after a cache-free predict
    model.fit(rng.standard_normal((8, 6, 6, 2)), rng.standard_normal((8, 2)), verbose=0)
