#!/usr/bin/env bash
# One idempotent set-up for a fresh machine, run by `npm start` and `npm test`.
# Installs only from the package registries, and skips what is present:
# the wasm target, pinned cargo CLIs, Chromium + chromedriver, node_modules.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[setup] %s\n' "$*"; }
export PATH="$HOME/.cargo/bin:$PATH"

if ! command -v cargo >/dev/null; then
  echo "[setup] Rust (cargo, rustup) is required: this machine kind ships it." >&2
  exit 1
fi
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt

# Pinned CLIs; `cargo install` of a present version is skipped by the check.
installed() { cargo install --list | grep -q "^$1 v$2:"; }
installed wasm-bindgen-cli 0.2.130 || { log "installing wasm-bindgen-cli 0.2.130 (~3 min)"; cargo install wasm-bindgen-cli --version 0.2.130; }
installed wasm-pack 0.15.1 || { log "installing wasm-pack 0.15.1 (~2 min)"; cargo install wasm-pack --version 0.15.1 --locked; }
installed worker-build 0.8.7 || { log "installing worker-build 0.8.7 (~5 min)"; cargo install worker-build --version 0.8.7 --locked; }

apt_updated=
apt_install() {
  [ -n "$apt_updated" ] || { apt-get update -qq; apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  log "installing chromium and chromium-driver"
  apt_install chromium chromium-driver
fi
if ! command -v npm >/dev/null; then
  log "installing nodejs and npm"
  apt_install nodejs npm
fi

# node_modules, reinstalled only when package-lock.json changed.
stamp=node_modules/.touchline-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -L node_modules ]; then
  # A worktree borrowing another checkout's packages: `npm ci` would empty the
  # shared copy under everyone using it, so leave it alone.
  log "node_modules is a link; not reinstalling"
elif [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi
log "ready"
