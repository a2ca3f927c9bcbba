"""Per-layer profile of one architecture in kernelnet beside PyTorch's per-module and per-op times.

    python benchmarks/profile_layers.py --arch mnist_cnn [--batch 64] [--repeats 20]
        [--torch-config tcmalloc+channels_last]

Both run on one core (kernelnet: one replica, single-threaded BLAS; PyTorch: one thread), on
the batch one core gets in the benchmark (its share of 128 training samples). kernelnet is
timed per layer (`forward(ctx, x)` / `backward(ctx, grad)`, the first layer without an input
gradient, as in training): training forward, backward, and
the inference forward (no context, nothing kept). PyTorch is timed per module (forward in
training and in inference, by forward hooks) and per operator over whole training steps with
`torch.profiler` (self CPU time). Medians of `--repeats` calls.
PyTorch runs in a child process with the environment of `--torch-config` (run.TORCH_CONFIGS).
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

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(1, os.path.dirname(HERE))

from archs import ARCHS  # noqa: E402
from run import TORCH_CONFIGS, thread_env, torch_config_env  # noqa: E402
from worker import make_data  # noqa: E402


def _median_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def profile_kernelnet(arch, batch: int, repeats: int) -> list[dict]:
    from kernelnet.layers.base import LayerContext
    from kernelnet.models import parallel

    model = arch.build("kernelnet")
    data, _ = make_data(arch, batch)
    values = {model._input_ids[0]: data}  # each node's input, walked in the graph's order
    rows = []
    with parallel.single_threaded_blas():
        for index, node in enumerate(model._nodes):
            layer, args = node.layer, [values[tid] for tid in node.in_ids]
            x = args if node.multi else args[0]
            # As in training: no input gradient for the first layer (the data needs none).
            needs_input_grad = (index > 0,) * len(args)
            row = {"layer": f"{layer.name} ({type(layer).__name__})"}
            out = layer.forward(LayerContext(needs_input_grad, True), x, training=True)
            values[node.out_id] = out
            grad = np.random.default_rng(0).standard_normal(out.shape).astype(out.dtype)

            def train_forward(layer=layer, x=x, needs_input_grad=needs_input_grad):
                layer.forward(LayerContext(needs_input_grad, True), x, training=True)

            def backward(layer=layer, grad=grad, x=x, needs_input_grad=needs_input_grad):
                ctx = LayerContext(needs_input_grad, True)
                layer.forward(ctx, x, training=True)
                layer.backward(ctx, grad.copy())

            row["train_fwd_ms"] = _median_ms(train_forward, repeats)
            row["bwd_ms"] = max(_median_ms(backward, repeats) - row["train_fwd_ms"], 0.0)
            # No context: nothing is kept for a backward pass (what predict runs).
            row["infer_fwd_ms"] = _median_ms(lambda layer=layer, x=x: layer.forward(None, x),
                                             repeats)
            rows.append(row)
            x = out
    return rows


def profile_torch(arch_name: str, batch: int, repeats: int, channels_last: bool) -> dict:
    import torch

    torch.set_num_threads(1)
    arch = ARCHS[arch_name]
    layout = torch.channels_last if channels_last else torch.contiguous_format
    model = arch.build("torch").to(memory_format=layout)
    x, y = make_data(arch, batch)
    xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(memory_format=layout)
    yt = torch.from_numpy(y)
    times: dict[str, list[float]] = {}
    starts: dict[str, float] = {}
    for name, module in model.named_children():
        label = f"{name} ({type(module).__name__})"
        module.register_forward_pre_hook(
            lambda m, a, label=label: starts.__setitem__(label, time.perf_counter()))
        module.register_forward_hook(
            lambda m, a, o, label=label: times.setdefault(label, []).append(
                time.perf_counter() - starts[label]))
    result: dict = {}
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xt), yt) if arch.classes else model(xt).sum()
        loss.backward()
        opt.step()

    for mode in ("train", "infer"):
        model.train(mode == "train")
        for _ in range(2):
            step() if mode == "train" else model(xt)
        times.clear()
        with torch.set_grad_enabled(mode == "train"):
            for _ in range(repeats):
                step() if mode == "train" else model(xt)
        result[mode] = {k: 1e3 * statistics.median(v) for k, v in times.items()}
    model.train()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        for _ in range(repeats):
            step()
    ops = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
    result["ops"] = [(e.key, e.self_cpu_time_total / 1e3 / repeats) for e in ops[:15]]
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=sorted(ARCHS), default="mnist_cnn")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--torch-config", choices=list(TORCH_CONFIGS),
                        default="tcmalloc+channels_last")
    parser.add_argument("--torch-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    channels_last = "--channels-last" in TORCH_CONFIGS[args.torch_config][1]
    if args.torch_child:
        print(json.dumps(profile_torch(args.arch, args.batch, args.repeats, channels_last)))
        return 0
    env = torch_config_env(args.torch_config, thread_env(1))
    if env is None:
        parser.error(f"the allocator of {args.torch_config!r} is not installed")
    child = subprocess.run([sys.executable, __file__, "--arch", args.arch, "--batch",
                            str(args.batch), "--repeats", str(args.repeats), "--torch-config",
                            args.torch_config, "--torch-child"], env=env, capture_output=True,
                           text=True, check=True)
    torch_result = json.loads(child.stdout.strip().splitlines()[-1])
    os.environ.update(thread_env(1))
    rows = profile_kernelnet(ARCHS[args.arch], args.batch, args.repeats)
    print(f"{args.arch}, batch {args.batch}, one core, medians of {args.repeats} (ms)\n")
    print("| kernelnet layer | train fwd | bwd | infer fwd |")
    print("|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['layer']} | {r['train_fwd_ms']:.2f} | {r['bwd_ms']:.2f} | "
              f"{r['infer_fwd_ms']:.2f} |")
    total = [sum(r[k] for r in rows) for k in ("train_fwd_ms", "bwd_ms", "infer_fwd_ms")]
    print(f"| total | {total[0]:.2f} | {total[1]:.2f} | {total[2]:.2f} |\n")
    print(f"| PyTorch module ({args.torch_config}) | train fwd | infer fwd |")
    print("|---|---:|---:|")
    for name, ms in torch_result["train"].items():
        print(f"| {name} | {ms:.2f} | {torch_result['infer'].get(name, 0):.2f} |")
    print(f"| total | {sum(torch_result['train'].values()):.2f} | "
          f"{sum(torch_result['infer'].values()):.2f} |\n")
    print("| PyTorch op (training step, self CPU) | ms per step |")
    print("|---|---:|")
    for name, ms in torch_result["ops"]:
        print(f"| {name} | {ms:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
