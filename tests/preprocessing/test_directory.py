"""flow_from_directory on a tiny folder of PNG/JPEG/grayscale/RGBA/corrupt files."""

import os
import warnings

import numpy as np
import pytest
from PIL import Image

from kernelnet.preprocessing.image import ImageDataGenerator


def make_folder(root, rng, per_class=6, classes=("dogs", "cats")):
    """root/<class>/<i>.png|jpg in RGB, L and RGBA, plus a corrupt file and a notes.txt."""
    for c in classes:
        os.makedirs(root / c)
        for i in range(per_class):
            mode, ext = [("RGB", "png"), ("RGB", "jpg"), ("L", "png"), ("RGBA", "png")][i % 4]
            channels = {"RGB": 3, "L": 1, "RGBA": 4}[mode]
            shape = (12, 10, channels) if channels > 1 else (12, 10)
            Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(
                root / c / f"{i:03d}.{ext}")
    (root / classes[-1] / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (root / classes[0] / "notes.txt").write_text("stray file")
    return root


@pytest.fixture
def folder(tmp_path, rng):
    return make_folder(tmp_path / "train", rng)


def flow(folder, gen=None, **kwargs):
    kwargs.setdefault("target_size", (8, 6))
    kwargs.setdefault("batch_size", 4)
    with pytest.warns(UserWarning, match="Skipping 1 unreadable"):
        return (gen or ImageDataGenerator()).flow_from_directory(str(folder), **kwargs)


def test_attributes_and_found_message(folder, capsys):
    it = flow(folder, shuffle=False)
    assert capsys.readouterr().out == "Found 12 images belonging to 2 classes.\n"
    assert it.class_indices == {"cats": 0, "dogs": 1}  # sorted subfolders
    assert it.samples == it.n == 12 and len(it) == 3
    assert it.filenames[:2] == [os.path.join("cats", "000.png"), os.path.join("cats", "001.jpg")]
    assert all(not f.endswith((".txt", "broken.jpg")) for f in it.filenames)
    np.testing.assert_array_equal(it.classes, [0] * 6 + [1] * 6)
    assert it.filepaths[0] == os.path.join(str(folder), "cats", "000.png")


def test_corrupt_file_warning_lists_it_once(folder):
    with pytest.warns(UserWarning) as record:
        it = ImageDataGenerator().flow_from_directory(str(folder), target_size=(8, 6))
        [it[i] for i in range(len(it))]
    messages = [str(w.message) for w in record]
    assert len(messages) == 1 and "broken.jpg" in messages[0]


def test_strict_mode_raises_naming_the_file(folder):
    with pytest.raises(ValueError, match="broken.jpg"):
        ImageDataGenerator().flow_from_directory(str(folder), strict=True)


@pytest.mark.parametrize("class_mode,y_shape,y_dtype", [
    ("categorical", (4, 2), "float32"), ("sparse", (4,), "int32"),
    ("binary", (4,), "float32"), ("input", (4, 8, 6, 3), "float32")])
def test_batch_shapes_per_class_mode(folder, class_mode, y_shape, y_dtype):
    x, y = flow(folder, class_mode=class_mode, shuffle=False)[2]
    assert x.shape == (4, 8, 6, 3) and x.dtype == np.float32
    assert y.shape == y_shape and y.dtype == y_dtype
    if class_mode == "categorical":
        np.testing.assert_array_equal(y, np.eye(2)[[1, 1, 1, 1]])
    if class_mode == "input":
        np.testing.assert_array_equal(x, y)


def test_class_mode_none_yields_images_only(folder):
    x = flow(folder, class_mode=None, shuffle=False)[0]
    assert isinstance(x, np.ndarray) and x.shape == (4, 8, 6, 3)


@pytest.mark.parametrize("color_mode,channels", [("grayscale", 1), ("rgb", 3), ("rgba", 4)])
def test_color_modes_convert_every_file(folder, color_mode, channels):
    it = flow(folder, color_mode=color_mode, shuffle=False, batch_size=12)
    x, _ = it[0]
    assert x.shape == (12, 8, 6, channels)
    assert 0 <= x.min() and x.max() <= 255


def test_binary_needs_two_classes(tmp_path, rng):
    make_folder(tmp_path / "three", rng, per_class=1, classes=("a", "b", "c"))
    with pytest.raises(ValueError, match="exactly 2 classes"):
        ImageDataGenerator().flow_from_directory(str(tmp_path / "three"), class_mode="binary")


def test_empty_folder_message(tmp_path):
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "a.jpg").write_bytes(b"")
    with pytest.raises(ValueError) as info:
        ImageDataGenerator().flow_from_directory(str(tmp_path / "train"))
    message = str(info.value)
    assert message.startswith(f"Found no images in {str(tmp_path / 'train')!r}. Expected one "
                              "subfolder per class containing .png/.jpg/.jpeg/.bmp/.gif files")
    assert "Subfolders found: []." in message and "directly in the folder" in message
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ImageDataGenerator().flow_from_directory(str(tmp_path / "nope"))


def test_only_unreadable_files_is_an_error_not_an_empty_iterator(tmp_path):
    for c in ("cats", "dogs"):
        (tmp_path / "train" / c).mkdir(parents=True)
        (tmp_path / "train" / c / "0.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with warnings.catch_warnings():
        warnings.simplefilter("error")                   # the error replaces the warning
        with pytest.raises(ValueError) as info:
            ImageDataGenerator().flow_from_directory(str(tmp_path / "train"))
    message = str(info.value)
    assert message.startswith(f"Found no readable images in {str(tmp_path / 'train')!r}. ")
    assert "Subfolders found: ['cats', 'dogs']. 2 image file(s) were found but none" in message
    assert os.path.join("cats", "0.jpg") in message


def test_a_class_of_only_unreadable_files_still_only_warns(tmp_path, rng):
    make_folder(tmp_path / "train", rng, per_class=2)
    (tmp_path / "train" / "birds").mkdir()
    (tmp_path / "train" / "birds" / "0.png").write_bytes(b"junk")
    with pytest.warns(UserWarning, match="Skipping 2 unreadable"):
        it = ImageDataGenerator().flow_from_directory(str(tmp_path / "train"))
    assert it.samples == 4 and it.num_classes == 3


def test_validation_split_is_stratified_disjoint_and_seed_independent(folder):
    gen = ImageDataGenerator(validation_split=0.5, horizontal_flip=True)
    train = flow(folder, gen, subset="training", seed=1)
    val = flow(folder, ImageDataGenerator(validation_split=0.5), subset="validation", seed=99)
    assert not set(train.filenames) & set(val.filenames)
    assert len(train.filenames) + len(val.filenames) == 12  # broken.jpg is dropped
    assert np.bincount(val.classes).tolist() == [3, 3]  # int(0.5 * 6) per class
    again = flow(folder, gen, subset="training", seed=2)
    assert again.filenames == train.filenames
    # Pseudo-random, not Keras' "first files of each class" (which would be 000, 001, 002).
    firsts = [os.path.join(c, f"{i:03d}.{e}") for c in ("cats", "dogs")
              for i, e in zip(range(3), ("png", "jpg", "png"))]
    assert sorted(val.filenames) != firsts


def test_validation_is_never_augmented(folder):
    gen = ImageDataGenerator(validation_split=0.5, rotation_range=90, horizontal_flip=True,
                             brightness_range=(0.2, 0.3), rescale=0.5)
    val = flow(folder, gen, subset="validation", shuffle=False, batch_size=6)
    plain = flow(folder, ImageDataGenerator(validation_split=0.5, rescale=0.5),
                 subset="validation", shuffle=False, batch_size=6)
    np.testing.assert_array_equal(val[0][0], plain[0][0])


def test_same_seed_same_batches_with_and_without_workers(folder):
    gen = ImageDataGenerator(rotation_range=30, zoom_range=0.2, horizontal_flip=True,
                             gaussian_noise_std=3.0)
    threaded = flow(folder, gen, seed=7, workers=3)
    serial = flow(folder, gen, seed=7, workers=0)
    for _ in range(2 * len(serial) + 1):  # crosses epoch boundaries: reshuffles identically
        a, b = next(threaded), next(serial)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    other = flow(folder, gen, seed=8, workers=0)
    assert not np.array_equal(other[0][0], flow(folder, gen, seed=7, workers=0)[0][0])


def test_sequence_protocol_and_epoch_reshuffle(folder):
    it = flow(folder, seed=3, workers=2)
    first = [tuple(it.index_array)]
    batches = [it[i] for i in range(len(it))]
    assert sum(len(x) for x, _ in batches) == 12 and len(batches[-1][0]) == 4
    it.on_epoch_end()
    first.append(tuple(it.index_array))
    assert first[0] != first[1] and sorted(first[0]) == sorted(first[1])
    with pytest.raises(IndexError, match="only has 3 batches"):
        it[3]


def test_labelled_predictions_align_with_filenames(folder):
    it = flow(folder, shuffle=False)
    probs = np.zeros((12, 2))
    probs[:, 1] = np.linspace(0, 1, 12)
    probs[:, 0] = 1 - probs[:, 1]
    rows = it.labelled_predictions(probs)
    assert rows[0] == (it.filenames[0], "cats", 1.0)
    assert rows[-1] == (it.filenames[-1], "dogs", 1.0)
    binary = it.labelled_predictions(probs[:, 1:])
    assert [r[1] for r in binary] == [r[1] for r in rows]
    with pytest.raises(ValueError, match="shuffle=False"):
        flow(folder, shuffle=True).labelled_predictions(probs)


def test_rescale_and_preprocessing_function_order(folder):
    gen = ImageDataGenerator(rescale=1 / 255, preprocessing_function=lambda x: 255 - x)
    x, _ = flow(folder, gen, shuffle=False)[0]
    raw, _ = flow(folder, shuffle=False)[0]
    np.testing.assert_allclose(x, (255 - raw) / 255, atol=1e-6)


def test_truncated_jpeg_found_while_decoding_warns_and_never_crashes(tmp_path, rng):
    make_folder(tmp_path / "t", rng, per_class=2)
    (tmp_path / "t" / "cats" / "broken.jpg").unlink()
    good = tmp_path / "t" / "cats" / "001.jpg"
    good.write_bytes(good.read_bytes()[:-60])  # valid header, cut-off data: passes verify()
    it = ImageDataGenerator().flow_from_directory(str(tmp_path / "t"), target_size=(8, 6),
                                                  shuffle=False, batch_size=4, workers=2)
    with pytest.warns(UserWarning, match=r"(?s)Could not decode 1 image.*001\.jpg"):
        x, _ = it[0]
    assert (x[1] == 0).all() and x[0].any()
    strict = ImageDataGenerator().flow_from_directory(str(tmp_path / "t"), target_size=(8, 6),
                                                      shuffle=False, strict=True)
    with pytest.raises(ValueError, match="Cannot decode image.*001.jpg"):
        strict[0]
