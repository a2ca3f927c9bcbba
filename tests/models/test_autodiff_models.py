"""Layers and models on automatic differentiation: custom call() layers, subclassed models,
shared layers, gradients wrt inputs, reentrant layers, feature-map models, add_loss."""

import threading

import numpy as np
import pytest
from helpers import numerical_grad, rel_error

from kernelnet import Input, backend, layers, ops, optimizers, saving
from kernelnet.autodiff import GradientTape, Variable, convert_to_tensor
from kernelnet.models import Model, Sequential, load_model, parallel
from kernelnet.utils import gradient_check, set_random_seed


class Linear(layers.Layer):
    """A Keras 3 style layer: build() + call() from ops, with an L2 penalty via add_loss."""

    def __init__(self, units=4, l2=0.0, **kwargs):
        super().__init__(**kwargs)
        self.units, self.l2 = units, l2

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                 initializer="random_normal", name="w")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b")

    def call(self, inputs):
        if self.l2:
            self.add_loss(self.l2 * ops.sum(self.w * self.w))
        return ops.matmul(inputs, self.w) + self.b

    def get_config(self):
        return {**super().get_config(), "units": self.units, "l2": self.l2}


def _data(rng, n=32, features=5, classes=3):
    return rng.standard_normal((n, features)), rng.integers(0, classes, n)


def test_add_weight_has_the_keras3_signature():
    layer = layers.Layer(name="holder")
    w = layer.add_weight((3, 2), name="w")
    assert isinstance(w, Variable) and w.path == "holder/w" and w.trainable
    assert 0 < np.abs(w.numpy()).max() <= np.sqrt(6 / 5)      # glorot_uniform by default
    s = layer.add_weight(initializer="ones", trainable=False, name="s")
    assert s.shape == () and float(s) == 1.0
    assert layer.weights == [w, s] and layer.trainable_weights == [w]
    assert layer.non_trainable_weights == [s]
    with pytest.raises(TypeError, match="takes the shape first"):
        layer.add_weight("kernel", (2, 2))


def test_custom_call_layer_trains_and_its_gradients_match_finite_differences(rng, tmp_path):
    x, y = _data(rng)
    set_random_seed(0)
    model = Sequential([Input(shape=(5,)), Linear(8, l2=1e-2, name="lin"),
                        layers.Activation("tanh"),
                        layers.Dense(3, activation="softmax", name="out")])
    model.compile(optimizers.Adam(0.05), "sparse_categorical_crossentropy")
    errors = gradient_check(model, x[:4], y[:4])
    assert set(errors) == {"lin/w", "lin/b", "out/kernel", "out/bias"}
    assert max(errors.values()) < 1e-6
    history = model.fit(x, y, epochs=20, batch_size=32, verbose=0).history["loss"]
    assert history[-1] < history[0] - 0.05
    assert len(model.losses) == 1 and float(model.losses[0]) > 0    # the penalty of the step
    # saved and loaded with its config (a registered class: no code runs from the file)
    saving.register_keras_serializable("test")(Linear)
    model.save(tmp_path / "m.kn")
    clone = load_model(tmp_path / "m.kn")
    assert isinstance(clone.layers[0], Linear) and clone.layers[0].l2 == 1e-2
    np.testing.assert_array_equal(clone.predict(x, verbose=0), model.predict(x, verbose=0))


def test_add_loss_enters_the_training_loss(rng):
    x, y = _data(rng, n=8)
    model = Sequential([Input(shape=(5,)), Linear(3, l2=0.5)])
    model.compile("sgd", "mse")
    target = np.zeros((8, 3))
    w = model.layers[0].w.numpy()
    loss, _, (gw, gb) = model.compute_gradients(x, target)
    out = x @ w + model.layers[0].b.numpy()
    assert loss == pytest.approx(np.mean(out ** 2) + 0.5 * np.sum(w * w))
    np.testing.assert_allclose(gw, 2 * x.T @ out / out.size + 1.0 * w, rtol=1e-5)


def test_call_returning_a_non_tensor_is_a_clear_error():
    class Bad(layers.Layer):
        def call(self, inputs):
            return "oops"

    with pytest.raises(TypeError, match="call\\(\\) must return a tensor.*str"):
        Bad(name="bad")(np.zeros((2, 3)))


class MLP(Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = Linear(6)
        self.act = layers.Activation("tanh")
        self.out = layers.Dense(3, activation="softmax")

    def call(self, x, training=False):
        return self.out(self.act(self.hidden(x)))


def test_subclassed_model_fits_evaluates_predicts_summarizes_and_saves_weights(rng, tmp_path):
    x, y = _data(rng)
    set_random_seed(1)
    model = MLP(name="mlp")
    model.compile(optimizers.Adam(0.05), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, epochs=20, batch_size=16, verbose=0).history
    assert history["loss"][-1] < history["loss"][0] - 0.05
    assert set(history) == {"loss", "accuracy"}
    loss, acc = model.evaluate(x, y, verbose=0)
    assert loss == pytest.approx(history["loss"][-1], rel=0.2) and 0 <= acc <= 1
    assert model.predict(x, verbose=0).shape == (32, 3)
    assert [layer.name for layer in model.layers] == [model.hidden.name, model.act.name,
                                                      model.out.name]
    assert len(model.trainable_weights) == 4 and model.count_params() == 5 * 6 + 6 + 6 * 3 + 3
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "(None, 6)" in text and "(None, 3)" in text and "Total params: 57" in text
    model.save_weights(tmp_path / "w.kn")
    other = MLP()
    other(x[:1])
    other.load_weights(tmp_path / "w.kn")
    np.testing.assert_array_equal(other.predict(x, verbose=0), model.predict(x, verbose=0))
    errors = gradient_check(model, x[:4], y[:4])
    assert len(errors) == 4 and max(errors.values()) < 1e-6


def test_subclassed_and_call_layer_models_train_unsplit():
    backend.set_num_threads(2)
    try:
        model = MLP()
        model(np.zeros((1, 5)))
        assert parallel.shard_count(model, 64, training=True) == 1
        assert parallel.shard_count(model, 64, training=False) == 2
    finally:
        backend.set_num_threads(None)


def siamese(dtype="float64"):
    a, b = Input(shape=(6, 6, 1)), Input(shape=(6, 6, 1))
    conv = layers.Conv2D(2, 3, activation="tanh", name="shared_conv", dtype=dtype)
    dense = layers.Dense(4, activation="tanh", name="shared_dense", dtype=dtype)
    flat_a, flat_b = layers.Flatten()(conv(a)), layers.Flatten()(conv(b))
    distance = layers.subtract([dense(flat_a), dense(flat_b)])
    out = layers.Dense(1, activation="sigmoid", name="head", dtype=dtype)(distance)
    return Model([a, b], out)


def test_siamese_model_with_shared_dense_and_conv_matches_finite_differences(rng, float64):
    set_random_seed(2)
    model = siamese()
    names = [layer.name for layer in model.layers]
    assert names.count("shared_conv") == names.count("shared_dense") == 1
    assert len(model.trainable_weights) == 6
    xa, xb = rng.standard_normal((4, 6, 6, 1)), rng.standard_normal((4, 6, 6, 1))
    upstream = rng.standard_normal((4, 1))
    with GradientTape() as tape:
        out = model([xa, xb], training=True)
    grads = tape.gradient(out, model.trainable_weights, output_gradients=upstream)

    def loss():
        return float(np.sum(model([xa, xb]) * upstream))

    for w, g in zip(model.trainable_weights, grads):
        assert rel_error(g, numerical_grad(loss, w.value)) < 1e-7, w.path
    # each shared weight's gradient is the sum over the two calls
    conv = model.get_layer("shared_conv")
    with GradientTape() as tape:
        one = conv(xa)
    alone = tape.gradient(one, conv.kernel, output_gradients=np.ones(one.shape))
    assert not np.allclose(alone, grads[0])
    model.compile("adam", "binary_crossentropy")
    y = rng.integers(0, 2, (4, 1))
    errors = gradient_check(model, [xa, xb], y)
    assert len(errors) == 6 and max(errors.values()) < 1e-6
    first = model.train_on_batch([xa, xb], y)
    for _ in range(20):
        last = model.train_on_batch([xa, xb], y)
    assert last < first


def test_tape_gradient_wrt_model_inputs_matches_finite_differences(rng, float64):
    set_random_seed(3)
    model = Sequential([Input(shape=(6, 6, 2)), layers.Conv2D(3, 3, activation="relu"),
                        layers.MaxPooling2D(), layers.Flatten(),
                        layers.Dense(4, activation="softmax")])
    x = rng.standard_normal((2, 6, 6, 2))
    upstream = rng.standard_normal((2, 4))
    xt = convert_to_tensor(x)
    with GradientTape() as tape:
        tape.watch(xt)
        out = model(xt)
    dx = tape.gradient(out, xt, output_gradients=upstream)
    numeric = numerical_grad(lambda: float(np.sum(model(x) * upstream)), x)
    assert rel_error(dx, numeric) < 1e-7


def test_layers_are_reentrant_from_two_threads(rng, float64):
    """Two threads inside the same layers at once (both calls live before either backward)
    get the gradients each would get alone."""
    set_random_seed(4)
    conv, dense = layers.Conv2D(4, 3, activation="relu"), layers.Dense(3)
    xs = [rng.standard_normal((8, 12, 12, 3)) for _ in range(2)]
    seeds = [rng.standard_normal((8, 10, 10, 3)) for _ in range(2)]

    def grads(x, seed, barrier=None):
        with GradientTape() as tape:
            out = dense(conv(x))
        if barrier is not None:
            barrier.wait()             # the other thread's call is live too
        return tape.gradient(out, [*conv.trainable_weights, *dense.trainable_weights],
                             output_gradients=seed)

    expected = [grads(x, s) for x, s in zip(xs, seeds)]
    barrier, results = threading.Barrier(2), [None, None]

    def work(i):
        results[i] = grads(xs[i], seeds[i], barrier)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, want in zip(results, expected):
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("c_in", [4, 32], ids=["columns kept", "columns rebuilt"])
def test_two_live_calls_of_one_conv_keep_their_own_inputs(rng, c_in):
    conv = layers.Conv2D(8, 3)
    x = rng.standard_normal((16, 20, 20, c_in)).astype("float32")
    conv(x)
    w = conv.kernel
    with GradientTape() as tape:
        a = conv(x)
        b = conv(x + 1)
    grads = tape.gradient([a, b], w, output_gradients=[np.ones(a.shape), np.ones(b.shape)])
    single = []
    for xi in (x, x + 1):
        with GradientTape() as tape:
            out = conv(xi)
        single.append(tape.gradient(out, w, output_gradients=np.ones(out.shape)))
    np.testing.assert_allclose(grads, single[0] + single[1], rtol=1e-5)


def test_feature_map_model_from_layer_output(rng):
    model = Sequential([Input(shape=(12, 12, 1)),
                        layers.Conv2D(4, 3, activation="relu", name="block1_conv"),
                        layers.MaxPooling2D(name="block1_pool"),
                        layers.Conv2D(6, 3, activation="relu", name="block3_conv"),
                        layers.Flatten(), layers.Dense(2)])
    features = Model(inputs=model.inputs, outputs=model.get_layer("block3_conv").output)
    x = rng.standard_normal((3, 12, 12, 1)).astype("float32")
    by_hand = x
    for name in ("block1_conv", "block1_pool", "block3_conv"):
        by_hand = model.get_layer(name)(by_hand)
    np.testing.assert_array_equal(features.predict(x, verbose=0), by_hand)
    assert features.get_layer("block1_conv") is model.get_layer("block1_conv")  # shares weights
    assert model.get_layer("block1_pool").input is model.get_layer("block1_conv").output
    inputs = Input(shape=(5,))
    hidden = layers.Dense(3, name="h")
    functional = Model(inputs, layers.Dense(1)(hidden(inputs)))
    probe = Model(functional.inputs, functional.get_layer("h").output)
    assert probe.predict(np.ones((2, 5)), verbose=0).shape == (2, 3)
    hidden(Input(shape=(5,)))                       # a second call: output is ambiguous now
    with pytest.raises(AttributeError, match="called 2 times"):
        _ = hidden.output


def test_gradient_check_restores_a_seeded_dropout(rng):
    model = Sequential([Input(shape=(6,)), layers.Dense(8, activation="tanh"),
                        layers.Dropout(0.5, seed=3), layers.Dense(2)])
    model.compile("sgd", "mse")
    errors = gradient_check(model, rng.standard_normal((5, 6)), rng.standard_normal((5, 2)))
    assert max(errors.values()) < 1e-6


@pytest.mark.parametrize("helper,cls,kwargs", [
    ("add", "Add", {}), ("subtract", "Subtract", {}), ("multiply", "Multiply", {}),
    ("average", "Average", {}), ("maximum", "Maximum", {}), ("minimum", "Minimum", {}),
    ("concatenate", "Concatenate", {"axis": 1}),
])
def test_functional_merge_helpers(rng, helper, cls, kwargs):
    a, b = Input(shape=(3,)), Input(shape=(3,))
    out = getattr(layers, helper)([a, b], **kwargs)
    assert type(out.layer).__name__ == cls
    model = Model([a, b], out)
    xa, xb = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    np.testing.assert_array_equal(model.predict([xa, xb], verbose=0),
                                  getattr(layers, cls)(**kwargs)([xa, xb]).astype("float32"))


class Scale(layers.Layer):
    """The tutorial's fused layer (docs/tutorial.md, section 10)."""

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

    def forward(self, ctx, x, training=False):
        if ctx is not None:
            ctx.x = x
        return x * self.w.value

    def backward(self, ctx, grad):
        dx = grad * self.w.value if ctx.needs_input_grad[0] else None
        dw = (grad * ctx.x).reshape(-1, grad.shape[-1]).sum(axis=0)
        return dx, [dw] if self.trainable else []


class ScaleOps(layers.Layer):
    """The tutorial's layer from ops."""

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

    def call(self, x):
        return x * self.w


@pytest.mark.parametrize("cls", [Scale, ScaleOps])
def test_the_tutorials_two_ways_of_writing_a_layer_agree_with_finite_differences(rng, cls):
    x, y = rng.standard_normal((8, 4)), rng.standard_normal((8, 2))
    model = Sequential([Input(shape=(4,)), cls(), layers.Dense(2)])
    model.compile("sgd", "mse")
    errors = gradient_check(model, x, y)
    assert len(errors) == 3 and max(errors.values()) < 1e-6
    with GradientTape() as tape:   # one recorded node either way: the layer, or its multiply
        out = model.layers[0](x)
    assert len(tape._nodes) == 1 and out.shape == (8, 4)
