"""One measurement in a fresh process: one framework, one architecture; prints one JSON line.

    python benchmarks/worker.py --framework kernelnet --arch mnist_cnn --threads 2

Run by `benchmarks/run.py`, which sets OMP/OPENBLAS/MKL_NUM_THREADS before this process starts
(BLAS reads them at load time). Peak resident memory is this process's `ru_maxrss` plus that of
its largest child (kernelnet's training worker, see kernelnet/models/workers.py; the pages
both share since the fork are counted twice), so each framework is measured alone. Data are
synthetic (seeded), identical for both frameworks: uint8 images cast to float32 / 255 per batch
(as a fit loop does) and integer labels.
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

from archs import ARCHS  # noqa: E402


def make_data(arch, n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    h, w, c = arch.input_shape
    x = rng.integers(0, 256, (n, h, w, c), dtype=np.uint8)
    y = rng.integers(0, max(arch.classes, 1), n).astype(np.int64)
    return x, y


def _timed_loop(step, batches: int, warmup: int, min_seconds: float) -> float:
    """Images/s over at least `batches` steps (and `min_seconds`) after `warmup` steps."""
    for i in range(warmup):
        step(i)
    done, start = 0, time.perf_counter()
    while done < batches or time.perf_counter() - start < min_seconds:
        step(done)
        done += 1
    return done, time.perf_counter() - start


# ---------------------------------------------------------------------------- kernelnet
def run_kernelnet(arch, args) -> dict:
    from kernelnet import optimizers
    from kernelnet.models import workers

    model = arch.kernelnet()
    result = {"macs_per_image": int(model.compute_macs((1, *arch.input_shape)))}
    if arch.train:
        model.compile(optimizer=optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
        bs = arch.train_batch
        x, y = make_data(arch, bs * 8)

        def train(i):
            j = (i % 8) * bs
            model.train_on_batch(x[j:j + bs], y[j:j + bs])

        steps, secs = _timed_loop(train, args.train_steps, args.warmup, args.min_seconds)
        result["train_ips"] = steps * bs / secs
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
    model = arch.torch()
    result = {}

    def tensor(xb):  # NHWC uint8 -> NCHW float32 / 255, as a DataLoader transform would
        return torch.from_numpy(xb).permute(0, 3, 1, 2).float().div_(255.0).contiguous()

    if arch.train:
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
        loss_fn = torch.nn.CrossEntropyLoss()
        bs = arch.train_batch
        x, y = make_data(arch, bs * 8)
        yt = torch.from_numpy(y)

        def train(i):
            j = (i % 8) * bs
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(tensor(x[j:j + bs])), yt[j:j + bs])
            loss.backward()
            opt.step()
            loss.item()

        steps, secs = _timed_loop(train, args.train_steps, args.warmup, args.min_seconds)
        result["train_ips"] = steps * bs / secs
    model.eval()
    xi, _ = make_data(arch, arch.infer_batch, seed=1)

    def infer(i):
        with torch.no_grad():
            out = model(tensor(xi))
            if arch.classes:
                out = torch.softmax(out, dim=1)
            out.numpy()

    steps, secs = _timed_loop(infer, args.infer_steps, 1, args.min_seconds)
    result["infer_ips"] = steps * arch.infer_batch / secs
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", choices=("kernelnet", "torch"), required=True)
    parser.add_argument("--arch", choices=sorted(ARCHS), required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--train-steps", type=int, default=20)
    parser.add_argument("--infer-steps", type=int, default=3)
    parser.add_argument("--min-seconds", type=float, default=3.0)
    args = parser.parse_args(argv)
    arch = ARCHS[args.arch]
    runner = run_kernelnet if args.framework == "kernelnet" else run_torch
    result = runner(arch, args)
    result["peak_rss_mb"] = sum(resource.getrusage(who).ru_maxrss for who in
                                (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024
    result.update(framework=args.framework, arch=args.arch)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
