"""Classic Keras tutorials run unchanged but for `keras` -> `kernelnet` in their imports.

Each script is Keras' own text (trimmed of comments); the test swaps the imports with a plain
string replace, shrinks the data and epochs so it runs in seconds, and executes it.
"""


KERAS2_MNIST_CNN = """
from __future__ import print_function
import keras
from keras.datasets import mnist
from keras.models import Sequential
from keras.layers import Dense, Dropout, Flatten
from keras.layers import Conv2D, MaxPooling2D
from keras import backend as K

batch_size = 128
num_classes = 10
epochs = 12
img_rows, img_cols = 28, 28
(x_train, y_train), (x_test, y_test) = mnist.load_data()
#SHRINK
if K.image_data_format() == 'channels_first':
    x_train = x_train.reshape(x_train.shape[0], 1, img_rows, img_cols)
    x_test = x_test.reshape(x_test.shape[0], 1, img_rows, img_cols)
    input_shape = (1, img_rows, img_cols)
else:
    x_train = x_train.reshape(x_train.shape[0], img_rows, img_cols, 1)
    x_test = x_test.reshape(x_test.shape[0], img_rows, img_cols, 1)
    input_shape = (img_rows, img_cols, 1)
x_train = x_train.astype('float32')
x_test = x_test.astype('float32')
x_train /= 255
x_test /= 255
print('x_train shape:', x_train.shape)
y_train = keras.utils.to_categorical(y_train, num_classes)
y_test = keras.utils.to_categorical(y_test, num_classes)
model = Sequential()
model.add(Conv2D(32, kernel_size=(3, 3), activation='relu', input_shape=input_shape))
model.add(Conv2D(64, (3, 3), activation='relu'))
model.add(MaxPooling2D(pool_size=(2, 2)))
model.add(Dropout(0.25))
model.add(Flatten())
model.add(Dense(128, activation='relu'))
model.add(Dropout(0.5))
model.add(Dense(num_classes, activation='softmax'))
model.compile(loss=keras.losses.categorical_crossentropy,
              optimizer=keras.optimizers.Adadelta(),
              metrics=['accuracy'])
model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, verbose=1,
          validation_data=(x_test, y_test))
score = model.evaluate(x_test, y_test, verbose=0)
print('Test loss:', score[0])
print('Test accuracy:', score[1])
"""

KERAS3_MNIST_CONVNET = """
import numpy as np
import keras
from keras import layers

num_classes = 10
input_shape = (28, 28, 1)
(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
#SHRINK
x_train = x_train.astype("float32") / 255
x_test = x_test.astype("float32") / 255
x_train = np.expand_dims(x_train, -1)
x_test = np.expand_dims(x_test, -1)
y_train = keras.utils.to_categorical(y_train, num_classes)
y_test = keras.utils.to_categorical(y_test, num_classes)
model = keras.Sequential(
    [
        keras.Input(shape=input_shape),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(num_classes, activation="softmax"),
    ]
)
model.summary()
batch_size = 128
epochs = 15
model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_split=0.1)
score = model.evaluate(x_test, y_test, verbose=0)
print("Test loss:", score[0])
print("Test accuracy:", score[1])
"""

KERAS2_CIFAR10_CNN = """
from __future__ import print_function
import keras
from keras.datasets import cifar10
from keras.preprocessing.image import ImageDataGenerator
from keras.models import Sequential
from keras.layers import Dense, Dropout, Activation, Flatten
from keras.layers import Conv2D, MaxPooling2D
import os

batch_size = 32
num_classes = 10
epochs = 100
data_augmentation = True
(x_train, y_train), (x_test, y_test) = cifar10.load_data()
#SHRINK
y_train = keras.utils.to_categorical(y_train, num_classes)
y_test = keras.utils.to_categorical(y_test, num_classes)
model = Sequential()
model.add(Conv2D(32, (3, 3), padding='same', input_shape=x_train.shape[1:]))
model.add(Activation('relu'))
model.add(Conv2D(32, (3, 3)))
model.add(Activation('relu'))
model.add(MaxPooling2D(pool_size=(2, 2)))
model.add(Dropout(0.25))
model.add(Conv2D(64, (3, 3), padding='same'))
model.add(Activation('relu'))
model.add(Conv2D(64, (3, 3)))
model.add(Activation('relu'))
model.add(MaxPooling2D(pool_size=(2, 2)))
model.add(Dropout(0.25))
model.add(Flatten())
model.add(Dense(512))
model.add(Activation('relu'))
model.add(Dropout(0.5))
model.add(Dense(num_classes))
model.add(Activation('softmax'))
opt = keras.optimizers.rmsprop(lr=0.0001, decay=1e-6)
model.compile(loss='categorical_crossentropy', optimizer=opt, metrics=['accuracy'])
x_train = x_train.astype('float32')
x_test = x_test.astype('float32')
x_train /= 255
x_test /= 255
datagen = ImageDataGenerator(
    featurewise_center=False, samplewise_center=False, featurewise_std_normalization=False,
    samplewise_std_normalization=False, zca_whitening=False, zca_epsilon=1e-06,
    rotation_range=0, width_shift_range=0.1, height_shift_range=0.1, shear_range=0.,
    zoom_range=0., channel_shift_range=0., fill_mode='nearest', cval=0.,
    horizontal_flip=True, vertical_flip=False, rescale=None, preprocessing_function=None,
    data_format=None, validation_split=0.0)
datagen.fit(x_train)
model.fit_generator(datagen.flow(x_train, y_train, batch_size=batch_size),
                    epochs=epochs, validation_data=(x_test, y_test), workers=4)
scores = model.evaluate(x_test, y_test, verbose=1)
print('Test loss:', scores[0])
print('Test accuracy:', scores[1])
"""

TF_KERAS_FUNCTIONAL = """
import numpy as np
from tensorflow.keras import Input, Model
from tensorflow.keras.layers import Conv2D, BatchNormalization, Activation, Add
from tensorflow.keras.layers import GlobalAveragePooling2D, Dense
from tensorflow.keras.optimizers import SGD
from tensorflow.keras.callbacks import EarlyStopping, ReduceLROnPlateau
from tensorflow.keras.utils import to_categorical

inputs = Input(shape=(16, 16, 3))
x = Conv2D(8, 3, padding="same", use_bias=False)(inputs)
x = BatchNormalization()(x)
x = Activation("relu")(x)
y = Conv2D(8, 3, padding="same")(x)
x = Add()([x, y])
x = GlobalAveragePooling2D()(x)
outputs = Dense(4, activation="softmax")(x)
model = Model(inputs=inputs, outputs=outputs)
model.compile(optimizer=SGD(lr=0.01, momentum=0.9, nesterov=True),
              loss="categorical_crossentropy", metrics=["acc"])
x_train = np.random.rand(64, 16, 16, 3)
y_train = to_categorical(np.random.randint(0, 4, 64), 4)
history = model.fit(x_train, y_train, epochs=epochs, batch_size=16, verbose=2,
                    validation_split=0.25,
                    callbacks=[EarlyStopping(patience=3), ReduceLROnPlateau(patience=1)])
print(sorted(history.history))
"""


def run(script: str, shrink: str, replace_tf=False, **names) -> dict:
    code = script.replace("tensorflow.keras", "kernelnet") if replace_tf else script
    code = code.replace("keras", "kernelnet").replace("#SHRINK", shrink)
    code = code.replace("epochs = 12", "epochs = 1").replace("epochs = 15", "epochs = 1")
    code = code.replace("epochs = 100", "epochs = 1")
    namespace = dict(names)
    exec(compile(code, "<tutorial>", "exec"), namespace)
    return namespace


def test_keras2_mnist_cnn(capsys):
    ns = run(KERAS2_MNIST_CNN, "x_train, y_train, x_test, y_test = "
             "x_train[:256], y_train[:256], x_test[:64], y_test[:64]")
    assert 0 <= ns["score"][1] <= 1
    assert "Test accuracy:" in capsys.readouterr().out
    assert type(ns["model"].optimizer).__name__ == "Adadelta"


def test_keras3_mnist_convnet(capsys):
    ns = run(KERAS3_MNIST_CONVNET, "x_train, y_train, x_test, y_test = "
             "x_train[:256], y_train[:256], x_test[:64], y_test[:64]")
    out = capsys.readouterr().out
    assert "Total params: 34,826" in out  # the count keras.io prints for this model
    assert ns["model"].history.history.keys() >= {"loss", "accuracy", "val_loss",
                                                  "val_accuracy"}


def test_keras2_cifar10_cnn_with_legacy_spellings(rng, monkeypatch):
    from kernelnet.datasets import cifar10

    def tiny_cifar():  # Keras' shapes and dtypes: uint8 images, labels (n, 1)
        x = rng.integers(0, 256, (80, 32, 32, 3)).astype("uint8")
        y = rng.integers(0, 10, (80, 1)).astype("uint8")
        return (x[:64], y[:64]), (x[64:], y[64:])

    monkeypatch.setattr(cifar10, "load_data", tiny_cifar)
    ns = run(KERAS2_CIFAR10_CNN, "")
    opt = ns["model"].optimizer
    assert type(opt).__name__ == "RMSprop" and opt.decay == 1e-6
    assert ns["model"].count_params() == 1_250_858  # keras' cifar10_cnn summary
    assert len(ns["scores"]) == 2


def test_tf_keras_functional_resnet_block():
    ns = run(TF_KERAS_FUNCTIONAL, "", replace_tf=True, epochs=2)
    assert ns["history"].history.keys() >= {"loss", "acc", "val_loss", "val_acc",
                                            "learning_rate"}
