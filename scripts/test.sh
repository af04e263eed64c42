#!/usr/bin/env bash
# `npm test`: set up (idempotent), lint, then every level of tests:
# core unit tests, tracker tests in headless Chromium (wasm-bindgen-test),
# and end-to-end tests (node --test) against the built Worker under
# `wrangler dev`, which each test file starts on a free port with fresh state.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"
step() { printf '\n=== %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all --check
step "cargo clippy (host and wasm32)"
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy -p touchline-tracker -p touchline-edge --target wasm32-unknown-unknown --all-targets -- -D warnings
# The tracker as a page gets it: no_std, the shared core without std.
cargo clippy -p touchline-tracker --target wasm32-unknown-unknown --release -- -D warnings
step "core and edge unit tests"
cargo test -p touchline-shared
cargo test -p touchline-edge --lib
step "build tracker and Worker"
bash scripts/build.sh
step "tracker tests in headless Chromium"
CHROMEDRIVER="$(command -v chromedriver)" cargo test --target wasm32-unknown-unknown -p touchline-tracker
step "end-to-end tests"
node --test tests/*.test.mjs
# Last, so that a size regression still lets every other result be seen.
step "tracker size against tracker/size-budget.json"
node scripts/size.mjs --check
