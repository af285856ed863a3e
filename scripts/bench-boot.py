#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Benchmark: the QEMU sandbox kernel against seed 003's recipe, side by side.

Seed 003 builds its QEMU kernel as `make defconfig`, a list of
`scripts/config --enable/--disable` lines, `make olddefconfig`, `make`.
This script makes that configuration with the kernel's own tools (the
recipe's options are listed below; CONFIG_IKCONFIG/IKCONFIG_PROC are added
so both kernels can run the same `config` check), then, one after the
other in the same run, builds both kernels from scratch with `ktailor
build` (the reference through a spec whose base is the recipe's
configuration, which is already a fixed point of olddefconfig) and boots
each under TCG with the same checks.

Printed: build time (wall, from scratch, -j as given; and the CPU time of
the build's processes, which other load on the machine barely moves),
bzImage size, time from QEMU's start to init (median of --boots boots),
the checks, and the
ratios against the goals: at most 1/4 of the reference's build time and
image size, boot to init in under half its time, every check passing.

Usage: scripts/bench-boot.py [--out DIR] [-j N] [--boots N] [--init PATH]
                             [--bin PATH] [--tree DIR]
Needs scripts/setup-trees.sh to have run (the 6.12 tree, QEMU) and ktailor
built in release mode. The reference build takes tens of minutes on two
cores. Exit status: 0 every goal met, 1 a goal missed, 2 an error.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from binpath import release_bin

REPO = Path(__file__).resolve().parent.parent

# Seed 003's configure_kernel(): on top of x86_64 defconfig.
SEED003_ENABLE = """
HYPERVISOR_GUEST PARAVIRT PARAVIRT_SPINLOCKS KVM_GUEST
VIRTIO VIRTIO_PCI VIRTIO_PCI_LEGACY VIRTIO_MMIO VIRTIO_MMIO_CMDLINE_DEVICES
VIRTIO_BLK SCSI_VIRTIO VIRTIO_NET VIRTIO_CONSOLE HW_RANDOM_VIRTIO VIRTIO_BALLOON VIRTIO_INPUT
NET_9P NET_9P_VIRTIO 9P_FS 9P_FS_POSIX_ACL 9P_FS_SECURITY
NET INET PACKET UNIX IPV6 NETDEVICES NET_CORE
EXT4_FS EXT4_FS_POSIX_ACL EXT4_FS_SECURITY EXT3_FS EXT2_FS
TMPFS TMPFS_POSIX_ACL PROC_FS SYSFS DEVTMPFS DEVTMPFS_MOUNT
TTY SERIAL_8250 SERIAL_8250_CONSOLE PRINTK
BLK_DEV_INITRD RD_GZIP RD_BZIP2 RD_LZMA RD_XZ RD_LZO RD_LZ4 RD_ZSTD
PCI PCI_MSI ACPI MODULES MODULE_UNLOAD BINFMT_ELF BINFMT_SCRIPT
POSIX_TIMERS FUTEX EPOLL SIGNALFD TIMERFD EVENTFD
""".split()
SEED003_DISABLE = "DEBUG_KERNEL DEBUG_INFO DEBUG_INFO_BTF GDB_SCRIPTS".split()
# Not in the recipe: so that the `config` check can run on both kernels.
FOR_THE_CONFIG_CHECK = ["IKCONFIG", "IKCONFIG_PROC"]

CHECKS = ["blk", "9p", "net", "config"]
GOALS = {"build": 0.25, "size": 0.25, "init": 0.5}


def say(msg: str) -> None:
    print(f"bench-boot: {msg}", file=sys.stderr, flush=True)


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        say(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stdout}\n{p.stderr}")
        sys.exit(2)
    return p


def recipe_config(tree: Path, work: Path) -> Path:
    """Seed 003's configuration, made by make and scripts/config."""
    obj = work / "seed003-config"
    shutil.rmtree(obj, ignore_errors=True)
    obj.mkdir(parents=True)
    make = ["make", "-s", "-C", str(tree), f"O={obj}", "ARCH=x86_64"]
    run([*make, "defconfig"])
    cfg = obj / ".config"
    args = []
    for o in SEED003_ENABLE + FOR_THE_CONFIG_CHECK:
        args += ["--enable", o]
    for o in SEED003_DISABLE:
        args += ["--disable", o]
    run([str(tree / "scripts/config"), "--file", str(cfg), *args])
    run([*make, "olddefconfig"])
    dest = work / "seed003.config"
    shutil.copyfile(cfg, dest)
    return dest


def static_init() -> Path:
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "static-init"
    triple = "x86_64-unknown-linux-gnu"
    env = dict(os.environ, CARGO_TARGET_DIR=str(target), RUSTFLAGS="-C target-feature=+crt-static")
    env.pop("CARGO_ENCODED_RUSTFLAGS", None)
    run(["cargo", "build", "--release", "--locked", "-p", "ktailor-init", "--target", triple],
        cwd=REPO, env=env)
    return target / triple / "release/ktailor-init"


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


OBJECTS_RE = re.compile(r"\((\d+) objects compiled")


def machine_cpu() -> float:
    """CPU seconds the whole machine has been busy (all cores, /proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    busy = v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)
    return busy / os.sysconf("SC_CLK_TCK")


def build(binary: str, spec: Path, kernel: str, out: Path, jobs: int) -> dict:
    """A from-scratch build: wall seconds, CPU seconds, bzImage bytes,
    objects compiled, and the CPU seconds other processes used meanwhile.
    The CPU time (user + system of every process of the build) barely
    moves when something else runs on the machine; the wall time does,
    which the other processes' CPU time shows."""
    shutil.rmtree(out / kernel, ignore_errors=True)
    say(f"building {kernel} from scratch (-j{jobs})")
    t, c, m0 = time.perf_counter(), children_cpu(), machine_cpu()
    p = run([binary, "build", str(spec), "--kernel", kernel, "--out", str(out), f"-j{jobs}"])
    wall, cpu = time.perf_counter() - t, children_cpu() - c
    other = max(0.0, machine_cpu() - m0 - cpu)
    m = OBJECTS_RE.search(p.stdout)
    return {
        "build": wall,
        "cpu": cpu,
        "size": (out / kernel / "bzImage").stat().st_size,
        "objects": int(m.group(1)) if m else None,
        "other": other,
    }


INIT_RE = re.compile(r"init\s+reached after ([0-9.]+) s")
CHECK_RE = re.compile(r"^\s+(PASS|FAIL) (\S+)", re.M)


def boot(binary: str, spec: Path, kernel: str, out: Path, init: Path) -> tuple[float | None, dict]:
    p = subprocess.run(
        [binary, "boot", str(spec), "--kernel", kernel, "--out", str(out), "--init", str(init),
         "--accel", "tcg", "--checks", ",".join(CHECKS), "--timeout", "600"],
        capture_output=True, text=True)
    if p.returncode == 2:
        say(f"boot of {kernel} failed:\n{p.stdout}\n{p.stderr}")
        sys.exit(2)
    m = INIT_RE.search(p.stdout)
    checks = {name: res == "PASS" for res, name in CHECK_RE.findall(p.stdout)}
    return (float(m.group(1)) if m else None), checks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=None, help="work directory (default: a fresh one in $TMPDIR)")
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--boots", type=int, default=3)
    ap.add_argument("--init", default=None, help="the static ktailor-init (default: build it)")
    ap.add_argument("--bin", default=os.environ.get("KTAILOR_BIN", str(release_bin())))
    trees = Path(os.environ.get("KTAILOR_TREES", Path.home() / ".cache/ktailor/trees"))
    ap.add_argument("--tree", default=str(trees / "linux-source-6.12"))
    a = ap.parse_args()
    if not Path(a.bin).is_file():
        sys.exit(f"{a.bin}: not built (cargo build --release -p ktailor, or --bin)")
    tree = Path(a.tree)
    if not (tree / "Makefile").is_file():
        sys.exit(f"{tree}: no kernel tree (run scripts/setup-trees.sh)")
    work = Path(a.out) if a.out else Path(os.environ.get("TMPDIR", "/tmp")) / f"ktailor-bench-boot-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    out = work / "out"
    init = Path(a.init) if a.init else static_init()

    cfg = recipe_config(tree, work)
    ref_spec = work / "seed003.toml"
    ref_spec.write_text(
        "# Seed 003's recipe: x86_64 defconfig plus its scripts/config lines\n"
        "# (made by bench-boot.py with the kernel's own tools).\n"
        f"[kernel.seed003]\nsource = \"{tree}\"\narch = \"x86_64\"\nbase = \"{cfg}\"\n")
    sandbox_spec = REPO / "examples/qemu-sandbox.toml"

    results = {}
    for name, spec in [("seed003", ref_spec), ("sandbox", sandbox_spec)]:
        built = build(a.bin, spec, name, out, a.jobs)
        times, checks = [], {}
        for i in range(a.boots):
            say(f"booting {name} under TCG ({i + 1}/{a.boots})")
            t, checks = boot(a.bin, spec, name, out, init)
            if t is not None:
                times.append(t)
        results[name] = {
            **built,
            "init": statistics.median(times) if times else None,
            "checks": checks,
        }

    ref, new = results["seed003"], results["sandbox"]
    print(f"bench-boot: Linux 6.12, x86_64, -j{a.jobs}, {a.boots} TCG boots each (median)")
    print(f"{'':22} {'seed 003':>12} {'sandbox':>12} {'ratio':>7}  goal")
    ok = True

    def row(label: str, key: str, fmt, goal: str) -> None:
        nonlocal ok
        r, n = ref[key], new[key]
        ratio = (n / r) if (r and n is not None) else None
        met = ratio is not None and (ratio < GOALS[key] if key == "init" else ratio <= GOALS[key])
        ok = ok and met
        print(f"{label:22} {fmt(r):>12} {fmt(n):>12} {(f'{ratio:.3f}' if ratio is not None else '-'):>7}"
              f"  {goal} {'met' if met else 'NOT MET'}")

    row("build (s)", "build", lambda v: f"{v:.0f}", "<= 0.25")
    r, n = ref["cpu"], new["cpu"]
    print(f"{'build CPU (s)':22} {r:>12.0f} {n:>12.0f} {n / r:>7.3f}  (user+system; not a goal)")
    print(f"{'objects compiled':22} {ref['objects'] or '-':>12} {new['objects'] or '-':>12}")
    print(f"{'other processes CPU (s)':22} {ref['other']:>12.0f} {new['other']:>12.0f}"
          "  (during each build; near 0 on an idle machine)")
    row("bzImage (bytes)", "size", lambda v: f"{v}", "<= 0.25")
    row("time to init (s)", "init", lambda v: "-" if v is None else f"{v:.2f}", "< 0.5")
    for name, r in [("seed 003", ref), ("sandbox", new)]:
        passed = [c for c in CHECKS if r["checks"].get(c)]
        failed = [c for c in CHECKS if not r["checks"].get(c)]
        ok = ok and not failed
        print(f"checks {name:15} {len(passed)}/{len(CHECKS)} pass"
              + (f"; FAIL: {', '.join(failed)}" if failed else ""))
    print(f"work directory: {work}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
