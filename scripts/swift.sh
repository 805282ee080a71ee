#!/usr/bin/env bash
# Runs the Swift package's XCTest suite, then the iOS sample's NotebookKit suite, on Linux.
# Debian 12 has no Swift, Debian 13 (trixie) ships swiftlang 6: a minimal trixie chroot is made
# once with debootstrap into a cache folder outside the repo (MEND_SWIFT_CHROOT), the repo is
# bind-mounted into it, and `swift test` runs there against the host-built libmend_ffi. Needs root
# (CI runs as root).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
root=${MEND_SWIFT_CHROOT:-/var/cache/mend/swift-trixie}

if [ ! -x "$root/usr/bin/swift" ]; then
  if ! command -v debootstrap >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2
  fi
  mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  mirror=${mirror:-$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null)}
  echo "making the Swift chroot in $root from $mirror (once)" >&2
  rm -rf "$root"
  mkdir -p "$root"
  debootstrap --variant=minbase trixie "$root" "$mirror" >/dev/null
  chroot "$root" /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  chroot "$root" /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends swiftlang libc6-dev >/dev/null
fi

# Host side: the library and the generated Swift sources (never committed).
cargo build -p mend-ffi --locked
gen=bindings/swift/Sources/MendFFI/Generated
rm -rf "$gen" bindings/swift/Sources/MendFFIFFI/include/MendFFIFFI.h
mkdir -p "$gen" bindings/swift/Sources/MendFFIFFI/include
cargo run -q -p mend-ffi --bin uniffi-bindgen --locked -- generate --no-format \
  --library target/debug/libmend_ffi.so --language swift --out-dir "$gen"
mv "$gen/MendFFIFFI.h" bindings/swift/Sources/MendFFIFFI/include/MendFFIFFI.h
rm -f "$gen/MendFFIFFI.modulemap"

mnt="$root/mnt/mend"
mkdir -p "$mnt"
cleanup() {
  umount "$mnt" 2>/dev/null || true
  umount "$root/proc" 2>/dev/null || true
}
trap cleanup EXIT
mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
mountpoint -q "$mnt" || mount --bind "$repo" "$mnt"
chroot "$root" /bin/sh -c "cd /mnt/mend/bindings/swift && LD_LIBRARY_PATH=/mnt/mend/target/debug swift test --disable-swift-testing --scratch-path /tmp/mend-swift-build 2>&1"
# The iOS sample's view models (ios-sample/Package.swift: NotebookKit + tests; its SwiftUI screens
# need Xcode and are not built here). Same chroot, its own build folder; each run prints its own
# XCTest summary.
chroot "$root" /bin/sh -c "cd /mnt/mend/ios-sample && LD_LIBRARY_PATH=/mnt/mend/target/debug swift test --disable-swift-testing --scratch-path /tmp/mend-ios-sample-build 2>&1"
