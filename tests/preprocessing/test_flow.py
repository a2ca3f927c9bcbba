"""ImageDataGenerator.flow(x, y): shapes, shuffling, splits, featurewise fit, save_to_dir."""

import numpy as np
import pytest

from kernelnet.preprocessing.image import ImageDataGenerator


@pytest.fixture
def data(rng):
    x = rng.integers(0, 256, (10, 6, 5, 3)).astype("uint8")
    y = np.arange(10) % 2
    return x, y


def test_shapes_dtypes_and_last_batch(data):
    x, y = data
    it = ImageDataGenerator(rescale=1 / 255).flow(x, y, batch_size=4, shuffle=False)
    assert len(it) == 3
    xb, yb = it[2]
    assert xb.shape == (2, 6, 5, 3) and xb.dtype == np.float32
    np.testing.assert_allclose(xb, x[8:] / 255, rtol=1e-6)
    np.testing.assert_array_equal(yb, y[8:])


def test_x_only_and_sample_weight(data):
    x, y = data
    assert ImageDataGenerator().flow(x, batch_size=4)[0].shape == (4, 6, 5, 3)
    w = np.linspace(0, 1, 10)
    xb, yb, wb = ImageDataGenerator().flow(x, y, sample_weight=w, shuffle=False)[0]
    np.testing.assert_array_equal(wb, w)


def test_shuffle_is_a_seeded_permutation_per_epoch(data):
    x, y = data
    it = ImageDataGenerator().flow(x, y, batch_size=10, seed=1)
    xb, yb = next(it)
    order = [int(np.flatnonzero((x == xi).all(axis=(1, 2, 3)))[0]) for xi in xb.astype("uint8")]
    assert sorted(order) != order and sorted(order) == list(range(10))
    np.testing.assert_array_equal(yb, y[order])
    xb2, _ = next(it)  # next epoch: reshuffled
    assert not np.array_equal(xb, xb2)
    np.testing.assert_array_equal(xb, ImageDataGenerator().flow(x, y, batch_size=10, seed=1)[0][0])


def test_rejects_bad_input(data):
    x, y = data
    with pytest.raises(ValueError, match="rank 4"):
        ImageDataGenerator().flow(x[..., 0], y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        ImageDataGenerator().flow(x, y[:9])


def test_subsets_are_stratified_and_disjoint(data):
    x, y = data
    gen = ImageDataGenerator(validation_split=0.4)
    train = gen.flow(x, y, subset="training", shuffle=False, batch_size=10)
    val = gen.flow(x, y, subset="validation", shuffle=False, batch_size=10)
    assert np.bincount(val.y).tolist() == [2, 2] and np.bincount(train.y).tolist() == [3, 3]
    rows = {bytes(a) for a in train.x} | {bytes(a) for a in val.x}
    assert len(rows) == 10


def test_featurewise_fit_uses_rescaled_data(data):
    x, y = data
    gen = ImageDataGenerator(featurewise_center=True, featurewise_std_normalization=True,
                             rescale=1 / 255)
    with pytest.raises(RuntimeError, match="fit"):
        gen.flow(x, y)[0]
    gen.fit(x)
    xb, _ = gen.flow(x, y, batch_size=10)[0]
    np.testing.assert_allclose(xb.mean(axis=(0, 1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(xb.std(axis=(0, 1, 2)), 1, atol=1e-4)


def test_samplewise_normalization(data):
    x, y = data
    gen = ImageDataGenerator(samplewise_center=True, samplewise_std_normalization=True)
    xb, _ = gen.flow(x, y, batch_size=10)[0]
    np.testing.assert_allclose(xb.mean(axis=(1, 2, 3)), 0, atol=1e-5)


def test_save_to_dir_writes_augmented_images(data, tmp_path):
    x, y = data
    ImageDataGenerator(horizontal_flip=True).flow(
        x, y, batch_size=3, save_to_dir=str(tmp_path), save_prefix="aug", seed=0)[0]
    assert len(list(tmp_path.glob("aug_*.png"))) == 3
