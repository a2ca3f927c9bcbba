"""Hostile files (issue 17): names from files never become paths, HDF5 datasets never read
other files, saved files get ordinary permissions. The bad-input matrix has the one-line cases
(`tests/test_bad_inputs.py`); crashes, full disks and races are in `tests/test_faults_files.py`.
"""

import json
import os
import re
import shutil
import warnings
import zipfile
from pathlib import Path

import h5py  # the `test` extra installs it
import numpy as np
import pytest

from kernelnet import cli, layers
from kernelnet.callbacks import ModelCheckpoint
from kernelnet.models import Sequential, load_model
from kernelnet.utils.paths import safe_filename, unique_filenames

FIXTURES = Path(__file__).parent / "fixtures" / "keras"


def _model(conv_names=("conv",)):
    m = Sequential([layers.Input((8, 8, 1))]
                   + [layers.Conv2D(2, 3, padding="same", name=n) for n in conv_names]
                   + [layers.Flatten(), layers.Dense(3, activation="softmax", name="head")])
    m.compile("adam", "sparse_categorical_crossentropy")
    return m


def _files(folder: Path) -> set:
    return {p.relative_to(folder) for p in folder.rglob("*")}


# ---------------------------------------------------------------- names never become paths
@pytest.mark.parametrize("name,expected", [
    ("conv2d_1", "conv2d_1"), ("/../../any/dir/pwn", "_.._.._any_dir_pwn"), ("..", "_."),
    ("a\\b:c*?", "a_b_c__"), ("", "_"), ("\x00x", "_x"), ("é", "_"),
])
def test_safe_filename(name, expected):
    assert safe_filename(name) == expected
    assert "/" not in safe_filename(name) and not safe_filename(name).startswith(".")


def test_unique_filenames_never_collide():
    assert unique_filenames(["a/b", "a_b", "a:b", "c"]) == ["a_b", "a_b_2", "a_b_3", "c"]


def _with_conv_name(path: Path, name: str) -> Path:
    """Rewrites the saved model at `path` with its conv layer called `name`."""
    with zipfile.ZipFile(path) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    config = json.loads(parts["config.json"])
    for entry in config["config"]["layers"]:
        if entry["class_name"] == "Conv2D":
            entry["config"]["name"] = name
    parts["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for n, blob in parts.items():
            zf.writestr(n, blob)
    return path


@pytest.fixture
def image(tmp_path):
    from PIL import Image

    path = tmp_path / "img.png"
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).save(path)
    return path


def test_inspect_refuses_a_layer_name_that_is_a_path(tmp_path, image, capsys):
    """The issue's exploit: a Conv2D named "/../../../../<dir>/pwn" made inspect write there."""
    target = tmp_path / "outside"
    model_file = tmp_path / "m.kn"
    _model().save(model_file)
    _with_conv_name(model_file, f"/../../../..{target}/pwn")
    before = _files(tmp_path)
    assert cli.main(["inspect", str(model_file), "--image", str(image),
                     "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot contain character `/`" in err, err
    assert _files(tmp_path) == before and not target.exists()


def test_inspect_writes_unsafe_names_as_safe_file_names(tmp_path, image):
    """Names Keras allows (no "/") but that are odd file names stay inside the output folder."""
    model_file = tmp_path / "m.kn"
    _model(conv_names=("..", "a b*?", "a_b__")).save(model_file)
    out = tmp_path / "out"
    assert cli.main(["inspect", str(model_file), "--image", str(image), "--out", str(out),
                     "--verbose", "0"]) == 0
    written = {p.name for p in out.iterdir()}
    assert written == {"kernels__..png", "feature_maps__..png", "kernels_a_b__.png",
                       "feature_maps_a_b__.png", "kernels_a_b___2.png",
                       "feature_maps_a_b___2.png", "grad_cam.png"}
    assert _files(tmp_path) - {Path("m.kn"), Path("img.png")} == {
        Path("out"), *(Path("out") / n for n in written)}


def test_checkpoint_fields_never_leave_the_folder(tmp_path):
    """A log value (here from a callback) filled into the pattern cannot add folders."""
    ckpt = ModelCheckpoint(str(tmp_path / "ckpt" / "m-{epoch:02d}-{tag}-{loss:.3f}.kn"))
    path = ckpt._get_file_path(0, None, {"tag": "../../../evil", "loss": 0.25})
    assert Path(path).parent == tmp_path / "ckpt"
    assert Path(path).name == "m-01-_._.._.._evil-0.250.kn"
    assert ckpt._get_file_path(1, None, {"tag": "..", "loss": -1.5}) == str(
        tmp_path / "ckpt" / "m-02-_.--1.500.kn")


def test_checkpoint_with_a_field_writes_inside_the_folder(tmp_path):
    model = _model()

    class AddTag(ModelCheckpoint):
        def on_epoch_end(self, epoch, logs=None):
            super().on_epoch_end(epoch, {**(logs or {}), "tag": "../up"})

    ckpt = AddTag(str(tmp_path / "ckpt" / "m-{epoch}-{tag}.kn"))
    model.fit(np.zeros((4, 8, 8, 1)), np.zeros(4, int), epochs=1, verbose=0, callbacks=[ckpt])
    assert _files(tmp_path) == {Path("ckpt"), Path("ckpt/m-1-_._up.kn")}


# ---------------------------------------------------------------- Keras HDF5 datasets
def _replace_dataset(path: Path, name: str, make) -> None:
    """Replaces dataset `name` of the HDF5 file at `path` by `make(file, name, old)`."""
    with h5py.File(path, "r+") as f:
        old = f[name][()]
        attrs = dict(f[name].attrs)
        del f[name]
        make(f, name, old)
        for k, v in attrs.items():
            f[name].attrs[k] = v


def _external(secret: Path):
    def make(f, name, old):
        f.create_dataset(name, shape=old.shape, dtype=old.dtype,
                         external=[(str(secret), 0, h5py.h5f.UNLIMITED)])
    return make


def _virtual(secret_h5: Path):
    def make(f, name, old):
        with h5py.File(secret_h5, "w") as s:
            s["data"] = np.full(old.shape, 7, old.dtype)
        layout = h5py.VirtualLayout(shape=old.shape, dtype=old.dtype)
        layout[...] = h5py.VirtualSource(str(secret_h5), "data", shape=old.shape)
        f.create_virtual_dataset(name, layout)
    return make


def _secret(tmp_path: Path) -> Path:
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"local secret! " * 400)
    return secret


LEGACY = "model_weights/dense_2/dense_stack/dense_2/kernel"
KERAS3 = "layers/dense/vars/0"


@pytest.mark.parametrize("kind", ["external", "virtual"])
@pytest.mark.parametrize("fixture,dataset", [("dense_stack.h5", LEGACY),
                                             ("dense_stack.weights.h5", KERAS3)])
def test_keras_dataset_stored_in_another_file_is_refused(tmp_path, kind, fixture, dataset):
    path = tmp_path / fixture
    shutil.copy(FIXTURES / fixture, path)
    make = _external(_secret(tmp_path)) if kind == "external" else _virtual(tmp_path / "s.h5")
    _replace_dataset(path, dataset, make)
    with h5py.File(path, "r") as f:           # the crafted file really reads the other file
        assert (f[dataset][()] != 0).all()
    match = rf"object '{dataset}' is an? {kind} dataset: its data would be read from other files"
    with pytest.raises(ValueError, match=match):
        if fixture.endswith(".weights.h5"):
            _keras_model().load_weights(path)
        else:
            load_model(path)


def _keras_model():
    from kernelnet import keras_io

    config = json.loads(zipfile.ZipFile(FIXTURES / "dense_stack.keras").read("config.json"))
    return keras_io.model_from_keras_config(config)


def test_keras_zip_with_external_dataset_is_refused(tmp_path):
    """The same inside a `.keras` zip (its weights are opened from memory)."""
    inner = tmp_path / "model.weights.h5"
    with zipfile.ZipFile(FIXTURES / "dense_stack.keras") as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    inner.write_bytes(parts["model.weights.h5"])
    _replace_dataset(inner, KERAS3, _external(_secret(tmp_path)))
    parts["model.weights.h5"] = inner.read_bytes()
    with zipfile.ZipFile(tmp_path / "m.keras", "w") as zf:
        for n, blob in parts.items():
            zf.writestr(n, blob)
    with pytest.raises(ValueError, match=rf"'.*m.keras', object '{KERAS3}' is an external"):
        load_model(tmp_path / "m.keras")


def test_keras_external_link_is_refused(tmp_path):
    path = tmp_path / "w.weights.h5"
    shutil.copy(FIXTURES / "dense_stack.weights.h5", path)
    with h5py.File(tmp_path / "other.h5", "w") as other:
        other["kernel"] = np.ones((20, 32), "f4")
    with h5py.File(path, "r+") as f:
        del f[KERAS3]
        f[KERAS3] = h5py.ExternalLink(str(tmp_path / "other.h5"), "kernel")
    with pytest.raises(ValueError, match=rf"object '{KERAS3}' is a link to the file "
                                         r"'.*other.h5'"):
        _keras_model().load_weights(path)


@pytest.mark.parametrize("value,dtype", [(b"abc", "S3"), (1 + 2j, "complex64")])
def test_keras_non_numeric_dataset_is_refused(tmp_path, value, dtype):
    path = tmp_path / "w.weights.h5"
    shutil.copy(FIXTURES / "dense_stack.weights.h5", path)
    _replace_dataset(path, KERAS3, lambda f, name, old: f.create_dataset(
        name, data=np.full(old.shape, value, dtype)))
    with pytest.raises(ValueError, match=rf"holds array '{KERAS3}' of dtype '\|?{dtype}'\. "
                                         r"Expected real numbers"):
        _keras_model().load_weights(path)


def test_keras_dataset_declaring_more_than_it_stores_is_refused(tmp_path):
    """A chunked dataset never written reads as zeros of any size: refused before reading."""
    path = tmp_path / "w.weights.h5"
    shutil.copy(FIXTURES / "dense_stack.weights.h5", path)
    _replace_dataset(path, KERAS3, lambda f, name, old: f.create_dataset(
        name, shape=(200_000, 100_000), dtype="f4", chunks=(1000, 1000)))
    with pytest.raises(ValueError, match=r"declares shape \(200000, 100000\) "
                                         r"\(80,000,000,000 bytes\) but stores 0 bytes"):
        _keras_model().load_weights(path)


def test_keras_config_declaring_huge_layer_fails_before_allocating(tmp_path):
    with zipfile.ZipFile(FIXTURES / "dense_stack.keras") as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    config = json.loads(parts["config.json"])
    dense = next(e for e in config["config"]["layers"] if e["class_name"] == "Dense")
    dense["config"]["units"] = 3_000_000_000
    parts["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(tmp_path / "big.keras", "w") as zf:
        for n, blob in parts.items():
            zf.writestr(n, blob)
    with pytest.raises(ValueError, match=r"declares weight 'kernel' of shape "
                                         r"\(20, 3000000000\) .* the file holds only"):
        load_model(tmp_path / "big.keras")


@pytest.mark.parametrize("training", [
    {"optimizer": {"class_name": 5, "config": {}}, "loss": "mse"}, "x", [1, 2]])
def test_keras_bad_compile_config_warns_and_loads(tmp_path, training):
    """Keras' policy: a model whose training config cannot be used loads uncompiled."""
    path = tmp_path / "m.h5"
    shutil.copy(FIXTURES / "dense_stack.h5", path)
    with h5py.File(path, "r+") as f:
        f.attrs["training_config"] = json.dumps(training)
    with pytest.warns(UserWarning, match=r"loaded but not compiled: its Keras training "
                                         r"configuration could not be translated"):
        model = load_model(path)
    assert model.optimizer is None


def test_keras_config_too_deep_is_a_clear_error(tmp_path):
    path = tmp_path / "m.h5"
    shutil.copy(FIXTURES / "dense_stack.h5", path)
    with h5py.File(path, "r+") as f:
        f.attrs["model_config"] = "[" * 100_000 + "]" * 100_000
    with pytest.raises(ValueError, match=r"The model_config in '.*m.h5' is nested too deeply"):
        load_model(path)


# ---------------------------------------------------------------- permissions
@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002])
def test_saved_files_get_the_mode_of_other_outputs(tmp_path, umask):
    model = _model()
    old = os.umask(umask)
    try:
        model.save(tmp_path / "m.kn")
        model.save(tmp_path / "m.kn")                 # overwriting too
        model.save_weights(tmp_path / "w.npz")
        model.save(tmp_path / "x.kn", overwrite=False)
        (tmp_path / "plain.txt").write_text("x")      # what open() gives any other output
    finally:
        os.umask(old)
    expected = (tmp_path / "plain.txt").stat().st_mode & 0o777
    assert expected == 0o666 & ~umask
    for name in ("m.kn", "w.npz", "x.kn"):
        assert (tmp_path / name).stat().st_mode & 0o777 == expected, name


def test_checkpoint_files_get_the_mode_of_other_outputs(tmp_path):
    old = os.umask(0o022)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _model().fit(np.zeros((4, 8, 8, 1)), np.zeros(4, int), verbose=0, callbacks=[
                ModelCheckpoint(str(tmp_path / "c.kn"))])
    finally:
        os.umask(old)
    assert (tmp_path / "c.kn").stat().st_mode & 0o777 == 0o644


# ---------------------------------------------------------------- one-line CLI errors
def _crafted(path: Path, edit=None, config_text=None) -> Path:
    _model().save(path)
    with zipfile.ZipFile(path) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    if edit is not None:
        config = json.loads(parts["config.json"])
        edit(config)
        config_text = json.dumps(config)
    parts["config.json"] = config_text.encode()
    with zipfile.ZipFile(path, "w") as zf:
        for n, blob in parts.items():
            zf.writestr(n, blob)
    return path


def _head_units(config):
    config["config"]["layers"][-1]["config"]["units"] = 3_000_000_000


CRAFTED = {
    "deep": (dict(config_text="[" * 100_000 + "]" * 100_000), r"nested too deeply to read"),
    "units": (dict(edit=_head_units), r"declares weight 'kernel' of shape \(128, 3000000000\)"),
    "version": (dict(edit=lambda c: c.update(format_version=99)), r"format version 99"),
    "compile": (dict(edit=lambda c: c.update(compile_config="x")), r"invalid compile_config"),
}


@pytest.mark.parametrize("command", ["summary", "evaluate"])
@pytest.mark.parametrize("kind", list(CRAFTED))
def test_crafted_model_files_are_one_line_cli_errors(tmp_path, capsys, command, kind):
    how, match = CRAFTED[kind]
    path = _crafted(tmp_path / "m.kn", **how)
    argv = [command, str(path)] + (["--data", "synthetic"] if command == "evaluate" else [])
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("kernelnet: error: ") and err.count("\n") == 1, err
    assert re.search(match, err) and str(path) in err, err


def test_tampered_cifar_batch_is_a_one_line_cli_error(tmp_path, capsys, monkeypatch):
    folder = tmp_path / "datasets" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(b"\x80\x04garbage")
    monkeypatch.setenv("KERNELNET_HOME", str(tmp_path))
    assert cli.main(["train", "--arch", "lenet5", "--data", "cifar10", "--epochs", "1",
                     "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"'{folder / 'data_batch_1'}' is not a valid CIFAR batch " \
        "file: its pickle is corrupted" in err, err
