"""Worker processes that train shares of a batch on forked replicas of a model.

Why processes: replicas in threads hand the GIL back and forth around each of their ~200
NumPy calls per LeNet-5 step, and every handoff wakes the other core; two threads run each
share 1.2-1.4x slower than one thread alone, two processes 1.0-1.1x (measured on the 2-core
machine). So split training keeps one share in the calling process and sends the others to
workers forked from it (Linux), each holding its own replica.

Per step the calling process copies the weights into one shared-memory block (`SharedArrays`)
that every worker copies into its replica; inputs, outputs, loss gradients and dropout seeds
go through a pipe; each worker's weight gradients come back through a block of its own.
Workers exit when their pipe closes: `close(model)`, the model being garbage-collected, or
the calling process ending.
"""

from __future__ import annotations

import mmap
import os
import weakref

import numpy as np

from kernelnet._typing import Array
from kernelnet.models import graph

_ALIGN = 64  # bytes; each array starts on a cache line
# A worker that is stopped (SIGSTOP, a debugger) this long, or silent this long, fails the step
# with an error instead of hanging `fit`.
STOPPED_TIMEOUT_S = 10.0
REPLY_TIMEOUT_S = 3600.0


class SharedArrays:
    """Arrays shaped like `like`, laid out in one anonymous shared mapping that forked
    processes see too."""

    def __init__(self, like: list[Array]):
        offsets, end = [], 0
        for a in like:
            offsets.append(end)
            end += -(-a.nbytes // _ALIGN) * _ALIGN
        self._map = mmap.mmap(-1, max(end, 1))  # MAP_SHARED | MAP_ANONYMOUS
        self.arrays = [np.frombuffer(self._map, a.dtype, a.size, off).reshape(a.shape)
                       for a, off in zip(like, offsets)]


def available() -> bool:
    """Whether workers can be forked (Linux); `KERNELNET_TRAIN_PROCESSES=0` says no."""
    import multiprocessing

    return (os.environ.get("KERNELNET_TRAIN_PROCESSES", "").strip() != "0"
            and "fork" in multiprocessing.get_all_start_methods())


class Worker:
    """One forked process training `replica` (a model copy made for it) on request."""

    def __init__(self, replica, weights: SharedArrays, inherited: list):
        import multiprocessing

        ctx = multiprocessing.get_context("fork")
        self.grads = SharedArrays([w for layer in graph.leaves(replica)
                                   for w in layer.trainable_weights])
        self._owner = os.getpid()  # only this process may stop the worker (its parent)
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=_serve, name="kernelnet-train", daemon=True,
            args=(replica, weights.arrays, self.grads.arrays, child, [*inherited, self.conn]))
        self.process.start()
        child.close()

    def send(self, op: str, *payload) -> None:
        self.conn.send((op, payload))

    def reply(self):
        """The result of the last `send`; re-raises the worker's exception."""
        self._wait()
        try:
            status, value = self.conn.recv()
        except (EOFError, OSError):
            self.process.join(1.0)
            raise RuntimeError(
                f"kernelnet training worker (pid {self.process.pid}) exited unexpectedly "
                f"(exit code {self.process.exitcode}); the step was not applied.") from None
        if status == "error":
            raise value
        return value

    def _wait(self, poll_s: float = 0.5) -> None:
        """Returns when a reply (or the end of the pipe) is there; raises if the worker is
        stopped for `STOPPED_TIMEOUT_S` or silent for `REPLY_TIMEOUT_S`."""
        waited = stopped = 0.0
        while not self.conn.poll(poll_s):
            waited += poll_s
            if not self.process.is_alive():
                return  # recv() reports the exit
            stopped = stopped + poll_s if _is_stopped(self.process.pid) else 0.0
            if stopped >= STOPPED_TIMEOUT_S or waited >= REPLY_TIMEOUT_S:
                state = (f"has been stopped (SIGSTOP?) for {stopped:.0f} s" if stopped else
                         f"has not answered for {waited:.0f} s")
                raise RuntimeError(
                    f"kernelnet training worker (pid {self.process.pid}) {state}; the step was "
                    "not applied and the workers are ended. Resume the process (kill -CONT) "
                    "next time, or train without worker processes: "
                    "KERNELNET_TRAIN_PROCESSES=0.")

    def close(self) -> None:
        """Ends the worker at once, idle or not (its replica holds nothing of value).

        Only in the process that started it: a forked copy of this object (in another
        worker) neither owns the pid nor may signal it."""
        if os.getpid() != self._owner:
            return
        self.conn.close()
        self.process.kill()
        self.process.join()


def _serve(replica, weights: list[Array], grads: list[Array], conn, inherited: list) -> None:
    """The worker's loop: "forward" (seeds, x) -> y; "backward" (grad) -> None."""
    import signal

    from kernelnet.models import parallel

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the calling process's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the handler `kernelnet train` installs
    for other in inherited:
        other.close()  # pipes of the calling process and of earlier workers
    parallel._openblas()[0](1)  # single-threaded BLAS: one core per process
    own_weights, random_layers = replica.weights, parallel.random_layers(replica)
    while True:
        try:
            op, payload = conn.recv()
        except (EOFError, OSError):
            return
        try:
            if op == "forward":
                seeds, x = payload
                for dst, src in zip(own_weights, weights):
                    np.copyto(dst, src)
                for layer, seed in zip(random_layers, seeds):
                    layer._rng = np.random.default_rng(seed)
                result = ("ok", replica.forward(x, training=True))
            else:
                replica._backward_from_loss(payload[0])
                own = [g for layer in graph.leaves(replica) for g in layer.gradients]
                for dst, src in zip(grads, own, strict=True):
                    np.copyto(dst, src)
                result = ("ok", None)
        except Exception as error:  # noqa: BLE001 - sent to the caller, who re-raises it
            result = ("error", error)
        try:
            conn.send(result)
        except OSError:
            return  # the calling process closed the pipe
        except Exception as error:  # noqa: BLE001 - pickling failed, nothing was written
            conn.send(("error", RuntimeError(f"a training worker raised {result[1]!r}, which "
                                             f"could not be sent back ({error})")))


def _is_stopped(pid: int) -> bool:
    """Whether process `pid` is in the stopped state (Linux /proc; False where unknown)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("T", "t")
    except (OSError, IndexError):
        return False


# model -> (structure key, shared weight block, workers, finalizer); dropped with the model.
_POOLS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def for_model(model, count: int, key: tuple, make_replica) -> tuple[SharedArrays, list[Worker]]:
    """`count` workers for `model` (forked once, again when `key` changes) and the block its
    weights are published through."""
    pool = _POOLS.get(model)
    if pool is None or pool[0] != key or len(pool[2]) < count:
        close(model)
        block, workers = SharedArrays(model.weights), []
        for _ in range(count):
            workers.append(Worker(make_replica(), block, [w.conn for w in workers]))
        pool = _POOLS[model] = (key, block, workers, weakref.finalize(model, _close_all, workers))
    return pool[1], pool[2][:count]


def close(model) -> None:
    """Stops `model`'s workers, if any (they are forked again when needed)."""
    pool = _POOLS.pop(model, None)
    if pool is not None:
        pool[3].detach()
        _close_all(pool[2])


def _close_all(workers: list[Worker]) -> None:
    for worker in workers:
        worker.close()
