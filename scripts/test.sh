#!/usr/bin/env bash
# Mend's one test entry point, the same for a developer and for CI.
# Provisions what it needs, then: format check, clippy with warnings as errors, all Rust tests.
# Then: the relay on a throwaway PostgreSQL, the Kotlin and Swift suites, benchmark smoke runs,
# the fuzz targets' short CI mode, and one closing line counting every test.
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)

# The toolchain is pinned in rust-toolchain.toml; rustup installs it if this machine lacks it.
if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "error: Rust (rustup) is required: see README.md" >&2
    exit 1
  fi
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

echo "== the fuzz workspace's lock file is current (it shares the relay's dependencies)"
cargo tree --manifest-path fuzz/Cargo.toml --locked --target x86_64-unknown-linux-gnu -q >/dev/null

echo "== one copy of each crypto crate in the mobile library (DEPENDENCIES.md)"
bash scripts/deps-check.sh

echo "== the getting-started pages show the code their tests run (docs/getting-started-*.md)"
python3 scripts/doc-snippets.py

echo "== PostgreSQL for the relay tests (throwaway cluster on loopback)"
eval "$(bash scripts/postgres.sh start)"
trap 'bash scripts/postgres.sh stop "$MEND_PG_DIR"' EXIT

echo "== cargo test"
cargo test --workspace --all-features --locked 2>&1 | tee -a "$log"

echo "== Kotlin bindings and the Android sample's view models (Maven, JUnit 5, JNA)"
bash scripts/kotlin.sh 2>&1 | tee -a "$log"

echo "== Swift bindings and the iOS sample's view models (XCTest in a Debian trixie chroot)"
bash scripts/swift.sh 2>&1 | tee -a "$log"

echo "== the shipping library: bindings from it, only uniffi's symbols exported, size budget"
bash scripts/library-check.sh

echo "== deployment examples (deploy/: systemd unit, compose file, Dockerfile)"
bash scripts/deploy-check.sh

echo "== benchmark smoke run (tiny sizes; real numbers: cargo bench -p mend-core --bench vault)"
MEND_BENCH_QUICK=1 cargo bench -p mend-core --bench vault --locked >/dev/null
MEND_BENCH_QUICK=1 cargo bench -p mend-core --bench sync --locked >/dev/null
MEND_BENCH_QUICK=1 cargo bench -p mend-relay --bench load --locked >/dev/null
# The push bench's real runs start a durable cluster of their own; the smoke run only checks
# that it runs and that every bundle arrives once, so the tests' cluster does.
MEND_BENCH_QUICK=1 MEND_BENCH_POSTGRES_URL="$MEND_TEST_POSTGRES_URL" \
  cargo bench -p mend-relay --bench push --locked >/dev/null
echo "bench smoke runs: ok"

echo "== fuzzing: every corpus and regression input replayed, each target fuzzed 5 s (RELIABILITY.md)"
bash scripts/fuzz.sh --ci

# One closing line with every test counted: Rust (cargo test), Kotlin (Surefire), Swift (XCTest).
rust=$(awk '/^test result: ok\./ {n += $4} END {print n+0}' "$log")
kotlin=$(awk '/Tests run: [0-9]+, Failures: 0, Errors: 0, Skipped: 0$/ && !/ in / {sub(",", "", $4); n += $4} END {print n+0}' "$log")
# XCTest ends each suite run (the bindings, then the iOS sample's NotebookKit) with a line
# "Test Suite 'All tests' passed" followed by "Executed N tests, with 0 failures".
swift=$(awk '/Test Suite .All tests. passed/ {getline; n += $2} END {print n+0}' "$log")
echo "Rust tests: $rust, Kotlin tests: $kotlin, Swift tests: ${swift:-0}"
echo "$((rust + kotlin + ${swift:-0})) passed, 0 failed"
