#!/usr/bin/env bash
# Builds libmend_ffi.so for arm64-v8a, armeabi-v7a and x86_64 with cargo-ndk, linked for 16 KB
# pages (required on Android 15+ devices), and lays out an AAR with the generated Kotlin sources.
# Needs the Android NDK (ANDROID_NDK_HOME) and cargo-ndk. NOT RUN on the Linux machine Mend is
# developed on (no NDK there); written from the cargo-ndk and Android 16 KB page documentation.
set -euo pipefail
cd "$(dirname "$0")/../.."
rustup target add aarch64-linux-android armv7-linux-androideabi x86_64-linux-android
command -v cargo-ndk >/dev/null || cargo install cargo-ndk --locked
out=target/aar
rm -rf "$out" && mkdir -p "$out/jni" "$out/kotlin"
RUSTFLAGS="-C link-arg=-Wl,-z,max-page-size=16384" \
  cargo ndk -t arm64-v8a -t armeabi-v7a -t x86_64 -P 24 -o "$out/jni" build -p mend-ffi --profile mobile --no-default-features
# Bindings from an unstripped library (uniffi's library mode reads its metadata), then strip.
cargo build -p mend-ffi --profile mobile --no-default-features
cargo run -p mend-ffi --bin uniffi-bindgen -- generate --library target/mobile/libmend_ffi.so \
  --language kotlin --out-dir "$out/kotlin"
strip_tool=$(ls "$ANDROID_NDK_HOME"/toolchains/llvm/prebuilt/*/bin/llvm-strip | head -1)
for so in "$out"/jni/*/libmend_ffi.so; do "$strip_tool" --strip-unneeded "$so"; done
cat > "$out/AndroidManifest.xml" <<'XML'
<manifest xmlns:android="http://schemas.android.com/apk/res/android" package="org.mend.core" />
XML
# An AAR is a zip: AndroidManifest.xml, classes.jar (compile the Kotlin with the app's Gradle
# build, or with bindings/kotlin/pom.xml), and jni/<abi>/libmend_ffi.so.
(cd "$out" && zip -qr mend-android.aar AndroidManifest.xml jni)
echo "AAR skeleton: $out/mend-android.aar (add classes.jar from the Kotlin sources in $out/kotlin)"
