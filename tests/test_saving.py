import json
import zipfile

import numpy as np
import pytest

from kernelnet import layers
from kernelnet.models import Sequential, load_model


def make_model():
    model = Sequential([
        layers.Conv2D(4, 3, activation="relu", input_shape=(6, 6, 1)),
        layers.BatchNormalization(),
        layers.Flatten(),
        layers.Dense(3, activation="softmax"),
    ])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["acc"])
    return model


@pytest.mark.parametrize("suffix", [".kn", ".keras", ".zip", ""])
def test_save_load_predict_round_trip(tmp_path, rng, suffix):
    model = make_model()
    x = rng.random((8, 6, 6, 1)).astype("float32")
    model.fit(x, rng.integers(0, 3, 8), epochs=1, verbose=0)
    path = tmp_path / f"model{suffix}"
    model.save(path)
    loaded = load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=1e-6)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]


def test_training_continues_after_reload(tmp_path, rng):
    model = make_model()
    x, y = rng.random((16, 6, 6, 1)).astype("float32"), rng.integers(0, 3, 16)
    model.fit(x, y, epochs=2, verbose=0)
    model.save(tmp_path / "m.kn")
    loaded = load_model(tmp_path / "m.kn")
    assert loaded.optimizer.iterations == model.optimizer.iterations
    hist = loaded.fit(x, y, epochs=2, verbose=0)
    assert len(hist.history["loss"]) == 2


def test_file_has_no_pickle_and_is_json_plus_npz(tmp_path):
    model = make_model()
    model.save(tmp_path / "m.kn")
    with zipfile.ZipFile(tmp_path / "m.kn") as zf:
        names = set(zf.namelist())
        config = json.loads(zf.read("config.json"))
    assert {"config.json", "weights.npz"} <= names
    assert config["format"] == "kernelnet" and config["class_name"] == "Sequential"


def test_weights_round_trip_and_mismatch(tmp_path):
    model = make_model()
    model.save_weights(tmp_path / "w.npz")
    other = make_model()
    other.load_weights(tmp_path / "w.npz")
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)
    wrong = Sequential([
        layers.Conv2D(4, 3, activation="relu", input_shape=(6, 6, 3)),
        layers.BatchNormalization(),
        layers.Flatten(),
        layers.Dense(3, activation="softmax"),
    ])
    with pytest.raises(ValueError, match=r"weight 'kernel': the file has \(3, 3, 1, 4\) but the "
                                         r"layer has \(3, 3, 3, 4\)"):
        wrong.load_weights(tmp_path / "w.npz")
    with pytest.raises(ValueError, match="holds 8 arrays but model .* has 2 weights"):
        Sequential([layers.Dense(2, input_shape=(3,))]).load_weights(tmp_path / "w.npz")


def test_corrupt_and_foreign_files(tmp_path):
    junk = tmp_path / "junk.kn"
    junk.write_bytes(b"not a model at all")
    with pytest.raises(ValueError, match="is not a model file kernelnet can read"):
        load_model(junk)
    model = make_model()
    model.save(tmp_path / "m.kn")
    data = (tmp_path / "m.kn").read_bytes()
    (tmp_path / "cut.kn").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError):
        load_model(tmp_path / "cut.kn")
    with pytest.raises(FileNotFoundError, match="No file or directory found"):
        load_model(tmp_path / "missing.kn")


def test_failed_save_leaves_no_file(tmp_path, monkeypatch):
    from kernelnet import saving

    model = make_model()

    def boom(arrays):
        raise RuntimeError("disk full")

    monkeypatch.setattr(saving, "_npz_bytes", boom)
    with pytest.raises(RuntimeError):
        model.save(tmp_path / "m.kn")
    assert list(tmp_path.iterdir()) == []


def test_unknown_class_in_config_is_not_executed(tmp_path):
    model = make_model()
    model.save(tmp_path / "m.kn")
    with zipfile.ZipFile(tmp_path / "m.kn") as zf:
        config = json.loads(zf.read("config.json"))
        weights = zf.read("weights.npz")
    config["config"]["layers"][0]["class_name"] = "os.system"
    with zipfile.ZipFile(tmp_path / "evil.kn", "w") as zf:
        zf.writestr("config.json", json.dumps(config))
        zf.writestr("weights.npz", weights)
    with pytest.raises(ValueError, match="Unknown layer 'os.system'"):
        load_model(tmp_path / "evil.kn")


def test_frozen_layers_stay_frozen_after_reload(tmp_path):
    model = make_model()
    model.layers[0].trainable = False
    model.save(tmp_path / "m.kn")
    loaded = load_model(tmp_path / "m.kn")
    assert [layer.trainable for layer in loaded.layers] == [False, True, True, True]
    assert len(loaded.trainable_weights) == len(model.trainable_weights)


def test_training_state_is_saved_with_the_optimizer(tmp_path):
    from kernelnet import saving

    model = make_model()
    model.save(tmp_path / "with.kn")
    model.save(tmp_path / "without.kn", include_optimizer=False)
    assert saving.has_training_state(tmp_path / "with.kn")
    assert not saving.has_training_state(tmp_path / "without.kn")
    assert not saving.has_training_state(tmp_path / "missing.kn")
