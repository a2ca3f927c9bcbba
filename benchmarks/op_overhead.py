"""Per-node cost of the autodiff tape: a chain of small elementwise ops, timed three ways.

    python benchmarks/op_overhead.py [--nodes 1000] [--size 8] [--repeats 7]

1. plain NumPy (`y = y * a + b`, the arithmetic alone);
2. the same chain through `kernelnet.ops` on plain arrays (what layers pay: no tape);
3. the same chain on a watched Tensor inside a `GradientTape`, plus `tape.gradient` (forward
   recording and the reverse walk).

Prints CPU microseconds per node (one node = one op call; process time, so that other jobs on a
shared machine do not count) as the median of `--repeats` runs, and the overhead over NumPy.
Small arrays (8x8 by default) make the arithmetic negligible, so the difference is the Python
cost of `Function.apply`, the Context, the Tensor and the Node.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import kernelnet as kn
from kernelnet import ops


def _chain_numpy(x, a, b, n):
    for _ in range(n // 2):
        x = x * a
        x = x + b
    return x


def _chain_ops(x, a, b, n):
    for _ in range(n // 2):
        x = ops.multiply(x, a)
        x = ops.add(x, b)
    return x


def _taped(x0, a, b, n):
    x = ops.convert_to_tensor(x0)
    with kn.GradientTape() as tape:
        tape.watch(x)
        y = _chain_ops(x, a, b, n)
    return tape.gradient(y, x, output_gradients=np.ones_like(x0))


def _median_us_per_node(fn, nodes, repeats):
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append((time.process_time() - start) / nodes * 1e6)
    return statistics.median(times)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.size, args.size)).astype("float32")
    a, b = np.float32(1.0001), np.float32(1e-4)
    n = args.nodes
    result = {
        "numpy": _median_us_per_node(lambda: _chain_numpy(x, a, b, n), n, args.repeats),
        "ops_no_tape": _median_us_per_node(lambda: _chain_ops(x, a, b, n), n, args.repeats),
        "tape_forward_backward": _median_us_per_node(lambda: _taped(x, a, b, n), n,
                                                     args.repeats),
    }
    base = result["numpy"]
    for name, us in result.items():
        print(f"{name:<24} {us:7.2f} us/node   (+{us - base:5.2f} over NumPy)")
    return result


if __name__ == "__main__":
    main()
