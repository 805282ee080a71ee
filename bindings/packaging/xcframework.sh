#!/usr/bin/env bash
# Builds MendFFI.xcframework for iOS devices and the iOS simulator (arm64 + x86_64) and prints
# the Package.swift binary target to use it. Needs macOS with Xcode. NOT RUN on the Linux
# machine Mend is developed and tested on: it is written from Apple's and uniffi's documented
# steps and must be tried on a Mac before a release.
set -euo pipefail
cd "$(dirname "$0")/../.."
for t in aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios; do
  rustup target add "$t"
  # The shipping profile (LTO, size-optimised); URLSession carries the requests, so no bundled
  # HTTP client. Xcode strips the static library when it links the app.
  cargo build -p mend-ffi --profile mobile --no-default-features --target "$t"
done
out=target/xcframework
rm -rf "$out" && mkdir -p "$out/headers" "$out/sim" "$out/Sources/MendFFI/Generated" "$out/Sources/MendFFIFFI/include"
cargo run -p mend-ffi --bin uniffi-bindgen -- generate --library target/aarch64-apple-ios/mobile/libmend_ffi.a \
  --language swift --out-dir "$out/Sources/MendFFI/Generated"
# mend-core's header is written to Sources/MendFFIFFI/include (see bindings/uniffi-crates.toml).
cp "$out/Sources/MendFFI/Generated/MendFFIFFI.h" "$out/Sources/MendFFIFFI/include/MendCoreFFI.h" "$out/headers/"
cp bindings/swift/Sources/MendFFIFFI/include/module.modulemap "$out/headers/module.modulemap"
lipo -create target/aarch64-apple-ios-sim/mobile/libmend_ffi.a target/x86_64-apple-ios/mobile/libmend_ffi.a \
  -output "$out/sim/libmend_ffi.a"
xcodebuild -create-xcframework \
  -library target/aarch64-apple-ios/mobile/libmend_ffi.a -headers "$out/headers" \
  -library "$out/sim/libmend_ffi.a" -headers "$out/headers" \
  -output "$out/MendFFI.xcframework"
(cd "$out" && zip -qr MendFFI.xcframework.zip MendFFI.xcframework && swift package compute-checksum MendFFI.xcframework.zip)
cat <<'SWIFT'
Use in Package.swift (replace the MendFFIFFI C target and the linker flags):
    .binaryTarget(name: "MendFFIFFI", url: "https://…/MendFFI.xcframework.zip", checksum: "<checksum above>"),
and copy target/xcframework/Sources/MendFFI/Generated/*.swift (MendFFI.swift, MendCore.swift)
into Sources/MendFFI/Generated.
SWIFT
