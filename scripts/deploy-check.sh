#!/usr/bin/env bash
# Checks the deployment examples in deploy/ as far as this machine can: the systemd unit with
# systemd-analyze (against the built binary), the compose file's structure (PyYAML), and that the
# Dockerfile builds what the workspace builds. No container runtime runs here, so the image and
# the compose stack are not built or started (deploy/README.md). deploy/relay.toml is
# parsed by the relay's own config reader in its unit tests. Usage: bash scripts/deploy-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${CARGO_TARGET_DIR:-target}/debug/mend-relay
[ -x "$bin" ] || cargo build -p mend-relay --locked -q

if command -v systemd-analyze >/dev/null 2>&1; then
  unit=$(mktemp -d)/mend-relay.service
  sed "s|/usr/local/bin/mend-relay|$(realpath "$bin")|" deploy/mend-relay.service > "$unit"
  out=$(systemd-analyze verify "$unit" 2>&1 || true)
  # Outside a booted systemd, verify may only complain about units it cannot load from the host.
  if echo "$out" | grep -v -E "postgresql.service|network-online.target|multi-user.target" | grep -q .; then
    echo "$out" >&2
    echo "deploy-check: the systemd unit has problems" >&2
    exit 1
  fi
  echo "deploy-check: systemd unit verified"
else
  echo "deploy-check: systemd-analyze not installed; unit not verified"
fi

python3 - <<'PY'
import sys
try:
    import yaml
except ImportError:
    print("deploy-check: PyYAML not installed; compose file not parsed")
    sys.exit(0)
d = yaml.safe_load(open("deploy/compose.yaml"))
s = d["services"]
assert set(s) == {"postgres", "relay"}, s
relay = s["relay"]
assert relay["build"]["dockerfile"] == "deploy/Dockerfile"
assert relay["depends_on"]["postgres"]["condition"] == "service_healthy"
assert relay["environment"]["MEND_RELAY_STORAGE"].startswith("postgres://")
assert "pg_isready" in " ".join(s["postgres"]["healthcheck"]["test"])
print("deploy-check: compose file parsed")
PY

# The Dockerfile builds the pinned toolchain's release binary of the workspace.
channel=$(sed -n 's/^channel = "\(.*\)"/\1/p' rust-toolchain.toml)
grep -q "^FROM rust:${channel%.0}-" deploy/Dockerfile || {
  echo "deploy-check: deploy/Dockerfile's rust image is not the pinned toolchain ($channel)" >&2
  exit 1
}
grep -q "cargo build --release --locked -p mend-relay" deploy/Dockerfile
echo "deploy-check: ok"
