#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Benchmark: `ktailor enable` on x86_64 6.12, judged by the kernel's C conf.

From defconfig and from tinyconfig: for options with a prompt whose value is
n (a seeded random sample, or all with --all), request y (m for options that
can only be modules) with `ktailor enable`, then count:

  resolved   ktailor wrote a plan, the request holds in it, and the C conf
             (olddefconfig, run exactly as make runs it) leaves it unchanged
  impossible ktailor proved the request cannot hold (exit 1, "proven
             impossible" with the conflicting rules)
  refused    ktailor found no plan but no proof either (exit 1) — a
             satisfiable request missed, unless proven otherwise
  wrong      ktailor wrote a plan the C conf changes, or one where the
             request does not hold
  error      ktailor failed (exit 2)

and prints per-request wall time (a whole process, tree loaded from a warm
cache) median and p95, and the median plan size (options the plan sets).

Usage: scripts/bench-resolve.py [--sample N] [--all] [--seed S]
Needs scripts/setup-trees.sh to have run and ktailor built (cargo build --release).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from binpath import release_bin

REPO = Path(__file__).resolve().parent.parent

_spec = importlib.util.spec_from_file_location("bench_kconfig", REPO / "scripts/bench-kconfig.py")
assert _spec and _spec.loader
bench_kconfig = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_kconfig)

CONFIG_RE = re.compile(r"^(?:menu)?config\s+([A-Za-z0-9_]+)\s*$")
PROMPT_RE = re.compile(r'^\s+(?:(?:bool|tristate|int|hex|string)\s+"|prompt\s+")')
TYPE_RE = re.compile(r"^\s+(bool|tristate|def_bool|def_tristate)\b")


def prompted_symbols(src: Path) -> dict[str, str]:
    """Names of bool/tristate options with a prompt somewhere in the tree
    (a textual scan, good enough to choose candidates)."""
    out: dict[str, str] = {}
    for kc in src.rglob("Kconfig*"):
        rel = kc.relative_to(src).parts
        # Other architectures' options do not exist in an x86 tree.
        if not kc.is_file() or (rel[0] == "arch" and len(rel) > 2 and rel[1] != "x86"):
            continue
        cur, ty, prompted = None, None, False
        for line in kc.read_text(errors="replace").splitlines() + ["config __END__"]:
            m = CONFIG_RE.match(line)
            if m or line.startswith(("choice", "endchoice", "menu ", "endmenu", "if ", "endif", "source")):
                if cur and prompted and ty in ("bool", "tristate"):
                    out[cur] = ty
                cur, ty, prompted = (m.group(1) if m else None), None, False
                continue
            if cur is None:
                continue
            t = TYPE_RE.match(line)
            if t:
                ty = t.group(1).removeprefix("def_")
            if PROMPT_RE.match(line):
                prompted = True
    return out


def values(path: Path) -> dict[str, str]:
    v: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.startswith("CONFIG_") and "=" in line:
            n, _, val = line[7:].partition("=")
            v[n] = val
    return v


def run_base(name: str, src: Path, work: Path, kt: Path, conf_env: dict, conf_argv: list[str],
             conf_obj: Path, cands: dict[str, str], sample: int | None, rng: random.Random) -> dict:
    obj = work / name
    shutil.rmtree(obj, ignore_errors=True)
    obj.mkdir(parents=True)
    subprocess.run([str(kt), "kconfig", name, "-C", str(src), "-O", str(obj), "--arch", "x86"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = obj / ".config"
    have = values(base)
    off = sorted(n for n in cands if have.get(n, "n") == "n")
    chosen = off if sample is None else sorted(rng.sample(off, min(sample, len(off))))
    counts = {"resolved": 0, "impossible": 0, "refused": 0, "wrong": 0, "error": 0}
    times: list[float] = []
    sizes: list[int] = []
    wrong: list[str] = []
    trial = work / f"{name}-trial.config"
    for i, sym in enumerate(chosen, 1):
        shutil.copy2(base, trial)
        t0 = time.perf_counter()
        r = subprocess.run([str(kt), "enable", sym, "-C", str(src), "-O", str(obj), "--arch", "x86",
                            "--config", str(trial)], capture_output=True, text=True)
        times.append(time.perf_counter() - t0)
        if r.returncode == 1:
            if "proven impossible" in r.stderr:
                counts["impossible"] += 1
            else:
                counts["refused"] += 1
                wrong.append(f"{sym}: refused without proof: {r.stderr.strip()[-300:]}")
            continue
        if r.returncode != 0:
            counts["error"] += 1
            wrong.append(f"{sym}: exit {r.returncode}: {r.stderr.strip()[:200]}")
            continue
        sizes.append(sum(1 for l in r.stdout.splitlines() if l.startswith("  + CONFIG_")) + 1)
        got = values(trial).get(sym, "n")
        # The judge: conf's olddefconfig on the written file must keep it.
        shutil.copy2(trial, conf_obj / ".config")
        subprocess.run(conf_argv, env=conf_env, cwd=str(conf_obj), check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        same = (conf_obj / ".config").read_bytes() == trial.read_bytes()
        if got in ("y", "m") and same:
            counts["resolved"] += 1
        else:
            counts["wrong"] += 1
            wrong.append(f"{sym}: value {got}, C conf {'keeps' if same else 'changes'} the plan")
        if i % 50 == 0:
            print(f"  {name}: {i}/{len(chosen)}", file=sys.stderr)
    return {"base": name, "candidates": len(off), "tried": len(chosen), **counts,
            "median_s": statistics.median(times) if times else 0.0,
            "p95_s": sorted(times)[int(0.95 * (len(times) - 1))] if times else 0.0,
            "median_plan": statistics.median(sizes) if sizes else 0, "wrong_list": wrong}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sample", type=int, default=150, help="requests per base (default 150)")
    ap.add_argument("--all", action="store_true", help="every candidate (slow)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--trees", type=Path, default=Path(os.environ.get("KTAILOR_TREES", Path.home() / ".cache/ktailor/trees")))
    ap.add_argument("--ktailor", type=Path, default=release_bin())
    args = ap.parse_args()
    src = args.trees / "linux-source-6.12"
    if not src.is_dir():
        print(f"bench: missing {src}: run scripts/setup-trees.sh", file=sys.stderr)
        return 2
    work = args.trees / "bench-resolve"
    work.mkdir(parents=True, exist_ok=True)
    conf_obj = work / "c"
    conf_obj.mkdir(exist_ok=True)
    conf_env, conf_argv = bench_kconfig.capture_conf_invocation(src, conf_obj)
    cands = prompted_symbols(src)
    rng = random.Random(args.seed)
    rows = [run_base(b, src, work, args.ktailor, conf_env, conf_argv, conf_obj, cands,
                     None if args.all else args.sample, rng) for b in ("defconfig", "tinyconfig")]
    print("ktailor enable SYMBOL on x86_64 6.12, judged by the C conf (olddefconfig keeps the plan)")
    print(f"{'base':<11} {'off':>5} {'tried':>5} {'resolved':>8} {'impossible':>10} {'refused':>7} {'wrong':>5} {'error':>5}"
          f" {'median':>7} {'p95':>7} {'plan':>5}")
    for r in rows:
        print(f"{r['base']:<11} {r['candidates']:>5} {r['tried']:>5} {r['resolved']:>8} {r['impossible']:>10} {r['refused']:>7}"
              f" {r['wrong']:>5} {r['error']:>5} {r['median_s']*1000:>5.0f}ms {r['p95_s']*1000:>5.0f}ms"
              f" {r['median_plan']:>5}")
    for r in rows:
        for w in r["wrong_list"][:20]:
            print(f"  {r['base']}: {w}")
    return 1 if any(r["wrong"] or r["error"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
