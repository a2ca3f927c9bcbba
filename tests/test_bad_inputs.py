"""The bad-input matrix: every public entry point given something wrong.

Each case asserts the exception type, the distinctive part of its message (the `Received: ...`
fragment, the file name, the layer name) and that nothing was written half: after the failure
the folder holds exactly the files it held before, byte for byte, with no temporary left over.
"""

import io
import json
import os
import pickle
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest

from kernelnet import backend, cli, layers, losses, optimizers, utils
from kernelnet.callbacks import CSVLogger, EarlyStopping, ModelCheckpoint
from kernelnet.datasets import _formats, cifar10, cifar100, mnist
from kernelnet.models import Sequential, load_model
from kernelnet.preprocessing.image import ImageDataGenerator, load_img
from kernelnet.saving import restore_training_state

CASES = []


def case(exc, match):
    """Registers `setup(tmp) -> call`: the setup may write files; only `call()` must raise."""

    def register(setup):
        CASES.append(pytest.param(setup, exc, match, id=setup.__name__))
        return setup

    return register


def model(channels=1, compiled=True):
    m = Sequential([
        layers.Conv2D(2, 3, input_shape=(6, 6, channels), name="conv"),
        layers.Flatten(),
        layers.Dense(3, activation="softmax", name="head"),
    ])
    if compiled:
        m.compile("adam", "sparse_categorical_crossentropy")
    return m


X, Y = np.zeros((4, 6, 6, 1)), np.zeros(4, int)


def saved(tmp: Path, name="m.kn") -> Path:
    m = model()
    m.fit(X, Y, verbose=0)
    m.save(tmp / name)
    return tmp / name


def zip_with(path: Path, **members) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, blob in members.items():
            zf.writestr(name.replace("__", "."), blob)
    return path


def members(path: Path) -> dict:
    with zipfile.ZipFile(path) as zf:
        return {n.replace(".", "__"): zf.read(n) for n in zf.namelist()}


# ---------------------------------------------------------------- layers
@case(ValueError, r"`filters` of Conv2D: expected a positive integer. Received: filters=0")
def conv_filters_zero(tmp):
    return lambda: layers.Conv2D(0, 3)


@case(ValueError, r"`kernel_size` argument of Conv2D .* Received: kernel_size=\(3, 0\)")
def conv_kernel_size_zero(tmp):
    return lambda: layers.Conv2D(2, (3, 0))


@case(ValueError, r"Invalid `padding` for Conv2D: .* Received: padding='full'")
def conv_padding_unknown(tmp):
    return lambda: layers.Conv2D(2, 3, padding="full")


@case(ValueError, r"Unknown activation 'rleu'.* Did you mean 'relu'\?")
def activation_typo(tmp):
    return lambda: layers.Dense(2, activation="rleu")


@case(ValueError, r"Unknown initializer 'glorot'")
def initializer_typo(tmp):
    return lambda: layers.Conv2D(2, 3, kernel_initializer="glorot")(np.zeros((1, 5, 5, 1)))


@case(ValueError, r"`units` of Dense: expected a positive integer. Received: units='10'")
def dense_units_string(tmp):
    return lambda: layers.Dense("10")


@case(ValueError, r"`rate` of Dropout: expected a float in \[0, 1\). Received: rate=1.5")
def dropout_rate_too_big(tmp):
    return lambda: layers.Dropout(1.5)


@case(ValueError, r"\(MaxPooling2D\) would produce an empty output: input spatial size \(3, 3\)")
def pool_larger_than_input(tmp):
    return lambda: layers.MaxPooling2D(4)(np.zeros((1, 3, 3, 1)))


@case(ValueError, r"\(Conv2D\) expects 4D input .* Received input with shape \(2, 6, 6\)\. "
                  r"If these are single-channel images")
def conv_input_without_channel_axis(tmp):
    return lambda: layers.Conv2D(2, 3)(np.zeros((2, 6, 6)))


@case(ValueError, r"was built for inputs with 4 features but received shape \(2, 5\)")
def dense_called_with_other_width(tmp):
    dense = layers.Dense(2)
    dense(np.zeros((2, 4)))
    return lambda: dense(np.zeros((2, 5)))


@case(ValueError, r"\(Reshape\) cannot reshape input of shape \(2, 12\).*target_shape=\(5, 5\)")
def reshape_wrong_size(tmp):
    return lambda: layers.Reshape((5, 5))(np.zeros((2, 12)))


@case(ValueError, r"\(Add\) requires inputs with matching \(or broadcastable\) shapes. "
                  r"Received: input shapes \(2, 3\) and \(2, 4\)")
def add_mismatched_shapes(tmp):
    return lambda: layers.Add()([np.zeros((2, 3)), np.zeros((2, 4))])


@case(ValueError, r"`momentum` of BatchNormalization: expected a float in \[0, 1\]\. "
                  r"Received: momentum=2\.")
def batchnorm_momentum_too_big(tmp):
    return lambda: layers.BatchNormalization(momentum=2)


@case(ValueError, r"`epsilon` of BatchNormalization: expected a positive float\. "
                  r"Received: epsilon=0\.")
def batchnorm_epsilon_zero(tmp):
    return lambda: layers.BatchNormalization(epsilon=0)


@case(TypeError, r"Unrecognized keyword arguments passed to Dense: \{'foo': 1\}")
def layer_unknown_keyword(tmp):
    return lambda: layers.Dense(2, foo=1)


# ---------------------------------------------------------------- models: fit/evaluate/predict
@case(RuntimeError, r"You must call `compile\(\)` before `fit\(\)`")
def fit_before_compile(tmp):
    return lambda: model(compiled=False).fit(X, Y, verbose=0)


@case(RuntimeError, r"You must call `compile\(\)` before `evaluate\(\)`")
def evaluate_before_compile(tmp):
    return lambda: model(compiled=False).evaluate(X, Y, verbose=0)


@case(ValueError, r"inconsistent numbers of samples: x has 4, y has 3")
def fit_x_y_lengths_differ(tmp):
    return lambda: model().fit(X, Y[:3], verbose=0)


@case(ValueError, r"`x` contains NaN or infinite values \(first in sample 2\)")
def fit_nan_in_x(tmp):
    x = X.copy()
    x[2, 1, 1, 0] = np.nan
    return lambda: model().fit(x, Y, verbose=0)


@case(ValueError, r"`y` contains NaN or infinite values \(first in sample 1\)")
def fit_inf_in_y(tmp):
    return lambda: model().fit(X, np.array([0.0, np.inf, 1.0, 0.0]), verbose=0)


@case(ValueError, r"expected shape \(None, 6, 6, 1\), received \(4, 7, 7, 1\)")
def fit_wrong_image_size(tmp):
    return lambda: model().fit(np.zeros((4, 7, 7, 1)), Y, verbose=0)


@case(TypeError, r"Expected `x` to be numeric .* Received dtype '<U1'")
def fit_string_data(tmp):
    return lambda: model().fit(np.full((4, 6, 6, 1), "a"), Y, verbose=0)


@case(ValueError, r"`batch_size` of fit: expected a positive integer. Received: batch_size=0")
def fit_batch_size_zero(tmp):
    return lambda: model().fit(X, Y, batch_size=0, verbose=0)


@case(ValueError, r"`epochs` of fit: expected a non-negative integer. Received: epochs='3'")
def fit_epochs_string(tmp):
    return lambda: model().fit(X, Y, epochs="3", verbose=0)


@case(ValueError, r"`validation_split` must be in \(0, 1\). Received: validation_split=2")
def fit_validation_split_too_big(tmp):
    return lambda: model().fit(X, Y, validation_split=2, verbose=0)


@case(ValueError, r"fit\(\) needs targets: pass `y`")
def fit_without_targets(tmp):
    return lambda: model().fit(X, verbose=0)


@case(TypeError, r"Unrecognized data type for `x` in fit\(\).* Received: int")
def fit_on_a_number(tmp):
    return lambda: model().fit(5, verbose=0)


@case(ValueError, r"label value of 5 which is outside the valid range of \[0, 3\)")
def fit_label_out_of_range(tmp):
    return lambda: model().fit(X, np.array([0, 1, 5, 0]), verbose=0)


@case(ValueError, r"Loss 'categorical_crossentropy' expects one-hot targets .* Received targets "
                  r"of shape \(4,\)\. If your targets are integer class ids")
def categorical_loss_with_integer_labels(tmp):
    m = model(compiled=False)
    m.compile("adam", "categorical_crossentropy")
    return lambda: m.fit(X, Y, verbose=0)


@case(ValueError, r"expected shape \(None, 6, 6, 1\), received \(2, 6, 6, 3\)")
def predict_rgb_into_grayscale_model(tmp):
    return lambda: model().predict(np.zeros((2, 6, 6, 3)), verbose=0)


@case(ValueError, r"predict\(\) received no data: `x` is empty")
def predict_empty(tmp):
    return lambda: model().predict(np.zeros((0, 6, 6, 1)), verbose=0)


# ---------------------------------------------------------------- losses, optimizers, utils
@case(ValueError, r"Unknown loss 'crossentropyy'")
def compile_loss_typo(tmp):
    return lambda: model(compiled=False).compile("adam", "crossentropyy")


@case(ValueError, r"Unknown optimizer 'adamm'.* Did you mean 'adam'\?")
def compile_optimizer_typo(tmp):
    return lambda: model(compiled=False).compile("adamm", "mse")


@case(ValueError, r"Unknown metric 'accc'")
def compile_metric_typo(tmp):
    return lambda: model(compiled=False).compile("adam", "mse", metrics=["accc"])


@case(ValueError, r"Loss 'mean_squared_error' expects targets with the same shape as the model "
                  r"output \(batch, 4\)\. Received targets of shape \(2, 3\)")
def mse_shape_mismatch(tmp):
    return lambda: losses.get("mse")(np.zeros((2, 3)), np.zeros((2, 4)))


@case(ValueError, r"`learning_rate` of Adam: expected a non-negative float. "
                  r"Received: learning_rate=-1")
def adam_negative_learning_rate(tmp):
    return lambda: optimizers.Adam(learning_rate=-1)


@case(ValueError, r"`beta_1` of Adam: expected a float in \[0, 1\). Received: beta_1=1.5")
def adam_beta_out_of_range(tmp):
    return lambda: optimizers.Adam(beta_1=1.5)


@case(ValueError, r"Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set")
def optimizer_two_clippings(tmp):
    return lambda: optimizers.SGD(clipnorm=1, clipvalue=1)


@case(ValueError, r"not recognized by SGD: \['lrr'\]")
def optimizer_unknown_keyword(tmp):
    return lambda: optimizers.SGD(lrr=0.1)


@case(ValueError, r"gradient shape \(3,\) does not match weight shape \(4,\)")
def optimizer_gradient_shape(tmp):
    return lambda: optimizers.SGD().apply([np.zeros(3)], [np.zeros(4)])


@case(ValueError, r"received class id 5, which is out of range for num_classes=3")
def to_categorical_out_of_range(tmp):
    return lambda: utils.to_categorical([0, 5], 3)


@case(TypeError, r"set_random_seed\(\) expects an int. Received: seed='a'")
def seed_not_an_int(tmp):
    return lambda: utils.set_random_seed("a")


@case(ValueError, r"Unknown `floatx` value.* Received: floatx='int8'")
def floatx_unknown(tmp):
    return lambda: backend.set_floatx("int8")


# ---------------------------------------------------------------- callbacks
@case(ValueError, r"`save_freq` of ModelCheckpoint: .* Received: save_freq=0")
def checkpoint_save_freq_zero(tmp):
    return lambda: ModelCheckpoint(tmp / "c.kn", save_freq=0)


@case(ValueError, r"`mode` of EarlyStopping: .* Received: mode='up'")
def early_stopping_mode(tmp):
    return lambda: EarlyStopping(mode="up")


@case(ValueError, r"`separator` of CSVLogger: expected a single character")
def csv_logger_separator(tmp):
    return lambda: CSVLogger(tmp / "log.csv", separator=";;")


@case(KeyError, r"Failed to format the ModelCheckpoint filepath .*field 'val_acc'")
def checkpoint_path_field_missing(tmp):
    ckpt = ModelCheckpoint(str(tmp / "m-{val_acc:.2f}.kn"))
    return lambda: model().fit(X, Y, epochs=1, verbose=0, callbacks=[ckpt])


# ---------------------------------------------------------------- datasets and image folders
@case(ValueError, r"Invalid `label_mode` for cifar100.load_data\(\).* "
                  r"Received: label_mode='medium'")
def cifar100_label_mode(tmp):
    return lambda: cifar100.load_data(label_mode="medium")


@case(ValueError, r"x.idx is truncated or corrupted: its header announces shape \(2, 2, 2\)")
def idx_file_truncated(tmp):
    data = bytes([0, 0, 8, 3]) + (2).to_bytes(4, "big") * 3 + bytes(3)
    return lambda: _formats.parse_idx(data, "x.idx")


@case(ValueError, r"x.idx is truncated or corrupted: its header announces 3 dimension\(s\), so "
                  r"the header alone needs 16 bytes\. Received: 9 bytes")
def idx_header_cut_inside_the_sizes(tmp):
    data = bytes([0, 0, 8, 3]) + (2).to_bytes(4, "big") + bytes(1)
    return lambda: _formats.parse_idx(data, "x.idx")


@case(ValueError, r"'.*garbage.npz' is not a usable MNIST npz file: NumPy cannot read it as an "
                  r"npz archive\. Expected .* x_train, y_train, x_test, y_test .* Received: a "
                  r"file starting with bytes b'not a zi'\. Delete it")
def mnist_npz_garbage(tmp):
    (tmp / "garbage.npz").write_bytes(b"not a zip, not an npy")
    return lambda: mnist.load_data(str(tmp / "garbage.npz"))


@case(ValueError, r"'.*keys.npz' is not a usable MNIST npz file: x_train missing\. Expected .*"
                  r"Received: keys \['y_train', 'x_test', 'y_test', 'images'\]")
def mnist_npz_without_x_train(tmp):
    np.savez(tmp / "keys.npz", y_train=Y, x_test=X, y_test=Y, images=X)
    return lambda: mnist.load_data(str(tmp / "keys.npz"))


def _with_home(tmp: Path, load):
    """`load()` with KERNELNET_HOME=tmp, restored afterwards."""

    def call():
        before = os.environ.get("KERNELNET_HOME")
        os.environ["KERNELNET_HOME"] = str(tmp)
        try:
            return load()
        finally:
            if before is None:
                del os.environ["KERNELNET_HOME"]
            else:
                os.environ["KERNELNET_HOME"] = before

    return call


@case(ValueError, r"'.*cifar-10-python.tar.gz' is not a readable CIFAR-10 archive: it is "
                  r"truncated or corrupted \(ReadError: .*\)\. .* Delete it")
def cifar_archive_corrupt(tmp):
    (tmp / "datasets").mkdir()
    (tmp / "datasets" / "cifar-10-python.tar.gz").write_bytes(b"\x1f\x8b" + bytes(100))
    return _with_home(tmp, cifar10.load_data)


class _Evil:
    def __reduce__(self):
        import os

        return os.system, ("echo pwned",)


@case(ValueError, r"'.*data_batch_1' is not a valid CIFAR batch file: its pickle is corrupted "
                  r"or crafted \(UnpicklingError: Refusing to load (posix|nt|os)\.system")
def cifar_batch_with_code(tmp):
    return _cifar_folder(tmp, pickle.dumps({b"data": _Evil(), b"labels": [0]}))


@case(FileNotFoundError, r"Image directory '.*nope' does not exist")
def image_folder_missing(tmp):
    return lambda: ImageDataGenerator().flow_from_directory(str(tmp / "nope"))


@case(ValueError, r"Found no images in '.*empty'\. Expected one subfolder per class")
def image_folder_empty(tmp):
    (tmp / "empty").mkdir()
    return lambda: ImageDataGenerator().flow_from_directory(str(tmp / "empty"))


@case(ValueError, r"`class_mode` of flow_from_directory\(\).* Received: class_mode='multi'")
def image_folder_class_mode(tmp):
    return lambda: ImageDataGenerator().flow_from_directory(str(tmp), class_mode="multi")


@case(ValueError, r"Found no readable images in '.*broken'\. Expected one subfolder per class"
                  r".* 2 image file\(s\) were found but none is readable, e\.g\. '.*0\.png'")
def image_folder_only_unreadable_files(tmp):
    (tmp / "broken" / "cats").mkdir(parents=True)
    for name in ("0.png", "1.jpg"):
        (tmp / "broken" / "cats" / name).write_bytes(b"not an image")
    return lambda: ImageDataGenerator().flow_from_directory(str(tmp / "broken"))


@case(ValueError, r"`rotation_range` of ImageDataGenerator: expected a non-negative number\. "
                  r"Received: rotation_range=-5\.")
def augment_negative_rotation(tmp):
    return lambda: ImageDataGenerator(rotation_range=-5)


@case(ValueError, r"`zoom_range` of ImageDataGenerator: expected a float in \[0, 1\) or a pair "
                  r"\(lower, upper\) of positive factors with lower <= upper\. "
                  r"Received: zoom_range=-1\.")
def augment_negative_zoom(tmp):
    return lambda: ImageDataGenerator(zoom_range=-1)


@case(ValueError, r"Received: zoom_range=\(0, 1\.2\)\.")
def augment_zoom_pair_with_zero(tmp):
    return lambda: ImageDataGenerator(zoom_range=(0, 1.2))


@case(ValueError, r"`width_shift_range` of ImageDataGenerator: expected a non-negative float .*"
                  r"Received: width_shift_range=-0\.1\.")
def augment_negative_shift(tmp):
    return lambda: ImageDataGenerator(width_shift_range=-0.1)


@case(ValueError, r"`shear_range` of ImageDataGenerator: .* Received: shear_range=-10\.")
def augment_negative_shear(tmp):
    return lambda: ImageDataGenerator(shear_range=-10)


@case(ValueError, r"`brightness_range` of ImageDataGenerator: expected None or a pair \(lower, "
                  r"upper\) of non-negative factors with lower <= upper\. "
                  r"Received: brightness_range=0\.5\.")
def augment_brightness_not_a_pair(tmp):
    return lambda: ImageDataGenerator(brightness_range=0.5)


@case(FileNotFoundError, r"No image file at '.*nope\.png'")
def load_img_missing_file(tmp):
    return lambda: load_img(tmp / "nope.png")


@case(ValueError, r"Could not read image '.*fake\.png': Pillow says UnidentifiedImageError: ")
def load_img_not_an_image(tmp):
    (tmp / "fake.png").write_bytes(b"GIF89a but not really")
    return lambda: load_img(tmp / "fake.png")


@case(ValueError, r"flow\(\) expects `x` of rank 4 .* Received: x.shape=\(4, 8, 8\)")
def augment_flow_without_channel_axis(tmp):
    return lambda: ImageDataGenerator().flow(np.zeros((4, 8, 8)))


# ---------------------------------------------------------------- files
@case(FileNotFoundError, r"No file or directory found at '.*missing.kn'")
def load_missing_file(tmp):
    return lambda: load_model(tmp / "missing.kn")


@case(IsADirectoryError, r"is a directory, not a model file")
def load_a_directory(tmp):
    return lambda: load_model(tmp)


@case(ValueError, r"'.*junk.kn' is not a model file kernelnet can read.* starts with bytes "
                  r"b'not a mo'")
def load_foreign_file(tmp):
    (tmp / "junk.kn").write_bytes(b"not a model at all")
    return lambda: load_model(tmp / "junk.kn")


@pytest.mark.parametrize("cut", ["half", "head", "tail"])
def test_truncated_model_file_is_named(tmp_path, cut):
    data = saved(tmp_path).read_bytes()
    keep = {"half": len(data) // 2, "head": 100, "tail": len(data) - 10}[cut]
    (tmp_path / "cut.kn").write_bytes(data[:keep])
    with pytest.raises(ValueError, match=r"'.*cut.kn' is a truncated or corrupted zip archive"):
        load_model(tmp_path / "cut.kn")


@case(ValueError, r"Could not read model file '.*nocfg.kn': .*config.json")
def zip_without_config(tmp):
    path = zip_with(tmp / "nocfg.kn", weights__npz=members(saved(tmp))["weights__npz"])
    return lambda: load_model(path)


@case(ValueError, r"'.*other.kn' is not a kernelnet model file \(config.json has "
                  r"format='list'")
def zip_config_not_an_object(tmp):
    path = zip_with(tmp / "other.kn", config__json="[1, 2]",
                    weights__npz=members(saved(tmp))["weights__npz"])
    return lambda: load_model(path)


@case(ValueError, r"Could not read the weights in '.*pickled.kn': .*pickled objects, which "
                  r"kernelnet never loads")
def weights_with_pickled_objects(tmp):
    buffer = io.BytesIO()
    np.savez(buffer, a=np.array([{"x": 1}], dtype=object))
    path = zip_with(tmp / "pickled.kn", config__json=members(saved(tmp))["config__json"],
                    weights__npz=buffer.getvalue())
    return lambda: load_model(path)


@case(ValueError, r"Could not read model file '.*crc.kn': Bad CRC-32 for file 'weights.npz'")
def weights_bit_flip(tmp):
    data = bytearray(saved(tmp).read_bytes())
    data[data.find(b"\x93NUMPY") + 200] ^= 0xFF          # inside the first weight array
    (tmp / "crc.kn").write_bytes(bytes(data))
    return lambda: load_model(tmp / "crc.kn")


@case(ValueError, r"Could not rebuild the model saved in '.*evil.kn': Unknown layer 'os.system'")
def config_names_unregistered_class(tmp):
    parts = members(saved(tmp))
    config = json.loads(parts["config__json"])
    config["config"]["layers"][0]["class_name"] = "os.system"
    path = zip_with(tmp / "evil.kn", config__json=json.dumps(config),
                    weights__npz=parts["weights__npz"])
    return lambda: load_model(path)


@case(ValueError, r"layer 'conv' \(Conv2D\), weight 'kernel': the file has \(3, 3, 1, 2\) but "
                  r"the layer has \(3, 3, 3, 2\)")
def weights_shape_mismatch(tmp):
    model().save_weights(tmp / "w.npz")
    return lambda: model(channels=3).load_weights(tmp / "w.npz")


@case(ValueError, r"holds 4 arrays but model .* has 2 weights")
def weights_count_mismatch(tmp):
    model().save_weights(tmp / "w.npz")
    return lambda: Sequential([layers.Dense(2, input_shape=(3,))]).load_weights(tmp / "w.npz")


@case(ValueError, r"'.*w.npz' holds only weights; build the model and call model.load_weights")
def load_model_on_weights_file(tmp):
    model().save_weights(tmp / "w.npz")
    return lambda: load_model(tmp / "w.npz")


@case(FileExistsError, r"'.*m.kn' already exists and overwrite=False")
def save_without_overwrite(tmp):
    path = saved(tmp)
    return lambda: model().save(path, overwrite=False)


@case(IsADirectoryError, r"Cannot write to '.*': it is an existing directory")
def save_onto_a_directory(tmp):
    return lambda: model().save(tmp)


@case(ValueError, r"All layer names in model .* must be unique. Duplicated: \['d'\]")
def duplicate_layer_names(tmp):
    return lambda: Sequential([layers.Dense(2, input_shape=(3,), name="d"),
                               layers.Dense(2, name="d")])


@case(ValueError, r"'.*bare.kn' holds no training state: it was saved with "
                  r"include_optimizer=False")
def restore_state_missing(tmp):
    model().save(tmp / "bare.kn", include_optimizer=False)
    return lambda: restore_training_state(tmp / "bare.kn")


# ---------------------------------------------------------------- training input (issue 17)
XS, YS = np.zeros((10, 6, 6, 1)), np.zeros(10, int)


@case(ValueError, r"The training data given to fit\(\) has no samples \(arrays of length 0\)")
def fit_zero_samples(tmp):
    return lambda: model().fit(XS[:0], YS[:0], verbose=0)


@case(ValueError, r"validation_split=0.95 of 10 samples leaves no training sample")
def fit_validation_split_leaves_nothing(tmp):
    return lambda: model().fit(XS, YS, validation_split=0.95, verbose=0)


@case(ValueError, r"`steps_per_epoch` of fit: expected None or a positive integer\. "
                  r"Received: steps_per_epoch=0\.")
def fit_steps_per_epoch_zero(tmp):
    return lambda: model().fit(XS, YS, steps_per_epoch=0, verbose=0)


@case(ValueError, r"Received: steps_per_epoch=-1\.")
def fit_steps_per_epoch_negative(tmp):
    return lambda: model().fit(XS, YS, steps_per_epoch=-1, verbose=0)


@case(ValueError, r"fit\(\) got no training batch in epoch 1: the data .* is empty")
def fit_empty_iterator(tmp):
    return lambda: model().fit(iter([]), verbose=0)


@case(ValueError, r"The dataset passed as `x` \(list_like\) is empty: len\(x\) == 0")
def fit_empty_sequence(tmp):
    class list_like:  # noqa: N801 - named as the message shows it
        def __len__(self):
            return 0

        def __getitem__(self, i):
            raise IndexError(i)

    return lambda: model().fit(list_like(), steps_per_epoch=2, verbose=0)


@case(ValueError, r"`validation_data` has no samples \(arrays of length 0\)")
def fit_validation_data_empty(tmp):
    return lambda: model().fit(XS, YS, validation_data=(XS[:0], YS[:0]), verbose=0)


@case(ValueError, r"`validation_freq` of fit: expected a positive integer\. "
                  r"Received: validation_freq=0\.")
def fit_validation_freq_zero(tmp):
    return lambda: model().fit(XS, YS, validation_data=(XS, YS), validation_freq=0, verbose=0)


@case(ValueError, r"Model 'sequential.*' expects 1 input\(s\) but received a list of 2 arrays")
def predict_list_on_one_input_model(tmp):
    return lambda: model().predict([XS, XS], verbose=0)


@case(ValueError, r"`validation_data` must be a tuple \(x_val, y_val\).* Received: a tuple of "
                  r"length 1\.")
def fit_validation_data_one_element(tmp):
    return lambda: model().fit(XS, YS, validation_data=(XS,), verbose=0)


@case(ValueError, r"retrieve layer at index 99 but model .* only has 3 layers")
def get_layer_index_out_of_range(tmp):
    return lambda: model().get_layer(index=99)


@case(ValueError, r"`verbose` of fit: expected 0, 1, 2 or 'auto'\. Received: verbose='loud'")
def fit_verbose_unknown(tmp):
    return lambda: model().fit(XS, YS, verbose="loud")


@case(ValueError, r"`validation_split` must be in \(0, 1\)\. Received: validation_split='0.2' "
                  r"\(a str, expected a number\)")
def fit_validation_split_string(tmp):
    return lambda: model().fit(XS, YS, validation_split="0.2", verbose=0)


@case(ValueError, r"`alpha` of ELU: expected a float\. Received: alpha=None")
def elu_alpha_none(tmp):
    return lambda: layers.ELU(alpha=None)


@case(ValueError, r"\(Softmax\) normalizes over axis=3, which does not exist for input of rank "
                  r"2 \(shape \(2, 3\)\)")
def softmax_axis_out_of_range(tmp):
    return lambda: layers.Softmax(axis=3)(np.zeros((2, 3)))


@case(TypeError, r"set_weights\(\) expects a list of 4 arrays .* Received: NoneType")
def set_weights_none(tmp):
    return lambda: model().set_weights(None)


@case(ValueError, r"to_categorical\(\) expects integer class ids\. Received values of dtype "
                  r"'<U1'")
def to_categorical_strings(tmp):
    return lambda: utils.to_categorical(["a", "b"])


@case(ValueError, r"set_random_seed\(\) expects an int >= 0\. Received: seed=-1")
def seed_negative(tmp):
    return lambda: utils.set_random_seed(-1)


@case(ValueError, r"evaluate\(\) needs targets: pass `y`.* Received: y=None")
def evaluate_without_targets(tmp):
    return lambda: model().evaluate(XS, None, verbose=0)


@case(ValueError, r"Invalid ModelCheckpoint filepath '.*m-\{epoch:zz\}.kn': Unknown format code")
def checkpoint_bad_format_spec(tmp):
    return lambda: ModelCheckpoint(str(tmp / "m-{epoch:zz}.kn"))


@case(ValueError, r"Layer 'dense.*' \(Dense\) has dtype 'int32'\. Expected a float dtype .* "
                  r"Received: dtype='int32'")
def dense_integer_dtype(tmp):
    return lambda: layers.Dense(3, dtype="int32")


@case(ValueError, r"Invalid `shape` for InputLayer: expected a tuple of positive ints or None.* "
                  r"Received: shape=\(-1, 3\)")
def input_negative_shape(tmp):
    return lambda: layers.Input((-1, 3))


@case(ValueError, r"Invalid `shape` for InputLayer: .* Received: shape='x'")
def input_string_shape(tmp):
    return lambda: layers.Input("x")


@case(ValueError, r"Model\(inputs, outputs\) needs the symbolic input and output tensors.* "
                  r"Received: inputs=None, outputs=None")
def model_of_nothing(tmp):
    from kernelnet.models import Model

    return lambda: Model(None, None)


@case(ValueError, r"`patience` of EarlyStopping: expected an integer >= 0\. Received: "
                  r"patience=-1")
def early_stopping_negative_patience(tmp):
    return lambda: EarlyStopping(patience=-1)


@case(ValueError, r"`rescale` of ImageDataGenerator: expected None or a finite number.* "
                  r"Received: rescale='x'")
def generator_rescale_string(tmp):
    return lambda: ImageDataGenerator(rescale="x")


def _two_threads_model():
    backend.set_num_threads(2)
    m = Sequential([layers.Conv2D(2, 3, input_shape=(28, 28, 1)), layers.Flatten(),
                    layers.Dense(3, activation="softmax")])
    m.compile("adam", "sparse_categorical_crossentropy")
    return m


@case(ValueError, r"expected shape \(None, 28, 28, 1\), received \(64, 28, 28\)\. If these are "
                  r"single-channel images, add a channel axis: x\[\.\.\., None\]")
def fit_split_batch_missing_channel_axis(tmp):
    m = _two_threads_model()  # 64 samples: two shares of 32, which the error must not show
    return lambda: m.fit(np.zeros((64, 28, 28)), np.zeros(64, int), batch_size=64, verbose=0)


@case(ValueError, r"expected shape \(None, 28, 28, 1\), received \(28, 28, 1\)\. This is one "
                  r"sample without the batch axis: pass x\[None\]")
def predict_one_sample_without_batch_axis(tmp):
    m = _two_threads_model()
    return lambda: m.predict(np.zeros((28, 28, 1)), verbose=0)


@pytest.fixture(autouse=True)
def _default_threads():
    yield
    backend.set_num_threads(None)


# ---------------------------------------------------------------- hostile files (issue 17)
@case(ValueError, r"Argument `name` of Dense must be a string and cannot contain character "
                  r"`/`\. Received: name='a/b' \(of type str\)")
def layer_name_with_slash(tmp):
    return lambda: layers.Dense(2, name="a/b")


@case(ValueError, r"Argument `name` of Conv2D must be a string .* Received: name=5 \(of type "
                  r"int\)")
def layer_name_not_a_string(tmp):
    return lambda: layers.Conv2D(2, 3, name=5)


def _edited(tmp: Path, edit, name="edited.kn", weights=None) -> Path:
    """A saved model whose config.json went through `edit(config)` (and other weights)."""
    parts = members(saved(tmp))
    config = json.loads(parts["config__json"])
    edit(config)
    return zip_with(tmp / name, config__json=json.dumps(config),
                    weights__npz=parts["weights__npz"] if weights is None else weights)


def _layer_config(index, **changes):
    def edit(config):
        config["config"]["layers"][index]["config"].update(changes)
    return edit


@case(ValueError, r"Could not rebuild the model saved in '.*edited.kn': Argument `name` of "
                  r"Conv2D .* cannot contain character `/`. Received: name='/\.\./\.\./")
def file_layer_name_is_a_path(tmp):
    path = _edited(tmp, _layer_config(0, name=f"/../../../..{tmp}/pwn"))
    return lambda: load_model(path)


@case(ValueError, r"'.*edited.kn': Layer 'head' \(Dense\) declares weight 'kernel' of shape "
                  r"\(32, 3000000000\) \(96,000,000,000 values\), but the file holds only 119 ")
def file_dense_units_3e9(tmp):
    path = _edited(tmp, _layer_config(2, units=3_000_000_000))
    return lambda: load_model(path)


@case(ValueError, r"Layer 'conv' \(Conv2D\) declares weight 'kernel' of shape "
                  r"\(3, 3, 1, 400000000\)")
def file_conv_filters_4e8(tmp):
    path = _edited(tmp, _layer_config(0, filters=400_000_000))
    return lambda: load_model(path)


@pytest.mark.parametrize("dtype", ["int8", "bool", "complex64", "int32"])
def test_file_with_non_float_layer_dtype_is_refused(tmp_path, dtype):
    path = _edited(tmp_path, _layer_config(2, dtype=dtype))
    # Refused when the layer is constructed (a Dense(3, dtype="int32") in code is refused too)
    with pytest.raises(ValueError, match=rf"Could not rebuild the model saved in '.*edited.kn': "
                                         rf"Layer 'head' \(Dense\) has dtype '{dtype}'\. "
                                         rf"Expected a float dtype"):
        load_model(path)


@case(ValueError, r"the model saved in '.*edited.kn': Layer 'head' \(Dense\) has dtype 'int8'")
def file_layer_dtype_int8(tmp):
    path = _edited(tmp, _layer_config(2, dtype="int8"))
    return lambda: load_model(path)


@case(ValueError, r"'.*edited.kn' was written in kernelnet file format version 99; this "
                  r"kernelnet reads versions up to 1. Upgrade kernelnet")
def file_format_version_99(tmp):
    path = _edited(tmp, lambda c: c.update(format_version=99))
    return lambda: load_model(path)


@case(ValueError, r"invalid format_version .* Received: format_version='1'")
def file_format_version_string(tmp):
    path = _edited(tmp, lambda c: c.update(format_version="1"))
    return lambda: load_model(path)


@case(ValueError, r"'.*edited.kn' has an invalid compile_config in config.json: expected an "
                  r"object .* Received: 'x'")
def file_compile_config_string(tmp):
    path = _edited(tmp, lambda c: c.update(compile_config="x"))
    return lambda: load_model(path)


@case(ValueError, r"Could not compile the model saved in '.*edited.kn' with its compile_config: "
                  r".*'nosuchloss'")
def file_compile_config_unknown_loss(tmp):
    path = _edited(tmp, lambda c: c["compile_config"].update(loss="nosuchloss"))
    return lambda: load_model(path)


@case(ValueError, r"The config.json in '.*deep.kn' is nested too deeply to read")
def file_config_100000_deep(tmp):
    path = zip_with(tmp / "deep.kn", config__json="[" * 100_000 + "]" * 100_000,
                    weights__npz=members(saved(tmp))["weights__npz"])
    return lambda: load_model(path)


def _npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _weights_as(tmp: Path, convert) -> Path:
    """A saved model whose first weight array went through `convert(array)`."""
    with np.load(io.BytesIO(members(saved(tmp))["weights__npz"])) as data:
        arrays = {k: data[k] for k in data.files}
    first = next(iter(arrays))
    arrays[first] = convert(arrays[first])
    return _edited(tmp, lambda c: None, name="typed.kn", weights=_npz(**arrays))


@case(ValueError, r"The weights in '.*typed.kn' holds array 'conv/kernel' of dtype 'complex128'. "
                  r"Expected real numbers .* does not cast complex")
def file_complex_weights(tmp):
    path = _weights_as(tmp, lambda a: a.astype(complex) + 1j)
    return lambda: load_model(path)


@case(ValueError, r"holds array 'conv/kernel' of dtype '<U3'")
def file_string_weights(tmp):
    path = _weights_as(tmp, lambda a: np.full(a.shape, "abc"))
    return lambda: load_model(path)


@case(ValueError, r"holds array 'conv/kernel' of dtype .*\('a', '<f4'\).* structured")
def file_structured_weights(tmp):
    path = _weights_as(tmp, lambda a: np.zeros(a.shape, dtype=[("a", "f4"), ("b", "f4")]))
    return lambda: load_model(path)


def _deflated_zeros(path: Path, name: str, size: int, **stored) -> Path:
    """A zip with `size` zero bytes deflated as member `name` (written in chunks), plus
    `stored` members."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open(name, "w", force_zip64=True) as f:
            chunk = bytes(2**20)
            for _ in range(size // len(chunk)):
                f.write(chunk)
        for member, blob in stored.items():
            zf.writestr(member.replace("__", "."), blob, zipfile.ZIP_STORED)
    return path


@case(ValueError, r"'config.json' in '.*cbomb.kn' is 64.0 MiB when inflated; kernelnet reads at "
                  r"most 16.0 MiB for it")
def file_config_json_bomb(tmp):
    path = _deflated_zeros(tmp / "cbomb.kn", "config.json", 64 * 2**20,
                           weights__npz=members(saved(tmp))["weights__npz"])
    return lambda: load_model(path)


@case(ValueError, r"'weights.npz' in '.*wbomb.kn' inflates from .* to 256.0 MiB \(ratio .*\).* "
                  r"Refusing a probable zip bomb")
def file_weights_npz_bomb(tmp):
    path = _deflated_zeros(tmp / "wbomb.kn", "weights.npz", 256 * 2**20,
                           config__json=members(saved(tmp))["config__json"])
    return lambda: load_model(path)


@case(ValueError, r"'conv/kernel.npy' in '.*ibomb.kn' inflates .* to 256.0 MiB .* zip bomb")
def file_weights_member_bomb(tmp):
    inner = _deflated_zeros(tmp / "inner.npz", "conv/kernel.npy", 256 * 2**20)
    path = zip_with(tmp / "ibomb.kn", config__json=members(saved(tmp))["config__json"],
                    weights__npz=inner.read_bytes())
    inner.unlink()
    return lambda: load_model(path)


@case(ValueError, r"array 'conv/kernel' declares shape \(100000, 100000\) \(40,000,000,000 "
                  r"bytes\) but its member holds")
def file_weights_header_lies_about_size(tmp):
    npy = io.BytesIO()                       # a .npy header claiming 40 GB, then 36 bytes
    np.lib.format.write_array_header_1_0(
        npy, {"descr": "<f4", "fortran_order": False, "shape": (100000, 100000)})
    npy.write(np.zeros(9, "f4").tobytes())
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("conv/kernel.npy", npy.getvalue())
    path = zip_with(tmp / "lies.kn", config__json=members(saved(tmp))["config__json"],
                    weights__npz=inner.getvalue())
    return lambda: load_model(path)


def _cifar_folder(tmp: Path, first: bytes):
    """cifar10.load_data() on an extracted folder whose data_batch_1 is `first`."""
    folder = tmp / "datasets" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(first if name == "data_batch_1" else b"")
    return _with_home(tmp, cifar10.load_data)


@case(ValueError, r"'.*data_batch_1' is not a valid CIFAR batch file: its pickle is corrupted "
                  r"or crafted \(UnpicklingError: .*\)\. Delete it")
def cifar_batch_bad_pickle(tmp):
    return _cifar_folder(tmp, b"\x80\x02}q\x00(X\x04\x00\x00\x00datagarbage")


@case(ValueError, r"'.*data_batch_1' is not a valid CIFAR batch file: it has no \['labels'\] "
                  r"entry")
def cifar_batch_without_labels(tmp):
    return _cifar_folder(tmp, pickle.dumps({b"data": np.zeros((2, 3072), np.uint8)}))


@case(ValueError, r"'.*data_batch_1' is not a valid CIFAR batch file: it holds 2 images but 5 "
                  r"labels")
def cifar_batch_more_labels_than_images(tmp):
    return _cifar_folder(tmp, pickle.dumps({b"data": np.zeros((2, 3072), np.uint8),
                                            b"labels": [0, 1, 2, 3, 4]}))


@case(ValueError, r"'data' must hold uint8 images of 3072 bytes each")
def cifar_batch_partial_image(tmp):
    return _cifar_folder(tmp, pickle.dumps({b"data": np.zeros((2, 3000), np.uint8),
                                            b"labels": [0, 1]}))


def _snapshot(folder: Path) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.mark.parametrize("setup,exc,match", CASES)
def test_bad_input(tmp_path, setup, exc, match):
    call = setup(tmp_path)
    before = _snapshot(tmp_path)
    with pytest.raises(exc, match=match):
        call()
    assert _snapshot(tmp_path) == before, "a failed call created or changed files"


def test_matrix_is_large_enough():
    assert len(CASES) >= 40


def test_interrupted_save_keeps_the_old_file(tmp_path, monkeypatch):
    """A crash mid-write leaves the previous model intact and no temporary file."""
    from kernelnet import _atomic_write

    path = saved(tmp_path)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(_atomic_write.os, "fsync", crash)
    with pytest.raises(KeyboardInterrupt):
        model().save(path)
    assert _snapshot(tmp_path) == {Path("m.kn"): before}
    load_model(path)


# ---------------------------------------------------------------- command line
CLI_CASES = [
    (["frobnicate"], r"invalid choice: 'frobnicate'"),
    (["train", "--arch", "lenet5", "--epochs", "0"],
     r"argument --epochs: expected a positive integer, received '0'"),
    (["train", "--arch", "lenet5", "--data", "synthetic", "--lr", "-1"],
     r"argument --lr: expected a positive number, received '-1'"),
    (["train", "--arch", "lenett", "--data", "synthetic", "--epochs", "1"],
     r"Unknown architecture 'lenett'. Expected one of lenet5, .* Did you mean 'lenet5'\?"),
    (["train", "--arch", "lenet5", "--data", "nosuch"], r"Unknown dataset 'nosuch'"),
    (["train", "--resume", "{tmp}/nope"], r"--resume '.*nope': no run.json there"),
    (["evaluate", "{tmp}/missing.kn", "--data", "synthetic"], r"No model file at '.*missing.kn'"),
    (["evaluate", "{tmp}/cut.kn", "--data", "synthetic"],
     r"Could not read a model from '.*cut.kn': .*truncated or corrupted zip archive"),
    (["predict", "{tmp}/m.kn", "{tmp}/nothing"], r"No such file or folder: '.*nothing'"),
    (["summary", "resnet5"], r"Unknown architecture 'resnet5'.*Did you mean 'resnet50'\?"),
]


@pytest.mark.parametrize("argv,match", CLI_CASES, ids=lambda v: v if isinstance(v, str) else
                         "_".join(v[:2]))
def test_cli_one_line_errors(tmp_path, capsys, argv, match):
    data = saved(tmp_path).read_bytes()
    (tmp_path / "cut.kn").write_bytes(data[: len(data) // 2])
    before = _snapshot(tmp_path)
    argv = [a.format(tmp=tmp_path) for a in argv]
    argv += ["--out", str(tmp_path / "run")] if argv[0] == "train" else []
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("kernelnet: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    assert re.search(match, err), err
    assert _snapshot(tmp_path) == before


def _photos(folder: Path, per_class: int = 3) -> Path:
    from kernelnet.preprocessing.image import save_img

    for name in ("a", "b"):
        (folder / name).mkdir(parents=True)
        for i in range(per_class):
            save_img(folder / name / f"{i}.png", np.full((8, 8, 3), 40 * i), scale=False)
    return folder


TRAIN_CLI_CASES = [
    (["train", "--resume", "{tmp}/empty_record"],
     r"Cannot resume: '.*empty_record/run.json' is not a run record of this kernelnet "
     r"\(missing or wrong: args, run_id, epochs_done, history\)"),
    (["train", "--resume", "{tmp}/corrupt_record"],
     r"Cannot resume: '.*corrupt_record/run.json' is not readable JSON"),
    (["train", "--arch", "lenet5", "--data", "synthetic", "--image-size", "100000"],
     r"--image-size 100000 is too large: at most 4096 pixels a side"),
    (["train", "--arch", "lenet5", "--data", "synthetic", "--weights", "imagenet"],
     r"--weights 'imagenet' applies to vgg16, resnet18, resnet34, resnet50; lenet5 has no "
     r"pretrained weights"),
    (["train", "--arch", "lenet5", "--data-dir", "{tmp}/photos", "--validation-split", "0.05",
      "--image-size", "28", "--channels", "1"],
     r"--validation-split 0.05 of '.*photos' leaves no validation image \(6 images in 2 "
     r"classes"),
]


@pytest.mark.parametrize("argv,match", TRAIN_CLI_CASES, ids=lambda v: v if isinstance(v, str)
                         else "_".join(v[1:4]).replace("{tmp}/", ""))
def test_train_cli_one_line_errors(tmp_path, capsys, argv, match):
    (tmp_path / "empty_record").mkdir()
    (tmp_path / "empty_record" / "run.json").write_text("{}")
    (tmp_path / "corrupt_record").mkdir()
    (tmp_path / "corrupt_record" / "run.json").write_text('{"args": {"arch": "lenet5"')
    _photos(tmp_path / "photos")
    before = _snapshot(tmp_path)
    argv = [a.format(tmp=tmp_path) for a in argv] + ["--out", str(tmp_path / "run")]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("kernelnet: error: ") and err.count("\n") == 1, err
    assert re.search(match, err), err
    assert _snapshot(tmp_path) == before


def test_follow_links_walks_a_symlink_loop_once(tmp_path):
    photos = _photos(tmp_path / "photos", per_class=1)
    (photos / "a" / "loop").symlink_to(photos / "a", target_is_directory=True)
    batches = ImageDataGenerator().flow_from_directory(photos, target_size=(8, 8),
                                                       follow_links=True)
    assert sorted(batches.filenames) == ["a/0.png", "b/0.png"]


def test_from_logits_on_a_softmax_output_warns_like_keras_and_trains():
    m = Sequential([layers.Dense(3, activation="softmax", input_shape=(4,))])
    with pytest.warns(UserWarning, match=r"`categorical_crossentropy` received "
                                         r"`from_logits=True`, but the `output` argument was "
                                         r"produced by a Softmax activation"):
        m.compile("sgd", losses.CategoricalCrossentropy(from_logits=True))
    x, y = np.random.default_rng(0).standard_normal((8, 4)), np.eye(3)[np.arange(8) % 3]
    before = m.get_weights()[0].copy()
    history = m.fit(x, y, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert not np.array_equal(before, m.get_weights()[0])


def test_generator_running_out_after_the_first_epoch_stops_with_a_warning():
    """Only an epoch 1 without any batch is an error; later, running out ends training."""
    batches = ((XS[:2], YS[:2]) for _ in range(3))
    with pytest.warns(UserWarning, match=r"Your input ran out of data after 1 of 2 steps"):
        history = model().fit(batches, steps_per_epoch=2, epochs=5, verbose=0)
    assert history.epoch == [0, 1]


def test_multi_input_model_given_one_array_says_so():
    from kernelnet.models import Model

    a, b = layers.Input((3,)), layers.Input((3,))
    m = Model([a, b], layers.Dense(2)(layers.Concatenate()([a, b])))
    with pytest.raises(ValueError, match=r"expects 2 input\(s\) but received one array of shape "
                                         r"\(4, 3\)\. Pass a list of 2 arrays, one per input\."):
        m.predict(np.zeros((4, 3)), verbose=0)
