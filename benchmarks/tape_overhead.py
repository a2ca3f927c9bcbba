"""Cost of the tape: per recorded layer call, and a `call()` layer from ops against `Dense`.

    python benchmarks/tape_overhead.py [--rounds 5]

1. Per node: a chain of 20 tiny `Dense(2)` layers on a (1, 2) input, run (a) by hand,
   `forward(ctx, x)` then `backward(ctx, grad)` per layer, and (b) recorded by a
   `GradientTape` through `layer(x)` and walked back by `tape.gradient`. (b) - (a), per layer,
   is what recording and the reverse walk add to a layer call (the math is the same).
2. A training step (`train_on_batch`, SGD, batch 128) of an MLP 784-256-10 whose hidden layer is
   `Dense(256)` or a `call()` layer computing `ops.matmul(x, w) + b` (then ReLU in both), in one
   thread (a model with a `call()` layer trains unsplit).

Rounds alternate the variants; the medians are printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from kernelnet import Input, backend, layers, ops  # noqa: E402
from kernelnet.autodiff import GradientTape  # noqa: E402
from kernelnet.layers.base import context  # noqa: E402
from kernelnet.models import Sequential  # noqa: E402


def _best(fn, seconds: float = 0.5) -> float:
    """Seconds per call: the best of 5 timed batches of calls."""
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds / 5:
        fn()
        n += 1
    times = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        times.append((time.perf_counter() - start) / n)
    return min(times)


def per_node(depth: int = 20) -> tuple[float, float]:
    chain = [layers.Dense(2) for _ in range(depth)]
    x = np.ones((1, 2), dtype="float32")
    for layer in chain:
        layer.build(x.shape)
    grad = np.ones((1, 2), dtype="float32")

    def by_hand():
        ctxs, h = [], x
        for layer in chain:
            ctxs.append(context(h))
            h = layer.forward(ctxs[-1], h)
        g = grad
        for layer, ctx in zip(reversed(chain), reversed(ctxs)):
            g, _ = layer.backward(ctx, g)

    weights = [w for layer in chain for w in layer.trainable_weights]

    def taped():
        with GradientTape() as tape:
            h = x
            for layer in chain:
                h = layer(h)
        tape.gradient(h, weights, output_gradients=grad)

    return _best(by_hand) / depth, _best(taped) / depth


class Linear(layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight((input_shape[-1], self.units), "glorot_uniform", name="w")
        self.b = self.add_weight((self.units,), "zeros", name="b")

    def call(self, x):
        return ops.matmul(x, self.w) + self.b


def mlp_step(hidden) -> float:
    model = Sequential([Input(shape=(784,)), hidden, layers.Activation("relu"),
                        layers.Dense(10, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.random((128, 784), dtype=np.float32)
    y = rng.integers(0, 10, 128)
    return _best(lambda: model.train_on_batch(x, y), seconds=1.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    backend.set_num_threads(1)
    rows: dict[str, list[float]] = {k: [] for k in ("hand", "tape", "dense", "call")}
    for i in range(args.rounds):
        hand, taped = per_node()
        rows["hand"].append(hand)
        rows["tape"].append(taped)
        rows["dense"].append(mlp_step(layers.Dense(256)))
        rows["call"].append(mlp_step(Linear(256)))
        print(f"round {i + 1}: by hand {hand * 1e6:.1f} us/layer, taped {taped * 1e6:.1f} "
              f"us/layer; MLP step Dense {rows['dense'][-1] * 1e3:.2f} ms, call() "
              f"{rows['call'][-1] * 1e3:.2f} ms", flush=True)
    med = {k: statistics.median(v) for k, v in rows.items()}
    ratios = statistics.median(c / d for c, d in zip(rows["call"], rows["dense"]))
    print(f"median: tape overhead per node {(med['tape'] - med['hand']) * 1e6:.1f} us "
          f"(by hand {med['hand'] * 1e6:.1f} us, taped {med['tape'] * 1e6:.1f} us per tiny "
          f"Dense); MLP step Dense {med['dense'] * 1e3:.2f} ms, call() layer "
          f"{med['call'] * 1e3:.2f} ms, ratio {ratios:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
