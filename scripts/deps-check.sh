#!/usr/bin/env bash
# One version of each crypto crate in the mobile library: fails if the FFI crate's normal
# dependency tree, for any target (Android and iOS included), holds two versions of a
# random-number, hashing, signature or AEAD crate (DEPENDENCIES.md).
set -euo pipefail
cd "$(dirname "$0")/.."
# A failing `cargo tree` (stale lock file, renamed package) fails the check, never passes it.
tree=$(cargo tree -p mend-ffi -e normal -d --target all --locked)
# The tree's top-level lines are the duplicated packages, one line per copy; a package listed
# twice at one version (built for the host and the target) is one copy in the library.
crates='rand|rand_core|rand_chacha|getrandom|sha2|digest|crypto-common|chacha20|chacha20poly1305|aead|cipher|poly1305|universal-hash|curve25519-dalek|ed25519|ed25519-dalek|x25519-dalek|hkdf|hmac|hpke|signature|argon2|blake2|subtle|zeroize'
dups=$( { grep -E "^($crates) v" <<<"$tree" || true; } \
  | awk '{print $1, $2}' | sort -u \
  | awk '{n[$1]++; v[$1] = v[$1] " " $2} END {for (k in n) if (n[k] > 1) print k ":" v[k]}')
if [ -n "$dups" ]; then
  echo "error: the FFI library links two versions of a crypto crate:" >&2
  echo "$dups" >&2
  exit 1
fi
echo "dependencies: one version of each crypto crate in mend-ffi (all targets)"
