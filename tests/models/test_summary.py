import pytest

from kernelnet import Input, layers
from kernelnet.models import Model


def keras_mnist_cnn():
    from kernelnet.applications import MnistCNN

    return MnistCNN()  # the Keras mnist_cnn.py example's architecture


def test_count_params_equals_keras():
    # Keras' own summary of this model reports 1,199,882 parameters.
    assert keras_mnist_cnn().count_params() == 1_199_882


def test_summary_table(capsys):
    model = keras_mnist_cnn()
    model.summary(line_length=110)                # every cell on one line
    out = capsys.readouterr().out
    assert 'Model: "mnist_cnn"' in out
    assert "Layer (type)" in out and "Output Shape" in out and "Param #" in out
    assert "conv2d_" in out or "conv2d (Conv2D)" in out
    assert "(None, 26, 26, 32)" in out and "(None, 12, 12, 64)" in out
    assert "Total params: 1,199,882" in out
    assert "Trainable params: 1,199,882" in out and "Non-trainable params: 0" in out
    # conv2: 24*24*3*3*32*64 = 10,616,832 multiply-adds per sample
    assert "10.62M" in out
    assert "Act. mem (batch 32)" in out


def test_summary_of_functional_with_batchnorm(capsys):
    inputs = Input(shape=(8, 8, 3))
    x = layers.Conv2D(4, 3, use_bias=False)(inputs)
    x = layers.BatchNormalization()(x)
    model = Model(inputs, layers.GlobalAveragePooling2D()(x))
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "Connected to" in text and "InputLayer" in text
    assert "Non-trainable params: 8" in text  # moving mean and variance
    assert "Total params: 124" in text  # 3*3*3*4 + 4*4


def _table(model, monkeypatch, columns, **kwargs):
    monkeypatch.setenv("COLUMNS", str(columns))   # what shutil.get_terminal_size() reads first
    lines = []
    model.summary(print_fn=lines.append, **kwargs)
    return lines


@pytest.mark.parametrize("columns", [80, 120])
def test_summary_fits_the_terminal_and_keeps_every_column(monkeypatch, columns):
    from kernelnet.applications import ResNet18

    for model in (keras_mnist_cnn(), ResNet18(input_shape=(32, 32, 3), weights=None,
                                              classes=10)):
        lines = _table(model, monkeypatch, columns)
        assert max(map(len, lines)) <= columns
        text = "\n".join(lines)
        words = " ".join(text.split())
        for header in ("Layer", "Output", "Param #", "MACs/sample", "Act. mem"):
            assert header in text
        assert ("Connected" in text) == (model.name == "resnet18")
        for layer in model.layers:                 # every layer named, wrapped or not
            assert layer.name in text
        assert f"Total params: {model.count_params():,}" in text
        if model.name == "resnet18":               # a wrapped cell keeps all its parts
            assert "conv2_block1_1_conv" in words


def test_summary_line_length_is_honoured_and_wide_terminals_add_no_padding(monkeypatch):
    model = keras_mnist_cnn()
    assert max(map(len, _table(model, monkeypatch, 200, line_length=70))) <= 70
    assert len(_table(model, monkeypatch, 200, line_length=70)[1]) == 70      # the rule
    assert len(_table(model, monkeypatch, 300)[1]) == 32 + 24 + 12 + 13 + 20  # preferred


def test_summary_positions_as_fractions(monkeypatch):
    lines = _table(keras_mnist_cnn(), monkeypatch, 200, line_length=100,
                   positions=[0.3, 0.55, 0.7, 0.85, 1.0])
    header = lines[2]
    assert header.index("Output Shape") == 30 and header.index("Param #") == 55
