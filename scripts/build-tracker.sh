#!/usr/bin/env bash
# Builds what a page downloads: tracker/dist/t.js (loader + wasm-bindgen glue,
# minified) and tracker/dist/t.wasm (wasm-opt -Oz), plus .gz/.br variants.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=node_modules/.bin
# LLVM inlines less than its default for opt-level "z": a threshold of 6 to
# 10 gives the same, smallest wasm (about 200 bytes brotli less; 11 and up
# grow it). The flag must reach every crate, not only the tracker's, so the
# page build has its own target directory (tests and the Worker keep theirs).
# `--no-stack-first`: the static data sits at 1 KB instead of after the 1 MB
# stack, so each of the code's hundreds of data addresses is a 2-byte constant
# instead of a 3-byte one (about 150 bytes brotli less). The stack is as large
# as before; it is placed after the data, so an overflow would reach the data
# rather than trap below address 0, and the core has no deep recursion (its
# deepest is `push_u64`, 20 levels).
RUSTFLAGS="-C llvm-args=-inline-threshold=8 -C link-arg=--no-stack-first" CARGO_TARGET_DIR=target/page \
  cargo build -p touchline-tracker --target wasm32-unknown-unknown --release
wasm-bindgen --target web --no-typescript --out-dir tracker/pkg \
  target/page/wasm32-unknown-unknown/release/touchline_tracker.wasm
"$bin/node" scripts/shrink-imports.mjs tracker/pkg/touchline_tracker
# Pages get the hand-written glue (tracker/glue.js); stop if the ABI it was
# written against changed.
"$bin/node" scripts/check-glue.mjs
mkdir -p tracker/dist
# Only the exports glue.js calls, under the short names it uses. No JS value
# crosses on pages, so wasm-bindgen's table of them and the start that fills
# it are left out (wasm-opt then drops them and their import).
"$bin/node" scripts/prune-exports.mjs tracker/pkg/touchline_tracker_bg.wasm tracker/pkg/page.wasm \
  memory:m on:o __wbindgen_malloc:a
# The memory starts zeroed and Rust never uses its first KB (null page).
# Functions sorted by name after optimising: those of one module sit together
# and brotli finds more of each other in them (about 170 bytes less).
# First flattened and re-structured by binaryen's relooper, with similar
# functions merged, then optimised for size: about 70 bytes less. (The core's
# own time per call is the same, 2.7 us in a node loop of 20,000 operations;
# the tracker's time in the browser goes to the page APIs it calls.)
"$bin/wasm-opt" --flatten --rereloop --merge-similar-functions -Oz --converge --reorder-functions-by-name --zero-filled-memory --low-memory-unused --enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int \
  --enable-mutable-globals --enable-reference-types --enable-multivalue --strip-debug --strip-producers --strip-target-features \
  tracker/pkg/page.wasm -o tracker/dist/t.wasm
# Static data that only a panic message could read (library source paths, the
# allocation-failure message, core's digit table) is zeroed, when no code
# names it: the panic handler traps without reading it (about 170 bytes less).
"$bin/node" scripts/blank-panic-data.mjs tracker/dist/t.wasm tracker/dist/t.wasm
"$bin/node" scripts/compress.mjs tracker/dist/t.wasm
# The loader asks for the wasm by version, so the wasm can be cached forever.
# esbuild bundles; terser minifies (about 75 bytes brotli less than esbuild's
# own minifier on this file).
"$bin/esbuild" tracker/loader.js --bundle --format=iife --target=es2017 \
  --define:WASM_VERSION="\"$(cat tracker/dist/t.wasm.etag)\"" \
  --log-level=error --outfile=tracker/dist/t.bundle.js
"$bin/terser" tracker/dist/t.bundle.js --compress --mangle --output tracker/dist/t.js
rm tracker/dist/t.bundle.js
"$bin/node" scripts/compress.mjs tracker/dist/t.js
