// Shortens the names through which the tracker's wasm imports its JS glue.
// wasm-bindgen names each import `__wbg_<method>_<16 hex digits>` under the
// module "./touchline_tracker_bg.js"; those names appear in both files and
// the hex does not compress, so about 85 of them cost ~2 KB brotli. This
// renames them to `$0`, `$1`, … (and the module to "a") consistently in the
// wasm's import section and the glue's import object. Functions the wasm
// imports straight from a JS snippet (no conversion of their arguments)
// come from a module named after a hash of the crate's path: that module is
// renamed "b" (its functions keep their names). Nothing else changes.
//   node scripts/shrink-imports.mjs tracker/pkg/touchline_tracker
import { readFileSync, writeFileSync } from 'node:fs';

const base = process.argv[2];
const wasmPath = `${base}_bg.wasm`;
const jsPath = `${base}.js`;
const buf = readFileSync(wasmPath);
let js = readFileSync(jsPath, 'utf8');
const MODULE = `./${base.split('/').pop()}_bg.js`;

let p = 8;
const uleb = () => { let r = 0, s = 0, b; do { b = buf[p++]; r += (b & 0x7f) * 2 ** s; s += 7; } while (b & 0x80); return r; };
const enc = (n) => { const out = []; do { let b = n & 0x7f; n = Math.floor(n / 128); if (n) b |= 0x80; out.push(b); } while (n); return Buffer.from(out); };
const str = (s) => { const b = Buffer.from(s, 'utf8'); return Buffer.concat([enc(b.length), b]); };
const limits = () => { const flag = buf[p++]; uleb(); if (flag & 1) uleb(); };

const parts = [buf.subarray(0, 8)];
const renamed = new Map();
const snippets = new Set();
while (p < buf.length) {
  const id = buf[p];
  const start = p;
  p++;
  const len = uleb();
  const bodyStart = p;
  if (id !== 2) {
    p = bodyStart + len;
    parts.push(buf.subarray(start, p));
    continue;
  }
  const count = uleb();
  const entries = [enc(count)];
  for (let i = 0; i < count; i++) {
    const ml = uleb(); const mod = buf.subarray(p, p + ml).toString(); p += ml;
    const fl = uleb(); const field = buf.subarray(p, p + fl).toString(); p += fl;
    const descStart = p;
    const kind = buf[p++];
    if (kind === 0) uleb();
    else if (kind === 1) { p++; limits(); }
    else if (kind === 2) limits();
    else if (kind === 3) { p += 2; }
    else if (kind === 4) { p++; uleb(); }
    else throw new Error(`unknown import kind ${kind}`);
    const desc = buf.subarray(descStart, p);
    let newMod = mod;
    let newField = field;
    if (mod === MODULE && js.includes(field)) {
      newMod = 'a';
      if (!renamed.has(field)) renamed.set(field, `$${renamed.size.toString(36)}`);
      newField = renamed.get(field);
    } else if (mod.startsWith('./snippets/')) {
      newMod = 'b';
      snippets.add(mod);
    }
    entries.push(str(newMod), str(newField), desc);
  }
  if (p !== bodyStart + len) throw new Error('import section not parsed exactly');
  const body = Buffer.concat(entries);
  parts.push(Buffer.from([2]), enc(body.length), body);
}

// Longest names first, so that no name is replaced inside a longer one.
for (const [long, short] of [...renamed].sort((a, b) => b[0].length - a[0].length)) {
  const re = new RegExp(`\\b${long}\\b`, 'g');
  if (!re.test(js)) throw new Error(`${long} not found in the glue`);
  js = js.replace(re, short);
}
const quoted = JSON.stringify(MODULE);
if (!js.includes(quoted)) throw new Error(`${quoted} not found in the glue`);
js = js.split(quoted).join('"a"');
// The snippet as a key of the import object (not in the `import` lines).
for (const mod of snippets) {
  const key = `${JSON.stringify(mod)}: import`;
  if (!js.includes(key)) throw new Error(`${key} not found in the glue`);
  js = js.split(key).join('"b": import');
}

writeFileSync(wasmPath, Buffer.concat(parts));
writeFileSync(jsPath, js);
console.log(`renamed ${renamed.size} imports`);
