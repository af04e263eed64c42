#!/usr/bin/env bash
# Builds everything that is served: the tracker (tracker/dist) and the Worker
# (edge/build), and writes wrangler.prebuilt.toml (wrangler.toml without
# [build]) so that tests and `npm start` can start from the built files.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bash scripts/build-tracker.sh
(
  cd edge
  WASM_BINDGEN_BIN="$(command -v wasm-bindgen)" \
  WASM_OPT_BIN="$root/node_modules/.bin/wasm-opt" \
  ESBUILD_BIN="$root/node_modules/.bin/esbuild" \
    worker-build --release
)
awk '/^\[build\]/{skip=1; next} /^\[/{skip=0} !skip' wrangler.toml > wrangler.prebuilt.toml
