"""Loading Keras-written models and weights (fixtures from scripts/make_keras_fixtures.py).

These run without Keras: the fixtures hold Keras' own predictions. One live test at the end
builds and saves models with real Keras (test extra) in a subprocess and loads them here.
"""

import json
import shutil
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from helpers import run_with_keras

h5py = pytest.importorskip("h5py")

from kernelnet import keras_io  # noqa: E402
from kernelnet.models import load_model  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures" / "keras"
NAMES = ["mnist_cnn", "resnet_graph", "dense_stack", "nested_backbone"]


def _data(name):
    with np.load(FIXTURES / f"{name}.npz") as d:
        return d["x"], d["y"]


def _fresh_model(name):
    """The fixture's architecture with kernelnet's own random weights."""
    config = json.loads(zipfile.ZipFile(FIXTURES / f"{name}.keras").read("config.json"))
    return keras_io.model_from_keras_config(config)


@pytest.mark.parametrize("ext", ["keras", "h5"])
@pytest.mark.parametrize("name", NAMES)
def test_load_keras_model_matches_keras_predictions(name, ext):
    x, y = _data(name)
    model = keras_io.load_keras_model(FIXTURES / f"{name}.{ext}", compile=False)
    assert np.abs(model.predict(x, verbose=0) - y).max() < 1e-4


@pytest.mark.parametrize("name", NAMES)
def test_load_keras_weights_into_fresh_model(name):
    x, y = _data(name)
    model = _fresh_model(name)
    assert np.abs(model.predict(x, verbose=0) - y).max() > 1e-3   # really random before
    keras_io.load_keras_weights(model, FIXTURES / f"{name}.weights.h5")
    assert np.abs(model.predict(x, verbose=0) - y).max() < 1e-4


def _strip_names(src, dst):
    """Removes the `name` attributes older Keras 3 versions do not write."""
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        f.visititems(lambda n, o: o.attrs.__delitem__("name") if "name" in o.attrs else None)
    return dst


@pytest.mark.parametrize("name", NAMES)
def test_keras3_weights_without_names_use_keras_layer_order(name, tmp_path):
    x, y = _data(name)
    path = _strip_names(FIXTURES / f"{name}.weights.h5", tmp_path / "w.weights.h5")
    model = _fresh_model(name)
    keras_io.load_keras_weights(model, path)
    assert np.abs(model.predict(x, verbose=0) - y).max() < 1e-4


def _legacy_weights_file(name, path, rename=False):
    """A Keras 2 style weights-only file (root `layer_names`, `name:0` weight names)."""
    with h5py.File(FIXTURES / f"{name}.h5", "r") as src, h5py.File(path, "w") as dst:
        group = src["model_weights"]
        names = []
        for layer in group.attrs["layer_names"]:
            layer = layer.decode() if isinstance(layer, bytes) else layer
            new = f"renamed_{layer}" if rename else layer
            out = dst.create_group(new)
            wnames = []
            for w in group[layer].attrs["weight_names"]:
                w = w.decode() if isinstance(w, bytes) else w
                wname = f"{new}/{w.split('/')[-1]}:0"
                out.create_dataset(wname, data=np.asarray(group[layer][w]))
                wnames.append(wname.encode())
            out.attrs["weight_names"] = wnames
            names.append(new.encode())
        dst.attrs["layer_names"] = names
    return path


@pytest.mark.parametrize("rename", [False, True], ids=["by_name", "by_order"])
def test_legacy_weights_only_file(rename, tmp_path):
    x, y = _data("resnet_graph")
    path = _legacy_weights_file("resnet_graph", tmp_path / "w.h5", rename=rename)
    model = _fresh_model("resnet_graph")
    model.load_weights(path)                      # through kernelnet.saving's dispatch
    assert np.abs(model.predict(x, verbose=0) - y).max() < 1e-4


def _to_keras2_config(config):
    """Rewrites a Keras 3 functional config in Keras 2's format (inbound_nodes, batch shapes)."""
    for entry in config["config"]["layers"]:
        cfg = entry["config"]
        cfg["dtype"] = "float32"
        if entry["class_name"] == "InputLayer":
            cfg["batch_input_shape"] = cfg.pop("batch_shape")
            cfg.pop("optional", None)
        if entry["class_name"] == "BatchNormalization":
            cfg["axis"] = [3]
        nodes = []
        for node in entry["inbound_nodes"]:
            arg = node["args"][0]
            tensors = arg if isinstance(arg, list) else [arg]
            nodes.append([[*t["config"]["keras_history"], {}] for t in tensors])
        entry["inbound_nodes"] = nodes
    for key in ("input_layers", "output_layers"):
        config["config"][key] = [config["config"][key]]
    return config


def test_keras2_style_full_model_h5(tmp_path):
    x, y = _data("resnet_graph")
    path = tmp_path / "keras2.h5"
    with h5py.File(FIXTURES / "resnet_graph.h5", "r") as src, h5py.File(path, "w") as dst:
        config = _to_keras2_config(json.loads(src.attrs["model_config"]))
        dst.attrs["model_config"] = json.dumps(config)
        dst.attrs["keras_version"] = "2.15.0"
        src.copy(src["model_weights"], dst, "model_weights")
    model = load_model(path)                      # through kernelnet.saving's dispatch
    assert np.abs(model.predict(x, verbose=0) - y).max() < 1e-4


def test_load_model_dispatches_for_keras_zip_and_compiles():
    x, y = _data("mnist_cnn")
    model = load_model(FIXTURES / "mnist_cnn.keras")
    assert np.abs(model.predict(x, verbose=0) - y).max() < 1e-4
    assert type(model.optimizer).__name__ == "SGD"             # the fixture's compile config
    assert model.optimizer.learning_rate == pytest.approx(0.01)
    model.fit(x, y, epochs=1, verbose=0)                        # trainable after loading


@pytest.mark.parametrize("ext", ["keras", "h5"])
def test_frozen_nested_backbone_stays_frozen(ext):
    model = keras_io.load_keras_model(FIXTURES / f"nested_backbone.{ext}")
    backbone = model.get_layer("backbone")
    assert not backbone.trainable and not backbone.trainable_weights
    assert len(model.trainable_weights) == 2


def test_unsupported_layer_is_named():
    with pytest.raises(ValueError, match=r"Keras layer 'lstm_1' of type 'LSTM' is not supported "
                                         r"by kernelnet\. Supported: .*Conv2D"):
        keras_io.load_keras_model(FIXTURES / "unsupported_lstm.keras")


def test_non_default_keras_option_is_an_error():
    config = {"name": "bn", "axis": -1, "renorm": True, "synchronized": False}
    with pytest.raises(ValueError, match=r"Keras layer 'bn' \(BatchNormalization\) uses "
                                         r"`renorm=True`.*Only the Keras default False"):
        keras_io.translate_layer_config("BatchNormalization", config)


def test_keras_defaults_are_dropped():
    config = {"name": "c", "filters": 2, "kernel_size": [3, 3], "dilation_rate": [1, 1],
              "groups": 1, "data_format": "channels_last", "kernel_regularizer": None,
              "kernel_initializer": {"class_name": "HeNormal", "config": {"seed": None}}}
    layer = keras_io.translate_layer_config("Conv2D", config)
    assert layer.name == "c" and layer.kernel_size == (3, 3)


def test_weights_only_file_is_not_a_model(tmp_path):
    with pytest.raises(ValueError, match="holds only weights"):
        keras_io.load_keras_model(FIXTURES / "mnist_cnn.weights.h5")


def test_weights_of_another_model_are_rejected():
    model = _fresh_model("dense_stack")
    with pytest.raises(ValueError, match="Shape mismatch|does not have|has weights but"):
        keras_io.load_keras_weights(model, FIXTURES / "mnist_cnn.weights.h5")


def test_skip_mismatch_warns_and_loads_the_rest():
    x, y = _data("mnist_cnn")
    model = _fresh_model("mnist_cnn")
    with pytest.warns(UserWarning):
        keras_io.load_keras_weights(model, FIXTURES / "dense_stack.weights.h5",
                                    skip_mismatch=True)


def test_missing_h5py_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r"pip install kernelnet\[h5\]"):
        keras_io.load_keras_model(FIXTURES / "mnist_cnn.h5")


def test_not_a_keras_file(tmp_path):
    path = tmp_path / "x.h5"
    path.write_bytes(b"not hdf5 at all")
    with pytest.raises(ValueError, match="is not a Keras weights file"):
        keras_io.load_keras_weights(_fresh_model("mnist_cnn"), path)


_LIVE_SCRIPT = r"""
import sys
import numpy as np
import keras
import make_keras_fixtures as fixtures

out = sys.argv[1]
rng = np.random.default_rng(0)
keras.utils.set_random_seed(0)
for name, shape in [("resnet_graph", (4, 16, 16, 3)), ("mnist_cnn", (4, 12, 12, 1)),
                    ("nested_backbone", (4, 10, 10, 2))]:
    model = getattr(fixtures, name)()
    fixtures.randomize_norm_stats(model, rng)
    x = rng.normal(size=shape).astype("float32")
    np.savez(f"{out}/{name}.npz", x=x, y=model.predict(x, verbose=0))
    for ext in ("keras", "h5"):
        model.save(f"{out}/{name}.{ext}")
"""


def test_live_keras_round_trip(tmp_path):
    """Builds models in real Keras 3 (torch backend, CPU; in a subprocess, so that torch stays
    out of the test process), saves them, loads them in kernelnet."""
    run_with_keras(["-c", _LIVE_SCRIPT, str(tmp_path)], tmp_path, timeout=600,
                   pythonpath=str(Path(__file__).parents[1] / "scripts"))
    for name in ("resnet_graph", "mnist_cnn", "nested_backbone"):
        with np.load(tmp_path / f"{name}.npz") as data:
            x, expected = data["x"], data["y"]
        for ext in ("keras", "h5"):
            loaded = keras_io.load_keras_model(tmp_path / f"{name}.{ext}")
            assert np.abs(loaded.predict(x, verbose=0) - expected).max() < 1e-4
