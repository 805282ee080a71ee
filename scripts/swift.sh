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

# `swift` in the chroot is an absolute symlink: test it from inside, not from the host.
if ! { [ -d "$root/usr/bin" ] && chroot "$root" /usr/bin/test -x /usr/bin/swift; } 2>/dev/null; then
  if grep -q " $root/" /proc/mounts; then
    echo "error: $root needs remaking but something is mounted inside it (another run?)" >&2
    exit 1
  fi
  if ! command -v debootstrap >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2
  fi
  mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  mirror=${mirror:-$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null)}
  echo "making the Swift chroot in $root from $mirror (once)" >&2
  rm -rf --one-file-system "$root"
  mkdir -p "$root"
  debootstrap --variant=minbase trixie "$root" "$mirror" >/dev/null
  chroot "$root" /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  chroot "$root" /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends swiftlang libc6-dev >/dev/null
fi

# Host side: the library, the relay (for the iOS sample's HTTP test) and the generated Swift
# sources (never committed).
cargo build -p mend-ffi -p mend-relay --locked
gen=bindings/swift/Sources/MendFFI/Generated
rm -rf "$gen" bindings/swift/Sources/MendFFIFFI/include/MendFFIFFI.h
mkdir -p "$gen" bindings/swift/Sources/MendFFIFFI/include
cargo run -q -p mend-ffi --bin uniffi-bindgen --locked -- generate --no-format \
  --library target/debug/libmend_ffi.so --language swift --out-dir "$gen"
mv "$gen/MendFFIFFI.h" bindings/swift/Sources/MendFFIFFI/include/MendFFIFFI.h
rm -f "$gen/MendFFIFFI.modulemap"

# One mount point and build folders per checkout, so that two checkouts (a developer's and a CI
# clone) can run this at the same time; /proc stays mounted while any of them is inside.
key=$(printf '%s' "$repo" | sha256sum | cut -c1-12)
inside="/mnt/mend-$key"
mnt="$root$inside"
mkdir -p "$mnt"
relay_dir=$(mktemp -d)
relay_pids=
cleanup() {
  umount "$mnt" 2>/dev/null || true
  if ! grep -q " $root/mnt/mend" /proc/mounts; then umount "$root/proc" 2>/dev/null || true; fi
  for pid in $relay_pids; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$relay_dir"
}
trap cleanup EXIT
mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
mountpoint -q "$mnt" || mount --bind "$repo" "$mnt"
# SwiftPM does not always recompile a dependent target when the generated bindings change
# (stale objects then fail to link): start both build folders afresh whenever they do.
stamp=$(cat "$gen"/*.swift bindings/swift/Sources/MendFFIFFI/include/MendFFIFFI.h | sha256sum | cut -c1-16)
for b in "$root/tmp/mend-swift-build-$key" "$root/tmp/mend-ios-sample-build-$key"; do
  if [ "$(cat "$b/.mend-bindings" 2>/dev/null)" != "$stamp" ]; then
    rm -rf --one-file-system "$b"
    mkdir -p "$b"
    echo "$stamp" >"$b/.mend-bindings"
  fi
done

# The iOS sample's view models (ios-sample/Package.swift: NotebookKit + tests; its SwiftUI screens
# need Xcode and are not built here). Same chroot, its own build folder; each run prints its own
# XCTest summary. A real mend-relay on loopback (throwaway SQLite store, a free port) serves the
# sample's URLSession sync test; the chroot shares the host's network.
# Two relays: one in open registration (a solo therapist's), one that registers a vault only
# with a token its operator issued (a clinic's), with the token for the sample's test.
listening_on() { # LOG: the address a server printed as "listening on ADDR" (waits up to 10 s)
  local addr=
  for _ in $(seq 100); do
    addr=$(sed -n 's/^listening on //p' "$1")
    [ -n "$addr" ] && break
    sleep 0.1
  done
  echo "$addr"
}
start_relay() { # NAME FLAGS...: starts it, sets relay_addr
  local name=$1
  shift
  target/debug/mend-relay --listen 127.0.0.1:0 --storage "sqlite://$relay_dir/$name.db" "$@" >"$relay_dir/$name.log" 2>&1 &
  relay_pids="$relay_pids $!"
  relay_addr=$(listening_on "$relay_dir/$name.log")
  if [ -z "$relay_addr" ]; then
    echo "mend-relay did not start:" >&2
    cat "$relay_dir/$name.log" >&2
    exit 1
  fi
}
start_relay open --open-registration
open_addr=$relay_addr
start_relay clinic
clinic_addr=$relay_addr
clinic_token=$(target/debug/mend-relay issue-token --storage "sqlite://$relay_dir/clinic.db" 2>/dev/null)
clinic_token_2=$(target/debug/mend-relay issue-token --storage "sqlite://$relay_dir/clinic.db" 2>/dev/null)
# A server that redirects, for the test that URLSessionSender never follows one.
python3 scripts/redirect-server.py >"$relay_dir/redirect.log" 2>&1 &
relay_pids="$relay_pids $!"
redirect_addr=$(listening_on "$relay_dir/redirect.log")
[ -n "$redirect_addr" ] || { echo "the redirect server did not start" >&2; exit 1; }
# The bindings' own tests (the getting-started page's run against the open relay).
chroot "$root" /bin/sh -c "cd $inside/bindings/swift && MEND_TEST_REDIRECT_URL=http://$redirect_addr MEND_TEST_RELAY_URL=http://$open_addr LD_LIBRARY_PATH=$inside/target/debug swift test --disable-swift-testing --scratch-path /tmp/mend-swift-build-$key 2>&1"
chroot "$root" /bin/sh -c "cd $inside/ios-sample && MEND_TEST_RELAY_URL=http://$open_addr MEND_TEST_CLINIC_RELAY_URL=http://$clinic_addr MEND_TEST_CLINIC_TOKEN=$clinic_token MEND_TEST_CLINIC_TOKEN_2=$clinic_token_2 LD_LIBRARY_PATH=$inside/target/debug swift test --disable-swift-testing --scratch-path /tmp/mend-ios-sample-build-$key 2>&1"
