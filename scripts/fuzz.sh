#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer through libfuzzer-sys, on the pinned stable toolchain) of
# every decoder that meets outside bytes; see fuzz/README.md and RELIABILITY.md.
#
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]  fuzz each target (default 60 s, all)
#   bash scripts/fuzz.sh --ci          replay every committed corpus file and regression input,
#                                      then fuzz each target for 5 s; fails on any crash
#   bash scripts/fuzz.sh --seeds       regenerate the seeds (make-seeds) and merge them in
#   bash scripts/fuzz.sh --minimize    merge each target's working corpus into its committed one
#
# Each target fuzzes with a working corpus fuzz/runs/<target> (not committed) on top of its
# committed corpus fuzz/corpus/<target>; crashes go to fuzz/artifacts/<target>/. Printed per
# target: executions (libFuzzer's stat::number_of_executed_units), cov and ft at the end.
# FUZZ_JOBS sets cargo's build jobs (default: all cores); CARGO_TARGET_DIR is honoured.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

targets=(envelope bundle payload share wire invite invite_contents stored_doc registry summary relay)
triple=x86_64-unknown-linux-gnu
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/fuzz/target}
case "$CARGO_TARGET_DIR" in /*) ;; *) CARGO_TARGET_DIR=$root/$CARGO_TARGET_DIR ;; esac
bindir=$CARGO_TARGET_DIR/$triple/release
jobs=${FUZZ_JOBS:-$(nproc)}

if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi

# Sanitizer coverage set by hand (what cargo-fuzz sets, minus the nightly-only sanitizers):
# inline 8-bit counters, the PC table and comparison tracing for libFuzzer, debug assertions
# and overflow checks on. An explicit --target keeps these flags off build scripts and proc
# macros (instrumented, they fail to link without libFuzzer).
export RUSTFLAGS="-C passes=sancov-module -C llvm-args=-sanitizer-coverage-level=4 \
-C llvm-args=-sanitizer-coverage-inline-8bit-counters -C llvm-args=-sanitizer-coverage-pc-table \
-C llvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -C debug-assertions -C overflow-checks"

build() {
  echo "== building the fuzz targets (instrumented, --target $triple, -j $jobs)"
  (cd fuzz && cargo build --release --locked --target "$triple" -j "$jobs" --bins)
}

# Prints one line per target from a libFuzzer log.
summary() {
  local t=$1 log=$2 secs=$3
  local execs cov ft
  execs=$(awk '/stat::number_of_executed_units/ {n = $NF} END {print n + 0}' "$log")
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | awk '{print $2}')
  ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | awk '{print $2}')
  printf '%-16s executions %-12s cov %-6s ft %-6s (%s s)\n' "$t" "$execs" "${cov:-?}" "${ft:-?}" "$secs"
}

fuzz_one() {
  local t=$1 secs=$2 first=$3
  mkdir -p "$first" "fuzz/corpus/$t" "fuzz/artifacts/$t"
  local log
  log=$(mktemp)
  local start=$SECONDS rc=0
  "$bindir/$t" -max_total_time="$secs" -print_final_stats=1 -timeout=20 -rss_limit_mb=4096 \
    -artifact_prefix="fuzz/artifacts/$t/" "$first" "fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  cp "$log" "fuzz/artifacts/$t/last.log"
  summary "$t" "$log" "$((SECONDS - start))"
  # Stopped by SIGINT (libFuzzer's interrupt exit code, 72, after "run interrupted"): the run
  # ended early, nothing crashed. Its executions still count; the working corpus is kept. The
  # caller stops there (exit 130), and --ci fails.
  if [ "$rc" -eq 72 ] && grep -q 'libFuzzer: run interrupted' "$log"; then
    echo "$t: interrupted (SIGINT), not a crash" >&2
    rm -f "$log"
    return 130
  fi
  if [ "$rc" -ne 0 ]; then
    echo "error: $t failed (exit $rc); its log:" >&2
    grep -vE '^#[0-9]+' "$log" | tail -40 >&2
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
}

replay() {
  local t=$1 rc=0 log
  log=$(mktemp)
  local dirs=("fuzz/corpus/$t")
  [ -d fuzz/regressions ] && dirs+=(fuzz/regressions)
  "$bindir/$t" -runs=0 -timeout=20 -rss_limit_mb=4096 "${dirs[@]}" >"$log" 2>&1 || rc=$?
  local n
  n=$(grep -oE 'INITED.*|DONE.*' "$log" | tail -1 || true)
  printf '%-16s replayed: %s\n' "$t" "$n"
  if [ "$rc" -ne 0 ]; then
    echo "error: replaying the corpus of $t crashed (exit $rc):" >&2
    tail -40 "$log" >&2
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
}

merge_into() {
  # merge_into TARGET SOURCE_DIR...: the committed corpus becomes the minimal merge of itself
  # and the sources (inputs over 64 KiB left out).
  local t=$1
  shift
  local fresh
  fresh=$(mktemp -d)
  "$bindir/$t" -merge=1 -max_len=65536 -timeout=20 -rss_limit_mb=4096 "$fresh" "fuzz/corpus/$t" "$@" \
    >/dev/null 2>&1
  rm -rf "fuzz/corpus/$t"
  mv "$fresh" "fuzz/corpus/$t"
  chmod 755 "fuzz/corpus/$t"
  printf '%-16s corpus: %s files, %s\n' "$t" "$(ls "fuzz/corpus/$t" | wc -l)" \
    "$(du -sh "fuzz/corpus/$t" | cut -f1)"
}

case "${1:-}" in
  --ci)
    start=$SECONDS
    build
    echo "== replaying every committed corpus file and regression input"
    for t in "${targets[@]}"; do replay "$t"; done
    echo "== fuzzing each target for 5 s"
    scratch=$(mktemp -d)
    for t in "${targets[@]}"; do fuzz_one "$t" 5 "$scratch/$t"; done
    rm -rf "$scratch"
    echo "fuzzing: every corpus replayed and every target fuzzed without a crash ($((SECONDS - start)) s)"
    ;;
  --seeds)
    build
    out=$(mktemp -d)
    "$bindir/make-seeds" "$out"
    for t in "${targets[@]}"; do
      mkdir -p "fuzz/corpus/$t" "$out/$t"
      merge_into "$t" "$out/$t"
    done
    rm -rf "$out"
    ;;
  --minimize)
    build
    for t in "${targets[@]}"; do
      mkdir -p "fuzz/runs/$t" "fuzz/corpus/$t"
      merge_into "$t" "fuzz/runs/$t"
    done
    ;;
  *)
    secs=${1:-60}
    shift || true
    [ "$#" -gt 0 ] && targets=("$@")
    build
    failed=()
    for t in "${targets[@]}"; do
      fuzz_one "$t" "$secs" "fuzz/runs/$t" || {
        rc=$?
        [ "$rc" -eq 130 ] && { echo "stopped by SIGINT after $t" >&2; exit 130; }
        failed+=("$t")
      }
    done
    if [ "${#failed[@]}" -gt 0 ]; then
      echo "error: crashes in: ${failed[*]} (inputs in fuzz/artifacts/<target>/)" >&2
      exit 1
    fi
    ;;
esac
