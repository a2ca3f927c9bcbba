"""Data parallelism over CPU cores: each core runs its own replica of the model on a share of
the batch, with single-threaded BLAS, and the weight gradients are summed.

Why: NumPy's elementwise functions (bias, activations, pooling, dropout, im2col copies) run on
one core, and OpenBLAS's threaded products reach only 55-65% of its peak on the skinny matrices
of small convolutions. One batch share per core keeps both cores busy for everything (measured
on the 2-core machine, training steps at batch 128: MNIST CNN +23-38%, LeNet-5 +20-39%,
CIFAR-10 CNN +42-44%).

Training runs the first share in the calling thread and the others in forked worker processes
(`workers.py`; LeNet-5 training +11-22% over threads), or in threads where processes cannot be
forked; inference runs its shares in threads. Thread replicas are deep copies of the model that
share its weight arrays (optimizer updates and `set_weights` reach them, both work in place) but
own their caches, activation state and dropout generators. Results equal the unsplit
computation up to float rounding of the gradient sums: the loss and its gradient are computed
on the whole batch, in the calling thread. A layer whose training forward mixes samples
(`batch_dependent`, e.g. BatchNormalization with batch statistics) makes training run unsplit;
inference is per-sample and always splits.
"""

from __future__ import annotations

import copy
import ctypes
import functools
from contextlib import contextmanager

import numpy as np

from kernelnet import backend
from kernelnet._typing import Array
from kernelnet.models import graph, workers

# Samples per thread below which splitting costs more than it saves.
MIN_SHARD = 16

_POOL = None  # a concurrent.futures.ThreadPoolExecutor, made on first use (import time)
_POOL_SIZE = 0


@functools.cache
def _openblas():
    """`(set_num_threads, get_num_threads)` of the OpenBLAS NumPy loaded, or None.

    Found like threadpoolctl does: the shared libraries mapped into this process (Linux).
    """
    try:
        with open("/proc/self/maps") as maps:
            paths = sorted({line.split()[-1] for line in maps
                            if "openblas" in line.rsplit("/", 1)[-1].lower()})
    except OSError:
        return None
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix in (("openblas", ""), ("scipy_openblas", "64_"),
                               ("scipy_openblas", ""), ("openblas", "64_")):
            setter = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
            getter = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
            if setter is not None and getter is not None:
                setter.argtypes, getter.restype = [ctypes.c_int], ctypes.c_int
                return setter, getter
    return None


@contextmanager
def single_threaded_blas():
    """Within the block, BLAS calls run in the calling thread (so replicas don't oversubscribe
    the cores, or spin-wait on each other's BLAS threads)."""
    setter, getter = _openblas()
    before = getter()
    setter(1)
    try:
        yield
    finally:
        setter(before)


def shard_count(model, batch: int, training: bool) -> int:
    """Threads to split a batch over: 1 (no split) unless there are >= 2 threads, OpenBLAS can
    be told to stay single-threaded, every thread gets `MIN_SHARD` samples and, in training, no
    layer mixes samples."""
    threads = min(backend.num_threads(), batch // MIN_SHARD)
    if threads < 2 or _openblas() is None:
        return 1
    if training and any(layer.batch_dependent for layer in graph.all_layers(model)):
        return 1
    return threads


def split(n: int, parts: int) -> list[tuple[int, int]]:
    """`parts` contiguous (lo, hi) ranges covering range(n), sizes differing by at most one."""
    edges = [n * i // parts for i in range(parts + 1)]
    return list(zip(edges[:-1], edges[1:]))


def take(x: Array | list[Array], lo: int, hi: int) -> Array | list[Array]:
    return [a[lo:hi] for a in x] if isinstance(x, list) else x[lo:hi]


def samples(x: Array | list[Array]) -> int:
    """Batch size of an input array or of a list of input arrays."""
    return len(x[0]) if isinstance(x, list) else len(x)


def run(tasks: list) -> list:
    """Runs the callables on the thread pool; returns their results in order (after all are
    done, so no replica is still working when an exception propagates)."""
    global _POOL, _POOL_SIZE
    if _POOL is None or _POOL_SIZE < len(tasks):
        from concurrent.futures import ThreadPoolExecutor

        if _POOL is not None:
            _POOL.shutdown(wait=False)  # its idle threads exit; a bigger pool replaces it
        _POOL = ThreadPoolExecutor(max_workers=len(tasks), thread_name_prefix="kernelnet")
        _POOL_SIZE = len(tasks)
    futures = [_POOL.submit(task) for task in tasks]
    for future in futures:
        future.exception()  # waits
    return [future.result() for future in futures]


# ------------------------------------------------------------------------ replicas
def _structure_key(model) -> tuple:
    """Changes whenever replicas would go stale: layers, their weight arrays, trainable flags."""
    layers = graph.all_layers(model)
    return (id(model.loss), id(model._fused_act),
            *((id(layer), layer.trainable, *(id(w) for _, w, _ in layer._weights))
              for layer in layers))


def _replicate(model):
    """A deep copy of `model` sharing its weights, optimizer, loss and metrics; caches dropped."""
    memo = {}
    for attr in ("optimizer", "loss", "compiled_loss", "compiled_metrics", "_loss_tracker",
                 "history", "_compile_config"):
        value = getattr(model, attr, None)
        memo[id(value)] = value
    for layer in graph.all_layers(model):
        memo.update((id(w), w) for _, w, _ in layer._weights)
        act = getattr(layer, "_act", None)
        held = [getattr(layer, name, None) for name in (*layer._CACHES, "_workspace")]
        held += [act._z, act._y] if act is not None else []
        memo.update((id(v), None) for v in held if v is not None)
    return copy.deepcopy(model, memo)


def replicas(model, count: int) -> list:
    """`count` replicas of `model`, made once and remade when the model's structure changes."""
    key = _structure_key(model)
    cached = getattr(model, "_replicas", None)
    if cached is None or cached[0] != key or len(cached[1]) < count:
        model._replicas = None  # never copied into the new replicas
        cached = (key, [_replicate(model) for _ in range(count)])
        model._replicas = cached
    return cached[1][:count]


def random_layers(model) -> list:
    """The layers of `model` that draw random numbers in training (dropout, noise)."""
    return [layer for layer in graph.all_layers(model) if hasattr(layer, "_generator")]


def _seeds(model, count: int) -> list[list[int]]:
    """Per replica, one seed for each of its random layers, drawn from the model's own
    generators in a fixed order: runs are reproducible and checkpoints that save the model's
    generators resume exactly."""
    draws = [layer._generator().integers(2**63, size=count) for layer in random_layers(model)]
    return [[int(d[i]) for d in draws] for i in range(count)]


def _reseed(replica, seeds: list[int]) -> None:
    for layer, seed in zip(random_layers(replica), seeds):
        layer._rng = np.random.default_rng(seed)


def _sum_gradients(model, reps: list, flat: list[list[Array]] = ()) -> None:
    """Sets each layer's `gradients` to the sum of its replicas' and of the `flat` lists
    (gradients of all layers, from worker processes), accumulated in place into the first
    replica's fresh arrays."""
    flat = [iter(f) for f in flat]
    for layer, first, *rest in zip(*(graph.leaves(m) for m in (model, *reps))):
        total = list(first.gradients)
        for acc, *others in zip(total, *(other.gradients for other in rest)):
            for g in others + [next(f) for f in flat]:
                acc += g
        layer.gradients = total


def train_step(model, x: Array | list[Array], y: Array, shards: int,
               sample_weight: Array | None = None) -> tuple[float, Array]:
    """Forward on the replicas, loss and its gradient on the whole batch (weighted by
    `sample_weight`), backward on the replicas, gradients summed into `model`'s layers;
    returns `(loss, y_pred)`.

    The first share runs in the calling thread; the others in worker processes where they can
    be forked (`workers.py`), else in threads."""
    if workers.available():
        return _train_step_processes(model, x, y, shards, sample_weight)
    reps = replicas(model, shards)
    bounds = split(samples(x), shards)
    for rep, seeds in zip(reps, _seeds(model, shards)):
        _reseed(rep, seeds)
    with single_threaded_blas():
        parts = run([functools.partial(r.forward, take(x, lo, hi), training=True)
                     for r, (lo, hi) in zip(reps, bounds)])
        y_pred = np.concatenate(parts)
        loss, grad = model._loss_and_grad(y, y_pred, sample_weight)
        run([functools.partial(r._backward_from_loss, grad[lo:hi])
             for r, (lo, hi) in zip(reps, bounds)])
    _sum_gradients(model, reps)
    return loss, y_pred


def _train_step_processes(model, x, y, shards: int, sample_weight) -> tuple[float, Array]:
    own = replicas(model, 1)[0]
    block, pool = workers.for_model(model, shards - 1, _structure_key(model),
                                    functools.partial(_replicate, model))
    for dst, src in zip(block.arrays, model.weights):
        np.copyto(dst, src)
    (lo, hi), *rest = split(samples(x), shards)
    own_seeds, *seeds = _seeds(model, shards)
    _reseed(own, own_seeds)
    try:
        for worker, (a, b), s in zip(pool, rest, seeds):
            worker.send("forward", s, take(x, a, b))
        with single_threaded_blas():
            parts = [own.forward(take(x, lo, hi), training=True),
                     *(worker.reply() for worker in pool)]
        y_pred = np.concatenate(parts)
        loss, grad = model._loss_and_grad(y, y_pred, sample_weight)
        for worker, (a, b) in zip(pool, rest):
            worker.send("backward", grad[a:b])
        with single_threaded_blas():
            own._backward_from_loss(grad[lo:hi])
            for worker in pool:
                worker.reply()
    except BaseException:
        # A step cut short (an error here or in a worker, Ctrl-C) may leave replies unread
        # and workers busy: stop them all, they are forked anew at the next step.
        workers.close(model)
        raise
    _sum_gradients(model, [own], [w.grads.arrays for w in pool])
    return loss, y_pred


def inference(model, x: Array | list[Array], shards: int) -> list[Array]:
    """`model._chunked_inference` over `shards` contiguous parts of the batch, one per replica;
    returns the list of outputs."""
    reps = replicas(model, shards)
    n = samples(x)
    with single_threaded_blas():
        parts = run([functools.partial(r._chunked_inference, take(x, lo, hi))
                     for r, (lo, hi) in zip(reps, split(n, shards))])
    return [np.concatenate(outs) for outs in zip(*parts)]
