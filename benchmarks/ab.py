"""Before/after A/B of kernelnet: this working tree against another commit, same machine, one run.

    python benchmarks/ab.py --ref HEAD~1 --arch lenet5 [--repeats 5] [--torch [CONFIG]]

The commit is checked out into a temporary git worktree; `benchmarks/worker.py` of each tree
(which imports its own tree's kernelnet) runs alternately in fresh processes (ref, this tree,
[torch,] ref, ...), and the medians and the median of the per-round ratios are printed.
`--torch` adds PyTorch in one configuration of `run.TORCH_CONFIGS` (default
tcmalloc+channels_last) as a yardstick. This is
how the "what made it faster" rows of BENCHMARKS.md were measured end to end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from archs import ARCHS  # noqa: E402
from run import TORCH_CONFIGS, measure, thread_env, torch_config_env  # noqa: E402

KEYS = ("train_ips", "infer_ips", "peak_rss_mb")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", required=True, help="the commit to compare against")
    parser.add_argument("--arch", choices=sorted(ARCHS), required=True)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--min-seconds", type=float, default=3.0)
    parser.add_argument("--torch", nargs="?", const="tcmalloc+channels_last", default=None,
                        choices=list(TORCH_CONFIGS), help="also run PyTorch each round")
    args = parser.parse_args(argv)
    args.quick = False
    env = thread_env(args.threads)
    torch_env = args.torch and torch_config_env(args.torch, env)
    if args.torch and torch_env is None:
        parser.error(f"the allocator of PyTorch configuration {args.torch!r} is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        ref_tree = os.path.join(tmp, "ref")
        subprocess.run(["git", "worktree", "add", "--detach", "-q", ref_tree, args.ref],
                       cwd=ROOT, check=True)
        try:
            trees = {args.ref: os.path.join(ref_tree, "benchmarks"), "this tree": HERE}
            runs: dict[str, list[dict]] = {name: [] for name in [*trees, "torch"]}
            for i in range(args.repeats):
                for name, bench_dir in trees.items():
                    runs[name].append(measure(args.arch, "kernelnet", args, env, bench_dir))
                if args.torch:
                    runs["torch"].append(measure(args.arch, "torch", args, torch_env,
                                                 config=args.torch))
                print(f"round {i + 1}: " + "; ".join(
                    f"{name} {r[-1].get('infer_ips', 0):.0f} infer img/s"
                    for name, r in runs.items() if r), flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", ref_tree], cwd=ROOT)
    for key in KEYS:
        cells = [f"{name} {statistics.median(r[key] for r in rs):.0f}"
                 for name, rs in runs.items() if rs and key in rs[0]]
        if cells:
            ratio = statistics.median(b[key] / a[key] for a, b in zip(*(runs[n] for n in trees)))
            print(f"{key}: {', '.join(cells)}; this tree / {args.ref} (median per round): "
                  f"{ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
