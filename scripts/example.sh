#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The main job on a shipped example: bring Debian's amd64 6.12 kernel
# configuration up to date with `ktailor kconfig olddefconfig`, write its
# minimal form with savedefconfig, build an x86_64 defconfig, and show that
# each result is byte-identical to what the kernel's own conf produces.
#
# Usage: scripts/example.sh [OUTDIR]     (default: a new temporary directory)
set -euo pipefail
cd "$(dirname "$0")/.."

export KTAILOR_TREES=${KTAILOR_TREES:-$HOME/.cache/ktailor/trees}
echo "== setting up (packages, kernel trees, the C conf)" >&2
scripts/setup-trees.sh >/dev/null
echo "== building ktailor" >&2
cargo build --release --locked -q -p ktailor

SRC=$KTAILOR_TREES/linux-source-6.12
BASE=$KTAILOR_TREES/configs/6.12/config.amd64_none_amd64
OUT=${1:-$(mktemp -d)}
KT=$(python3 scripts/binpath.py)
mkdir -p "$OUT/ktailor" "$OUT/conf"

run() { echo "+ $*" >&2; "$@"; }

cp "$BASE" "$OUT/ktailor/.config"
cp "$BASE" "$OUT/conf/.config"
run "$KT" kconfig olddefconfig -C "$SRC" -O "$OUT/ktailor" --arch x86
run "$KT" kconfig savedefconfig -C "$SRC" -O "$OUT/ktailor" --arch x86
run make -s -C "$SRC" O="$OUT/conf" ARCH=x86 olddefconfig savedefconfig >/dev/null

mkdir -p "$OUT/ktailor-defconfig" "$OUT/conf-defconfig"
run "$KT" kconfig x86_64_defconfig -C "$SRC" -O "$OUT/ktailor-defconfig" --arch x86
run make -s -C "$SRC" O="$OUT/conf-defconfig" ARCH=x86 x86_64_defconfig >/dev/null

status=0
check() {
    if cmp -s "$1" "$2"; then
        printf 'identical  %s\n' "$3"
    else
        printf 'DIFFERENT  %s\n' "$3"; diff -u "$2" "$1" | head -40; status=1
    fi
}
echo
check "$OUT/ktailor/.config" "$OUT/conf/.config" "olddefconfig of Debian's amd64 config ($(grep -c '^CONFIG_' "$OUT/ktailor/.config") options set)"
check "$OUT/ktailor/defconfig" "$OUT/conf/defconfig" "savedefconfig ($(wc -l <"$OUT/ktailor/defconfig") lines)"
check "$OUT/ktailor-defconfig/.config" "$OUT/conf-defconfig/.config" "x86_64_defconfig"
echo
echo "== declarative kernels: ktailor generate examples/*.toml" >&2
for spec in examples/*.toml; do
    run "$KT" generate "$spec" --out "$OUT/generated" | grep -E '^kernel|requests hold|wrote|nothing written' || status=1
done
echo "results in $OUT"
exit $status
