#!/usr/bin/env bash
# The mobile library carries one copy of each primitive: fails if the FFI crate's normal
# dependency tree holds two versions of a random-number, hashing or AEAD crate (DEPENDENCIES.md).
set -euo pipefail
cd "$(dirname "$0")/.."
# The tree's top-level lines are the duplicated packages, one line per copy; a package listed
# twice at one version (built for the host and the target) is one copy in the library.
dups=$(cargo tree -p mend-ffi -e normal -d --locked 2>/dev/null \
  | grep -E '^(rand|rand_core|getrandom|sha2|digest|chacha20|chacha20poly1305|aead|poly1305|curve25519-dalek|ed25519|ed25519-dalek|argon2|blake2|zeroize) v' \
  | awk '{print $1, $2}' | sort -u | awk '{n[$1]++; v[$1] = v[$1] " " $2} END {for (k in n) if (n[k] > 1) print k ":" v[k]}' || true)
if [ -n "$dups" ]; then
  echo "error: the FFI library links two versions of a crypto crate:" >&2
  echo "$dups" >&2
  exit 1
fi
echo "dependencies: one version of each crypto crate in mend-ffi"
