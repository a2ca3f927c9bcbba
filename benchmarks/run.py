"""kernelnet vs PyTorch (CPU) at its best, on the same architectures, data, batch, dtype, threads.

    python benchmarks/run.py [--quick] [--threads 2] [--repeats 3] [--archs mnist_cnn lenet5]
                             [--torch-configs stock tcmalloc ...]

PyTorch runs in each of the configurations of `TORCH_CONFIGS` (its CPU performance tuning guide's
advice: a better allocator - tcmalloc or jemalloc preloaded, or glibc told to keep freed memory -,
channels_last memory format, torch.compile), and the table takes, per architecture and per
figure, the configuration with the fastest median as "best PyTorch", with stock PyTorch beside
it. A configuration whose allocator library is not installed is left out with a note (`make
bench` installs them: Debian's libtcmalloc-minimal4 and libjemalloc2).

Every measurement runs in a fresh subprocess (`worker.py`) so that each framework's peak
resident memory is its own. Repeats are interleaved (kernelnet and every PyTorch configuration
once per round, the order rotated from round to round) and the tables report medians and the
ratios kernelnet / PyTorch, so machine noise hits all alike. Also measured: `import kernelnet`
time and the float32 matmul peak of this machine, against which kernelnet's achieved GFLOP/s
are given. The tables are printed and appended, dated and with the git commit, to BENCHMARKS.md
(`--no-record` to skip).
"""

from __future__ import annotations

import argparse
import datetime
import glob
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
# glibc told to keep freed memory (the setting kernelnet applies to itself with mallopt).
GLIBC_KEPT = {"MALLOC_MMAP_THRESHOLD_": "33554432", "MALLOC_TRIM_THRESHOLD_": "1073741824"}
ALLOCATORS = {"stock": None, "glibc-kept": None, "tcmalloc": "libtcmalloc_minimal.so.4",
              "jemalloc": "libjemalloc.so.2"}
# name: (allocator, worker flags). Compiled runs spend 40-120 s compiling, so --quick skips them.
TORCH_CONFIGS = {
    "stock": ("stock", []),
    "glibc-kept": ("glibc-kept", []),
    "tcmalloc": ("tcmalloc", []),
    "jemalloc": ("jemalloc", []),
    "glibc-kept+channels_last": ("glibc-kept", ["--channels-last"]),
    "tcmalloc+channels_last": ("tcmalloc", ["--channels-last"]),
    "jemalloc+channels_last": ("jemalloc", ["--channels-last"]),
    "tcmalloc+channels_last+compile": ("tcmalloc", ["--channels-last", "--compile"]),
}
QUICK_SKIPS = ("compile",)


def thread_env(threads: int) -> dict:
    return dict(os.environ, **{k: str(threads) for k in THREAD_VARS})


def find_library(name: str) -> str | None:
    """Path of a shared library in the usual multiarch folders (Debian installs them there)."""
    for folder in ("/usr/lib/*-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib"):
        for path in sorted(glob.glob(os.path.join(folder, name))):
            if os.path.isfile(path):
                return path
    return None


def torch_config_env(name: str, env: dict) -> dict | None:
    """The environment of PyTorch configuration `name`, or None when its allocator is missing."""
    allocator = TORCH_CONFIGS[name][0]
    env = {k: v for k, v in env.items() if k != "LD_PRELOAD" and k not in GLIBC_KEPT}
    if allocator == "glibc-kept":
        env.update(GLIBC_KEPT)
    elif ALLOCATORS[allocator]:
        path = find_library(ALLOCATORS[allocator])
        if path is None:
            return None
        env["LD_PRELOAD"] = path
    return env


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


def measure(arch: str, framework: str, args, env: dict, bench_dir: str = HERE,
            config: str = "") -> dict:
    """One worker run; `bench_dir` is the benchmarks/ folder of the tree to measure and
    `config` a name of `TORCH_CONFIGS` (torch only; `env` must then come from
    `torch_config_env`)."""
    cmd = [os.path.join(bench_dir, "worker.py"), "--framework", framework, "--arch", arch,
           "--threads", str(args.threads), "--min-seconds", str(args.min_seconds)]
    if args.quick:
        cmd += ["--warmup", "2", "--train-steps", "5", "--infer-steps", "1"]
    if config:
        cmd += ["--config", config, *TORCH_CONFIGS[config][1]]
    return json.loads(run_python(cmd, env).strip().splitlines()[-1])


def median_of(runs: list[dict], key: str) -> float | None:
    values = [r[key] for r in runs if key in r]
    return statistics.median(values) if values else None


def summarize(arch: str, kn: list[dict], th: dict[str, list[dict]], peak: float) -> dict:
    """Medians per contender; "best" PyTorch is the configuration with the fastest median, chosen
    separately for training and inference; peak RSS is compared with the configuration that
    was best at training (at inference for inference-only rows)."""
    row = {"arch": arch, "peak": peak, "configs": {}}
    for name, runs in th.items():
        row["configs"][name] = {k: median_of(runs, k) for k in
                                ("train_ips", "infer_ips", "peak_rss_mb",
                                 "train_faults_per_step")}
    for key in ("train_ips", "infer_ips"):
        ours = median_of(kn, key)
        cands = {n: c[key] for n, c in row["configs"].items() if c[key] is not None}
        best = max(cands, key=cands.get) if cands else None
        stock = row["configs"].get("stock", {}).get(key)
        row[key] = {"kernelnet": ours, "best": best and cands[best], "best_config": best,
                    "stock": stock, "ratio": ours and best and ours / cands[best],
                    "stock_ratio": ours and stock and ours / stock}
    rss_config = row["train_ips"]["best_config"] or row["infer_ips"]["best_config"]
    ours = median_of(kn, "peak_rss_mb")
    theirs = rss_config and row["configs"][rss_config]["peak_rss_mb"]
    row["peak_rss_mb"] = {"kernelnet": ours, "torch": theirs, "config": rss_config,
                          "ratio": ours and theirs and ours / theirs}
    macs = kn[0]["macs_per_image"]
    # Training does ~3 forward passes' worth of multiply-adds (forward, dx, dkernel).
    if row["train_ips"]["kernelnet"]:
        row["train_gflops"] = 6 * macs * row["train_ips"]["kernelnet"] / 1e9
    row["infer_gflops"] = 2 * macs * row["infer_ips"]["kernelnet"] / 1e9
    return row


def fmt(v, spec=".0f"):
    return "-" if v is None else format(v, spec)


def _figure(cell: dict) -> str:
    if cell["kernelnet"] is None:
        return "- | - | - | - | -"
    return (f"{fmt(cell['kernelnet'])} | {fmt(cell['best'])} ({cell['best_config']}) | "
            f"**{fmt(cell['ratio'], '.2f')}** | {fmt(cell['stock'])} | "
            f"{fmt(cell['stock_ratio'], '.2f')}")


def table(rows: list[dict], meta: dict) -> str:
    lines = [
        "| architecture | train img/s kernelnet | train best PyTorch (config) | ratio | "
        "train stock PyTorch | ratio vs stock | infer img/s kernelnet | infer best PyTorch "
        "(config) | ratio | infer stock PyTorch | ratio vs stock | peak RSS MB kernelnet / "
        "PyTorch (config) | RSS ratio | kernelnet GFLOP/s train / infer (% of matmul peak) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        rss = r["peak_rss_mb"]
        train_g = r.get("train_gflops")
        gflops = (f"{fmt(train_g, '.1f')} ({fmt(train_g and 100 * train_g / r['peak'])}%) / "
                  f"{r['infer_gflops']:.1f} ({100 * r['infer_gflops'] / r['peak']:.0f}%)")
        lines.append(
            f"| {r['arch']} | {_figure(r['train_ips'])} | {_figure(r['infer_ips'])} | "
            f"{fmt(rss['kernelnet'])} / {fmt(rss['torch'])} ({rss['config']}) | "
            f"{fmt(rss['ratio'], '.2f')} | {gflops} |")
    lines += ["", "PyTorch per configuration (medians; train / infer img/s, peak RSS MB, minor "
              "page faults per training step):", ""]
    names = list(rows[0]["configs"]) if rows else []
    lines.append("| configuration | " + " | ".join(r["arch"] for r in rows) + " |")
    lines.append("|---|" + "---:|" * len(rows))
    for name in names:
        cells = [r["configs"].get(name) for r in rows]
        lines.append(f"| {name} | " + " | ".join(
            "-" if c is None else f"{fmt(c['train_ips'])} / {fmt(c['infer_ips'])}, "
            f"{fmt(c['peak_rss_mb'])} MB, {fmt(c.get('train_faults_per_step'))} faults"
            for c in cells) + " |")
    lines.append("")
    if meta.get("missing"):
        lines.append(f"Left out (allocator library not installed): {', '.join(meta['missing'])}.")
    lines.append(f"float32 matmul peak (NumPy, 2048^3): {meta['peak']:.1f} GFLOP/s; "
                 f"`import kernelnet`: {meta['import_s']:.3f} s (median of "
                 f"{meta['import_repeats']}); load average at the start "
                 f"{meta['load']:.1f}, at the end {os.getloadavg()[0]:.1f}.")
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
    parser.add_argument("--torch-configs", nargs="+", choices=list(TORCH_CONFIGS), default=None,
                        help="PyTorch configurations to run (default: all; --quick: all "
                        "but the compiled ones)")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args(argv)
    args.repeats = args.repeats or (2 if args.quick else 3)
    args.min_seconds = args.min_seconds or (1.0 if args.quick else 3.0)
    archs = args.archs or [a for a in ARCHS if not (args.quick and a == "resnet50")]
    env = thread_env(args.threads)
    meta = {"threads": args.threads, "repeats": args.repeats, "quick": args.quick,
            "date": datetime.date.today().isoformat(), "commit": git_commit(),
            "import_repeats": 5, "peak": matmul_peak(env), "load": os.getloadavg()[0]}
    meta["import_s"] = import_time(env, meta["import_repeats"])
    meta["torch"] = run_python(["-c", "import torch; print(torch.__version__)"], env).strip()
    configs = args.torch_configs or [
        n for n in TORCH_CONFIGS if not (args.quick and any(k in n for k in QUICK_SKIPS))]
    envs = {n: torch_config_env(n, env) for n in configs}
    meta["missing"] = [n for n, e in envs.items() if e is None]
    for name in meta["missing"]:
        print(f"PyTorch configuration {name!r} left out: "
              f"{ALLOCATORS[TORCH_CONFIGS[name][0]]} not found (apt-get install "
              "libtcmalloc-minimal4 libjemalloc2)", file=sys.stderr)
    contenders = ["kernelnet"] + [n for n in configs if envs[n] is not None]
    rows = []
    for arch in archs:
        runs = {name: [] for name in contenders}
        for rep in range(args.repeats):
            k = rep % len(contenders)
            order = contenders[k:] + contenders[:k]
            for name in order if rep % 2 == 0 else order[::-1]:
                start = time.perf_counter()
                if name == "kernelnet":
                    runs[name].append(measure(arch, "kernelnet", args, env))
                else:
                    runs[name].append(measure(arch, "torch", args, envs[name], config=name))
                print(f"[{arch} {name} #{rep + 1}] {json.dumps(runs[name][-1])} "
                      f"({time.perf_counter() - start:.0f} s)", file=sys.stderr, flush=True)
        kn = runs.pop("kernelnet")
        rows.append(summarize(arch, kn, runs, meta["peak"]))
    text = table(rows, meta)
    print(text)
    if not args.no_record:
        record(text, meta)
    return 0


if __name__ == "__main__":
    sys.exit(main())
