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
    model.summary()
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
