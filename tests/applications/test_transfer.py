"""Transfer learning: a frozen backbone stays fixed, its BatchNormalization runs in inference mode,
backward stops at it, and unfreezing the top block fine-tunes only that block."""

import numpy as np
import pytest

from kernelnet import Input, layers, optimizers
from kernelnet.applications import resnet
from kernelnet.layers import BatchNormalization
from kernelnet.models import Model, graph


def _backbone():
    inputs = Input(shape=(12, 12, 3))
    x = layers.Conv2D(8, 3, padding="same", name="stem_conv")(inputs)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.Activation("relu", name="stem_relu")(x)
    x = resnet.stack(x, resnet.basic_block, 8, 1, stride1=1, name="conv2", use_bias=False)
    x = resnet.stack(x, resnet.basic_block, 16, 1, stride1=2, name="conv3", use_bias=False)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return Model(inputs, x, name="backbone")


def _classifier(backbone, classes):
    inputs = Input(shape=(12, 12, 3))
    features = backbone(inputs)
    outputs = layers.Dense(classes, activation="softmax", name="head")(features)
    model = Model(inputs, outputs, name="classifier")
    model.compile(optimizer=optimizers.SGD(learning_rate=0.1), loss="categorical_crossentropy")
    return model


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    x = rng.normal(1.0, 2.0, size=(32, 12, 12, 3)).astype("float32")   # BN stats would move
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, 32)]
    return x, y


def _snapshot(model):
    return [w.copy() for w in model.weights]


def test_frozen_backbone_is_not_updated(data):
    x, y = data
    backbone = _backbone()
    backbone.trainable = False
    model = _classifier(backbone, 3)
    assert len(model.trainable_weights) == 2                     # head kernel and bias only
    before_backbone = _snapshot(backbone)
    head = model.get_layer("head")
    before_head = _snapshot(head)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    for a, b in zip(before_backbone, backbone.weights):           # incl. BN moving stats
        np.testing.assert_array_equal(a, b)
    assert any(np.abs(a - b).max() > 1e-6 for a, b in zip(before_head, head.get_weights()))


def test_frozen_batchnorm_runs_in_inference_mode(data):
    x, _ = data
    backbone = _backbone()
    backbone.trainable = False
    # with training=True the frozen layers compute exactly what inference does layer by layer
    as_written = graph.run(backbone._nodes, backbone._input_ids, backbone._output_ids, [x],
                           False)[0]
    np.testing.assert_array_equal(backbone(x, training=True), as_written)
    # inference itself folds each BatchNormalization into its convolution (models/fusion.py)
    np.testing.assert_allclose(backbone(x, training=False), as_written, rtol=1e-5, atol=1e-6)
    bns = [layer for layer in backbone.layers if isinstance(layer, BatchNormalization)]
    assert bns and all(not bn.trainable_weights for bn in bns)


def test_backward_stops_at_the_frozen_backbone(data, monkeypatch):
    x, y = data
    backbone = _backbone()
    backbone.trainable = False
    model = _classifier(backbone, 3)
    calls = []
    for layer in backbone.layers:
        original = layer.backward
        monkeypatch.setattr(layer, "backward",
                            lambda ctx, grad, _f=original, _n=layer.name:
                            calls.append(_n) or _f(ctx, grad))
    model.train_on_batch(x[:8], y[:8])
    assert calls == []


def test_unfreezing_the_top_block_fine_tunes_only_it(data):
    x, y = data
    backbone = _backbone()
    backbone.trainable = True
    for layer in backbone.layers:
        layer.trainable = layer.name.startswith("conv3")
    model = _classifier(backbone, 3)
    frozen = [layer for layer in backbone.layers if layer.weights and not layer.trainable]
    tuned = [layer for layer in backbone.layers if layer.weights and layer.trainable]
    before = {layer.name: _snapshot(layer) for layer in frozen + tuned}
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    for layer in frozen:
        for a, b in zip(before[layer.name], layer.weights):
            np.testing.assert_array_equal(a, b, err_msg=layer.name)
    for layer in tuned:
        assert any(np.abs(a - b).max() > 1e-7
                   for a, b in zip(before[layer.name], layer.get_weights()))


def test_pretrain_then_freeze_lower_layers_and_fine_tune(data):
    x, y = data
    backbone = _backbone()
    model = _classifier(backbone, 3)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)           # every layer has gradients now
    for layer in backbone.layers:
        layer.trainable = layer.name.startswith("conv3")
    stem = backbone.get_layer("stem_conv")
    before = _snapshot(stem)
    model.compile(optimizer=optimizers.SGD(learning_rate=0.1), loss="categorical_crossentropy")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    for a, b in zip(before, stem.weights):
        np.testing.assert_array_equal(a, b)
