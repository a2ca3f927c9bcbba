"""One measurement in a fresh process: one framework, one architecture; prints one JSON line.

    python benchmarks/worker.py --framework kernelnet --arch mnist_cnn --threads 2

Run by `benchmarks/run.py`, which sets OMP/OPENBLAS/MKL_NUM_THREADS before this process starts
(BLAS reads them at load time) and, for a PyTorch configuration, the allocator (`LD_PRELOAD`,
glibc's `MALLOC_*` variables). Peak resident memory is this process's `ru_maxrss` plus that of
its largest child (kernelnet's worker process, see kernelnet/models/workers.py; the pages
both share since the fork are counted twice), so each framework is measured alone.

Data are synthetic (seeded) and identical for both frameworks: float32 images in [0, 1) and
integer labels, converted to each framework's input (NHWC arrays for kernelnet; NCHW tensors,
or channels_last ones with `--channels-last`, for PyTorch) before the clock starts, so that
neither framework's timing includes data preparation.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from archs import ARCHS, SIZE_FREE  # noqa: E402


def make_data(arch, n: int, seed: int = 0):
    """(x, y): NHWC float32 images in [0, 1) and int64 labels."""
    rng = np.random.default_rng(seed)
    h, w, c = arch.input_shape
    x = rng.integers(0, 256, (n, h, w, c), dtype=np.uint8).astype(np.float32) / np.float32(255)
    y = rng.integers(0, max(arch.classes, 1), n).astype(np.int64)
    return x, y


def _minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _timed_loop(step, batches: int, warmup: int, min_seconds: float,
                faults: dict | None = None) -> tuple[int, float]:
    """(steps, seconds): at least `batches` steps (and `min_seconds`) after `warmup` steps.
    `faults`: gets "per_step", this process's minor page faults per timed step (a count the
    machine's load does not blur; kernelnet's forked training worker is not in it)."""
    for i in range(warmup):
        step(i)
    done, start, faults_before = 0, time.perf_counter(), _minor_faults()
    while done < batches or time.perf_counter() - start < min_seconds:
        step(done)
        done += 1
    if faults is not None:
        faults["per_step"] = (_minor_faults() - faults_before) / done
    return done, time.perf_counter() - start


# ---------------------------------------------------------------------------- kernelnet
def run_kernelnet(arch, args) -> dict:
    from kernelnet import optimizers
    from kernelnet.models import workers

    model = arch.build("kernelnet")
    result = {"macs_per_image": int(model.compute_macs((1, *arch.input_shape)))}
    if arch.train:
        model.compile(optimizer=optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
        bs = arch.train_batch
        x, y = make_data(arch, bs * 8)
        batches = [(x[j:j + bs], y[j:j + bs]) for j in range(0, bs * 8, bs)]

        def train(i):
            model.train_on_batch(*batches[i % 8])

        faults = {}
        steps, secs = _timed_loop(train, args.train_steps, args.warmup, args.min_seconds,
                                  faults)
        result["train_ips"] = steps * bs / secs
        result["train_faults_per_step"] = faults["per_step"]
    xi, _ = make_data(arch, arch.infer_batch, seed=1)

    def infer(i):
        model.predict_on_batch(xi)

    steps, secs = _timed_loop(infer, args.infer_steps, 1, args.min_seconds)
    result["infer_ips"] = steps * arch.infer_batch / secs
    workers.close(model)  # reaped, so that RUSAGE_CHILDREN counts it
    return result


# ---------------------------------------------------------------------------- torch
def run_torch(arch, args) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = arch.build("torch")
    layout = torch.channels_last if args.channels_last else torch.contiguous_format
    model = model.to(memory_format=layout)
    result = {}

    def tensor(xb):  # NHWC float32 -> NCHW (or channels_last) tensor, before timing
        return torch.from_numpy(xb).permute(0, 3, 1, 2).contiguous(memory_format=layout)

    run = torch.compile(model) if args.compile else model
    if arch.train:
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
        loss_fn = torch.nn.CrossEntropyLoss()
        bs = arch.train_batch
        x, y = make_data(arch, bs * 8)
        batches = [(tensor(x[j:j + bs]), torch.from_numpy(y[j:j + bs]))
                   for j in range(0, bs * 8, bs)]

        def train(i):
            xb, yb = batches[i % 8]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(run(xb), yb)
            loss.backward()
            opt.step()
            loss.item()

        faults = {}
        steps, secs = _timed_loop(train, args.train_steps, args.warmup, args.min_seconds,
                                  faults)
        result["train_ips"] = steps * bs / secs
        result["train_faults_per_step"] = faults["per_step"]
    model.eval()
    xi = tensor(make_data(arch, arch.infer_batch, seed=1)[0])

    def infer(i):
        with torch.no_grad():
            out = run(xi)
            if arch.classes:
                out = torch.softmax(out, dim=1)
            out.numpy()

    steps, secs = _timed_loop(infer, args.infer_steps, 1 + 2 * args.compile, args.min_seconds)
    result["infer_ips"] = steps * arch.infer_batch / secs
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", choices=("kernelnet", "torch"), required=True)
    parser.add_argument("--arch", choices=sorted({**ARCHS, **SIZE_FREE}), required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--train-steps", type=int, default=20)
    parser.add_argument("--infer-steps", type=int, default=3)
    parser.add_argument("--min-seconds", type=float, default=3.0)
    parser.add_argument("--channels-last", action="store_true",
                        help="PyTorch: model and inputs in channels_last memory format")
    parser.add_argument("--compile", action="store_true", help="PyTorch: torch.compile the model")
    parser.add_argument("--config", default="", help="a name for the run's configuration")
    parser.add_argument("--image-size", type=int, default=None,
                        help="square input size (size-free architectures only)")
    parser.add_argument("--batch", type=int, default=None,
                        help="training and inference batch (default: the architecture's)")
    args = parser.parse_args(argv)
    arch = {**ARCHS, **SIZE_FREE}[args.arch].resized(args.image_size, args.batch)
    runner = run_kernelnet if args.framework == "kernelnet" else run_torch
    result = runner(arch, args)
    result["peak_rss_mb"] = sum(resource.getrusage(who).ru_maxrss for who in
                                (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024
    result.update(framework=args.framework, arch=args.arch, config=args.config)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
