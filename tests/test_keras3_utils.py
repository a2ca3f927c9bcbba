"""Keras 3 utility paths: kernelnet.utils image files, PyDataset, plot_model; kernelnet.random;
the TensorBoard callback (event files read back with TensorBoard's own reader)."""

import sys
import warnings

import numpy as np
import pytest

from kernelnet import Input, Model, Sequential, callbacks, layers, utils
from kernelnet import random as kr
from kernelnet.preprocessing import image as legacy_image


# ------------------------------------------------------------------ image files
def test_image_functions_at_keras3_paths(tmp_path, rng):
    for name in ("load_img", "img_to_array", "array_to_img", "save_img"):
        assert getattr(utils, name) is getattr(legacy_image, name)
    x = rng.integers(0, 256, (5, 7, 3)).astype("float32")
    utils.save_img(tmp_path / "a.png", x, scale=False)
    back = utils.img_to_array(utils.load_img(tmp_path / "a.png"))
    np.testing.assert_array_equal(back, x)
    gray = utils.load_img(tmp_path / "a.png", color_mode="grayscale", target_size=(3, 4))
    assert utils.img_to_array(gray).shape == (3, 4, 1)
    assert utils.array_to_img(x, scale=False).size == (7, 5)


# ------------------------------------------------------------------ PyDataset
class Batches(utils.PyDataset):
    """Batch i holds samples [4i, 4i + 4) of a small regression set; records what is asked."""

    def __init__(self, n=16, **kwargs):
        super().__init__(**kwargs)
        rng = np.random.default_rng(0)
        self.x = rng.normal(size=(n, 3)).astype("float32")
        self.y = self.x @ np.array([[1.0], [-2.0], [0.5]], dtype="float32")
        self.seen, self.events = [], []

    def __len__(self):
        return len(self.x) // 4

    def __getitem__(self, index):
        self.seen.append(index)
        return self.x[4 * index:4 * index + 4], self.y[4 * index:4 * index + 4]

    def on_epoch_begin(self):
        self.events.append("begin")

    def on_epoch_end(self):
        self.events.append("end")


def _dense_model():
    model = Sequential([layers.Input((3,)), layers.Dense(1)])
    model.compile("sgd", "mse")
    return model


def test_fit_consumes_pydataset_with_epoch_hooks():
    data = Batches()
    history = _dense_model().fit(data, epochs=3, verbose=0, shuffle=False)
    assert len(history.history["loss"]) == 3
    assert data.events == ["begin", "end"] * 3
    assert data.seen == [0, 1, 2, 3] * 3
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_fit_shuffles_batch_order_like_keras():
    utils.set_random_seed(3)
    data = Batches(n=64)
    _dense_model().fit(data, epochs=2, verbose=0)          # shuffle=True is the default
    epochs = [data.seen[:16], data.seen[16:]]
    assert all(sorted(e) == list(range(16)) for e in epochs)
    assert epochs[0] != list(range(16)) or epochs[1] != list(range(16))


@pytest.mark.parametrize("use_multiprocessing", [False, True])
def test_workers_read_ahead_and_keep_order(use_multiprocessing):
    model = _dense_model()
    one = model.predict(Batches(), verbose=0)
    data = Batches(workers=3, use_multiprocessing=use_multiprocessing, max_queue_size=2)
    assert (data.workers, data.use_multiprocessing, data.max_queue_size) == (
        3, use_multiprocessing, 2)
    np.testing.assert_array_equal(model.predict(data, verbose=0), one)
    assert sorted(data.seen) == [0, 1, 2, 3]


def test_missing_super_init_warns_and_uses_defaults():
    class NoSuper(utils.PyDataset):
        def __init__(self):
            self.n = 2

        def __len__(self):
            return self.n

        def __getitem__(self, i):
            return np.ones((2, 3), "float32"), np.ones((2, 1), "float32")

    data = NoSuper()
    with pytest.warns(UserWarning, match=r"should call `super\(\).__init__\(\*\*kwargs\)`"):
        assert data.workers == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _dense_model().fit(data, epochs=1, verbose=0)


def test_infinite_pydataset_needs_steps():
    class Endless(utils.PyDataset):
        @property
        def num_batches(self):
            return None

        def __getitem__(self, i):
            return np.full((2, 3), i, "float32"), np.zeros((2, 1), "float32")

    model = _dense_model()
    with pytest.raises(ValueError, match="pass `steps_per_epoch`"):
        model.fit(Endless(), epochs=1, verbose=0)
    history = model.fit(Endless(), epochs=2, steps_per_epoch=3, verbose=0)
    assert len(history.history["loss"]) == 2
    assert utils.Sequence is utils.PyDataset


# ------------------------------------------------------------------ kernelnet.random
def test_int_seed_is_stateless_and_generator_advances():
    for fn in (lambda s: kr.normal((4, 3), seed=s), lambda s: kr.uniform((5,), seed=s),
               lambda s: kr.truncated_normal((6,), seed=s),
               lambda s: kr.randint((7,), 0, 100, seed=s)):
        np.testing.assert_array_equal(fn(5), fn(5))
        assert not np.array_equal(fn(5), fn(6))
        gen, replay = kr.SeedGenerator(42), kr.SeedGenerator(42)
        first, second = fn(gen), fn(gen)
        assert not np.array_equal(first, second)
        np.testing.assert_array_equal(fn(replay), first)
        np.testing.assert_array_equal(fn(replay), second)


def test_seed_none_follows_set_random_seed():
    utils.set_random_seed(11)
    a = kr.normal((8,))
    utils.set_random_seed(11)
    np.testing.assert_array_equal(kr.normal((8,)), a)
    assert not np.array_equal(kr.normal((8,)), a)


def test_seed_generator_state_and_errors():
    gen = kr.SeedGenerator(7)
    np.testing.assert_array_equal(gen.next(), [7, 0])
    np.testing.assert_array_equal(gen.state, [7, 1])
    assert kr.SeedGenerator.from_config(gen.get_config()).get_config() == {"seed": 7}
    with pytest.raises(ValueError, match=r"Received: seed='x'"):
        kr.normal((2,), seed="x")
    with pytest.raises(ValueError, match=r"Received: seed=1.5"):
        kr.SeedGenerator(1.5)


def test_distributions():
    z = kr.normal((200_000,), mean=2.0, stddev=3.0, seed=0)
    assert z.dtype == np.float32 and abs(z.mean() - 2.0) < 0.03 and abs(z.std() - 3.0) < 0.03
    u = kr.uniform((100_000,), minval=-1.0, maxval=3.0, dtype="float64", seed=0)
    assert u.dtype == np.float64 and u.min() >= -1.0 and u.max() < 3.0
    assert abs(u.mean() - 1.0) < 0.02
    t = kr.truncated_normal((100_000,), mean=1.0, stddev=0.5, seed=0)
    assert t.min() >= 0.0 and t.max() <= 2.0 and abs(t.std() - 0.44) < 0.01   # 2-sigma cut
    r = kr.randint((50_000,), 3, 9, seed=0)
    assert r.dtype == np.int32 and set(np.unique(r)) == set(range(3, 9))
    counts = np.bincount(kr.categorical(np.log([[0.2, 0.8]]), 20_000, seed=0)[0], minlength=2)
    assert abs(counts[1] / 20_000 - 0.8) < 0.02


def test_dropout_and_shuffle():
    x = np.ones((64, 8, 8, 4), "float32")
    y = kr.dropout(x, 0.25, seed=1)
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.75)}
    assert abs((y == 0).mean() - 0.25) < 0.02
    channel = kr.dropout(x, 0.5, noise_shape=(None, 1, 1, 4), seed=2)
    assert (channel == channel[:, :1, :1, :]).all()                 # one mask per channel
    with pytest.raises(ValueError, match="Received: rate=1.0"):
        kr.dropout(x, 1.0)
    m = np.arange(12).reshape(3, 4)
    s = kr.shuffle(m, axis=1, seed=0)
    assert sorted(s[0]) == [0, 1, 2, 3]
    np.testing.assert_array_equal(s[1] - s[0], 4)                    # whole columns move


# ------------------------------------------------------------------ plot_model
def _graph_model():
    inp = Input((8, 8, 2), name="img")
    a = layers.Conv2D(4, 3, padding="same", activation="relu", name="conv_a")(inp)
    b = layers.Conv2D(4, 1, name="conv_b")(inp)
    out = layers.Dense(3, name="head")(layers.GlobalAveragePooling2D(name="gap")(
        layers.Add(name="add")([a, b])))
    return Model(inp, out, name="two_branch")


def test_model_to_dot_has_every_layer_and_edge():
    dot = utils.model_to_dot(_graph_model(), show_shapes=True, show_layer_activations=True)
    text = dot.to_string()
    for name in ("img", "conv_a", "conv_b", "add", "gap", "head"):
        assert f'"{name}"' in text
    for src, dst in [("img", "conv_a"), ("img", "conv_b"), ("conv_a", "add"), ("conv_b", "add"),
                     ("add", "gap"), ("gap", "head")]:
        assert f'"{src}" -> "{dst}"' in text
    assert "(None, 8, 8, 4)" in text and "activation: relu" in text


def test_plot_model_renders_png_and_svg(tmp_path):
    model = Sequential([layers.Input((4,)), layers.Dense(3, name="d1"), layers.Dense(2)])
    utils.plot_model(model, tmp_path / "m.png", show_shapes=True)
    assert (tmp_path / "m.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    utils.plot_model(_graph_model(), tmp_path / "g.svg", show_layer_names=True)
    assert "conv_a (Conv2D)" in (tmp_path / "g.svg").read_text()


def test_plot_model_errors(tmp_path, monkeypatch):
    model = _graph_model()
    monkeypatch.setenv("PATH", str(tmp_path))                        # no `dot` on the PATH
    with pytest.raises(OSError, match="Graphviz's `dot` program"):
        utils.plot_model(model, tmp_path / "m.png")
    monkeypatch.setitem(sys.modules, "pydot", None)
    with pytest.raises(ImportError, match=r"pip install kernelnet\[graph\]"):
        utils.plot_model(model, tmp_path / "m.png")


# ------------------------------------------------------------------ TensorBoard
def test_tensorboard_event_files_read_back(tmp_path, rng):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    model = Sequential([layers.Input((4,)), layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = rng.normal(size=(40, 4)).astype("float32"), rng.integers(0, 3, 40)
    tb = callbacks.TensorBoard(tmp_path / "logs", histogram_freq=1, update_freq="batch")
    history = model.fit(x, y, epochs=3, batch_size=8, validation_split=0.2, verbose=0,
                        callbacks=[tb]).history
    train = EventAccumulator(str(tmp_path / "logs" / "train"),
                             size_guidance={"scalars": 0, "histograms": 0}).Reload()
    val = EventAccumulator(str(tmp_path / "logs" / "validation")).Reload()
    loss = train.Scalars("epoch_loss")
    assert [e.step for e in loss] == [0, 1, 2]
    np.testing.assert_allclose([e.value for e in loss], history["loss"], rtol=1e-6)
    np.testing.assert_allclose([e.value for e in val.Scalars("epoch_loss")],
                               history["val_loss"], rtol=1e-6)
    np.testing.assert_allclose([e.value for e in val.Scalars("epoch_accuracy")],
                               history["val_accuracy"], rtol=1e-6)
    assert len(train.Scalars("batch_loss")) == 3 * 4                  # 32 samples / 8 per batch
    np.testing.assert_allclose(train.Scalars("epoch_learning_rate")[0].value, 0.001, rtol=1e-6)
    kernel = [t for t in train.Tags()["histograms"] if t.endswith("kernel/histogram")]
    assert len(kernel) == 1 and len(train.Histograms(kernel[0])) == 3


def test_tensorboard_errors(monkeypatch, tmp_path):
    with pytest.raises(ValueError, match="Received: update_freq='often'"):
        callbacks.TensorBoard(tmp_path, update_freq="often")
    with pytest.raises(ValueError, match="write_images"):
        callbacks.TensorBoard(tmp_path, write_images=True)
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(ImportError, match=r"pip install kernelnet\[tensorboard\]"):
        callbacks.TensorBoard(tmp_path)
