#!/usr/bin/env bash
# A thousand crashes at length (RELIABILITY.md, "A thousand crashes"): a device process is
# SIGKILLed at random points of typing, signing, sync apply, compaction and erasure, and after
# each kill the vault must open, hold every acknowledged save, sync again and converge.
#
#   scripts/crashes.sh [ROUNDS] [SEED]
#
# ROUNDS defaults to 1000, SEED to 1835363940. CI runs the same test with 30 rounds in the debug
# build (`cargo test -p mend-tests --test crashes`).
set -euo pipefail
cd "$(dirname "$0")/.."
export MEND_CRASH_ROUNDS=${1:-1000}
export MEND_CRASH_SEED=${2:-1835363940}
start=$(date +%s)
cargo test --release --locked -p mend-tests --test crashes -- --nocapture 2>&1 |
  grep -E "crash campaign|panicked|round [0-9]+|test result"
echo "wall time: $(( $(date +%s) - start )) s (build included)"
