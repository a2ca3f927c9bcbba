"""kernelnet.models.fusion: BatchNormalization folded into the Conv2D before it at inference."""

import numpy as np
import pytest

from kernelnet import GradientTape, Input, layers
from kernelnet.autodiff import stop_recording
from kernelnet.models import Model, Sequential, fusion, graph


def randomize_batchnorms(model, rng):
    """Moving statistics, gamma, beta and convolution biases away from their defaults."""
    for layer in model.layers:
        if getattr(layer, "bias", None) is not None:
            layer.bias.assign(rng.standard_normal(layer.bias.shape))
        if isinstance(layer, layers.BatchNormalization):
            c = layer.moving_mean.shape
            layer.moving_mean.assign(rng.standard_normal(c))
            layer.moving_variance.assign(rng.random(c) + 0.5)
            if layer.gamma is not None:
                layer.gamma.assign(rng.random(c) + 0.5)
            if layer.beta is not None:
                layer.beta.assign(rng.standard_normal(c))


def unfused(model, x):
    """The graph as written, every layer called on its own (nothing recorded)."""
    with stop_recording():
        return graph.run(model._nodes, model._input_ids, model._output_ids, [x], False)[0]


def fused_names(model):
    return [getattr(n.layer, "name", None) for n in model._inference_nodes()]


def resnet_like(rng, use_bias=True):
    x = Input(shape=(9, 9, 3))
    a = layers.Conv2D(8, 3, padding="same", use_bias=use_bias, name="c1")(x)
    a = layers.BatchNormalization(name="b1")(a)
    a = layers.Activation("relu", name="r1")(a)
    b = layers.Conv2D(8, 3, padding="same", name="c2")(a)     # Winograd: 8 -> 8 channels
    b = layers.BatchNormalization(scale=False, center=False, name="b2")(b)
    s = layers.Conv2D(8, 1, name="c3")(a)
    s = layers.BatchNormalization(name="b3")(s)
    y = layers.Activation("relu", name="r2")(layers.Add(name="add")([b, s]))
    model = Model(x, layers.Dense(4, name="head")(layers.GlobalAveragePooling2D()(y)))
    randomize_batchnorms(model, rng)
    return model


@pytest.mark.parametrize("use_bias", [True, False])
def test_conv_batchnorm_chains_are_folded_and_predict_the_same(rng, float64, use_bias):
    model = resnet_like(rng, use_bias)
    x = rng.random((5, 9, 9, 3))
    assert fused_names(model)[:4] == ["c1+b1+r1", "c2+b2", "c3+b3", "add"]
    np.testing.assert_allclose(model.predict(x, verbose=0), unfused(model, x), rtol=1e-10)
    np.testing.assert_allclose(model(x, training=False), unfused(model, x), rtol=1e-10)


def test_folding_follows_weight_changes(rng):
    model = resnet_like(rng)
    x = rng.random((4, 9, 9, 3)).astype(np.float32)
    before = model.predict(x, verbose=0)
    randomize_batchnorms(model, rng)
    model.get_layer("c2").kernel.value[...] *= -1                          # in place
    after = model.predict(x, verbose=0)
    np.testing.assert_allclose(after, unfused(model, x), rtol=1e-4, atol=1e-5)
    assert not np.allclose(before, after)


@pytest.mark.parametrize("case", ["conv activation", "second consumer", "model output",
                                  "channels first", "not a conv"])
def test_chains_that_cannot_fold_run_as_written(rng, float64, case):
    x = Input(shape=(6, 6, 4))
    conv = layers.Conv2D(4, 3, activation="relu" if case == "conv activation" else None,
                         name="c")
    first = layers.DepthwiseConv2D(3, name="c") if case == "not a conv" else conv
    z = first(x)
    bn = layers.BatchNormalization(axis=1 if case == "channels first" else -1, name="b")(z)
    outputs = bn
    if case == "second consumer":
        outputs = layers.Add()([bn, z])
    model = Model(x, [bn, z] if case == "model output" else outputs)
    randomize_batchnorms(model, rng)
    assert "c+b" not in fused_names(model)
    data = rng.random((3, 6, 6, 4))
    got = model.predict(data, verbose=0)
    expected = graph.run(model._nodes, model._input_ids, model._output_ids, [data], False)
    for g, e in zip(got if case == "model output" else [got], expected):
        np.testing.assert_allclose(g, e, rtol=1e-12)


def test_training_and_recorded_calls_see_the_layers_as_written(rng, float64):
    model = Sequential([Input(shape=(6, 6, 2)), layers.Conv2D(3, 3, name="c"),
                        layers.BatchNormalization(name="b"), layers.Flatten(),
                        layers.Dense(2)])
    randomize_batchnorms(model, rng)
    x = rng.random((4, 6, 6, 2))
    assert fused_names(model)[0] == "c+b"
    with GradientTape() as tape:
        y = model(x, training=False)                     # recorded: the unfused graph
    bn = model.get_layer("b")
    grads = tape.gradient(y, [bn.gamma, bn.beta], output_gradients=rng.standard_normal((4, 2)))
    assert all(g is not None and np.any(g != 0) for g in grads)
    mean_before = bn.moving_mean.numpy()
    model(x, training=True)                              # batch statistics: moving mean moves
    assert not np.allclose(bn.moving_mean.numpy(), mean_before)


def test_fused_node_keeps_tensor_inputs_tensors(rng):
    from kernelnet.autodiff import Tensor

    model = Sequential([Input(shape=(5, 5, 2)), layers.Conv2D(3, 3),
                        layers.BatchNormalization()])
    node = model._inference_nodes()[0]
    assert isinstance(node.layer, fusion.ConvBatchNorm)
    x = rng.random((2, 5, 5, 2)).astype(np.float32)
    out = node.layer(Tensor(x))
    assert isinstance(out, Tensor)
    np.testing.assert_allclose(out.value, node.layer(x), rtol=0)
