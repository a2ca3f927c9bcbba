"""Data-parallel training and inference (worker processes or threads)
(kernelnet.models.parallel, kernelnet.models.workers)."""

import gc
import os

import numpy as np
import pytest

from kernelnet import Input, backend, layers, optimizers
from kernelnet.models import Model, Sequential, parallel, workers
from kernelnet.utils import set_random_seed


@pytest.fixture(params=["processes", "threads"])
def threads(request, monkeypatch):
    """Runs the test with `backend.set_num_threads(n)` available, restoring the default; split
    training in worker processes, then in threads."""
    monkeypatch.setenv("KERNELNET_TRAIN_PROCESSES", "1" if request.param == "processes" else "0")
    yield backend.set_num_threads
    backend.set_num_threads(None)


def small_cnn(dropout=0.0, bn=False, seed=0):
    set_random_seed(seed)
    model = Sequential([Input(shape=(10, 10, 3)), layers.Conv2D(6, 3, activation="relu"),
                        layers.MaxPooling2D(2)]
                       + ([layers.BatchNormalization()] if bn else [])
                       + [layers.Flatten(), layers.Dropout(dropout), layers.Dense(5, "softmax")])
    model.compile(optimizer=optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    return model


def data(n=64, seed=1):
    rng = np.random.default_rng(seed)
    return rng.random((n, 10, 10, 3)), rng.integers(0, 5, n)


def test_openblas_thread_control_is_found():
    # NumPy's wheels ship OpenBLAS; without its controls training would silently stay serial.
    setter, getter = parallel._openblas()
    before = getter()
    with parallel.single_threaded_blas():
        assert getter() == 1
    assert getter() == before


def test_shard_count_rules(threads):
    model = small_cnn()
    threads(2)
    assert parallel.shard_count(model, 64, training=True) == 2
    assert parallel.shard_count(model, 31, training=True) == 1   # < 2 * MIN_SHARD samples
    threads(1)
    assert parallel.shard_count(model, 64, training=True) == 1
    threads(4)
    assert parallel.shard_count(model, 50, training=True) == 3   # MIN_SHARD samples each


def test_batch_statistics_train_unsplit_but_infer_split(threads):
    threads(2)
    model = small_cnn(bn=True)
    assert parallel.shard_count(model, 64, training=True) == 1
    assert parallel.shard_count(model, 64, training=False) == 2
    model.layers[2].trainable = False   # frozen BN uses moving statistics: per sample
    assert parallel.shard_count(model, 64, training=True) == 2


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_split_training_equals_one_thread(threads, float64, optimizer):
    x, y = data()
    runs = []
    for n in (1, 2, 3):
        threads(n)
        model = small_cnn()
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
        losses = [model.train_on_batch(x, y) for _ in range(3)]
        runs.append((losses, model.get_weights()))
    for losses, weights in runs[1:]:
        np.testing.assert_allclose(losses, runs[0][0], rtol=1e-12)
        for w, w0 in zip(weights, runs[0][1]):
            np.testing.assert_allclose(w, w0, rtol=1e-10, atol=1e-12)


def test_split_gradients_equal_one_thread(threads, float64):
    x, y = data()
    grads = []
    for n in (1, 2):
        threads(n)
        model = small_cnn()
        if n == 1:
            grads.append(model.compute_gradients(x, y)[2])
        else:
            assert parallel.shard_count(model, len(y), training=True) == 2
            grads.append(parallel.train_step(model, x, y, 2)[2])
    assert len(grads[0]) == len(grads[1]) == 4
    for g2, g1 in zip(grads[1], grads[0]):
        np.testing.assert_allclose(g2, g1, rtol=1e-10, atol=1e-13)


def test_split_inference_equals_one_thread(threads):
    x, _ = data(200)
    model = small_cnn()
    threads(1)
    expected = model.predict(x, batch_size=200, verbose=0)
    threads(2)
    assert parallel.shard_count(model, 200, training=False) == 2
    got = model.predict(x, batch_size=200, verbose=0)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)


def test_inference_splits_batches_smaller_than_two_sub_batches(threads, monkeypatch):
    # 32 samples (one sub-batch) still run as two shares of MIN_SHARD samples.
    x, _ = data(32)
    model = small_cnn()
    threads(1)
    expected = model.predict(x, batch_size=32, verbose=0)
    threads(2)
    calls = []
    original = parallel.inference
    monkeypatch.setattr(parallel, "inference",
                        lambda m, xs, shards: calls.append(shards) or original(m, xs, shards))
    got = model.predict(x, batch_size=32, verbose=0)
    assert calls == [2] and model._inference_step() >= 32
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)


def test_dropout_runs_are_reproducible_and_differ_per_seed(threads):
    threads(2)
    x, y = data()
    finals = []
    for seed in (3, 3, 4):
        model = small_cnn(dropout=0.5, seed=seed)
        set_random_seed(seed)
        for _ in range(3):
            model.train_on_batch(x, y)
        finals.append(model.get_weights()[0])
    np.testing.assert_array_equal(finals[0], finals[1])
    assert not np.allclose(finals[0], finals[2])


def test_split_training_follows_weight_and_trainable_changes(threads, float64):
    x, y = data()
    runs = []
    for n in (1, 2):
        threads(n)
        model = small_cnn()
        model.train_on_batch(x, y)
        model.set_weights([np.full_like(w, 0.01) for w in model.get_weights()])   # in place
        model.layers[0].trainable = False
        runs.append([model.train_on_batch(x, y), model.get_weights()])
        assert np.all(model.layers[0].kernel.numpy() == 0.01)                 # frozen stays put
    np.testing.assert_allclose(runs[1][0], runs[0][0], rtol=1e-12)
    for w, w0 in zip(runs[1][1], runs[0][1]):
        np.testing.assert_allclose(w, w0, rtol=1e-10, atol=1e-12)


def test_thread_shares_call_the_same_layers(monkeypatch, float64):
    """No copies: every share calls the model's own layer objects, each call with its own
    context."""
    monkeypatch.setenv("KERNELNET_TRAIN_PROCESSES", "0")
    backend.set_num_threads(2)
    calls = []

    class Spy(layers.Conv2D):
        def forward(self, ctx, x, training=False):
            calls.append((id(self), id(ctx), len(x)))
            return super().forward(ctx, x, training)

    try:
        set_random_seed(0)
        model = Sequential([Input(shape=(10, 10, 3)), Spy(6, 3), layers.Flatten(),
                            layers.Dense(5, "softmax")])
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        model.train_on_batch(*data())
    finally:
        backend.set_num_threads(None)
    assert len({layer for layer, _, _ in calls}) == 1             # one layer object
    assert len({ctx for _, ctx, _ in calls}) == 2                 # two calls, two contexts
    assert sorted(n for _, _, n in calls) == [32, 32]


def test_multi_input_model_trains_and_predicts_split(threads, float64):
    rng = np.random.default_rng(0)
    xa, xb, y = rng.random((48, 4)), rng.random((48, 3)), rng.integers(0, 2, 48)
    outs = []
    for n in (1, 2):
        threads(n)
        set_random_seed(0)
        a, b = Input(shape=(4,)), Input(shape=(3,))
        merged = layers.Concatenate()([layers.Dense(5, activation="tanh")(a), b])
        model = Model([a, b], layers.Dense(2, activation="softmax")(merged))
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit([xa, xb], y, batch_size=48, epochs=2, verbose=0)
        outs.append(model.predict([xa, xb], verbose=0))
    np.testing.assert_allclose(outs[1], outs[0], rtol=1e-10)


def test_error_in_a_thread_reaches_the_caller(threads):
    def no_negatives(x):
        if (x < 0).any():
            raise RuntimeError("negative input")
        return x

    threads(2)
    model = Sequential([Input(shape=(3,)), layers.Lambda(no_negatives), layers.Dense(2)])
    x = np.ones((64, 3))
    x[-1] = -1   # only the second thread sees it
    with pytest.raises(RuntimeError, match="negative input"):
        model.predict(x, batch_size=64, verbose=0)
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(RuntimeError, match="negative input"):
        model.train_on_batch(x, np.zeros((64, 2)))


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_set_num_threads_rejects_bad_values(bad):
    with pytest.raises(ValueError, match="positive int"):
        backend.set_num_threads(bad)


def test_num_threads_reads_the_environment(monkeypatch):
    monkeypatch.setenv("KERNELNET_NUM_THREADS", "3")
    assert backend.num_threads() == 3
    monkeypatch.delenv("KERNELNET_NUM_THREADS")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert backend.num_threads() == 1


def pool_of(model) -> list:
    return workers._POOLS[model][2]


@pytest.fixture
def processes(monkeypatch):
    """Split training and inference in worker processes; yields `backend.set_num_threads`,
    restoring the default after the test."""
    monkeypatch.setenv("KERNELNET_TRAIN_PROCESSES", "1")
    yield backend.set_num_threads
    backend.set_num_threads(None)


def test_training_workers_are_forked_processes_that_end_with_the_model(processes):
    processes(3)
    model = small_cnn()
    x, y = data()
    model.train_on_batch(x, y)
    procs = [w.process for w in pool_of(model)]
    assert len(procs) == 2 and all(p.is_alive() and p.pid != os.getpid() for p in procs)
    model.train_on_batch(x, y)
    assert [w.process for w in pool_of(model)] == procs          # kept between steps
    model.layers[0].trainable = False
    model.train_on_batch(x, y)
    assert not any(p.is_alive() for p in procs)                   # remade on a change
    procs = [w.process for w in pool_of(model)]
    del model
    gc.collect()
    assert not any(p.is_alive() for p in procs)


def test_a_dead_worker_is_reported_then_replaced(processes):
    processes(2)
    x, y = data()
    model, serial = small_cnn(), small_cnn()
    model.train_on_batch(x, y)
    dead = pool_of(model)[0].process
    dead.kill()
    dead.join()  # gone before the step sends to it: the send itself fails
    with pytest.raises(RuntimeError, match=r"worker \(pid \d+\) exited unexpectedly"):
        model.train_on_batch(x, y)
    assert model not in workers._POOLS
    loss = model.train_on_batch(x, y)                              # forked anew
    processes(1)
    serial.train_on_batch(x, y)
    np.testing.assert_allclose(loss, serial.train_on_batch(x, y), rtol=1e-5)


def test_inference_runs_in_the_training_workers_and_sees_weight_changes(processes):
    x, _ = data(96)
    model = small_cnn()
    processes(1)
    expected = model.predict(x, batch_size=96, verbose=0)
    assert model not in workers._POOLS                            # one thread: no workers
    processes(2)
    np.testing.assert_allclose(model.predict(x, batch_size=96, verbose=0), expected,
                               rtol=1e-5, atol=1e-7)
    (worker,) = pool_of(model)
    assert worker.process.is_alive() and worker.process.pid != os.getpid()
    # weights travel with every call: an in-place change reaches the worker's half too
    model.set_weights([w * 0.5 for w in model.get_weights()])
    got = model.predict(x, batch_size=96, verbose=0)
    processes(1)
    np.testing.assert_allclose(got, model.predict(x, batch_size=96, verbose=0),
                               rtol=1e-5, atol=1e-7)
    assert not np.allclose(got[48:], expected[48:])
    assert pool_of(model) == [worker]                             # the same worker


def test_inference_uses_threads_while_another_thread_holds_the_workers(processes):
    x, _ = data(64)
    model = small_cnn()
    processes(2)
    with workers.BUSY:   # as if another thread were mid-step or mid-predict
        got = model.predict(x, batch_size=64, verbose=0)
    assert model not in workers._POOLS
    np.testing.assert_allclose(got, model.predict(x, batch_size=64, verbose=0),
                               rtol=1e-5, atol=1e-7)
    assert model in workers._POOLS


def test_a_dead_worker_fails_predict_then_is_replaced(processes):
    x, _ = data(64)
    model = small_cnn()
    processes(2)
    expected = model.predict(x, batch_size=64, verbose=0)
    dead = pool_of(model)[0].process
    dead.kill()
    dead.join()
    with pytest.raises(RuntimeError, match=r"worker \(pid \d+\) exited unexpectedly"):
        model.predict(x, batch_size=64, verbose=0)
    assert model not in workers._POOLS and not workers.BUSY.locked()
    np.testing.assert_allclose(model.predict(x, batch_size=64, verbose=0), expected,
                               rtol=1e-6)


def test_models_with_large_weights_predict_in_threads(processes, monkeypatch):
    x, _ = data(64)
    model = small_cnn()
    weight_bytes = sum(w.nbytes for w in model.get_weights())
    monkeypatch.setattr(parallel, "PROCESS_INFERENCE_MAX_WEIGHT_BYTES", weight_bytes - 1)
    processes(2)
    got = model.predict(x, batch_size=64, verbose=0)
    assert model not in workers._POOLS
    monkeypatch.setattr(parallel, "PROCESS_INFERENCE_MAX_WEIGHT_BYTES", weight_bytes)
    np.testing.assert_allclose(got, model.predict(x, batch_size=64, verbose=0),
                               rtol=1e-5, atol=1e-7)
    assert model in workers._POOLS


def test_one_thread_means_single_threaded_blas_too(monkeypatch):
    seen = []

    class Spy(layers.Dense):
        def forward(self, ctx, x, training=False):
            seen.append(parallel._openblas()[1]())
            return super().forward(ctx, x, training)

    set_random_seed(0)
    model = Sequential([Input(shape=(4,)), Spy(3), layers.BatchNormalization(),
                        layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x, y = np.ones((8, 4)), np.zeros(8, dtype=int)
    setter, getter = parallel._openblas()
    before = getter()
    setter(2)
    try:
        backend.set_num_threads(1)
        model.train_on_batch(x, y)
        model.predict(x, verbose=0)
        assert seen == [1, 1]
        assert parallel._openblas()[1]() == 2                       # restored afterwards
        backend.set_num_threads(2)                  # unsplit (batch statistics, 8 samples):
        model.train_on_batch(x, y)                  # BLAS keeps its own threads
        assert seen[-1] == 2
    finally:
        backend.set_num_threads(None)
        setter(before)
