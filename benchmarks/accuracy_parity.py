"""Accuracy parity: the Keras MNIST CNN trained by kernelnet and by PyTorch, same recipe.

Same architecture, Adam(1e-3, epsilon=1e-7), batch 128, same epochs, x / 255, shuffled each
epoch; prints the test accuracy of each and their difference (target: within 0.3 points).
Each framework runs in its own process with the same thread count.

    python benchmarks/accuracy_parity.py [--epochs 2] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(1, os.path.dirname(HERE))


def load_mnist():
    from kernelnet.datasets import mnist

    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    return x_train[..., None], y_train.astype(np.int64), x_test[..., None], y_test.astype(np.int64)


def train_kernelnet(epochs: int, seed: int) -> float:
    from archs import kn_mnist_cnn

    from kernelnet import optimizers, utils

    utils.set_random_seed(seed)
    x_train, y_train, x_test, y_test = load_mnist()
    model = kn_mnist_cnn()
    model.compile(optimizer=optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train / np.float32(255), y_train, batch_size=128, epochs=epochs, verbose=2)
    return float(model.evaluate(x_test / np.float32(255), y_test, batch_size=1000,
                                verbose=0)[1])


def train_torch(epochs: int, seed: int) -> float:
    import torch
    from archs import th_mnist_cnn

    torch.manual_seed(seed)
    x_train, y_train, x_test, y_test = load_mnist()
    to_t = lambda x: torch.from_numpy(x).permute(0, 3, 1, 2).float().div_(255.0)  # noqa: E731
    xt, yt = to_t(x_train), torch.from_numpy(y_train)
    model = th_mnist_cnn()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = torch.nn.CrossEntropyLoss()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(xt))
        start = time.perf_counter()
        for lo in range(0, len(xt), 128):
            idx = order[lo:lo + 128]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
        print(f"torch epoch {epoch + 1}: loss {loss.item():.4f} "
              f"({time.perf_counter() - start:.0f} s)", flush=True)
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(to_t(x_test[i:i + 1000])).argmax(1)
                          for i in range(0, len(x_test), 1000)])
    return float((pred.numpy() == y_test).mean())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker", choices=("kernelnet", "torch"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        if args.worker == "torch":
            import torch

            torch.set_num_threads(args.threads)
        fn = train_kernelnet if args.worker == "kernelnet" else train_torch
        start = time.perf_counter()
        acc = fn(args.epochs, args.seed)
        print(json.dumps({"framework": args.worker, "test_accuracy": acc,
                          "seconds": time.perf_counter() - start}), flush=True)
        return 0
    env = dict(os.environ, **{k: str(args.threads) for k in
                              ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")})
    results = {}
    for fw in ("kernelnet", "torch"):
        out = subprocess.run([sys.executable, __file__, "--worker", fw, "--epochs",
                              str(args.epochs), "--threads", str(args.threads), "--seed",
                              str(args.seed)], env=env, capture_output=True, text=True,
                             check=True).stdout
        print(out, end="", flush=True)
        results[fw] = json.loads(out.strip().splitlines()[-1])
    diff = 100 * (results["kernelnet"]["test_accuracy"] - results["torch"]["test_accuracy"])
    print(f"MNIST CNN, Adam, batch 128, {args.epochs} epochs: kernelnet "
          f"{100 * results['kernelnet']['test_accuracy']:.2f}% vs torch "
          f"{100 * results['torch']['test_accuracy']:.2f}% (difference {diff:+.2f} points; "
          f"{'within' if abs(diff) <= 0.3 else 'OUTSIDE'} 0.3)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
