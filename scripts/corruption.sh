#!/usr/bin/env bash
# The corruption campaign at length (RELIABILITY.md, "Corruption never lies"): copies of one
# vault file with 1–8 random bytes flipped, each opened and read in full, in release mode.
#
#   scripts/corruption.sh [COPIES_PER_SEED] [SEEDS]
#
# COPIES_PER_SEED defaults to 5000, SEEDS (comma-separated) to 101,102,103,104. CI runs the same
# test with 100 copies for each of the seeds 1, 2 and 3 (`cargo test -p mend-tests --test corruption`).
set -euo pipefail
cd "$(dirname "$0")/.."
export MEND_CORRUPTION_COPIES=${1:-5000}
export MEND_CORRUPTION_SEEDS=${2:-101,102,103,104}
start=$(date +%s)
cargo test --release --locked -p mend-tests --test corruption -- --nocapture 2>&1 |
  grep -E "corruption campaign|WRONG|panicked|test result"
echo "wall time: $(( $(date +%s) - start )) s (build included)"
