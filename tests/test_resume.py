"""Training faults: exact resume from a checkpoint, NaN losses, and whole-run reproducibility."""

import zipfile

import numpy as np
import pytest

from kernelnet import backend, layers, optimizers
from kernelnet.callbacks import ModelCheckpoint, TerminateOnNaN
from kernelnet.models import Sequential, load_model, parallel
from kernelnet.preprocessing.image import ImageDataGenerator
from kernelnet.saving import restore_training_state
from kernelnet.utils import set_random_seed

OPTIMIZERS = {
    "adam": lambda: optimizers.Adam(learning_rate=0.01),
    "sgd_momentum": lambda: optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=True),
}


def small_cnn(optimizer="adam"):
    model = Sequential([
        layers.Conv2D(3, 3, activation="relu", input_shape=(6, 6, 1)),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dropout(0.3),
        layers.Dense(3, activation="softmax"),
    ])
    model.compile(OPTIMIZERS[optimizer](), "sparse_categorical_crossentropy", metrics=["acc"])
    return model


def data(n=20):
    gen = np.random.default_rng(1)
    return gen.standard_normal((n, 6, 6, 1)), gen.integers(0, 3, n)


@pytest.fixture
def two_threads():
    backend.set_num_threads(2)
    yield
    backend.set_num_threads(None)


# Batch 40 of 100 samples: two steps per epoch split over two model replicas, one not.
@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
@pytest.mark.parametrize("n, batch", [(20, 8), (100, 40)])
def test_two_plus_two_epochs_equal_four_bit_for_bit(tmp_path, float64, two_threads, optimizer,
                                                    n, batch):
    x, y = data(n)
    set_random_seed(7)
    straight = small_cnn(optimizer)
    straight.fit(x, y, batch_size=batch, epochs=4, shuffle=True, verbose=0)

    set_random_seed(7)
    first = small_cnn(optimizer)
    ckpt = tmp_path / "ckpt.kn"
    first.fit(x, y, batch_size=batch, epochs=2, shuffle=True, verbose=0,
              callbacks=[ModelCheckpoint(ckpt)])
    with zipfile.ZipFile(ckpt) as zf:
        assert {"optimizer.npz", "training_state.json"} <= set(zf.namelist())
    set_random_seed(123)  # a fresh process: the generator is anywhere
    resumed = load_model(ckpt)
    restore_training_state(ckpt)
    assert resumed.optimizer.iterations == 6
    resumed.fit(x, y, batch_size=batch, epochs=4, initial_epoch=2, shuffle=True, verbose=0)

    assert resumed.optimizer.iterations == straight.optimizer.iterations == 12
    assert parallel.shard_count(resumed, batch, training=True) == (2 if batch == 40 else 1)
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        assert a.dtype == b.dtype == np.float64
        np.testing.assert_array_equal(a, b)


def test_resume_without_rng_state_differs(tmp_path, float64):
    """The generator state is what makes the resume exact (shuffling + dropout)."""
    x, y = data()
    set_random_seed(7)
    straight = small_cnn()
    straight.fit(x, y, batch_size=8, epochs=4, verbose=0)
    set_random_seed(7)
    first = small_cnn()
    first.fit(x, y, batch_size=8, epochs=2, verbose=0,
              callbacks=[ModelCheckpoint(tmp_path / "c.kn")])
    set_random_seed(123)
    resumed = load_model(tmp_path / "c.kn")
    resumed.fit(x, y, batch_size=8, epochs=4, initial_epoch=2, verbose=0)
    assert not all(np.array_equal(a, b)
                   for a, b in zip(straight.get_weights(), resumed.get_weights()))


def test_restore_training_state_errors(tmp_path):
    model = small_cnn()
    model.save(tmp_path / "no_state.kn", include_optimizer=False)
    with pytest.raises(ValueError, match="holds no training state: it was saved with "
                                         "include_optimizer=False"):
        restore_training_state(tmp_path / "no_state.kn")
    model.save_weights(tmp_path / "w.npz")
    with pytest.raises(ValueError, match="is not a kernelnet model file, so it holds no"):
        restore_training_state(tmp_path / "w.npz")


class NaNAt:
    """A Sequence of batches whose batch `batch` of epoch `epoch` holds a NaN."""

    def __init__(self, x, y, epoch, batch, batch_size=5):
        self.x, self.y, self.bs = x, y, batch_size
        self.nan_epoch, self.nan_batch, self.epoch = epoch, batch, 0

    def __len__(self):
        return len(self.x) // self.bs

    def __getitem__(self, i):
        xb = self.x[i * self.bs:(i + 1) * self.bs].copy()
        if (self.epoch, i) == (self.nan_epoch, self.nan_batch):
            xb[0, 0, 0, 0] = np.nan
        return xb, self.y[i * self.bs:(i + 1) * self.bs]

    def on_epoch_end(self):
        self.epoch += 1


def test_nan_loss_stops_with_batch_number_and_keeps_last_good_checkpoint(tmp_path, capsys):
    x, y = data()
    set_random_seed(0)
    model = small_cnn()
    ckpt = tmp_path / "ckpt.kn"
    snapshots = []

    class Snapshot(ModelCheckpoint):
        def on_epoch_end(self, epoch, logs=None):
            super().on_epoch_end(epoch, logs)
            snapshots.append([w.copy() for w in self.model.get_weights()])

    history = model.fit(NaNAt(x, y, epoch=1, batch=2), epochs=5, verbose=0,
                        callbacks=[TerminateOnNaN(), Snapshot(ckpt)])
    out = capsys.readouterr().out
    assert "Batch 2: Invalid loss, terminating training" in out
    assert "not saving the model" in out
    assert len(history.history["loss"]) == 2 and np.isnan(history.history["loss"][1])
    assert not all(np.isfinite(w).all() for w in model.get_weights())
    kept = load_model(ckpt).get_weights()
    for good, saved in zip(snapshots[0], kept):
        np.testing.assert_array_equal(good, saved)
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.kn"]  # no temporary left behind


def test_nan_in_array_inputs_is_reported_before_training(capsys):
    x, y = data()
    x[3, 1, 2, 0] = np.inf
    model = small_cnn()
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match=r"`x` contains NaN or infinite values \(first in "
                                         r"sample 3\)"):
        model.fit(x, y, epochs=1, verbose=1)
    assert model.optimizer.iterations == 0
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def run_once(seed):
    set_random_seed(seed)
    x, y = data()
    model = small_cnn()
    augment = ImageDataGenerator(rotation_range=20, width_shift_range=0.2, horizontal_flip=True)
    batches = augment.flow(x, y, batch_size=5, shuffle=True)
    history = model.fit(batches, epochs=2, verbose=0)
    return model.get_weights(), history.history["loss"], next(iter(batches))[0]


def test_set_random_seed_makes_whole_runs_reproducible():
    weights_a, loss_a, batch_a = run_once(5)
    weights_b, loss_b, batch_b = run_once(5)
    assert loss_a == loss_b
    np.testing.assert_array_equal(batch_a, batch_b)  # augmentation and order
    for a, b in zip(weights_a, weights_b):
        np.testing.assert_array_equal(a, b)
    weights_c, _, batch_c = run_once(6)
    assert not np.array_equal(batch_a, batch_c)
    assert not np.array_equal(weights_a[0], weights_c[0])


def test_set_random_seed_controls_shuffle_and_dropout(rng):
    x, y = data()

    def run(seed):
        set_random_seed(seed)
        model = small_cnn()
        set_random_seed(99)  # same initial weights for every run below: only later draws vary
        model.set_weights([np.full_like(w, 0.1) for w in model.get_weights()])
        model.fit(x, y, batch_size=4, epochs=1, shuffle=True, verbose=0)
        return model.get_weights()[0]

    np.testing.assert_array_equal(run(1), run(2))  # reseeded to 99 before fitting
    dropout = layers.Dropout(0.5)
    set_random_seed(3)
    first = dropout(np.ones((4, 8)), training=True)
    set_random_seed(3)
    np.testing.assert_array_equal(first, dropout(np.ones((4, 8)), training=True))
    assert backend.rng() is backend.rng()
