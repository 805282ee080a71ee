#!/usr/bin/env bash
# The long soak (RELIABILITY.md, "A long soak"): five device processes doing random clinical work
# through a fault-injecting proxy to a mend-relay process, with relay restarts and device kills,
# first on SQLite, then on a throwaway PostgreSQL; in release mode.
#
#   scripts/soak.sh [SECONDS_PER_STORE]
#
# SECONDS_PER_STORE defaults to 600. CI runs the same tests for 20 s each in the debug build
# (`cargo test -p mend-tests --test soak`).
set -euo pipefail
cd "$(dirname "$0")/.."
export MEND_SOAK_SECS=${1:-600}
eval "$(bash scripts/postgres.sh start)"
trap 'bash scripts/postgres.sh stop "$MEND_PG_DIR"' EXIT
start=$(date +%s)
cargo test --release --locked -p mend-tests --test soak -- --nocapture --test-threads=1 2>&1 |
  grep -E "^soak|panicked|did not|lost|test result"
echo "wall time: $(( $(date +%s) - start )) s (build included)"
