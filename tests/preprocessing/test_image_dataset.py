"""kernelnet.utils.image_dataset.image_dataset_from_directory (Keras 3 arguments)."""

import numpy as np
import pytest
from PIL import Image

from kernelnet.utils.image_dataset import image_dataset_from_directory


@pytest.fixture
def folder(tmp_path, rng):
    for c in ("b", "a"):
        (tmp_path / c).mkdir()
        for i in range(5):
            Image.fromarray(rng.integers(0, 256, (9, 12, 3), dtype=np.uint8)).save(
                tmp_path / c / f"{i}.png")
    return tmp_path


def test_defaults_int_labels_and_messages(folder, capsys):
    ds = image_dataset_from_directory(folder, image_size=(6, 8), batch_size=4, seed=0)
    assert capsys.readouterr().out == "Found 10 files belonging to 2 classes.\n"
    assert ds.class_names == ["a", "b"] and len(ds) == 3
    x, y = ds[0]
    assert x.shape == (4, 6, 8, 3) and x.dtype == np.float32 and x.max() > 1  # not rescaled
    assert y.dtype == np.int32 and y.shape == (4,)


def test_iteration_is_one_epoch(folder):
    ds = image_dataset_from_directory(folder, image_size=(6, 8), batch_size=4, verbose=False)
    assert sum(len(x) for x, _ in ds) == 10
    assert len(ds.take(1)) == 1


@pytest.mark.parametrize("label_mode,shape", [("categorical", (5, 2)), ("binary", (5, 1))])
def test_label_modes(folder, label_mode, shape):
    ds = image_dataset_from_directory(folder, label_mode=label_mode, image_size=(6, 8),
                                      batch_size=5, shuffle=False, verbose=False)
    _, y = ds[0]
    assert y.shape == shape and y.dtype == np.float32


def test_both_subsets_are_disjoint(folder, capsys):
    train, val = image_dataset_from_directory(folder, validation_split=0.4, subset="both",
                                              seed=3, image_size=(6, 8))
    out = capsys.readouterr().out
    assert "Using 6 files for training." in out and "Using 4 files for validation." in out
    assert not set(train.file_paths) & set(val.file_paths)
    with pytest.raises(ValueError, match="go together"):
        image_dataset_from_directory(folder, subset="training")


def test_labels_none_and_pad_to_aspect_ratio(folder):
    ds = image_dataset_from_directory(folder, labels=None, image_size=(8, 8), batch_size=10,
                                      pad_to_aspect_ratio=True, shuffle=False, verbose=False)
    x = ds[0]
    assert x.shape == (10, 8, 8, 3)
    assert (x[:, 0] == 0).all()  # 9x12 padded to square: black bars top and bottom
