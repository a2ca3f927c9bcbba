"""Data parallelism over CPU cores: each core runs the model on a share of the batch, with
single-threaded BLAS, and the weight gradients are summed.

Why: NumPy's elementwise functions (bias, activations, pooling, dropout, im2col copies) run on
one core, and OpenBLAS's threaded products reach only 55-65% of its peak on the skinny matrices
of small convolutions. One batch share per core keeps both cores busy for everything (measured
on the 2-core machine, training steps at batch 128: MNIST CNN +23-38%, LeNet-5 +20-39%,
CIFAR-10 CNN +42-44%).

Layers keep nothing of a call on themselves (each call has its own context), so every share runs
the same model object, each under its own `GradientTape` (tapes are per thread). Training runs
the first share in the calling thread and the others in forked worker processes (`workers.py`;
LeNet-5 training +11-22% over threads), or in threads where processes cannot be forked;
inference does the same for models of built-in layers (predict of 1000 samples 1.04-1.19x faster
than in threads) and runs other models' shares in threads. Each share draws its dropout masks
from generators seeded from the model's own (`_seeds`), so runs are reproducible and resume
exactly. Results equal the unsplit computation up to float rounding of the gradient sums: the
loss and its gradient are computed on the whole batch, in the calling thread. A layer whose
training forward mixes samples (`batch_dependent`, e.g. BatchNormalization with batch
statistics) makes training run unsplit, and so does a layer written with `call()` (it may add
losses or keep Python state of its own); inference is per-sample and always splits.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
from contextlib import contextmanager

import numpy as np

from kernelnet import backend
from kernelnet._typing import Array
from kernelnet.autodiff import GradientTape
from kernelnet.layers.base import share_generators
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


def unsplit_blas():
    """BLAS threads for a batch that runs unsplit: one when kernelnet is told to use one
    thread (`backend.set_num_threads(1)`, `KERNELNET_NUM_THREADS=1`), else OpenBLAS's own.

    NOTE: LeNet-5 trained on one thread at batch 64: 13.7 ms per step with OpenBLAS's two
    threads on its small products, 8.6 ms with one."""
    if backend.num_threads() == 1 and _openblas() is not None:
        return single_threaded_blas()
    return contextlib.nullcontext()


def shard_count(model, batch: int, training: bool) -> int:
    """Threads to split a batch over: 1 (no split) unless there are >= 2 threads, OpenBLAS can
    be told to stay single-threaded, every thread gets `MIN_SHARD` samples and, in training, no
    layer mixes samples or is written with `call()`."""
    threads = min(backend.num_threads(), batch // MIN_SHARD)
    if threads < 2 or _openblas() is None:
        return 1
    if training and any(layer.batch_dependent or not _runs_fused(layer)
                        for layer in graph.all_layers(model)):
        return 1
    return threads


def _runs_fused(layer) -> bool:
    """A built-in (fused) layer, or a Sequential/functional model of them."""
    return layer._fused or (hasattr(layer, "_nodes") and not layer._subclassed)


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


# ------------------------------------------------------------------------ shares
def random_layers(model) -> list:
    """The layers of `model` that draw random numbers in training (dropout, noise)."""
    return [layer for layer in graph.all_layers(model) if hasattr(layer, "_generator")]


def _seeds(model, count: int) -> list[list[int]]:
    """Per share, one seed for each of the model's random layers, drawn from the layers' own
    generators in a fixed order: runs are reproducible and checkpoints that save the model's
    generators resume exactly."""
    draws = [layer._generator().integers(2**63, size=count) for layer in random_layers(model)]
    return [[int(d[i]) for d in draws] for i in range(count)]


def share_forward(model, x: Array | list[Array], seeds: list[int]) -> tuple:
    """Records the model's training forward on one share: `(tape, output Tensor)`."""
    generators = {id(layer): np.random.default_rng(seed)
                  for layer, seed in zip(random_layers(model), seeds)}
    tape = GradientTape()
    with tape, share_generators(generators):
        out = model(x, training=True)
    return tape, out


def share_backward(model, tape, out, grad: Array, at_logits: bool) -> list:
    """The share's weight gradients, from the loss gradient `grad` at its output (at the
    logits behind the output softmax/sigmoid when `at_logits`)."""
    target = out._keras_logits if at_logits else out
    return tape.gradient(target, model.trainable_weights, output_gradients=grad)


def _loss(model, y: Array, y_pred: Array, out, sample_weight) -> tuple[float, Array, bool]:
    """The compiled loss and its gradient on the whole (single-output) batch, weighted by
    `sample_weight`: `(loss, grad, at_logits)`."""
    at_logits = model.fused_logits(out, model.compiled_loss.losses[0]) is not None
    loss, grads = model.compiled_loss.value_and_grads([y], [y_pred], [sample_weight],
                                                      [at_logits])
    return loss, grads[0], at_logits


def _sum_gradients(first: list, others: list[list]) -> list:
    """`first` with every list of `others` added into it, in place (fresh arrays of the
    first share's backward); None stays None (a weight the loss does not reach)."""
    for i, acc in enumerate(first):
        if acc is not None:
            for other in others:
                acc += other[i]
    return first


def train_step(model, x: Array | list[Array], y: Array, shards: int,
               sample_weight: Array | None = None) -> tuple:
    """Forward on the shares, loss and its gradient on the whole batch (weighted by
    `sample_weight`), backward on the shares, gradients summed; returns
    `(loss, y_pred, grads)` like `Model.compute_gradients`.

    The first share runs in the calling thread; the others in worker processes where they can
    be forked (`workers.py`), else in threads."""
    if workers.available():
        with workers.BUSY:
            return _train_step_processes(model, x, y, shards, sample_weight)
    bounds = split(samples(x), shards)
    with single_threaded_blas():
        parts = run([functools.partial(share_forward, model, take(x, lo, hi), seeds)
                     for (lo, hi), seeds in zip(bounds, _seeds(model, shards))])
        y_pred = np.concatenate([out.value for _, out in parts])
        loss, grad, at_logits = _loss(model, y, y_pred, parts[0][1], sample_weight)
        grads = run([functools.partial(share_backward, model, tape, out, grad[lo:hi], at_logits)
                     for (tape, out), (lo, hi) in zip(parts, bounds)])
    return loss, y_pred, _sum_gradients(grads[0], grads[1:])


@contextmanager
def _on_workers(model, count: int):
    """`count` workers of `model` with its current weights published to them. A call cut short
    inside the block (an error here or in a worker, Ctrl-C) may leave replies unread and
    workers busy: they are all stopped, and forked anew next time."""
    block, pool = workers.for_model(model, count)
    for dst, src in zip(block.arrays, model.weights):
        np.copyto(dst, src.value)
    try:
        yield pool
    except BaseException:
        workers.close(model)
        raise


def _train_step_processes(model, x, y, shards: int, sample_weight) -> tuple:
    (lo, hi), *rest = split(samples(x), shards)
    own_seeds, *seeds = _seeds(model, shards)
    with _on_workers(model, shards - 1) as pool:
        for worker, (a, b), s in zip(pool, rest, seeds):
            worker.send("forward", s, take(x, a, b))
        with single_threaded_blas():
            tape, out = share_forward(model, take(x, lo, hi), own_seeds)
            parts = [out.value, *(worker.reply() for worker in pool)]
        y_pred = np.concatenate(parts)
        loss, grad, at_logits = _loss(model, y, y_pred, out, sample_weight)
        for worker, (a, b) in zip(pool, rest):
            worker.send("backward", grad[a:b], at_logits)
        with single_threaded_blas():
            grads = share_backward(model, tape, out, grad[lo:hi], at_logits)
            for worker in pool:
                worker.reply()
    return loss, y_pred, _sum_gradients(grads, [w.grads.arrays for w in pool])


def inference(model, x: Array | list[Array], shards: int) -> list[Array]:
    """`model._chunked_inference` over `shards` contiguous parts of the batch, run
    concurrently; returns the list of outputs.

    The first part runs in the calling thread, the others in the worker processes where they
    can be forked, every layer is built in (as for training) and the weights are small
    (`PROCESS_INFERENCE_MAX_WEIGHT_BYTES`), else in threads on the same model."""
    bounds = split(samples(x), shards)
    if _infers_in_processes(model) and workers.BUSY.acquire(blocking=False):
        try:
            parts = _inference_processes(model, x, bounds)
        finally:
            workers.BUSY.release()
    else:
        with single_threaded_blas():
            parts = run([functools.partial(model._chunked_inference, take(x, lo, hi))
                         for lo, hi in bounds])
    return [np.concatenate(outs) for outs in zip(*parts)]


# Inference shares go to worker processes only for models with at most this many bytes of
# weights: a worker holds its own copy of them. NOTE: predict on 2 cores, processes against
# threads (`benchmarks/ab.py`, 3 rounds): LeNet-5 1.04x, MNIST CNN 1.19x, CIFAR-10 CNN 1.10x
# (threads hand the GIL back and forth, see `workers.py`; 1-5 MB of weights); ResNet50 (98 MB)
# 45 against 44 img/s but 631 against 381 MB peak memory.
PROCESS_INFERENCE_MAX_WEIGHT_BYTES = 32 * 2**20


def _infers_in_processes(model) -> bool:
    return (workers.available()
            and all(_runs_fused(layer) for layer in graph.all_layers(model))
            and sum(w.value.nbytes for w in model.weights) <= PROCESS_INFERENCE_MAX_WEIGHT_BYTES)


def _inference_processes(model, x: Array | list[Array], bounds: list[tuple[int, int]]) -> list:
    """Each part's list of outputs; the parts after the first run in worker processes."""
    (lo, hi), *rest = bounds
    with _on_workers(model, len(bounds) - 1) as pool:
        for worker, (a, b) in zip(pool, rest):
            worker.send("infer", take(x, a, b))
        with single_threaded_blas():
            return [model._chunked_inference(take(x, lo, hi)),
                    *(worker.reply() for worker in pool)]
