"""Throughput and memory against batch size and image size, kernelnet and PyTorch.

    python benchmarks/scaling.py [--quick] [--torch-config tcmalloc+channels_last]

Two sweeps, each point a fresh worker process per framework (`worker.py`), alternating
kernelnet and PyTorch, medians of `--repeats`:

- batch size 32-512 on the Keras MNIST CNN (28x28x1), training and inference at that batch;
- image size 28-224 on `gap_cnn` (the CIFAR-10 CNN's convolutions, global average pooling,
  a 10-way classifier; archs.SIZE_FREE), batch 32, 3 channels.

PyTorch runs in one configuration of run.TORCH_CONFIGS (default tcmalloc+channels_last, the
fastest in most rows of run.py's table; compiled configurations recompile per shape and are
not offered). Writes `scaling.md` (tables) and `scaling.png` (throughput and peak RSS, log
axes) into `--out` (default docs/images/), and prints the tables. `--quick`: fewer points, one
repeat, shorter timing (a few minutes).
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from run import TORCH_CONFIGS, git_commit, run_python, thread_env, torch_config_env  # noqa: E402

FULL = {"batches": [32, 64, 128, 256, 512], "sizes": [28, 56, 112, 224], "repeats": 2,
        "min_seconds": 2.0}
QUICK = {"batches": [32, 128, 512], "sizes": [28, 56, 112], "repeats": 1, "min_seconds": 0.5}
FRAMEWORKS = ("kernelnet", "torch")
KEYS = ("train_ips", "infer_ips", "peak_rss_mb")


def measure_point(framework: str, arch: str, batch: int, size: int | None, args,
                  envs: dict) -> dict:
    import json

    cmd = [os.path.join(HERE, "worker.py"), "--framework", framework, "--arch", arch,
           "--threads", str(args.threads), "--batch", str(batch), "--min-seconds",
           str(args.min_seconds), "--warmup", "1", "--train-steps", "3", "--infer-steps", "2"]
    if size is not None:
        cmd += ["--image-size", str(size)]
    if framework == "torch":
        cmd += ["--config", args.torch_config, *TORCH_CONFIGS[args.torch_config][1]]
    return json.loads(run_python(cmd, envs[framework]).strip().splitlines()[-1])


def sweep(points: list[tuple], args, envs: dict) -> list[dict]:
    """points: (label, arch, batch, image size); returns one row of medians per point."""
    rows = []
    for label, arch, batch, size in points:
        runs = {fw: [] for fw in FRAMEWORKS}
        for rep in range(args.repeats):
            for fw in FRAMEWORKS if rep % 2 == 0 else FRAMEWORKS[::-1]:
                runs[fw].append(measure_point(fw, arch, batch, size, args, envs))
        row = {"label": label}
        for fw in FRAMEWORKS:
            for key in KEYS:
                row[fw, key] = statistics.median(r[key] for r in runs[fw])
        print(f"{label}: " + ", ".join(f"{fw} {row[fw, 'train_ips']:.0f} / "
                                       f"{row[fw, 'infer_ips']:.0f} img/s, "
                                       f"{row[fw, 'peak_rss_mb']:.0f} MB" for fw in FRAMEWORKS),
              file=sys.stderr, flush=True)
        rows.append(row)
    return rows


def table(title: str, rows: list[dict]) -> str:
    lines = [f"| {title} | train img/s kernelnet | PyTorch | ratio | infer img/s kernelnet | "
             "PyTorch | ratio | peak RSS MB kernelnet | PyTorch | ratio |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        cells = []
        for key in KEYS:
            a, b = r["kernelnet", key], r["torch", key]
            cells += [f"{a:.0f}", f"{b:.0f}", f"{a / b:.2f}"]
        lines.append(f"| {r['label']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(batch_rows: list[dict], size_rows: list[dict], path: str, subtitle: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    fig, axes = plt.subplots(2, 3, figsize=(13, 7.5))
    for row_axes, rows, xlabel, title in (
            (axes[0], batch_rows, "batch size", "MNIST CNN (28x28x1)"),
            (axes[1], size_rows, "image size (pixels, square)", "gap_cnn, batch 32")):
        xs = [int(r["label"]) for r in rows]
        for ax, key, ylabel in zip(row_axes, KEYS, ("training img/s", "inference img/s",
                                                    "peak RSS (MB)")):
            for fw, style in zip(FRAMEWORKS, ("o-", "s--")):
                ax.plot(xs, [r[fw, key] for r in rows], style, label=fw)
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xticks(xs, [str(x) for x in xs])
            ax.yaxis.set_major_locator(ticker.LogLocator(base=10, subs=(1, 2, 5)))
            ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
            ax.yaxis.set_minor_formatter(ticker.NullFormatter())
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.set_title(f"{title}: {ylabel}", fontsize=9)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
    fig.suptitle(f"kernelnet vs PyTorch ({subtitle})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--torch-config", default="tcmalloc+channels_last",
                        choices=[n for n in TORCH_CONFIGS if "compile" not in n])
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "images"))
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    args.repeats = args.repeats or plan["repeats"]
    args.min_seconds = plan["min_seconds"]
    env = thread_env(args.threads)
    envs = {"kernelnet": env, "torch": torch_config_env(args.torch_config, env)}
    if envs["torch"] is None:
        parser.error(f"the allocator of {args.torch_config!r} is not installed "
                     "(apt-get install libtcmalloc-minimal4 libjemalloc2)")
    load = os.getloadavg()[0]
    batch_rows = sweep([(str(b), "mnist_cnn", b, None) for b in plan["batches"]], args, envs)
    size_rows = sweep([(str(s), "gap_cnn", 32, s) for s in plan["sizes"]], args, envs)
    subtitle = (f"PyTorch {args.torch_config}, {args.threads} threads, medians of "
                f"{args.repeats}{', --quick' if args.quick else ''}, "
                f"{datetime.date.today().isoformat()}, commit {git_commit()}, load average "
                f"{load:.1f} -> {os.getloadavg()[0]:.1f}")
    text = "\n\n".join([f"Scaling ({subtitle}); ratios kernelnet / PyTorch.",
                        table("batch (MNIST CNN)", batch_rows),
                        table("image size (gap_cnn, batch 32)", size_rows)])
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "scaling.md"), "w", encoding="utf-8") as f:
        f.write(text + "\n")
    plot(batch_rows, size_rows, os.path.join(args.out, "scaling.png"), subtitle)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
