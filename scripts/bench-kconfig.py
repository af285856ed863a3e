#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Benchmark: ktailor against the kernel's own C conf, side by side.

Runs `olddefconfig` on Debian's amd64 6.12 config (the same input for both
tools, in alternating order so machine drift affects both alike) and prints
wall-time medians and ratios for:

  warm  ktailor with a warm $(shell) cache   vs  conf (as make runs it)
  cold  ktailor --no-cache                   vs  conf
  make  ktailor (warm)                       vs  `make olddefconfig`

and, when valgrind is installed, the instructions each executes under
callgrind (child processes excluded on both sides; ktailor warm).

conf is run exactly as make runs it: the environment and arguments make
hands to scripts/kconfig/conf are captured once with a wrapper and replayed.

Usage: scripts/bench-kconfig.py [-n RUNS] [--no-callgrind]
Needs scripts/setup-trees.sh to have run and ktailor built (cargo build --release).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from binpath import release_bin

REPO = Path(__file__).resolve().parent.parent


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def timed(cmd, env=None, cwd=None) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def capture_conf_invocation(src: Path, obj: Path) -> tuple[dict, list[str]]:
    """Builds conf in `obj`, then records the environment and arguments
    make passes to it by swapping in a recording wrapper for one run."""
    sh(["make", "-s", "-C", str(src), f"O={obj}", "ARCH=x86", "olddefconfig"],
       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    conf = obj / "scripts/kconfig/conf"
    real = obj / "scripts/kconfig/conf.real"
    shutil.copy2(conf, real)
    rec = obj / "conf-invocation.json"
    wrapper = f"""#!/usr/bin/env python3
import json, os, sys
json.dump({{"env": dict(os.environ), "argv": sys.argv[1:], "cwd": os.getcwd()}}, open({str(rec)!r}, "w"))
os.execv({str(real)!r}, [{str(real)!r}] + sys.argv[1:])
"""
    conf.write_text(wrapper)
    conf.chmod(0o755)
    os.utime(conf)
    sh(["make", "-s", "-C", str(src), f"O={obj}", "ARCH=x86", "olddefconfig"],
       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shutil.copy2(real, conf)
    inv = json.loads(rec.read_text())
    return inv["env"], [str(conf)] + inv["argv"]


def callgrind(cmd, env, cwd, out: Path) -> int:
    r = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"] + cmd,
                       env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for line in r.stderr.splitlines():
        if "Collected" in line:
            return int(line.split(":")[-1].strip().replace(",", ""))
    raise RuntimeError("callgrind printed no total:\n" + r.stderr)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--runs", type=int, default=7)
    ap.add_argument("--no-callgrind", action="store_true")
    ap.add_argument("--trees", type=Path, default=Path(os.environ.get("KTAILOR_TREES", Path.home() / ".cache/ktailor/trees")))
    ap.add_argument("--ktailor", type=Path, default=release_bin())
    args = ap.parse_args()

    src = args.trees / "linux-source-6.12"
    base = args.trees / "configs/6.12/config.amd64_none_amd64"
    if not src.is_dir() or not base.is_file():
        print(f"bench: missing {src} or {base}: run scripts/setup-trees.sh", file=sys.stderr)
        return 2
    work = args.trees / "bench"
    cobj, robj, cache = work / "c", work / "r", work / "cache"
    for d in (cobj, robj):
        d.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True)

    conf_env, conf_argv = capture_conf_invocation(src, cobj)
    conf_cwd = str(cobj)
    kenv = dict(os.environ, KTAILOR_CACHE_DIR=str(cache))
    kt = [str(args.ktailor), "kconfig", "olddefconfig", "-C", str(src), "-O", str(robj), "--arch", "x86"]
    make = ["make", "-s", "-C", str(src), f"O={cobj}", "ARCH=x86", "olddefconfig"]

    def reset():
        shutil.copy2(base, cobj / ".config")
        shutil.copy2(base, robj / ".config")

    # Same output, or the numbers mean nothing.
    reset()
    subprocess.run(conf_argv, env=conf_env, cwd=conf_cwd, check=True, stdout=subprocess.DEVNULL)
    subprocess.run(kt, env=kenv, check=True, stdout=subprocess.DEVNULL)
    if (cobj / ".config").read_bytes() != (robj / ".config").read_bytes():
        print("bench: outputs differ; fix correctness first", file=sys.stderr)
        return 1

    rows = {"conf": [], "make": [], "warm": [], "cold": []}
    for _ in range(args.runs):
        reset()
        rows["conf"].append(timed(conf_argv, env=conf_env, cwd=conf_cwd))
        reset()
        rows["warm"].append(timed(kt, env=kenv))
        reset()
        rows["cold"].append(timed(kt + ["--no-cache"], env=kenv))
        reset()
        rows["make"].append(timed(make))
    med = {k: statistics.median(v) for k, v in rows.items()}

    print(f"olddefconfig, Debian amd64 6.12 config, {args.runs} runs each, median wall seconds")
    print(f"  C conf (as make runs it)   {med['conf']:8.3f}")
    print(f"  make olddefconfig          {med['make']:8.3f}")
    print(f"  ktailor, warm cache        {med['warm']:8.3f}   ratio to conf {med['warm'] / med['conf']:.3f} (goal <= 0.05)")
    print(f"  ktailor, --no-cache (cold) {med['cold']:8.3f}   ratio to conf {med['cold'] / med['conf']:.3f} (goal <= 1)")
    print(f"  ktailor warm vs make       ratio {med['warm'] / med['make']:.3f}")

    if not args.no_callgrind and shutil.which("valgrind"):
        reset()
        ci = callgrind(conf_argv, conf_env, conf_cwd, work / "callgrind.conf")
        # Warm the caches under valgrind itself: it adds variables to the
        # environment, which is part of the cache context.
        reset()
        callgrind(kt, kenv, None, work / "callgrind.ktailor")
        reset()
        ri = callgrind(kt, kenv, None, work / "callgrind.ktailor")
        print("instructions (callgrind, children excluded)")
        print(f"  C conf                     {ci:>14,}")
        print(f"  ktailor, warm cache        {ri:>14,}   ratio {ri / ci:.3f} (goal <= 0.25)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
