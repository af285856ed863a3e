#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Benchmark: the hardware mapping of `ktailor hw` on Debian's 6.12 tree.

Prints medians (wall time) of:

  index cold   building the Makefile index (empty $KTAILOR_CACHE_DIR)
  index warm   loading it from the cache (every Makefile stat()ed)
  map list     `ktailor hw` on a module list, warm index (objects only)
  map lspci    `ktailor hw` on seed 001's `lspci -k` listing, warm index;
               bound drivers need the driver-name table (built from the
               tree's C files on first need, "cold", then cached, "warm")

The index times are the ones ktailor itself reports on stderr; the map
times are whole runs of the command. The page cache is not dropped (that
would need root and disturb the machine), so "cold" means a cold ktailor
cache, not a cold disk.

Usage: scripts/bench-hw.py [-n RUNS] [--bin PATH] [--tree DIR]
Needs scripts/setup-trees.sh to have run and ktailor built in release mode.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from binpath import release_bin

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "crates/ktailor-hw/tests/fixtures"
INDEX_RE = re.compile(r"index of .*: (\d+) directories, (\d+) objects \((Hit|Built), ([0-9.]+)s\)")


def run(binary: str, args: list[str], cache: str) -> tuple[float, float, str]:
    """Runs ktailor; returns (wall seconds, index seconds, cache use)."""
    env = dict(os.environ, KTAILOR_CACHE_DIR=cache)
    t = time.perf_counter()
    p = subprocess.run([binary, *args], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"ktailor {' '.join(args)} failed ({p.returncode}):\n{p.stderr}")
    m = INDEX_RE.search(p.stderr)
    if not m:
        sys.exit(f"no index line in stderr:\n{p.stderr}")
    return wall, float(m.group(4)), m.group(3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", "--runs", type=int, default=5)
    ap.add_argument("--bin", default=os.environ.get("KTAILOR_BIN", str(release_bin())))
    trees = Path(os.environ.get("KTAILOR_TREES", Path.home() / ".cache/ktailor/trees"))
    ap.add_argument("--tree", default=str(trees / "linux-source-6.12"))
    a = ap.parse_args()
    if not Path(a.bin).is_file():
        sys.exit(f"{a.bin}: not built (cargo build --release -p ktailor, or --bin)")
    if not Path(a.tree, "Makefile").is_file():
        sys.exit(f"{a.tree}: no kernel tree (run scripts/setup-trees.sh)")
    with tempfile.TemporaryDirectory() as tmp:
        modules = Path(tmp, "modules.txt")
        modules.write_text("".join(m + "\n" for m in [
            "amdgpu", "nvme", "iwlwifi", "xhci_pci", "snd_hda_intel", "ccp", "i2c_piix4",
            "e1000e", "ahci", "virtio_net", "virtio_blk", "ext4", "btrfs", "kvm_amd",
        ]))
        base = ["hw", "-C", a.tree, "--arch", "x86_64"]
        cold, warm, map_list, map_lspci, map_lspci_warm = [], [], [], [], []
        size = ""
        for i in range(a.runs):
            cache = Path(tmp, f"cache-{i}")
            _, t, use = run(a.bin, [*base, str(modules)], str(cache))
            assert use == "Built", use
            cold.append(t)
            wall, t, use = run(a.bin, [*base, str(modules)], str(cache))
            assert use == "Hit", use
            warm.append(t)
            map_list.append(wall)
            wall, _, use = run(a.bin, [*base, str(FIXTURES / "seed-001-lspci-k.txt")], str(cache))
            assert use == "Hit", use
            map_lspci.append(wall)
            wall, _, use = run(a.bin, [*base, str(FIXTURES / "seed-001-lspci-k.txt")], str(cache))
            map_lspci_warm.append(wall)
        p = subprocess.run([a.bin, *base, str(modules)], capture_output=True, text=True,
                           env=dict(os.environ, KTAILOR_CACHE_DIR=str(Path(tmp, "cache-0"))))
        m = INDEX_RE.search(p.stderr)
        if m:
            size = f"{m.group(1)} directories, {m.group(2)} objects"
    med = lambda v: statistics.median(v) * 1000
    print(f"tree: {a.tree} ({size}), {a.runs} runs, medians")
    print(f"  index cold (build)        {med(cold):8.1f} ms")
    print(f"  index warm (cache)        {med(warm):8.1f} ms")
    print(f"  map 14 modules (whole run){med(map_list):8.1f} ms")
    print(f"  map seed-001 lspci, driver table cold (run) {med(map_lspci):8.1f} ms")
    print(f"  map seed-001 lspci, driver table warm (run) {med(map_lspci_warm):8.1f} ms")


if __name__ == "__main__":
    main()
