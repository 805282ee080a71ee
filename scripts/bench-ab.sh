#!/usr/bin/env bash
# Runs two builds of Mend's benchmarks in alternation on this machine (A B A B …), so that both
# see the same machine state, and keeps every report. Used to compare a dependency upgrade or a
# refactor with the build before it (BENCHMARKS.md, "Old against new").
#
#   scripts/bench-ab.sh A_DIR B_DIR ROUNDS OUT_DIR
#
# A_DIR and B_DIR each hold the three bench binaries named vault, sync and load, e.g. copied
# from target/release/deps/ after `cargo bench --no-run -p mend-core --bench vault --bench sync`
# and `cargo bench --no-run -p mend-relay --bench load` in a checkout of each revision.
# Environment: MEND_BENCH_ONLY and MEND_BENCH_TRACE_OPS pass through to the vault bench;
# MEND_AB_BENCHES (default "vault sync load") picks the benches. The relay load bench uses
# MEND_TEST_POSTGRES_URL when set (one throwaway cluster for every run), else starts its own.
set -euo pipefail
a=$1 b=$2 rounds=$3 out=$4
mkdir -p "$out"
for r in $(seq 1 "$rounds"); do
  for bench in ${MEND_AB_BENCHES:-vault sync load}; do
    for side in A B; do
      dir=$a; [ "$side" = B ] && dir=$b
      echo "round $r: $bench $side" >&2
      start=$(date +%s)
      "$dir/$bench" --bench > "$out/$bench-$side-$r.md" 2> "$out/$bench-$side-$r.err"
      echo "  $(( $(date +%s) - start )) s" >&2
    done
  done
done
