#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Where `cargo build --release` puts a binary of this workspace.

.cargo/config.toml builds for the host's target triple named explicitly,
so binaries are in TARGET/TRIPLE/release (TARGET: $CARGO_TARGET_DIR, else
target/ in the repository).

Usage: scripts/binpath.py [NAME]   prints the path of NAME (default ktailor)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def host_triple() -> str:
    out = subprocess.run(["rustc", "-vV"], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        if line.startswith("host: "):
            return line[len("host: "):].strip()
    raise RuntimeError("rustc -vV names no host")


def release_bin(name: str = "ktailor") -> Path:
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    return target / host_triple() / "release" / name


if __name__ == "__main__":
    print(release_bin(sys.argv[1] if len(sys.argv) > 1 else "ktailor"))
