"""kernelnet vs PyTorch (CPU) on the same architectures, data, batch, dtype and thread count.

    python benchmarks/run.py [--quick] [--threads 2] [--repeats 3] [--archs mnist_cnn lenet5]

Every measurement runs in a fresh subprocess (`worker.py`) so that each framework's peak
resident memory is its own. Repeats are interleaved (kernelnet, torch, kernelnet, torch, ...) and
the table reports medians and the ratio kernelnet / torch, so machine noise hits both alike.
Also measured: `import kernelnet` time and the float32 matmul peak of this machine, against which
kernelnet's achieved GFLOP/s are given. The table is printed and appended, dated and with the git
commit, to BENCHMARKS.md (`--no-record` to skip).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from archs import ARCHS  # noqa: E402

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def thread_env(threads: int) -> dict:
    return dict(os.environ, **{k: str(threads) for k in THREAD_VARS})


def run_python(code_or_args: list[str], env: dict) -> str:
    done = subprocess.run([sys.executable, *code_or_args], env=env, cwd=ROOT,
                          capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(code_or_args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def import_time(env: dict, repeats: int) -> float:
    code = ("import time; t = time.perf_counter(); import kernelnet; "
            "print(time.perf_counter() - t)")
    return statistics.median(float(run_python(["-c", code], env)) for _ in range(repeats))


def matmul_peak(env: dict) -> float:
    """Best float32 GFLOP/s of a 2048^3 NumPy matmul (the BLAS kernelnet uses)."""
    code = ("import time, numpy as np; a = np.random.rand(2048, 2048).astype(np.float32); "
            "a @ a; best = min((lambda t: (a @ a, time.perf_counter() - t)[1])"
            "(time.perf_counter()) for _ in range(5)); print(2 * 2048**3 / best / 1e9)")
    return float(run_python(["-c", code], env))


def measure(arch: str, framework: str, args, env: dict, bench_dir: str = HERE) -> dict:
    """One worker run; `bench_dir` is the benchmarks/ folder of the tree to measure."""
    cmd = [os.path.join(bench_dir, "worker.py"), "--framework", framework, "--arch", arch,
           "--threads", str(args.threads), "--min-seconds", str(args.min_seconds)]
    if args.quick:
        cmd += ["--warmup", "2", "--train-steps", "5", "--infer-steps", "1"]
    return json.loads(run_python(cmd, env).strip().splitlines()[-1])


def median_of(runs: list[dict], key: str) -> float | None:
    values = [r[key] for r in runs if key in r]
    return statistics.median(values) if values else None


def summarize(arch: str, kn: list[dict], th: list[dict], peak: float) -> dict:
    row = {"arch": arch}
    for key in ("train_ips", "infer_ips", "peak_rss_mb"):
        a, b = median_of(kn, key), median_of(th, key)
        row[key] = (a, b, None if a is None or not b else a / b)
    macs = kn[0]["macs_per_image"]
    # Training does ~3 forward passes' worth of multiply-adds (forward, dx, dkernel).
    if row["train_ips"][0]:
        row["train_gflops"] = 6 * macs * row["train_ips"][0] / 1e9
    row["infer_gflops"] = 2 * macs * row["infer_ips"][0] / 1e9
    row["peak"] = peak
    return row


def fmt(v, spec=".0f"):
    return "-" if v is None else format(v, spec)


def table(rows: list[dict], meta: dict) -> str:
    lines = [
        "| architecture | train img/s kernelnet | train img/s torch | train ratio | "
        "infer img/s kernelnet | infer img/s torch | infer ratio | peak RSS MB kernelnet | "
        "peak RSS MB torch | RSS ratio | kernelnet GFLOP/s train / infer (% of matmul peak) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        tr, inf, rss = r["train_ips"], r["infer_ips"], r["peak_rss_mb"]
        train_g = r.get("train_gflops")
        gflops = (f"{fmt(train_g, '.1f')} ({fmt(train_g and 100 * train_g / r['peak'])}%) / "
                  f"{r['infer_gflops']:.1f} ({100 * r['infer_gflops'] / r['peak']:.0f}%)")
        lines.append(
            f"| {r['arch']} | {fmt(tr[0])} | {fmt(tr[1])} | {fmt(tr[2], '.2f')} | "
            f"{fmt(inf[0])} | {fmt(inf[1])} | {fmt(inf[2], '.2f')} | {fmt(rss[0])} | "
            f"{fmt(rss[1])} | {fmt(rss[2], '.2f')} | {gflops} |")
    lines.append("")
    lines.append(f"float32 matmul peak (NumPy, 2048^3): {meta['peak']:.1f} GFLOP/s; "
                 f"`import kernelnet`: {meta['import_s']:.3f} s (median of "
                 f"{meta['import_repeats']}).")
    return "\n".join(lines)


def git_commit() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True,
                               text=True, check=True).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def record(text: str, meta: dict) -> None:
    import numpy

    header = (f"\n### {meta['date']} - commit {meta['commit']}\n\n"
              f"{meta['threads']} threads, {meta['repeats']} interleaved repeats (medians), "
              f"{'--quick, ' if meta['quick'] else ''}Python {platform.python_version()}, "
              f"NumPy {numpy.__version__}, torch {meta.get('torch', '?')}, "
              f"{os.cpu_count()} CPUs ({platform.machine()}).\n\n")
    with open(os.path.join(ROOT, "BENCHMARKS.md"), "a", encoding="utf-8") as f:
        f.write(header + text + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer steps and 2 repeats; ResNet50 left out")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--min-seconds", type=float, default=None)
    parser.add_argument("--archs", nargs="+", choices=sorted(ARCHS), default=None)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args(argv)
    args.repeats = args.repeats or (2 if args.quick else 3)
    args.min_seconds = args.min_seconds or (1.0 if args.quick else 3.0)
    archs = args.archs or [a for a in ARCHS if not (args.quick and a == "resnet50")]
    env = thread_env(args.threads)
    meta = {"threads": args.threads, "repeats": args.repeats, "quick": args.quick,
            "date": datetime.date.today().isoformat(), "commit": git_commit(),
            "import_repeats": 5, "peak": matmul_peak(env)}
    meta["import_s"] = import_time(env, meta["import_repeats"])
    meta["torch"] = run_python(["-c", "import torch; print(torch.__version__)"], env).strip()
    rows = []
    for arch in archs:
        runs = {"kernelnet": [], "torch": []}
        for rep in range(args.repeats):
            for fw in ("kernelnet", "torch") if rep % 2 == 0 else ("torch", "kernelnet"):
                start = time.perf_counter()
                runs[fw].append(measure(arch, fw, args, env))
                print(f"[{arch} {fw} #{rep + 1}] {json.dumps(runs[fw][-1])} "
                      f"({time.perf_counter() - start:.0f} s)", file=sys.stderr, flush=True)
        rows.append(summarize(arch, runs["kernelnet"], runs["torch"], meta["peak"]))
    text = table(rows, meta)
    print(text)
    if not args.no_record:
        record(text, meta)
    return 0


if __name__ == "__main__":
    sys.exit(main())
