// The wasm's JS glue as pages get it, written by hand: the same calls as the
// glue wasm-bindgen generates for this crate (tracker/pkg/touchline_tracker.js,
// which the wasm-bindgen tests still use), cut to what the tracker needs:
// strings in and out, numbers read one by one, ten imports.
// About 1.2 KB brotli less than the generated glue, which also carries
// initSync, Response/MIME fallbacks, Safari decoder resets and a
// FinalizationRegistry (the core lives as long as the page).
//
// The wasm's ABI is wasm-bindgen's: `scripts/check-glue.mjs` (run by
// scripts/build-tracker.sh) compares the generated glue with the fingerprint
// this file was written against and stops the build when it changes. Pages'
// wasm keeps only the exports used here, under short names
// (`scripts/prune-exports.mjs`): memory `m`, `on` `o`, malloc `a`.
import { bind, boot, decorate, digest, load, num, observe, request, save, send, timer } from './src/shell.js';

var wasm;
var encoder = new TextEncoder();
var decoder = new TextDecoder();

function bytes() {
  return new Uint8Array(wasm.m.buffer);
}

// Pointers and numbers from the wasm are i32s; the tracker's memory stays a
// few megabytes and its ids and indexes small, so none reads as negative.
function text(ptr, len) {
  return decoder.decode(bytes().subarray(ptr, ptr + len));
}

// Copies a string into the wasm's memory (the callee owns and frees it).
function pass(s) {
  var b = encoder.encode(s);
  var ptr = wasm.a(b.length, 1);
  bytes().set(b, ptr);
  return [ptr, b.length];
}

// The core's `on(op, texts)`, handed to the shell (the core reads the
// numbers through the `num` import and asks the shell through the others).
function on(op, texts) {
  var t = pass(texts);
  wasm.o(op, t[0], t[1]);
}
bind(on);

var imports = {
  a: {
    // timer(id, ms)
    $0: timer,
    // save(key, value)
    $1: function (p, l, q, m) { save(text(p, l), text(q, m)); },
    // decorate(text)
    $2: function (p, l) { decorate(text(p, l)); },
    // num(i) -> f64
    $3: num,
    // load(key) -> String, written to `ret` as (ptr, len)
    // The value's pointer and length go to the two words at `ret` (wasm
    // memory is little-endian, as is every platform browsers run it on).
    $4: function (ret, p, l) { new Int32Array(wasm.m.buffer).set(pass(load(text(p, l))), ret / 4); },
    // digest(kind, value)
    $5: function (p, l, q, m) { digest(text(p, l), text(q, m)); },
    // send(id, beacon, body)
    $6: function (beacon, p, l, q, m) { send(beacon, text(p, l), text(q, m)); },
    // ($7, wasm-bindgen's start, fills its table of JS values: no value
    // crosses on pages, so the table, its start and this import are pruned.)
  },
  // What the wasm imports from the shell as it is (no arguments).
  b: { observe: observe, request: request },
};

/** Fetches and instantiates the wasm at `url`. */
export default function init(url) {
  return fetch(url)
    .then(function (res) { return res.arrayBuffer(); })
    .then(function (buf) { return WebAssembly.instantiate(buf, imports); })
    .then(function (r) { wasm = r.instance.exports; });
}

/** Starts tracking (`opts` as the loader joins them): the shell boots and
 * reports to the core (the wasm has no `start` of its own on pages). */
export { boot as start };
