"""Worker processes that train and predict shares of a batch on forked copies of a model.

Why processes: replicas in threads hand the GIL back and forth around each of their ~200
NumPy calls per LeNet-5 step, and every handoff wakes the other core; two threads run each
share 1.2-1.4x slower than one thread alone, two processes 1.0-1.1x (measured on the 2-core
machine). So split training and predict keep one share in the calling process and send the
others to workers forked from it (Linux), each running its copy of the model (the fork's
memory).

Per step (and per predict call) the calling process copies the weights into one shared-memory
block (`SharedArrays`) that every worker copies into its model; inputs, outputs, loss
gradients and dropout seeds go through a pipe; each worker's weight gradients come back through
a block of its own.
Workers are forked again when what they copied goes stale (`_fork_key`: layers, weights,
trainable flags).
Workers exit when their pipe closes: `close(model)`, the model being garbage-collected, or
the calling process ending.
"""

from __future__ import annotations

import mmap
import os
import threading
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


# Held by the thread that is running a split step or predict on the workers: each worker
# serves one request at a time, so a second thread predicting meanwhile uses threads instead.
BUSY = threading.Lock()


def available() -> bool:
    """Whether workers can be forked (Linux); `KERNELNET_TRAIN_PROCESSES=0` says no."""
    import multiprocessing

    return (os.environ.get("KERNELNET_TRAIN_PROCESSES", "").strip() != "0"
            and "fork" in multiprocessing.get_all_start_methods())


class Worker:
    """One forked process running its copy of `model` on request (training shares, predict)."""

    def __init__(self, model, weights: SharedArrays, inherited: list):
        import multiprocessing

        ctx = multiprocessing.get_context("fork")
        self.grads = SharedArrays([w.value for w in model.trainable_weights])
        self._owner = os.getpid()  # only this process may stop the worker (its parent)
        self.conn, child = ctx.Pipe()
        # a weak reference: the parent's Process object must not keep the model alive (the
        # forked child has its own copy of everything the reference points to)
        self.process = ctx.Process(
            target=_serve, name="kernelnet-train", daemon=True,
            args=(weakref.ref(model), weights.arrays, self.grads.arrays, child,
                  [*inherited, self.conn]))
        self.process.start()
        child.close()

    def send(self, op: str, *payload) -> None:
        try:
            self.conn.send((op, payload))
        except OSError:  # BrokenPipeError: the worker is gone
            raise self._exited() from None

    def reply(self):
        """The result of the last `send`; re-raises the worker's exception."""
        self._wait()
        try:
            status, value = self.conn.recv()
        except (EOFError, OSError):
            raise self._exited() from None
        if status == "error":
            raise value
        return value

    def _exited(self) -> RuntimeError:
        self.process.join(1.0)
        return RuntimeError(
            f"kernelnet worker (pid {self.process.pid}) exited unexpectedly "
            f"(exit code {self.process.exitcode}); the training step or predict call it was "
            "running did not complete (no step was applied).")

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
                    f"kernelnet worker (pid {self.process.pid}) {state}; the step was "
                    "not applied and the workers are ended. Resume the process (kill -CONT) "
                    "next time, or train without worker processes: "
                    "KERNELNET_TRAIN_PROCESSES=0.")

    def close(self) -> None:
        """Ends the worker at once, idle or not (its model copy holds nothing of value).

        Only in the process that started it: a forked copy of this object (in another
        worker) neither owns the pid nor may signal it."""
        if os.getpid() != self._owner:
            return
        self.conn.close()
        self.process.kill()
        self.process.join()


def _serve(model_ref, weights: list[Array], grads: list[Array], conn, inherited: list) -> None:
    """The worker's loop: "forward" (seeds, x) -> y; "backward" (grad, at_logits) -> None,
    the weight gradients written into `grads`; "infer" (x,) -> the list of outputs of a
    cache-free forward (`Model._chunked_inference`)."""
    import signal

    from kernelnet.models import parallel

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the calling process's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the handler `kernelnet train` installs
    for other in inherited:
        other.close()  # pipes of the calling process and of earlier workers
    parallel._openblas()[0](1)  # single-threaded BLAS: one core per process
    model = model_ref()
    own_weights = [w.value for w in model.weights]
    share = None
    while True:
        try:
            op, payload = conn.recv()
        except (EOFError, OSError):
            return
        try:
            if op in ("forward", "infer"):
                for dst, src in zip(own_weights, weights):
                    np.copyto(dst, src)
            if op == "forward":
                seeds, x = payload
                share = parallel.share_forward(model, x, seeds)
                result = ("ok", share[1].value)
            elif op == "infer":
                result = ("ok", model._chunked_inference(payload[0]))
            else:
                grad, at_logits = payload
                tape, out = share
                share = None
                own = parallel.share_backward(model, tape, out, grad, at_logits)
                for dst, src in zip(grads, own, strict=True):
                    if src is None:
                        dst[...] = 0
                    else:
                        np.copyto(dst, src)
                result = ("ok", None)
        except Exception as error:  # noqa: BLE001 - sent to the caller, who re-raises it
            result = ("error", error)
        try:
            conn.send(result)
        except OSError:
            return  # the calling process closed the pipe
        except Exception as error:  # noqa: BLE001 - pickling failed, nothing was written
            conn.send(("error", RuntimeError(f"a kernelnet worker raised {result[1]!r}, which "
                                             f"could not be sent back ({error})")))


def _is_stopped(pid: int) -> bool:
    """Whether process `pid` is in the stopped state (Linux /proc; False where unknown)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("T", "t")
    except (OSError, IndexError):
        return False


# model -> (fork key, shared weight block, workers, finalizer); dropped with the model.
_POOLS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _fork_key(model) -> tuple:
    """Changes whenever forked copies would go stale: the layers, their weight arrays and
    trainable flags (weight values travel each step)."""
    return tuple((id(layer), layer.trainable, *(id(w.value) for w in layer._weights))
                 for layer in graph.all_layers(model))


def for_model(model, count: int) -> tuple[SharedArrays, list[Worker]]:
    """`count` workers for `model` (forked once, again when its `_fork_key` changes) and the
    block its weights are published through."""
    key = _fork_key(model)
    pool = _POOLS.get(model)
    if pool is None or pool[0] != key or len(pool[2]) < count:
        close(model)
        block, workers = SharedArrays([w.value for w in model.weights]), []
        for _ in range(count):
            workers.append(Worker(model, block, [w.conn for w in workers]))
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
