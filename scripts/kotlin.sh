#!/usr/bin/env bash
# Builds the host libmend_ffi, generates the Kotlin bindings from it (library mode, never
# committed), and runs the Kotlin tests on the JVM with Maven (JUnit 5, JNA).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v mvn >/dev/null 2>&1; then
  echo "installing Maven from Debian's packages" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq maven >&2
fi

cargo build -p mend-ffi --locked
out=bindings/kotlin/src/generated/kotlin
rm -rf "$out"
cargo run -q -p mend-ffi --bin uniffi-bindgen --locked -- generate --no-format \
  --library target/debug/libmend_ffi.so --language kotlin --out-dir "$out"
(cd bindings/kotlin && mvn -B -ntp test -Dmend.lib.dir="$PWD/../../target/debug")
