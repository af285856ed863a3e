#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Compile CPU of two built kernels, measured side by side, interleaved.

A whole-build benchmark (bench-boot.py) builds one kernel after the other,
and this machine's speed drifts by more than 10 % within minutes, so the
ratio of two build times moves with the drift (0.258 and 0.304 for the same
two configurations on two days). This script replays every compile command
of two object trees that were already built (the `gcc -c` part of each
`.*.o.cmd` file, output to /dev/null) with the two trees' commands evenly
interleaved over the whole run, so a slow stretch of the machine slows both
sides alike. It prints each side's compile count and CPU time (user +
system of gcc and the processes it starts) and their ratio.

Not replayed: objtool and the link steps, host programs, make and the
shells; whole-build CPU includes them (bench-boot.py prints it).

Usage: scripts/pair-compile.py [-j N] [--sample K] [--seed S] REF_OBJ NEW_OBJ
  REF_OBJ, NEW_OBJ: object trees of finished builds (e.g. bench-boot.py's
  WORK/out/seed003 and WORK/out/sandbox).
  --sample K: replay only K randomly chosen compiles of each side and
  scale by the side's count (quicker, less exact).
Exit status: 0 measured, 2 an error (a tree without compile commands, or
a compile that fails).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import random
import re
import subprocess
import sys
from pathlib import Path


def fail(msg: str) -> None:
    print(f"pair-compile: {msg}", file=sys.stderr)
    sys.exit(2)


def compile_commands(obj: Path) -> list[str]:
    """The compile commands of a built tree, writing nothing."""
    cmds = []
    for cmdf in sorted(obj.rglob(".*.o.cmd")):
        with open(cmdf, errors="replace") as f:
            first = f.readline()
        if not first.startswith("savedcmd_") or ":=" not in first:
            continue
        c = first.split(":=", 1)[1].strip().split(" ; ")[0]
        if not c.startswith("gcc ") or " -c " not in c:
            continue
        c = re.sub(r" -o \S+", " -o /dev/null", c, count=1)
        c = re.sub(r"-Wp,-MMD,\S+", "", c)
        cmds.append(c)
    return cmds


def interleave(a: list, b: list) -> list[tuple[int, str]]:
    """Both lists merged so that each is spread evenly over the result."""
    keyed = [((i + 0.5) / len(a), 0, c) for i, c in enumerate(a)]
    keyed += [((i + 0.5) / len(b), 1, c) for i, c in enumerate(b)]
    keyed.sort(key=lambda k: (k[0], k[1]))
    return [(side, c) for _, side, c in keyed]


def run(job: tuple[int, str, str]) -> tuple[int, float, int, str]:
    side, cwd, c = job
    p = subprocess.Popen(c, shell=True, cwd=cwd, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    err = p.stderr.read().decode(errors="replace") if p.stderr else ""
    _, status, ru = os.wait4(p.pid, 0)
    return side, ru.ru_utime + ru.ru_stime, status, err


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--sample", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("ref")
    ap.add_argument("new")
    a = ap.parse_args()
    trees = [Path(a.ref).resolve(), Path(a.new).resolve()]
    cmds = []
    for t in trees:
        if not (t / ".config").is_file():
            fail(f"{t}: not a kernel object tree (no .config)")
        c = compile_commands(t)
        if not c:
            fail(f"{t}: no compile commands (build it first)")
        cmds.append(c)
    counts = [len(c) for c in cmds]
    if a.sample:
        rng = random.Random(a.seed)
        cmds = [rng.sample(c, min(a.sample, len(c))) for c in cmds]
    order = interleave(cmds[0], cmds[1])
    jobs = [(side, str(trees[side]), c) for side, c in order]
    cpu = [0.0, 0.0]
    done = [0, 0]
    print(f"pair-compile: replaying {len(cmds[0])} + {len(cmds[1])} compiles, interleaved, -j{a.jobs}",
          file=sys.stderr, flush=True)
    ex = cf.ThreadPoolExecutor(a.jobs)
    for side, t, status, err in ex.map(run, jobs):
        if status != 0:
            # The queued compiles are dropped, not run to the end.
            ex.shutdown(wait=False, cancel_futures=True)
            sys.stderr.write(err)
            fail(f"a compile of {trees[side]} failed (exit {os.waitstatus_to_exitcode(status)})")
        cpu[side] += t
        done[side] += 1
    ex.shutdown()
    total = [cpu[i] * counts[i] / done[i] for i in range(2)]
    scaled = " (scaled from the sample)" if a.sample else ""
    for name, i in [("reference", 0), ("new", 1)]:
        print(f"{name:10} {counts[i]:6} compiles  {total[i]:8.1f} s CPU{scaled}  {trees[i]}")
    print(f"ratio      {total[1] / total[0]:.3f}")


if __name__ == "__main__":
    main()
