#!/usr/bin/env bash
# Builds the host libmend_ffi, generates the Kotlin bindings from it (library mode, never
# committed), runs the Kotlin bindings' tests on the JVM with Maven (JUnit 5, JNA) and installs
# their jar in the local Maven repository, then builds and tests the Android sample's view-model
# module (android-sample/notebook-core, plain Kotlin/JVM) against that jar and the same library.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v mvn >/dev/null 2>&1; then
  echo "installing Maven from Debian's packages" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq maven >&2
fi

# The relay binary too: the sample's registration test runs it.
cargo build -p mend-ffi -p mend-relay --locked
out=bindings/kotlin/src/generated/kotlin
rm -rf "$out"
cargo run -q -p mend-ffi --bin uniffi-bindgen --locked -- generate --no-format \
  --library target/debug/libmend_ffi.so --language kotlin --out-dir "$out"
lib="$PWD/target/debug"
# `install` runs the tests first, then puts org.mend:mend-kotlin in ~/.m2 for the sample.
# `clean` first: classes compiled from an earlier generation of the bindings (a type that moved
# package) must not stay on the compiler's class path.
(cd bindings/kotlin && mvn -B -ntp clean install -Dmend.lib.dir="$lib")
# The API reference from the doc comments (Dokka, HTML in bindings/kotlin/target/dokka), checked
# for pages that must carry their docs.
(cd bindings/kotlin && mvn -B -ntp -q dokka:dokka -Dmend.lib.dir="$lib")
ref=bindings/kotlin/target/dokka/mend-kotlin
grep -q "safe point" "$ref/org.mend.core/-vault/sync-http.html"
grep -q "kept current" "$ref/org.mend/watch-clients.html"
grep -q "UTF-16 code units" "$ref/org.mend.core/-vault/splice-note-section.html"
echo "Kotlin API reference: bindings/kotlin/target/dokka/index.html ($(find "$ref" -name '*.html' | wc -l) pages)"
(cd android-sample/notebook-core && mvn -B -ntp clean test -Dmend.lib.dir="$lib")
