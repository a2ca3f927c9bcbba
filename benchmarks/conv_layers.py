"""The new convolutions against PyTorch's equivalents, forward and backward, one op at a time.

    python benchmarks/conv_layers.py [--repeats 5] [--threads 2]

Each (framework, case) runs in a fresh process (`--worker`), alternating kernelnet and torch,
and reports the median time of a forward and of a forward + backward (input and weight
gradients) over `--iters` calls; the table gives medians over repeats and the ratio
torch / kernelnet (> 1: kernelnet faster). Shapes are MobileNetV2 / Xception / U-Net-like
layers at batch 32. PyTorch runs channels_last (its faster layout for these ops on CPU, checked
per case: the better of NCHW and channels_last is taken) with the same thread count.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

# name -> (kind, input NHWC, kernel spatial, stride, extra)
CASES = {
    "depthwise3x3_s1 (56x56x32)": ("depthwise", (32, 56, 56, 32), 3, 1, 1),
    "depthwise3x3_s2 (56x56x96)": ("depthwise", (32, 56, 56, 96), 3, 2, 1),
    "grouped3x3 g=4 (28x28x64->64)": ("grouped", (32, 28, 28, 64), 3, 1, 4),
    "transposed3x3_s2 (14x14x64->32)": ("transposed", (32, 14, 14, 64), 3, 2, 32),
}


def _kernelnet(kind, shape, k, s, extra, iters):
    from kernelnet.ops import depthwise, transposed

    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    c = shape[-1]
    if kind == "depthwise":
        w = rng.standard_normal((k, k, c, extra)).astype(np.float32)

        def fwd():
            return depthwise.depthwise_conv2d_forward(x, w, None, s, "same")

        bwd = depthwise.depthwise_conv2d_backward
    elif kind == "grouped":
        w = rng.standard_normal((k, k, c // extra, c)).astype(np.float32)

        def fwd():
            return depthwise.grouped_conv2d_forward(x, w, None, extra, s, "same")

        bwd = depthwise.grouped_conv2d_backward
    else:
        w = rng.standard_normal((k, k, extra, c)).astype(np.float32)

        def fwd():
            return transposed.conv2d_transpose_forward(x, w, None, s, "same")

        bwd = transposed.conv2d_transpose_backward
    y, _ = fwd()
    g = rng.standard_normal(y.shape).astype(np.float32)
    return (lambda: fwd()), (lambda: bwd(g, fwd()[1]))


def _torch(kind, shape, k, s, extra, iters, channels_last):
    import torch

    torch.manual_seed(0)
    n, h, w_, c = shape
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    x = torch.randn(n, c, h, w_).contiguous(memory_format=fmt).requires_grad_(True)
    if kind == "depthwise":
        weight = torch.randn(c * extra, 1, k, k, requires_grad=True)

        def f():
            return torch.nn.functional.conv2d(x, weight, None, s, k // 2, 1, c)
    elif kind == "grouped":
        weight = torch.randn(c, c // extra, k, k, requires_grad=True)

        def f():
            return torch.nn.functional.conv2d(x, weight, None, s, k // 2, 1, extra)
    else:
        weight = torch.randn(c, extra, k, k, requires_grad=True)

        def f():
            return torch.nn.functional.conv_transpose2d(x, weight, None, s, k // 2, s - 1)
    y = f()
    g = torch.randn_like(y)

    def fwd():
        with torch.no_grad():
            return f()

    def fwd_bwd():
        x.grad = weight.grad = None
        f().backward(g)

    return fwd, fwd_bwd


def worker(args) -> None:
    kind, shape, k, s, extra = CASES[args.case]
    if args.framework == "kernelnet":
        fwd, fwd_bwd = _kernelnet(kind, shape, k, s, extra, args.iters)
    else:
        import torch

        torch.set_num_threads(args.threads)
        best = None
        for cl in (True, False):
            f, fb = _torch(kind, shape, k, s, extra, args.iters, cl)
            t = _time(f, 3)
            if best is None or t < best[0]:
                best = (t, f, fb)
        _, fwd, fwd_bwd = best
    print(json.dumps({"fwd_ms": _time(fwd, args.iters) * 1e3,
                      "fwd_bwd_ms": _time(fwd_bwd, args.iters) * 1e3}))


def _time(fn, iters: int) -> float:
    fn()
    times = []
    for _ in range(iters):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--framework", default="kernelnet", help=argparse.SUPPRESS)
    parser.add_argument("--case", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    env = dict(os.environ, **{v: str(args.threads) for v in THREAD_VARS})
    print("| op (batch 32) | kernelnet fwd / fwd+bwd ms | torch fwd / fwd+bwd ms "
          "| torch/kernelnet fwd, fwd+bwd |\n|---|---|---|---|")
    for case in CASES:
        runs = {"kernelnet": [], "torch": []}
        for _ in range(args.repeats):
            for fw in ("kernelnet", "torch"):
                out = subprocess.run([sys.executable, __file__, "--worker", "--framework", fw,
                                      "--case", case, "--iters", str(args.iters), "--threads",
                                      str(args.threads)], env=env, cwd=ROOT, check=True,
                                     capture_output=True, text=True).stdout
                runs[fw].append(json.loads(out))
        med = {fw: {key: statistics.median(r[key] for r in rs) for key in rs[0]}
               for fw, rs in runs.items()}
        kn, th = med["kernelnet"], med["torch"]
        print(f"| {case} | {kn['fwd_ms']:.1f} / {kn['fwd_bwd_ms']:.1f} | {th['fwd_ms']:.1f} / "
              f"{th['fwd_bwd_ms']:.1f} | {th['fwd_ms'] / kn['fwd_ms']:.2f}x, "
              f"{th['fwd_bwd_ms'] / kn['fwd_bwd_ms']:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
