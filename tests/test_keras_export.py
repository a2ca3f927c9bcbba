"""Files kernelnet writes in Keras' formats (`.keras`, `.h5`, `.weights.h5`), loaded by real Keras.

Every model is written by kernelnet first; one Keras 3 subprocess (torch backend, CPU) then loads
every file, predicts, and the test compares with kernelnet's predictions. Keras and torch come
with the `test` extra (`make test` installs them); without them the test fails, it does not skip.
"""

import json
import zipfile

import numpy as np
import pytest
from helpers import run_with_keras

import kernelnet
from kernelnet import activations, applications, keras_io, losses, optimizers
from kernelnet import layers as L
from kernelnet.models import Model, Sequential, load_model

h5py = pytest.importorskip("h5py")

FORMATS = ("keras", "h5", "weights.h5", "legacy_weights.h5")


def _conv_stack():
    """Sequential over the convolutional, pooling, reshaping and activation layers."""
    return Sequential([
        L.Input((12, 12, 3)),
        L.ZeroPadding2D(((1, 0), (2, 1))),
        L.Conv2D(6, 3, strides=2, activation="relu", kernel_initializer="he_normal"),
        L.BatchNormalization(center=False, momentum=0.9),
        L.Cropping2D(((1, 0), (0, 1))),
        L.UpSampling2D(2),
        L.MaxPooling2D(3, strides=2, padding="same"),
        L.AveragePooling2D(2, padding="same"),
        L.Conv2D(5, 1, use_bias=False, padding="same"),
        L.LeakyReLU(0.1),
        L.PReLU(alpha_initializer="ones"),
        L.ELU(0.5),
        L.ReLU(max_value=3.0, negative_slope=0.1, threshold=0.2),
        L.Dropout(0.3),
        L.Permute((2, 1, 3)),
        L.Flatten(),
        L.Dense(20, activation="tanh", bias_initializer="ones"),
        L.Reshape((4, 5)),
        L.LayerNormalization(epsilon=1e-4),
        L.Softmax(axis=1),
        L.Flatten(),
        L.Dense(5, activation="softmax"),
    ], name="conv_stack")


def _activations():
    """A Dense layer and an Activation layer per activation name kernelnet has."""
    stack = [L.Input((6,))]
    for name in sorted(activations._REGISTRY):
        stack += [L.Dense(6, activation=name, name=f"dense_{name}"),
                  L.Activation(name, name=f"act_{name}"), L.Dense(6, name=f"mix_{name}")]
    return Sequential(stack, name="activations")


def _merging():
    """Two inputs, every merging layer, two outputs."""
    a, b = L.Input((6, 6, 2), name="a"), L.Input((6, 6, 2), name="b")
    ca = L.Conv2D(3, 3, padding="same", name="conv_a")(a)
    cb = L.Conv2D(3, 3, padding="same", name="conv_b")(b)
    merged = [layer([ca, cb]) for layer in (L.Add(), L.Subtract(), L.Multiply(), L.Average(),
                                            L.Maximum(), L.Minimum())]
    x = L.Concatenate(axis=-1)(merged)
    head1 = L.Dense(4, activation="softmax", name="head1")(L.GlobalAveragePooling2D()(x))
    head2 = L.Dense(2, name="head2")(L.GlobalMaxPooling2D()(ca))
    return Model([a, b], [head1, head2], name="merging")


def _nested():
    """A functional classifier around a frozen Sequential backbone (transfer learning)."""
    backbone = Sequential([L.Input((10, 10, 2)), L.Conv2D(6, 3, padding="same", name="bb_conv"),
                           L.BatchNormalization(name="bb_bn"), L.Activation("relu"),
                           L.GlobalAveragePooling2D()], name="backbone")
    backbone.trainable = False
    inp = L.Input((10, 10, 2), name="image")
    x = L.Dense(8, activation="relu", name="mid")(backbone(inp))
    return Model(inp, L.Dense(3, activation="softmax", name="head")(x), name="nested")


MODELS = {
    "conv_stack": (_conv_stack, [(3, 12, 12, 3)]),
    "activations": (_activations, [(3, 6)]),
    "merging": (_merging, [(3, 6, 6, 2), (3, 6, 6, 2)]),
    "nested": (_nested, [(3, 10, 10, 2)]),
    # logits (no softmax), so that a wrong weight cannot hide in a saturated output
    "lenet5": (lambda: applications.LeNet5((28, 28, 1), classifier_activation=None),
               [(2, 28, 28, 1)]),
    "mnist_cnn": (lambda: applications.MnistCNN((14, 14, 1), classifier_activation=None),
                  [(2, 14, 14, 1)]),
    "cifar10_cnn": (lambda: applications.Cifar10CNN((16, 16, 3), classifier_activation=None),
                    [(2, 16, 16, 3)]),
    "resnet18": (lambda: applications.ResNet18(input_shape=(32, 32, 3), classes=5,
                                               classifier_activation=None), [(2, 32, 32, 3)]),
    "vgg16": (lambda: applications.VGG16(weights=None, include_top=False, pooling="avg",
                                         input_shape=(32, 32, 3)), [(2, 32, 32, 3)]),
}
# Compile settings per model (optimizer, loss, metrics, targets): Keras compiles the loaded
# model from the file; its evaluate() results, and its predictions after one training step
# (fresh optimizer in both libraries), must equal kernelnet's. merging (two outputs) and vgg16
# stay uncompiled; resnet18 skips the step (the slowest part; conv_stack covers a
# training-mode BatchNormalization step).
COMPILE = {
    "conv_stack": (lambda: optimizers.Adam(0.003, beta_1=0.8), "sparse_categorical_crossentropy",
                   ["accuracy"], lambda rng, n: rng.integers(0, 5, n)),
    "activations": (lambda: optimizers.SGD(0.05, momentum=0.9, nesterov=True), "mse", None,
                    lambda rng, n: rng.normal(size=(n, 6))),
    "nested": (lambda: optimizers.RMSprop(0.01, rho=0.8),
               lambda: losses.CategoricalCrossentropy(label_smoothing=0.1), ["acc"],
               lambda rng, n: np.eye(3)[rng.integers(0, 3, n)]),
    "lenet5": (lambda: optimizers.Adagrad(0.02),
               lambda: losses.SparseCategoricalCrossentropy(from_logits=True), None,
               lambda rng, n: rng.integers(0, 10, n)),
    "mnist_cnn": (lambda: optimizers.Adadelta(1.0), "mae", None,
                  lambda rng, n: rng.normal(size=(n, 10))),
    "cifar10_cnn": (lambda: optimizers.AdamW(0.001, weight_decay=0.01),
                    lambda: losses.Huber(delta=0.5), None, lambda rng, n: rng.normal(size=(n, 10))),
    "resnet18": (lambda: optimizers.SGD(0.01), lambda: losses.CategoricalCrossentropy(
        from_logits=True), None, lambda rng, n: np.eye(5)[rng.integers(0, 5, n)]),
}

# VGG16's 59 MB of weights: the two full-model formats are enough.
SKIP_FORMATS = {"vgg16": ("weights.h5", "legacy_weights.h5")}


def _randomize_norm_stats(model, rng):
    """Non-trivial BatchNormalization/LayerNormalization weights, moving statistics included."""
    for layer in model.layers:
        if hasattr(layer, "_nodes"):
            _randomize_norm_stats(layer, rng)
        elif isinstance(layer, (L.BatchNormalization, L.LayerNormalization)):
            new = []
            for name, w in zip(layer.weight_names, layer.weights):
                low, high = (0.5, 2.0) if "variance" in name or "gamma" in name else (-0.5, 0.5)
                new.append(rng.uniform(low, high, w.shape))
            layer.set_weights(new)


KERAS_SCRIPT = r"""
import json, sys, traceback
import numpy as np
import keras

root = sys.argv[1]


def _all_layers(model):
    found = []
    for layer in model.layers:
        found += _all_layers(layer) if hasattr(layer, "layers") else [layer]
    return found


manifest = json.load(open(f"{root}/manifest.json"))
report = {}
for name, info in manifest.items():
    with np.load(f"{root}/{name}.inputs.npz") as data:
        xs = [data[f"x{i}"] for i in range(len(data.files))]
    x = xs if len(xs) > 1 else xs[0]
    config = open(f"{root}/{name}.config.json").read()
    for fmt in info["formats"]:
        key = f"{name}.{fmt}"
        try:
            if fmt in ("keras", "h5"):
                model = keras.models.load_model(f"{root}/{key}")
            else:                    # weights only: fresh (random) model from the config
                model = keras.models.model_from_json(config)
                model.load_weights(f"{root}/{key}")
            y = model.predict(x, verbose=0)
            ys = y if isinstance(y, list) else [y]
            np.savez(f"{root}/{key}.keras_out.npz", *ys)
            report[key] = {"params": int(model.count_params()),
                           "compiled": bool(getattr(model, "compiled", False))}
            if info["compiled"] and fmt in ("keras", "h5"):
                target = np.load(f"{root}/{name}.target.npy")
                report[key]["evaluate"] = model.evaluate(x, target, verbose=0,
                                                         return_dict=True)
                opt = model.optimizer
                report[key]["optimizer"] = [type(opt).__name__,
                                            float(opt.learning_rate.numpy())]
                if fmt == "keras" and info["step"]:    # one step with the file's settings
                    for layer in _all_layers(model):
                        if isinstance(layer, keras.layers.Dropout):
                            layer.rate = 0.0
                    model.train_on_batch(x, target)
                    np.save(f"{root}/{key}.after_step.npy", model.predict(x, verbose=0))
        except Exception:
            report[key] = {"error": traceback.format_exc()[-3000:]}
json.dump(report, open(f"{root}/report.json", "w"))
"""


def test_real_keras_loads_every_written_file(tmp_path):
    rng = np.random.default_rng(0)
    manifest, expected, expected_eval, after_step = {}, {}, {}, {}
    for name, (factory, shapes) in MODELS.items():
        model = factory()
        _randomize_norm_stats(model, rng)
        xs = [rng.normal(size=s).astype("float32") for s in shapes]
        y = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
        expected[name] = (y if isinstance(y, list) else [y], model.count_params())
        np.savez(tmp_path / f"{name}.inputs.npz", **{f"x{i}": x for i, x in enumerate(xs)})
        if name in COMPILE:
            make_optimizer, loss, metrics, target = COMPILE[name]
            model.compile(make_optimizer(), loss if isinstance(loss, str) else loss(),
                          metrics=metrics)
            y_true = target(rng, len(xs[0])).astype("float32")
            np.save(tmp_path / f"{name}.target.npy", y_true)
            expected_eval[name] = model.evaluate(xs[0], y_true, verbose=0, return_dict=True)
            if name != "resnet18":
                after_step[name] = _one_step(model, xs[0], y_true)
        formats = [f for f in FORMATS if f not in SKIP_FORMATS.get(name, ())]
        for fmt in formats:
            path = tmp_path / f"{name}.{fmt}"
            if fmt == "keras" or fmt == "h5":
                model.save(path)
            else:
                model.save_weights(path)
        (tmp_path / f"{name}.config.json").write_text(json.dumps(keras_io.model_config(model)))
        manifest[name] = {"formats": formats, "compiled": name in COMPILE,
                          "step": name in after_step}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    (tmp_path / "load.py").write_text(KERAS_SCRIPT)
    run_with_keras([str(tmp_path / "load.py"), str(tmp_path)], tmp_path, timeout=600)
    report = json.loads((tmp_path / "report.json").read_text())
    problems = []
    for name, info in manifest.items():
        ys, params = expected[name]
        for fmt in info["formats"]:
            key = f"{name}.{fmt}"
            entry = report[key]
            if "error" in entry:
                problems.append(f"{key}: Keras could not load it:\n{entry['error']}")
                continue
            with np.load(tmp_path / f"{key}.keras_out.npz") as data:
                got = [data[f"arr_{i}"] for i in range(len(data.files))]
            for i, (a, b) in enumerate(zip(got, ys)):
                tolerance = 1e-4 * float(np.abs(b).max()) + 1e-6          # float32 rounding
                diff = float(np.abs(a - b).max()) if a.shape == b.shape else np.inf
                if not diff <= tolerance:                                  # NaN fails too
                    problems.append(f"{key} output {i}: max |keras - kernelnet| = {diff:.3g}")
            if entry["params"] != params:
                problems.append(f"{key}: Keras counts {entry['params']} params, kernelnet "
                                f"{params}")
            if fmt in ("keras", "h5") and entry["compiled"] != info["compiled"]:
                problems.append(f"{key}: compiled in Keras {entry['compiled']}, in kernelnet "
                                f"{info['compiled']}")
            if "evaluate" in entry:
                problems += _compare_compiled(key, entry, expected_eval[name], COMPILE[name])
            if fmt == "keras" and name in after_step:
                stepped = np.load(tmp_path / f"{key}.after_step.npy")
                mine = after_step[name]
                diff = float(np.abs(stepped - mine).max())
                if not diff <= 1e-4 * float(np.abs(mine).max()) + 1e-5:
                    problems.append(f"{key}: after one training step in each, max |keras - "
                                    f"kernelnet| = {diff:.3g}")
    assert not problems, "\n".join(problems)


def _one_step(model, x, y):
    """Predictions after one train_on_batch on a copy of `model` (dropout off: its random
    masks differ between the libraries); the weights written to the files stay untouched."""
    import copy

    clone = copy.deepcopy(model)
    for layer in _leaves(clone):
        if isinstance(layer, L.Dropout):
            layer.rate = 0.0
    clone.train_on_batch(x, y)
    return clone.predict(x, verbose=0)


def _leaves(model):
    found = []
    for layer in model.layers:
        found += _leaves(layer) if hasattr(layer, "_nodes") else [layer]
    return found


def _compare_compiled(key, entry, mine, spec):
    """Keras' evaluate() results and optimizer against kernelnet's for one loaded file."""
    problems = []
    optimizer = spec[0]()
    if entry["optimizer"][0] != type(optimizer).__name__ or not np.isclose(
            entry["optimizer"][1], optimizer.learning_rate, rtol=1e-6):
        problems.append(f"{key}: Keras compiled {entry['optimizer']}, kernelnet "
                        f"{type(optimizer).__name__} lr={optimizer.learning_rate}")
    for metric, value in mine.items():
        theirs = entry["evaluate"].get(metric)
        if theirs is None or not np.isclose(theirs, value, rtol=1e-4, atol=1e-6):
            problems.append(f"{key}: Keras evaluate {metric}={theirs}, kernelnet {value}")
    return problems


# ------------------------------------------------------------- in-process checks (no Keras)
@pytest.mark.parametrize("name", ["conv_stack", "merging", "nested", "mnist_cnn"])
@pytest.mark.parametrize("fmt", ["keras", "h5"])
def test_kernelnet_reads_back_its_keras_files(name, fmt, tmp_path, rng):
    factory, shapes = MODELS[name]
    model = factory()
    _randomize_norm_stats(model, rng)
    xs = [rng.normal(size=s).astype("float32") for s in shapes]
    x = xs if len(xs) > 1 else xs[0]
    model.save(tmp_path / f"m.{fmt}")
    loaded = load_model(tmp_path / f"m.{fmt}")
    for a, b in zip(_outputs(model, x), _outputs(loaded, x)):
        np.testing.assert_allclose(a, b, atol=1e-6)
    model.save_weights(tmp_path / "m.weights.h5")
    fresh = factory()
    fresh.load_weights(tmp_path / "m.weights.h5")
    for a, b in zip(_outputs(model, x), _outputs(fresh, x)):
        np.testing.assert_allclose(a, b, atol=1e-6)


def _outputs(model, x):
    y = model.predict(x, verbose=0)
    return y if isinstance(y, list) else [y]


def test_keras_archive_layout(tmp_path):
    model = MODELS["mnist_cnn"][0]()
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as zf:
        assert zf.namelist() == ["metadata.json", "config.json", "model.weights.h5"]
        config = json.loads(zf.read("config.json"))
        metadata = json.loads(zf.read("metadata.json"))
    assert config["class_name"] == "Sequential" and "keras_version" in metadata
    first = config["config"]["layers"][0]
    assert first["class_name"] == "InputLayer"
    assert first["config"]["batch_shape"] == [None, 14, 14, 1]
    conv = config["config"]["layers"][1]["config"]
    assert conv["dtype"]["class_name"] == "DTypePolicy" and conv["kernel_regularizer"] is None
    assert conv["kernel_initializer"]["class_name"] == "GlorotUniform"
    model.save(tmp_path / "m.h5")
    with h5py.File(tmp_path / "m.h5", "r") as f:
        assert "model_config" in f.attrs
        names = [_text(n) for n in f["model_weights"].attrs["layer_names"]]
        assert names == [layer.name for layer in model.layers]
        conv_name = model.layers[0].name
        first_weight = f["model_weights"][conv_name].attrs["weight_names"][0]
        assert _text(first_weight) == f"{model.name}/{conv_name}/kernel"    # Keras' w.path
    model.save_weights(tmp_path / "m.weights.h5")
    with h5py.File(tmp_path / "m.weights.h5", "r") as f:
        assert f["layers/conv2d/vars"].attrs["name"] == model.layers[0].name
        assert f["layers/conv2d_1/vars/0"].shape == (3, 3, 32, 64)
        assert f["layers/dense_1/vars/1"].shape == (10,)


def _text(value):
    return value.decode() if isinstance(value, bytes) else value


def test_kn_and_other_extensions_stay_kernelnet_zips(tmp_path):
    model = MODELS["mnist_cnn"][0]()
    for name in ("m.kn", "m.zip", "m"):
        model.save(tmp_path / name)
        with zipfile.ZipFile(tmp_path / name) as zf:
            assert json.loads(zf.read("config.json"))["format"] == "kernelnet"


@pytest.mark.parametrize("target", ["m.keras", "m.h5", "m.weights.h5"])
def test_layer_without_keras_equivalent_is_named_before_writing(tmp_path, target):
    model = applications.AlexNet((32, 32, 3))
    lrn = next(layer for layer in model.layers if isinstance(layer, L.LocalResponseNormalization))
    save = model.save_weights if target.endswith("weights.h5") else model.save
    with pytest.raises(ValueError, match=rf"Layer '{lrn.name}' \(LocalResponseNormalization\) "
                                         r"has no Keras equivalent.*nothing was written"):
        save(tmp_path / target)
    assert list(tmp_path.iterdir()) == []


def test_lambda_layer_cannot_be_written(tmp_path):
    model = Sequential([L.Input((3,)), L.Lambda(lambda t: t * 2, name="double")])
    with pytest.raises(ValueError, match=r"Layer 'double' \(Lambda\) has no Keras equivalent"):
        model.save(tmp_path / "m.keras")


def test_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    model = MODELS["mnist_cnn"][0]()
    path = tmp_path / "m.keras"
    model.save(path)
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(zipfile.ZipFile, "writestr", broken)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.keras"]      # no temporary left


def test_overwrite_false_refuses(tmp_path):
    model = MODELS["mnist_cnn"][0]()
    model.save(tmp_path / "m.h5")
    with pytest.raises(FileExistsError, match="overwrite=False"):
        model.save(tmp_path / "m.h5", overwrite=False)


def test_kernelnet_version_in_metadata(tmp_path):
    model = MODELS["activations"][0]()
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as zf:
        assert json.loads(zf.read("metadata.json"))["kernelnet_version"] == kernelnet.__version__


@pytest.mark.parametrize("fmt", ["keras", "h5"])
def test_compile_settings_round_trip(tmp_path, rng, fmt):
    model = MODELS["conv_stack"][0]()
    model.compile(optimizers.Adam(0.003), "sparse_categorical_crossentropy", metrics=["acc"])
    model.save(tmp_path / f"m.{fmt}")
    loaded = load_model(tmp_path / f"m.{fmt}")
    assert type(loaded.optimizer).__name__ == "Adam"
    assert loaded.optimizer.learning_rate == pytest.approx(0.003)
    x, y = rng.normal(size=(4, 12, 12, 3)).astype("float32"), rng.integers(0, 5, 4)
    np.testing.assert_allclose(loaded.evaluate(x, y, verbose=0),
                               model.evaluate(x, y, verbose=0), rtol=1e-6)


def test_schedule_is_not_written_and_says_so(tmp_path):
    model = MODELS["activations"][0]()
    schedule = optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    model.compile(optimizers.SGD(schedule), "mse")
    with pytest.warns(UserWarning, match="without its compile settings.*learning-rate schedule"):
        model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as zf:
        assert "compile_config" not in json.loads(zf.read("config.json"))


# Keys whose presence depends on the Keras release (kernelnet writes what every Keras 3 reads)
# or that Keras fills in itself; everything else must equal what Keras wrote.
_RELEASE_KEYS = {"ragged", "optional", "quantization_config", "input_axes", "output_axes",
                 "shared_object_id", "build_config", "mask", "compile_config"}
FIXTURES = __import__("pathlib").Path(__file__).parent / "fixtures" / "keras"


def _normalized(config):
    if isinstance(config, dict):
        out = {k: _normalized(v) for k, v in config.items() if k not in _RELEASE_KEYS}
        if out.get("class_name") == "InputLayer":
            out["config"].pop("name")                  # Sequential inputs are auto-named
        return out
    return [_normalized(v) for v in config] if isinstance(config, list) else config


def _attrs(obj):
    return {k: [_text(x) for x in v] if isinstance(v, np.ndarray) else _text(v)
            for k, v in obj.attrs.items() if k not in ("backend", "keras_version")}


def _h5_tree(source):
    """{path: (shape, attributes)} of an HDF5 file or group, optimizer state left out."""
    if not isinstance(source, h5py.Group):
        with h5py.File(source, "r") as f:
            return _h5_tree(f)
    tree = {"": (None, _attrs(source))}
    source.visititems(lambda name, obj: None if name.startswith("optimizer") else
                      tree.__setitem__(name, (getattr(obj, "shape", None), _attrs(obj))))
    return tree


def _in_order_of(mine, keras):
    """Keras' functional config with its layers listed in kernelnet's (topological) order;
    Keras lists them in another topological order, and rebuilds the graph from either."""
    if keras["class_name"] == "Functional":
        by_name = {e["name"]: e for e in keras["config"]["layers"]}
        keras["config"]["layers"] = [by_name[e["name"]] for e in mine["config"]["layers"]]
    return keras


@pytest.mark.parametrize("name", ["mnist_cnn", "resnet_graph", "dense_stack", "nested_backbone"])
def test_written_files_have_keras_layout(name, tmp_path):
    """A Keras-written fixture, loaded by kernelnet and written back, has Keras' layout: the
    same layer configs and graph, the same HDF5 groups, datasets, shapes and names."""
    import io

    model = keras_io.load_keras_model(FIXTURES / f"{name}.keras", compile=False)
    model.save(tmp_path / "m.keras")
    model.save(tmp_path / "m.h5")
    model.save_weights(tmp_path / "m.weights.h5")
    with zipfile.ZipFile(tmp_path / "m.keras") as ours, \
            zipfile.ZipFile(FIXTURES / f"{name}.keras") as theirs:
        mine, keras = (json.loads(z.read("config.json")) for z in (ours, theirs))
        weights = [io.BytesIO(z.read("model.weights.h5")) for z in (ours, theirs)]
    assert _normalized(mine) == _normalized(_in_order_of(mine, keras))
    assert _h5_tree(weights[0]) == _h5_tree(weights[1])
    assert _h5_tree(tmp_path / "m.weights.h5") == _h5_tree(FIXTURES / f"{name}.weights.h5")
    with h5py.File(tmp_path / "m.h5", "r") as ours, h5py.File(FIXTURES / f"{name}.h5") as keras:
        assert _h5_tree(ours["model_weights"]) == _h5_tree(keras["model_weights"])
        mine = json.loads(ours.attrs["model_config"])
        assert _normalized(mine) == _normalized(
            _in_order_of(mine, json.loads(keras.attrs["model_config"])))
