"""preprocess_input / decode_predictions / Keras weight files for the applications."""

import hashlib
import io
import json
import urllib.error

import numpy as np
import pytest

from kernelnet import applications
from kernelnet.applications import imagenet_utils, resnet
from kernelnet.datasets import _cache


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("KERNELNET_HOME", str(tmp_path))
    monkeypatch.setattr(imagenet_utils, "_CLASS_INDEX", None)
    (tmp_path / "models").mkdir()
    return tmp_path


def test_preprocess_input_caffe_matches_keras_formula(rng):
    x = rng.uniform(0, 255, (2, 4, 5, 3)).astype("float32")
    expected = x[..., ::-1] - np.array([103.939, 116.779, 123.68], dtype="float32")
    out = resnet.preprocess_input(x.copy())
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_preprocess_input_uint8_and_other_modes():
    x = np.full((1, 2, 2, 3), 255, dtype=np.uint8)
    assert imagenet_utils.preprocess_input(x, mode="tf").max() == 1.0
    torch_mode = imagenet_utils.preprocess_input(x, mode="torch")
    np.testing.assert_allclose(torch_mode[0, 0, 0], (1 - np.array([0.485, 0.456, 0.406]))
                               / np.array([0.229, 0.224, 0.225]), rtol=1e-6)
    with pytest.raises(ValueError, match="Received: mode='bgr'"):
        imagenet_utils.preprocess_input(x, mode="bgr")


def test_decode_predictions_reads_keras_class_index(home):
    index = {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}
    (home / "models" / "imagenet_class_index.json").write_text(json.dumps(index))
    preds = np.zeros((2, 1000), dtype="float32")
    preds[0, [7, 3, 999]] = [0.5, 0.3, 0.2]
    preds[1, 42] = 1.0
    decoded = applications.resnet.decode_predictions(preds, top=3)
    assert [d[:2] for d in decoded[0]] == [("n00000007", "class_7"), ("n00000003", "class_3"),
                                          ("n00000999", "class_999")]
    assert decoded[1][0][1] == "class_42" and len(decoded[1]) == 3
    with pytest.raises(ValueError, match=r"with shape: \(2, 10\)"):
        imagenet_utils.decode_predictions(np.zeros((2, 10)))


def test_offline_error_names_the_path_and_file(home, monkeypatch):
    def offline(url, timeout=None):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(_cache, "_urlopen", offline)
    with pytest.raises(FileNotFoundError, match="resnet50_weights_tf_dim_ordering_tf_kernels"
                                                "_notop.h5") as info:
        applications.ResNet50(include_top=False, weights="imagenet")
    assert str(home / "models") in str(info.value)


class _FakeResponse(io.BytesIO):
    headers = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_get_file_downloads_and_checks_md5(home, monkeypatch):
    payload = b"weights bytes"
    monkeypatch.setattr(_cache, "_urlopen", lambda url, timeout=None: _FakeResponse(payload))
    good = hashlib.md5(payload).hexdigest()  # noqa: S324
    with pytest.raises(ValueError, match="expected MD5 0000"):
        imagenet_utils.get_file("a.h5", "https://example.invalid/a.h5", "0" * 32)
    assert not (home / "models" / "a.h5").exists()
    path = imagenet_utils.get_file("a.h5", "https://example.invalid/a.h5", good)
    assert path == home / "models" / "a.h5" and path.read_bytes() == payload


def _write_keras2_weights(model, path):
    """Writes `model`'s weights in Keras 2's legacy HDF5 layout (`conv1_conv/kernel:0`)."""
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w") as f:
        names = []
        for layer in model.layers:
            group = f.create_group(layer.name)
            wnames = [f"{n}:0".encode() for n in layer.weight_names]
            for wname, w in zip(wnames, layer.weights):
                group.create_dataset(wname.decode(), data=w)
            group.attrs["weight_names"] = wnames
            names.append(layer.name.encode())
        f.attrs["layer_names"] = names


def test_vgg16_imagenet_weights_load_by_keras_file_name(home):
    source = applications.VGG16(include_top=False, weights=None)
    _write_keras2_weights(source, home / "models" /
                          "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5")
    model = applications.VGG16(include_top=False, weights="imagenet")
    for a, b in zip(source.weights, model.weights):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_resnet50_imagenet_weights_load_by_keras_file_name(home):
    source = applications.ResNet50(include_top=False, weights=None)
    _write_keras2_weights(source, home / "models" /
                          "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5")
    model = applications.ResNet50(include_top=False, weights="imagenet")
    for a, b in zip(source.weights, model.weights):
        np.testing.assert_array_equal(a, b)


def test_weights_file_path(tmp_path):
    source = applications.ResNet18(weights=None, include_top=False, input_shape=(32, 32, 3))
    path = tmp_path / "r18.weights.h5"
    _write_keras2_weights(source, path)
    model = applications.ResNet18(weights=str(path), include_top=False, input_shape=(32, 32, 3))
    assert model.count_params() == source.count_params()
    for a, b in zip(source.weights, model.weights):
        np.testing.assert_array_equal(a, b)
