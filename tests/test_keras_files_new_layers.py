"""Keras files both ways for the vision layers and applications (issue 15 item 4).

One Keras 3 subprocess (torch backend, CPU) does everything Keras does here, to pay the Keras
import once: it loads the `.keras`, `.h5` and `.weights.h5` files kernelnet wrote for models
holding every depthwise/separable/transposed/grouped/1D convolution, pooling, regularization,
normalization and preprocessing layer and for small configs of the applications, and predicts;
and it builds the same kinds of models (and the applications, through `keras.applications`),
writes its own three files for each and predicts. The tests compare both sides' predictions
(inference mode: random preprocessing layers are the identity) to float32 tolerance.
Keras and torch come with the `test` extra; without them the tests fail, they do not skip.
"""

import json
import zipfile

import numpy as np
import pytest
from helpers import run_with_keras

from kernelnet import applications, keras_io
from kernelnet import layers as L
from kernelnet.models import Model, Sequential, load_model

h5py = pytest.importorskip("h5py")


def _conv_variants():
    """Depthwise, separable, transposed and grouped convolutions with the noise layers."""
    return Sequential([
        L.Input((10, 10, 4)),
        L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu"),
        L.SeparableConv2D(6, 3, strides=2, depth_multiplier=2, padding="same"),
        L.GroupNormalization(groups=3, epsilon=1e-4),
        L.Conv2DTranspose(6, 3, strides=2, output_padding=1, activation="tanh"),
        L.Conv2D(6, 3, groups=3, use_bias=False),
        L.GroupNormalization(groups=2, center=False),
        L.SpatialDropout2D(0.3),
        L.GaussianNoise(0.5),
        L.GaussianDropout(0.4),
        L.Identity(),
        L.SeparableConv2D(6, 2, dilation_rate=2, padding="same", activation="relu"),
        L.ReLU(max_value=2.0, negative_slope=0.1, threshold=0.1),
        L.DepthwiseConv2D((2, 3), strides=(2, 1), use_bias=False),
        L.GlobalMaxPooling2D(),
    ], name="conv_variants")


def _conv_1d():
    """Conv1D, the 1D poolings, and both global 1D poolings as two heads."""
    inp = L.Input((16, 3), name="seq")
    x = L.Conv1D(6, 3, padding="causal", activation="relu", name="c1")(inp)
    x = L.MaxPooling1D(2, name="mp")(x)
    x = L.Conv1D(8, 2, strides=2, padding="same", name="c2")(x)
    x = L.AveragePooling1D(3, strides=1, padding="same", name="ap")(x)
    x = L.Conv1D(8, 3, dilation_rate=2, groups=2, padding="same", name="c3")(x)
    a = L.GlobalAveragePooling1D(name="gap")(x)
    b = L.GlobalMaxPooling1D(name="gmp")(x)
    return Model(inp, [L.Dense(3, name="head_a")(a), L.Dense(2, name="head_b")(b)],
                 name="conv_1d")


def _preprocessing():
    """Every preprocessing layer, then a small convolutional head."""
    adapted = L.Normalization(name="adapted")
    return Sequential([
        L.Input((12, 14, 3)),
        L.Rescaling(1 / 4.0, offset=0.5),
        L.Normalization(mean=[0.1, 0.2, 0.3], variance=[1.0, 2.0, 0.5], name="fixed"),
        adapted,
        L.Normalization(mean=[0.5, -0.5, 1.0], variance=[2.0, 0.5, 1.0], invert=True,
                        name="inverted"),
        L.Resizing(10, 10),
        L.Resizing(9, 11, interpolation="nearest", crop_to_aspect_ratio=True),
        L.CenterCrop(8, 9),
        L.RandomCrop(8, 9),
        L.RandomFlip(),
        L.RandomRotation(0.2),
        L.RandomZoom(0.1, 0.2),
        L.RandomTranslation(0.1, 0.2),
        L.RandomContrast(0.3),
        L.RandomBrightness(0.2),
        L.Conv2D(4, 3),
        L.Flatten(),
        L.Dense(3),
    ], name="preprocessing")


def _broadcast_merge():
    """EfficientNet's squeeze-and-excitation: Multiply of (h, w, c) by (1, 1, c)."""
    inp = L.Input((6, 6, 4), name="image")
    x = L.Conv2D(4, 3, padding="same", name="conv")(inp)
    se = L.GlobalAveragePooling2D(name="se_squeeze")(x)
    se = L.Reshape((1, 1, 4), name="se_reshape")(se)
    se = L.Conv2D(4, 1, activation="sigmoid", name="se_expand")(se)
    x = L.Multiply(name="se_excite")([x, se])
    x = L.Add(name="add")([x, se])
    return Model(inp, L.GlobalAveragePooling2D(name="gap")(x), name="broadcast_merge")


# name: (kernelnet factory taking `weights`, input shape); the same call in Keras is APPS_KERAS.
APPS = {
    "mobilenet_v2": (lambda w: applications.MobileNetV2(
        (32, 32, 3), alpha=0.35, weights=w, classes=5, classifier_activation=None), (32, 32, 3)),
    "efficientnet_b0": (lambda w: applications.EfficientNetB0(
        weights=w, input_shape=(32, 32, 3), classes=5, classifier_activation=None), (32, 32, 3)),
    "xception": (lambda w: applications.Xception(
        weights=w, include_top=False, pooling="avg", input_shape=(71, 71, 3)), (71, 71, 3)),
    "densenet121": (lambda w: applications.DenseNet121(
        weights=w, input_shape=(32, 32, 3), classes=5, classifier_activation=None), (32, 32, 3)),
    "resnet50v2": (lambda w: applications.ResNet50V2(
        weights=w, input_shape=(32, 32, 3), classes=5, classifier_activation=None), (32, 32, 3)),
    "vgg19": (lambda w: applications.VGG19(
        weights=w, include_top=False, pooling="max", input_shape=(32, 32, 3)), (32, 32, 3)),
}
APPS_KERAS = {
    "mobilenet_v2": "MobileNetV2((32, 32, 3), alpha=0.35, weights=None, classes=5, "
                    "classifier_activation=None)",
    "efficientnet_b0": "EfficientNetB0(weights=None, input_shape=(32, 32, 3), classes=5, "
                       "classifier_activation=None)",
    "xception": "Xception(weights=None, include_top=False, pooling='avg', "
                "input_shape=(71, 71, 3))",
    "densenet121": "DenseNet121(weights=None, input_shape=(32, 32, 3), classes=5, "
                   "classifier_activation=None)",
    "resnet50v2": "ResNet50V2(weights=None, input_shape=(32, 32, 3), classes=5, "
                  "classifier_activation=None)",
    "vgg19": "VGG19(weights=None, include_top=False, pooling='max', input_shape=(32, 32, 3))",
}
LAYER_MODELS = {
    "conv_variants": (_conv_variants, [(3, 10, 10, 4)]),
    "conv_1d": (_conv_1d, [(3, 16, 3)]),
    "preprocessing": (_preprocessing, [(3, 12, 14, 3)]),
    "broadcast_merge": (_broadcast_merge, [(3, 6, 6, 4)]),
}
# The other members of the application families (the same builders with more blocks or wider
# layers): written by kernelnet as .keras and loaded by Keras in the slow extra only.
FAMILY = ("ResNet101", "ResNet152", "ResNet101V2", "ResNet152V2", "DenseNet169", "DenseNet201",
          "EfficientNetB1", "EfficientNetB2", "EfficientNetB3")
# kernelnet writes: the layer models, and every application (small configs above)
WRITTEN = {**LAYER_MODELS, **{n: (lambda f=f: f(None), [(2, *s)]) for n, (f, s) in APPS.items()},
           **{n.lower(): (lambda n=n: getattr(applications, n)(
               weights=None, include_top=False, pooling="avg", input_shape=(32, 32, 3)),
               [(2, 32, 32, 3)]) for n in FAMILY}}
FORMATS = ("keras", "h5", "weights.h5")
# What Keras loads of kernelnet's files in the default suite: every format of the layer models
# and of MobileNetV2, one format of each other application (Keras builds each application in
# seconds); the slow extra `test_real_keras_loads_every_application_file` loads the rest.
ROTATION = {"efficientnet_b0": "keras", "xception": "weights.h5", "densenet121": "h5",
            "resnet50v2": "keras", "vgg19": "weights.h5"}
LOADED = {**{n: FORMATS for n in [*LAYER_MODELS, "mobilenet_v2"]},
          **{n: (f,) for n, f in ROTATION.items()}}
REST = {**{n: tuple(f for f in FORMATS if f != fmt) for n, fmt in ROTATION.items()},
        **{n.lower(): ("keras",) for n in FAMILY}}

# Keras builds the layer models with the same code: kernelnet's layer arguments are Keras'.
KERAS_LAYER_MODELS = r'''
def conv_variants():
    return keras.Sequential([
        keras.Input((10, 10, 4)),
        L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu"),
        L.SeparableConv2D(6, 3, strides=2, depth_multiplier=2, padding="same"),
        L.GroupNormalization(groups=3, epsilon=1e-4),
        L.Conv2DTranspose(6, 3, strides=2, output_padding=1, activation="tanh"),
        L.Conv2D(6, 3, groups=3, use_bias=False),
        L.GroupNormalization(groups=2, center=False),
        L.SpatialDropout2D(0.3), L.GaussianNoise(0.5), L.GaussianDropout(0.4), L.Identity(),
        L.SeparableConv2D(6, 2, dilation_rate=2, padding="same", activation="relu"),
        L.ReLU(max_value=2.0, negative_slope=0.1, threshold=0.1),
        L.DepthwiseConv2D((2, 3), strides=(2, 1), use_bias=False),
        L.GlobalMaxPooling2D(),
    ], name="conv_variants")


def conv_1d():
    inp = keras.Input((16, 3), name="seq")
    x = L.Conv1D(6, 3, padding="causal", activation="relu", name="c1")(inp)
    x = L.MaxPooling1D(2, name="mp")(x)
    x = L.Conv1D(8, 2, strides=2, padding="same", name="c2")(x)
    x = L.AveragePooling1D(3, strides=1, padding="same", name="ap")(x)
    x = L.Conv1D(8, 3, dilation_rate=2, groups=2, padding="same", name="c3")(x)
    a = L.GlobalAveragePooling1D(name="gap")(x)
    b = L.GlobalMaxPooling1D(name="gmp")(x)
    return keras.Model(inp, [L.Dense(3, name="head_a")(a), L.Dense(2, name="head_b")(b)],
                       name="conv_1d")


def preprocessing():
    return keras.Sequential([
        keras.Input((12, 14, 3)),
        L.Rescaling(1 / 4.0, offset=0.5),
        L.Normalization(mean=[0.1, 0.2, 0.3], variance=[1.0, 2.0, 0.5], name="fixed"),
        L.Normalization(name="adapted"),
        L.Normalization(mean=[0.5, -0.5, 1.0], variance=[2.0, 0.5, 1.0], invert=True,
                        name="inverted"),
        L.Resizing(10, 10),
        L.Resizing(9, 11, interpolation="nearest", crop_to_aspect_ratio=True),
        L.CenterCrop(8, 9), L.RandomCrop(8, 9), L.RandomFlip(),
        L.RandomRotation(0.2), L.RandomZoom(0.1, 0.2), L.RandomTranslation(0.1, 0.2),
        L.RandomContrast(0.3), L.RandomBrightness(0.2),
        L.Conv2D(4, 3), L.Flatten(), L.Dense(3),
    ], name="preprocessing")


def broadcast_merge():
    inp = keras.Input((6, 6, 4), name="image")
    x = L.Conv2D(4, 3, padding="same", name="conv")(inp)
    se = L.GlobalAveragePooling2D(name="se_squeeze")(x)
    se = L.Reshape((1, 1, 4), name="se_reshape")(se)
    se = L.Conv2D(4, 1, activation="sigmoid", name="se_expand")(se)
    x = L.Multiply(name="se_excite")([x, se])
    x = L.Add(name="add")([x, se])
    return keras.Model(inp, L.GlobalAveragePooling2D(name="gap")(x), name="broadcast_merge")
'''

KERAS_SCRIPT = r'''
import json, sys, traceback
import numpy as np
import keras
from keras import layers as L

root = sys.argv[1]
spec = json.load(open(f"{root}/spec.json"))
report = {"load": {}, "write": {}}

# 1. kernelnet's files -> Keras
for name, info in spec["written"].items():
    with np.load(f"{root}/kn/{name}.inputs.npz") as data:
        xs = [data[f"x{i}"] for i in range(len(data.files))]
    x = xs if len(xs) > 1 else xs[0]
    for fmt in info:
        key = f"{name}.{fmt}"
        try:
            if fmt == "weights.h5":      # a fresh (random) Keras model from the config
                model = keras.models.model_from_json(open(f"{root}/kn/{name}.json").read())
                model.load_weights(f"{root}/kn/{key}")
            else:
                model = keras.models.load_model(f"{root}/kn/{key}")
            y = model.predict(x, verbose=0)
            np.savez(f"{root}/kn/{key}.keras_out.npz", *(y if isinstance(y, list) else [y]))
            report["load"][key] = {"params": int(model.count_params())}
        except Exception:
            report["load"][key] = {"error": traceback.format_exc()[-3000:]}

# 2. Keras writes its own files
''' + KERAS_LAYER_MODELS + r'''


def randomize(model, rng):
    """Non-trivial normalization weights (statistics included), as a trained model has."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            randomize(layer, rng)
            continue
        if not isinstance(layer, (L.BatchNormalization, L.GroupNormalization,
                                  L.Normalization)) or not layer.weights:
            continue
        new = []
        for w in layer.weights:
            shape, leaf = tuple(w.shape), w.path.split("/")[-1]
            if leaf == "count":
                new.append(np.asarray(w.numpy()))
            elif "variance" in leaf or "gamma" in leaf:
                new.append(rng.uniform(0.5, 2.0, shape).astype("float32"))
            else:
                new.append(rng.normal(0.0, 0.3, shape).astype("float32"))
        layer.set_weights(new)
        if isinstance(layer, L.Normalization):
            layer.finalize_state()


rng = np.random.default_rng(7)
keras.utils.set_random_seed(7)
for name, shape in spec["keras"].items():
    try:
        if name in spec["apps"]:
            model = eval("keras.applications." + spec["apps"][name])
        else:
            model = globals()[name]()
        randomize(model, rng)
        x = rng.normal(size=(2, *shape)).astype("float32")
        model.save(f"{root}/keras/{name}.keras")
        if name != "preprocessing":      # Keras cannot write RandomBrightness to .h5
            model.save(f"{root}/keras/{name}.h5")
        model.save_weights(f"{root}/keras/{name}.weights.h5")
        y = model.predict(x, verbose=0)
        np.savez(f"{root}/keras/{name}.npz", x, *(y if isinstance(y, list) else [y]))
        report["write"][name] = {"params": int(model.count_params())}
    except Exception:
        report["write"][name] = {"error": traceback.format_exc()[-3000:]}
json.dump(report, open(f"{root}/report.json", "w"))
'''


def _randomize(model, rng):
    """kernelnet's counterpart of the script's `randomize` (for the files kernelnet writes)."""
    for layer in model.layers:
        if hasattr(layer, "_nodes"):
            _randomize(layer, rng)
        elif isinstance(layer, (L.BatchNormalization, L.GroupNormalization, L.Normalization)):
            new = []
            for w in layer._weights:
                if w.name == "count":
                    new.append(w.value)
                elif "variance" in w.name or "gamma" in w.name:
                    new.append(rng.uniform(0.5, 2.0, w.value.shape))
                else:
                    new.append(rng.normal(0.0, 0.3, w.value.shape))
            if new:
                layer.set_weights(new)


def _run_keras(root, written, keras_models):
    """kernelnet writes `written` ({name: formats}); one Keras subprocess loads those files and
    writes its own for `keras_models`. Returns (root, kernelnet's predictions, Keras' report)."""
    (root / "kn").mkdir()
    (root / "keras").mkdir()
    rng = np.random.default_rng(0)
    expected = {}
    for name, formats in written.items():
        factory, shapes = WRITTEN[name]
        model = factory()
        _randomize(model, rng)
        xs = [rng.normal(size=s).astype("float32") for s in shapes]
        y = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
        expected[name] = (y if isinstance(y, list) else [y], model.count_params())
        np.savez(root / "kn" / f"{name}.inputs.npz", **{f"x{i}": x for i, x in enumerate(xs)})
        for fmt in formats:
            save = model.save_weights if fmt == "weights.h5" else model.save
            save(root / "kn" / f"{name}.{fmt}")
        (root / "kn" / f"{name}.json").write_text(json.dumps(keras_io.model_config(model)))
    shapes = {**{n: s[0][1:] for n, (_, s) in LAYER_MODELS.items()},
              **{n: s for n, (_, s) in APPS.items()}}
    spec = {"written": written, "apps": APPS_KERAS,
            "keras": {n: shapes[n] for n in keras_models}}
    (root / "spec.json").write_text(json.dumps(spec))
    (root / "run.py").write_text(KERAS_SCRIPT)
    run_with_keras([str(root / "run.py"), str(root)], root, timeout=900)
    return root, expected, json.loads((root / "report.json").read_text())


@pytest.fixture(scope="module")
def keras_run(tmp_path_factory):
    return _run_keras(tmp_path_factory.mktemp("keras_files"), LOADED, [*LAYER_MODELS, *APPS])


def _close(got, want, what):
    """float32 agreement relative to the output's scale; names the worst difference."""
    assert len(got) == len(want), f"{what}: {len(got)} outputs, expected {len(want)}"
    for i, (a, b) in enumerate(zip(got, want)):
        assert a.shape == b.shape, f"{what} output {i}: shape {a.shape}, expected {b.shape}"
        tolerance = 1e-4 * float(np.abs(b).max()) + 1e-6
        diff = float(np.abs(a - b).max())
        assert diff <= tolerance, f"{what} output {i}: max |diff| = {diff:.3g} > {tolerance:.3g}"


def _npz(path, skip=0):
    with np.load(path) as data:
        return [data[f"arr_{i}"] for i in range(skip, len(data.files))]


def _check_keras_loaded(run, name, fmt):
    root, expected, report = run
    entry = report["load"][f"{name}.{fmt}"]
    assert "error" not in entry, f"Keras could not load {name}.{fmt}:\n{entry.get('error')}"
    ys, params = expected[name]
    assert entry["params"] == params
    _close(_npz(root / "kn" / f"{name}.{fmt}.keras_out.npz"), ys, f"Keras on {name}.{fmt}")


@pytest.mark.parametrize("name,fmt", [(n, f) for n, fs in LOADED.items() for f in fs])
def test_real_keras_loads_kernelnet_files(keras_run, name, fmt):
    _check_keras_loaded(keras_run, name, fmt)


@pytest.mark.slow
def test_real_keras_loads_every_application_file(tmp_path):
    """The application formats the default suite leaves out, and the larger family members
    (a second Keras subprocess; about 3 minutes)."""
    run = _run_keras(tmp_path, REST, [])
    for name, formats in REST.items():
        for fmt in formats:
            _check_keras_loaded(run, name, fmt)


def _keras_written(keras_run, name):
    root, _, report = keras_run
    entry = report["write"][name]
    assert "error" not in entry, f"Keras could not write {name}:\n{entry.get('error')}"
    with np.load(root / "keras" / f"{name}.npz") as data:
        x = data["arr_0"]
    return root / "keras" / name, x, _npz(root / "keras" / f"{name}.npz", skip=1), entry


def _predict(model, x):
    y = model.predict(x, verbose=0)
    return y if isinstance(y, list) else [y]


# Keras 3.15.1 itself cannot write RandomBrightness to .h5 (`model.save` fails deep-copying
# the layer), so the preprocessing model is read from Keras' .keras file only.
@pytest.mark.parametrize("name,fmt", [(n, f) for n in [*LAYER_MODELS, *APPS]
                                      for f in ("keras", "h5")
                                      if (n, f) != ("preprocessing", "h5")])
def test_kernelnet_loads_keras_written_models(keras_run, name, fmt):
    stem, x, y, entry = _keras_written(keras_run, name)
    model = load_model(f"{stem}.{fmt}")
    assert model.count_params() == entry["params"]
    _close(_predict(model, x), y, f"kernelnet on Keras' {name}.{fmt}")


@pytest.mark.parametrize("name", list(LAYER_MODELS))
def test_kernelnet_loads_keras_written_weights(keras_run, name):
    """Keras' `.weights.h5` into a fresh model built from the `.keras` file's config."""
    stem, x, y, _ = _keras_written(keras_run, name)
    with zipfile.ZipFile(f"{stem}.keras") as zf:
        model = keras_io.model_from_keras_config(json.loads(zf.read("config.json")))
    model.load_weights(f"{stem}.weights.h5")
    _close(_predict(model, x), y, f"kernelnet with Keras' {name}.weights.h5")


@pytest.mark.parametrize("fmt", ["weights.h5", "h5"])
@pytest.mark.parametrize("name", list(APPS))
def test_applications_take_keras_written_weights(keras_run, name, fmt):
    """`applications.X(weights=path)` with Keras' files: `.weights.h5` (Keras' layer order)
    and the full-model `.h5` (matched by layer name, as the ImageNet files are)."""
    stem, x, y, entry = _keras_written(keras_run, name)
    model = APPS[name][0](f"{stem}.{fmt}")
    assert model.count_params() == entry["params"]
    _close(_predict(model, x), y, f"{name}(weights=Keras' {fmt})")


# ------------------------------------------------------------- in-process checks (no Keras)
@pytest.mark.parametrize("fmt", ["keras", "h5"])
@pytest.mark.parametrize("name", list(LAYER_MODELS))
def test_kernelnet_reads_back_the_new_layers(name, fmt, tmp_path, rng):
    factory, shapes = LAYER_MODELS[name]
    model = factory()
    _randomize(model, rng)
    xs = [rng.normal(size=s).astype("float32") for s in shapes]
    x = xs if len(xs) > 1 else xs[0]
    model.save(tmp_path / f"m.{fmt}")
    _close(_predict(load_model(tmp_path / f"m.{fmt}"), x), _predict(model, x), "read back")
    model.save_weights(tmp_path / "m.weights.h5")
    fresh = factory()
    fresh.load_weights(tmp_path / "m.weights.h5")
    _close(_predict(fresh, x), _predict(model, x), "weights read back")


def test_keras_only_keys_are_written_and_trainable_is_not_for_spatial_dropout(tmp_path):
    """Keras' SpatialDropout2D takes no `trainable` (its __init__ has no **kwargs): writing
    it would make Keras refuse the file; the separable convolution gets Keras' extra keys."""
    model = _conv_variants()
    config = keras_io.model_config(model)["config"]["layers"]
    by_class = {e["class_name"]: e["config"] for e in config}
    assert "trainable" not in by_class["SpatialDropout2D"]
    assert by_class["SeparableConv2D"]["pointwise_regularizer"] is None
    assert by_class["DepthwiseConv2D"]["depthwise_constraint"] is None
    assert by_class["GroupNormalization"]["gamma_regularizer"] is None
