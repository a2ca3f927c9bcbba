"""ONNX export: the exported graph gives kernelnet's predictions in onnxruntime."""

import numpy as np
import pytest

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from kernelnet import Input, applications, layers  # noqa: E402
from kernelnet.layers import BatchNormalization  # noqa: E402
from kernelnet.models import Model, Sequential  # noqa: E402
from kernelnet.onnx_export import export_onnx  # noqa: E402


def _randomize_batchnorm(model, rng):
    for layer in model.layers:
        if isinstance(layer, BatchNormalization):
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape) if "variance" in n or "gamma" in n
                               else rng.normal(0, 0.3, w.shape)
                               for n, w in zip(layer.weight_names, layer.weights)])


def _resnet_like():
    inputs = Input(shape=(15, 14, 3))
    x = layers.ZeroPadding2D(((1, 2), (0, 1)))(inputs)
    x = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.BatchNormalization()(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    shortcut = layers.Conv2D(6, 1, use_bias=False)(x)
    y = layers.Conv2D(6, 3, padding="same")(x)
    y = layers.BatchNormalization(scale=False)(y)
    y = layers.LeakyReLU(negative_slope=0.1)(y)
    x = layers.Add()([shortcut, y])
    x = layers.ReLU(max_value=6.0)(x)
    a = layers.AveragePooling2D(2, padding="same")(x)
    a = layers.Concatenate()([a, layers.MaxPooling2D(2, padding="same")(x)])
    flat = layers.Flatten()(a)
    gap = layers.GlobalAveragePooling2D()(x)
    x = layers.Concatenate()([flat, gap])
    x = layers.Dropout(0.5)(x)
    x = layers.Dense(16, activation="tanh")(x)
    outputs = layers.Dense(5)(x)                 # logits: a softmax would hide differences
    return Model(inputs, outputs)


def _check(model, x, tmp_path):
    path = tmp_path / "model.onnx"
    export_onnx(model, path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": x})[0]
    np.testing.assert_allclose(got, model.predict(x, verbose=0), atol=1e-4)


def test_resnet_like_graph_matches(tmp_path, rng):
    model = _resnet_like()
    _randomize_batchnorm(model, rng)
    _check(model, rng.normal(size=(3, 15, 14, 3)).astype("float32"), tmp_path)


def test_sequential_zoo_models_match(tmp_path, rng):
    for model, shape in [(applications.LeNet5(), (2, 28, 28, 1)),
                         (applications.AlexNet(input_shape=(16, 16, 3),
                                               classifier_activation=None), (2, 16, 16, 3)),
                         (Sequential([Input(shape=(6, 6, 2)), layers.Conv2D(7, 3),
                                      layers.LocalResponseNormalization(2, 1.0, 0.5, 0.75),
                                      layers.Flatten()]), (2, 6, 6, 2))]:
        _check(model, rng.uniform(0, 1, size=shape).astype("float32"), tmp_path)


def test_nested_backbone_and_resnet_blocks_match(tmp_path, rng):
    backbone = applications.ResNet18(weights=None, include_top=False, pooling="avg",
                                     input_shape=(32, 32, 3))
    _randomize_batchnorm(backbone, rng)
    backbone.trainable = False
    model = Sequential([Input(shape=(32, 32, 3)), backbone, layers.Dense(4)])
    _check(model, rng.normal(size=(2, 32, 32, 3)).astype("float32"), tmp_path)


def test_unsupported_layer_is_named(tmp_path):
    inputs = Input(shape=(4, 3))
    model = Model(inputs, layers.Permute((2, 1), name="perm")(inputs))
    with pytest.raises(ValueError, match=r"Layer 'perm' \(Permute\) cannot be exported"):
        export_onnx(model, tmp_path / "m.onnx")


def test_model_export_is_keras_3_signature_for_onnx(tmp_path, rng, capsys):
    model = applications.LeNet5()
    x = rng.random((3, 28, 28, 1), dtype=np.float32)
    model.export(tmp_path / "lenet.onnx", format="onnx")
    assert "(ONNX)" in capsys.readouterr().out
    session = ort.InferenceSession(str(tmp_path / "lenet.onnx"),
                                   providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"input": x})[0],
                               model.predict(x, verbose=0), atol=1e-4)
    model.export(tmp_path / "quiet.onnx", verbose=False, opset=17)   # format="onnx" default
    assert capsys.readouterr().out == "" and (tmp_path / "quiet.onnx").stat().st_size > 0


def test_model_export_rejects_other_formats(tmp_path):
    model = applications.LeNet5()
    with pytest.raises(ValueError, match="Received: format='tf_saved_model'"):
        model.export(tmp_path / "m", format="tf_saved_model")
    with pytest.raises(TypeError, match="unexpected keyword arguments \\['dynamic'\\]"):
        model.export(tmp_path / "m.onnx", dynamic=True)
