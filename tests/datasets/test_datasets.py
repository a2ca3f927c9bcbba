"""Dataset loaders on small files written in the publishers' real formats; never downloads."""

import gzip
import hashlib
import io
import os
import pickle
import re
import struct
import tarfile
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from kernelnet.datasets import _cache, _formats, cifar10, cifar100, fashion_mnist, mnist


@pytest.fixture(autouse=True)
def offline_home(tmp_path, monkeypatch):
    """KERNELNET_HOME -> tmp_path, and any download attempt fails like a machine offline."""
    monkeypatch.setenv("KERNELNET_HOME", str(tmp_path))

    def no_network(url, timeout=None):
        raise urllib.error.URLError("offline (test)")

    monkeypatch.setattr(_cache, "_urlopen", no_network)
    return tmp_path / "datasets"


def idx_bytes(array, type_byte=0x08):
    header = bytes([0, 0, type_byte, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(">u1").tobytes()


def write_idx_folder(folder, rng, n_train=6, n_test=4):
    folder.mkdir(parents=True)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for name, a in arrays.items():
        with gzip.open(folder / name, "wb") as f:
            f.write(idx_bytes(a))
    return arrays


def test_idx_header_uses_real_magic_numbers(rng):
    images = rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)
    data = idx_bytes(images)
    assert data[:4] == b"\x00\x00\x08\x03"  # 0x00000803, MNIST images
    assert idx_bytes(np.arange(3, dtype=np.uint8))[:4] == b"\x00\x00\x08\x01"
    np.testing.assert_array_equal(_formats.parse_idx(data), images)


def test_idx_rejects_bad_magic_and_truncation(rng):
    data = idx_bytes(rng.integers(0, 256, (3, 28, 28), dtype=np.uint8))
    with pytest.raises(ValueError, match="not an IDX file"):
        _formats.parse_idx(b"PK\x03\x04" + data[4:])
    with pytest.raises(ValueError, match="truncated or corrupted"):
        _formats.parse_idx(data[:-5])


@pytest.mark.parametrize("cut", [5, 8, 15])
def test_idx_header_cut_inside_the_sizes_names_the_byte_counts(rng, cut):
    data = idx_bytes(rng.integers(0, 256, (3, 28, 28), dtype=np.uint8))
    with pytest.raises(ValueError, match=rf"^x\.idx is truncated or corrupted: its header "
                       rf"announces 3 dimension\(s\), so the header alone needs 16 bytes\. "
                       rf"Received: {cut} bytes\."):
        _formats.parse_idx(data[:cut], "x.idx")


def test_mnist_shipped_copy_has_keras_shapes(offline_home):
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (60000,) and y_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    assert set(np.unique(y_train)) == set(range(10))
    assert not offline_home.exists()  # nothing downloaded, nothing written


def test_mnist_prefers_npz_in_home(offline_home, rng):
    offline_home.mkdir(parents=True)
    x = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    y = np.arange(5, dtype=np.uint8)
    np.savez(offline_home / "mnist.npz", x_train=x, y_train=y, x_test=x[:2], y_test=y[:2])
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    np.testing.assert_array_equal(x_train, x)
    np.testing.assert_array_equal(y_test, y[:2])


def _npz_blob(**arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _npy_blob():
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(3))
    return buffer.getvalue()


NPZ_CASES = {
    "garbage": (lambda: b"\x00garbage bytes, not an archive",
                r"NumPy cannot read it as an npz archive\. .* Received: a file starting with "
                r"bytes b'\\x00garbage'"),
    "npy": (_npy_blob,
            r"it holds a single array \(a \.npy file\)\. .* Received: an array of shape \(3,\)"),
    "missing": (lambda: _npz_blob(x=np.zeros(2), y_train=np.zeros(2)),
                r"x_train, x_test, y_test missing\. .* Received: keys \['x', 'y_train'\]\."),
    "objects": (lambda: _npz_blob(x_train=np.array([{}], dtype=object), y_train=np.zeros(1),
                                  x_test=np.zeros(1), y_test=np.zeros(1)),
                r"pickled Python objects, which kernelnet never loads"),
    "cut": (lambda: _npz_blob(x_train=np.zeros(99), y_train=np.zeros(1), x_test=np.zeros(1),
                              y_test=np.zeros(1))[:300],
            r"it is a truncated or corrupted zip archive\. .* Received: BadZipFile"),
}


@pytest.mark.parametrize("kind", sorted(NPZ_CASES))
def test_mnist_bad_npz_is_a_value_error_naming_file_and_keys(offline_home, kind):
    make, match = NPZ_CASES[kind]
    offline_home.mkdir(parents=True)
    (offline_home / "mnist.npz").write_bytes(make())
    with pytest.raises(ValueError) as info:
        mnist.load_data()
    message = str(info.value)
    assert message.startswith(f"{str(offline_home / 'mnist.npz')!r} is not a usable MNIST npz")
    assert "arrays x_train, y_train, x_test, y_test" in message
    assert re.search(match, message), message
    assert "allow_pickle" not in message


def test_mnist_reads_idx_files(offline_home, rng):
    arrays = write_idx_folder(offline_home / "mnist", rng)
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    np.testing.assert_array_equal(x_train, arrays["train-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(y_test, arrays["t10k-labels-idx1-ubyte.gz"])
    assert x_train.dtype == np.uint8 and x_train.shape == (6, 28, 28)


def test_fashion_mnist_reads_idx_files(offline_home, rng):
    arrays = write_idx_folder(offline_home / "fashion-mnist", rng)
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    np.testing.assert_array_equal(x_test, arrays["t10k-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(y_train, arrays["train-labels-idx1-ubyte.gz"])


def test_fashion_mnist_offline_names_paths_and_files(offline_home):
    with pytest.raises(FileNotFoundError) as info:
        fashion_mnist.load_data()
    message = str(info.value)
    assert str(offline_home / "fashion-mnist" / "train-labels-idx1-ubyte.gz") in message
    assert "t10k-images-idx3-ubyte.gz" in message and "offline (test)" in message
    assert not (offline_home / "fashion-mnist").exists() or not list(
        (offline_home / "fashion-mnist").iterdir())


def cifar_blob(x, labels, label_key="labels", extra=None):
    # The publishers' format: a pickled dict with bytes keys, data rows of 3072 uint8 (CHW).
    batch = {b"data": x.reshape(len(x), -1), label_key.encode(): [int(v) for v in labels],
             b"batch_label": b"test"}
    batch.update(extra or {})
    return pickle.dumps(batch, protocol=2)


def write_cifar10(root, rng, as_tar):
    members = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        x = rng.integers(0, 256, (2, 3, 32, 32), dtype=np.uint8)
        y = rng.integers(0, 10, 2)
        members[name] = (x, y)
    root.mkdir(parents=True, exist_ok=True)
    if as_tar:
        with tarfile.open(root / "cifar-10-python.tar.gz", "w:gz") as tar:
            for name, (x, y) in members.items():
                blob = cifar_blob(x, y)
                info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
                info.size = len(blob)
                tar.addfile(info, io.BytesIO(blob))
    else:
        (root / "cifar-10-batches-py").mkdir()
        for name, (x, y) in members.items():
            (root / "cifar-10-batches-py" / name).write_bytes(cifar_blob(x, y))
    return members


@pytest.mark.parametrize("as_tar", [False, True])
def test_cifar10_folder_and_archive(offline_home, rng, as_tar):
    members = write_cifar10(offline_home, rng, as_tar)
    (x_train, y_train), (x_test, y_test) = cifar10.load_data()
    assert x_train.shape == (10, 32, 32, 3) and x_train.dtype == np.uint8
    assert y_train.shape == (10, 1) and y_test.shape == (2, 1) and y_test.dtype == np.uint8
    x0, y0 = members["data_batch_1"]
    np.testing.assert_array_equal(x_train[:2], x0.transpose(0, 2, 3, 1))  # CHW -> HWC
    np.testing.assert_array_equal(y_train[:2, 0], y0)
    np.testing.assert_array_equal(x_test, members["test_batch"][0].transpose(0, 2, 3, 1))


@pytest.mark.parametrize("label_mode", ["fine", "coarse"])
def test_cifar100_label_modes(offline_home, rng, label_mode):
    folder = offline_home / "cifar-100-python"
    folder.mkdir(parents=True)
    expected = {}
    for name, n in (("train", 3), ("test", 2)):
        x = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
        fine, coarse = rng.integers(0, 100, n), rng.integers(0, 20, n)
        blob = cifar_blob(x, fine, "fine_labels", {b"coarse_labels": [int(v) for v in coarse]})
        (folder / name).write_bytes(blob)
        expected[name] = fine if label_mode == "fine" else coarse
    (x_train, y_train), (x_test, y_test) = cifar100.load_data(label_mode)
    assert x_train.shape == (3, 32, 32, 3) and y_train.shape == (3, 1)
    np.testing.assert_array_equal(y_test[:, 0], expected["test"])


@pytest.mark.parametrize("damage", ["not_gzip", "truncated"])
def test_cifar10_corrupt_archive_names_it_and_says_delete(offline_home, rng, damage):
    write_cifar10(offline_home, rng, as_tar=True)
    archive = offline_home / "cifar-10-python.tar.gz"
    data = archive.read_bytes()
    archive.write_bytes(b"<html>502</html>" if damage == "not_gzip" else data[:len(data) // 2])
    with pytest.raises(ValueError, match=rf"^{re.escape(repr(str(archive)))} is not a readable "
                       r"CIFAR-10 archive: it is truncated or corrupted \((ReadError|EOFError): "
                       r"[^\n]*\)\. Expected the gzip-compressed tar archive published at "
                       r"https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz\. Delete it"):
        cifar10.load_data()


def test_cifar100_rejects_unknown_label_mode():
    with pytest.raises(ValueError, match="Received: label_mode='medium'"):
        cifar100.load_data("medium")


def test_cifar_reader_refuses_code_in_pickles():
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo hacked",))

    with pytest.raises(ValueError, match="not a valid CIFAR batch.*Refusing to load") as info:
        _formats.parse_cifar_batch(pickle.dumps({b"data": Evil()}, protocol=2))
    assert isinstance(info.value.__cause__, pickle.UnpicklingError)


def test_cifar10_offline_message_names_every_path(offline_home):
    with pytest.raises(FileNotFoundError) as info:
        cifar10.load_data()
    message = str(info.value)
    assert str(offline_home / "cifar-10-batches-py") in message
    assert str(offline_home / "cifar-10-python.tar.gz") in message
    assert "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz" in message
    assert "KERNELNET_HOME" in message


def test_download_via_file_url_is_checked_and_atomic(tmp_path, monkeypatch):
    monkeypatch.setattr(_cache, "_urlopen", _cache.urllib.request.urlopen)
    source = tmp_path / "source.bin"
    source.write_bytes(b"kernelnet" * 1000)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    dest = tmp_path / "out" / "file.bin"
    assert _cache.download(source.as_uri(), dest, digest, verbose=False) == dest
    assert dest.read_bytes() == source.read_bytes()
    assert os.listdir(dest.parent) == ["file.bin"]  # no temporary file left


def test_download_checksum_mismatch_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(_cache, "_urlopen", _cache.urllib.request.urlopen)
    source = tmp_path / "source.bin"
    source.write_bytes(b"tampered")
    dest = tmp_path / "out" / "file.bin"
    with pytest.raises(ValueError, match="corrupted or has changed"):
        _cache.download(source.as_uri(), dest, "0" * 64, verbose=False)
    assert os.listdir(dest.parent) == []


def test_cifar10_downloads_into_home_when_missing(tmp_path, offline_home, rng, monkeypatch):
    members = write_cifar10(tmp_path / "mirror", rng, as_tar=True)
    archive = tmp_path / "mirror" / "cifar-10-python.tar.gz"
    requested = []

    def fake_urlopen(url, timeout=None):
        requested.append(url)
        return _cache.urllib.request.urlopen(archive.as_uri(), timeout=timeout)

    monkeypatch.setattr(_cache, "_urlopen", fake_urlopen)
    monkeypatch.setattr(cifar10, "SHA256", _cache.sha256_of(archive))
    (x_train, _), _ = cifar10.load_data()
    assert requested == [cifar10.ORIGIN]
    assert (offline_home / "cifar-10-python.tar.gz").read_bytes() == archive.read_bytes()
    np.testing.assert_array_equal(x_train[:2], members["data_batch_1"][0].transpose(0, 2, 3, 1))


def test_kernelnet_home_default_and_override(monkeypatch, tmp_path):
    monkeypatch.delenv("KERNELNET_HOME")
    assert _cache.datasets_dir() == Path.home() / ".kernelnet" / "datasets"
    monkeypatch.setenv("KERNELNET_HOME", str(tmp_path / "elsewhere"))
    assert _cache.datasets_dir() == tmp_path / "elsewhere" / "datasets"
