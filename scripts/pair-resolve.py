#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Paired runs: one `ktailor enable` request, two or more ktailor binaries.

The resolver bench's median moves with the machine's speed by more than
the difference between two versions. This runs one request with each
binary in turn, alternating which goes first, each right after a C conf
run (as in scripts/bench-resolve.py, where the C conf judges every plan),
and prints each binary's median wall time, CPU time (user + system) and
page faults. Only differences measured in the same run mean anything.

Usage: scripts/pair-resolve.py [--runs N] [--base defconfig|tinyconfig]
                               [--symbol SYM] BINARY...
Needs scripts/setup-trees.sh to have run.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

_spec = importlib.util.spec_from_file_location("bench_kconfig", REPO / "scripts/bench-kconfig.py")
assert _spec and _spec.loader
bench_kconfig = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_kconfig)


def run_once(kt: Path, sym: str, src: Path, obj: Path, config: Path) -> tuple[float, float, int]:
    """Wall ms, CPU ms and minor page faults of one request."""
    t0 = time.perf_counter()
    p = subprocess.Popen([str(kt), "enable", sym, "-C", str(src), "-O", str(obj), "--arch", "x86",
                          "--config", str(config)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    wall = (time.perf_counter() - t0) * 1000
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"pair: {kt} enable {sym} failed (status {status})")
    return wall, (ru.ru_utime + ru.ru_stime) * 1000, ru.ru_minflt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binaries", nargs="+", type=Path)
    ap.add_argument("--runs", type=int, default=30, help="runs per binary (default 30)")
    ap.add_argument("--base", default="defconfig", choices=("defconfig", "tinyconfig"))
    ap.add_argument("--symbol", default="HFSPLUS_FS")
    ap.add_argument("--trees", type=Path, default=Path(os.environ.get("KTAILOR_TREES", Path.home() / ".cache/ktailor/trees")))
    args = ap.parse_args()
    src = args.trees / "linux-source-6.12"
    if not src.is_dir():
        print(f"pair: missing {src}: run scripts/setup-trees.sh", file=sys.stderr)
        return 2
    for b in args.binaries:
        if not os.access(b, os.X_OK):
            print(f"pair: {b} is not an executable", file=sys.stderr)
            return 2
    work = args.trees / "pair-resolve"
    obj = work / args.base
    obj.mkdir(parents=True, exist_ok=True)
    conf_obj = work / "c"
    conf_obj.mkdir(exist_ok=True)
    subprocess.run([str(args.binaries[0]), "kconfig", args.base, "-C", str(src), "-O", str(obj), "--arch", "x86"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = obj / ".config"
    conf_env, conf_argv = bench_kconfig.capture_conf_invocation(src, conf_obj)
    results: dict[Path, list[tuple[float, float, int]]] = {b: [] for b in args.binaries}
    with tempfile.TemporaryDirectory() as tmp:
        trial = Path(tmp) / "trial.config"
        # Round 0 warms every binary's parse cache and is not counted.
        for i in range(args.runs + 1):
            order = args.binaries if i % 2 == 0 else args.binaries[::-1]
            for b in order:
                shutil.copy2(base, conf_obj / ".config")
                subprocess.run(conf_argv, env=conf_env, cwd=str(conf_obj), check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                shutil.copy2(base, trial)
                r = run_once(b, args.symbol, src, obj, trial)
                if i > 0:
                    results[b].append(r)
    print(f"ktailor enable {args.symbol} on {args.base} (x86_64 6.12), {args.runs} paired runs, "
          "each right after a C conf run; medians")
    print(f"{'binary':<40} {'wall':>9} {'CPU':>9} {'faults':>7}")
    for b, rs in results.items():
        wall = statistics.median(r[0] for r in rs)
        cpu = statistics.median(r[1] for r in rs)
        flt = statistics.median(r[2] for r in rs)
        print(f"{str(b):<40} {wall:>7.1f}ms {cpu:>7.1f}ms {flt:>7.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
