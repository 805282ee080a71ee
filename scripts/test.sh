#!/usr/bin/env bash
# Mend's one test entry point, the same for a developer and for CI.
# Provisions what it needs, then: format check, clippy with warnings as errors, all Rust tests.
# (Later parts of Mend add the relay on PostgreSQL and the Kotlin and Swift suites here.)
set -euo pipefail
cd "$(dirname "$0")/.."

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

echo "== PostgreSQL for the relay tests (throwaway cluster on loopback)"
eval "$(bash scripts/postgres.sh start)"
trap 'bash scripts/postgres.sh stop "$MEND_PG_DIR"' EXIT

echo "== cargo test"
cargo test --workspace --all-features --locked

echo "== Kotlin bindings (Maven, JUnit 5, JNA)"
bash scripts/kotlin.sh

echo "== benchmark smoke run (tiny sizes; real numbers: cargo bench -p mend-core --bench vault)"
MEND_BENCH_QUICK=1 cargo bench -p mend-core --bench vault --locked >/dev/null
echo "bench smoke run: ok"
