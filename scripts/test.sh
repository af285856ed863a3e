#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The test command (README, .ci/run): formatting and lints, unit and
# integration tests, then the differential suite that runs the kernel's own
# C conf and ktailor side by side on real trees and configs.
#
#   scripts/test.sh                 the CI slice of the differential suite
#   KTAILOR_SLICE=full scripts/test.sh   the full matrix (see docs/testing.md)
#   scripts/test.sh --only REGEX    extra arguments go to scripts/difftest.py
set -euo pipefail
cd "$(dirname "$0")/.."

export KTAILOR_TREES=${KTAILOR_TREES:-$HOME/.cache/ktailor/trees}

echo "== setting up kernel trees and the C conf (scripts/setup-trees.sh)" >&2
scripts/setup-trees.sh >/dev/null

echo "== cargo fmt --check, clippy" >&2
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo test" >&2
cargo test --workspace --release --locked -- --include-ignored

echo "== differential suite against the C conf" >&2
cargo build --release --locked -p ktailor
python3 scripts/difftest.py --slice "${KTAILOR_SLICE:-ci}" "$@"
