#!/usr/bin/env bash
# The library an app ships, built as the packaging scripts build it (profile `mobile`: LTO,
# size-optimised), for this machine's architecture (x86_64 Linux; the Android and iOS targets
# need the NDK and Xcode, not on this machine), for an app that brings its own HTTP stack
# (`--no-default-features`: no ureq, no rustls). `--bundled` also builds and reports the
# default library, with Mend's own HTTP client (not budgeted). Checks and reports:
#   - the bindings generate from the unstripped library (library mode reads its metadata);
#   - its size once stripped, against a budget (MEND_LIBRARY_BUDGET bytes, default 5,900,000:
#     the goal is 5,000,000; measured 5,600,544 on 2026-12-04, see bindings/README.md);
#   - the symbols it exports: only uniffi's (`uniffi_*`, `ffi_mend_*`, `UNIFFI_META_*`), so no
#     `sqlite3_*` and no stray Rust symbol can clash with another SQLite or Rust library in the
#     same app.
set -euo pipefail
cd "$(dirname "$0")/.."
budget=${MEND_LIBRARY_BUDGET:-5900000}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if [ "${1:-}" = "--bundled" ]; then
  cargo build -p mend-ffi --profile mobile --locked
  strip --strip-unneeded -o "$out/bundled.so" target/mobile/libmend_ffi.so
  echo "with Mend's own HTTP client (ureq, rustls): $(stat -c %s "$out/bundled.so") bytes stripped"
fi
# Its own target folder, so the two feature sets do not rebuild each other.
export CARGO_TARGET_DIR=target/mobile-app-http
cargo build -p mend-ffi --profile mobile --no-default-features --locked
lib=$CARGO_TARGET_DIR/mobile/libmend_ffi.so
# The workspace's uniffi-bindgen, built in the usual target folder (the bindings scripts build it).
env -u CARGO_TARGET_DIR cargo run -q -p mend-ffi --bin uniffi-bindgen --locked -- generate --no-format \
  --library "$lib" --language kotlin --out-dir "$out/kotlin" >/dev/null
test -s "$out/kotlin/org/mend/core/mend_ffi.kt" || { echo "error: no bindings from $lib" >&2; exit 1; }
strip --strip-unneeded -o "$out/libmend_ffi.so" "$lib"
unstripped=$(stat -c %s "$lib")
size=$(stat -c %s "$out/libmend_ffi.so")
echo "libmend_ffi.so (profile mobile, x86_64, the app's HTTP stack): $unstripped bytes, $size stripped (budget $budget)"
stray=$(nm -D --defined-only "$out/libmend_ffi.so" | awk '{print $3}' | grep -Ev '^(uniffi_|ffi_mend_|UNIFFI_META_)' || true)
if [ -n "$stray" ]; then
  echo "error: the library exports symbols other than uniffi's:" >&2
  echo "$stray" | head -20 >&2
  exit 1
fi
echo "exported symbols: $(nm -D --defined-only "$out/libmend_ffi.so" | wc -l), all uniffi's (no sqlite3_*, no stray Rust)"
if [ "$size" -gt "$budget" ]; then
  echo "error: the stripped library is over its budget ($size > $budget bytes)" >&2
  exit 1
fi
