// Keeps only the wasm exports the pages' hand-written glue (tracker/glue.js)
// uses, under short names, so that wasm-opt drops what only wasm-bindgen's
// generated glue would call (realloc, free, its abort hooks) and the names
// cost a few bytes instead of a few dozen. Run on the wasm that wasm-opt then
// optimises; glue.js uses the new names.
//   node scripts/prune-exports.mjs in.wasm out.wasm old:new [old:new ...]
import { readFileSync, writeFileSync } from 'node:fs';

const [input, output, ...pairs] = process.argv.slice(2);
const keep = new Map(pairs.map((p) => p.split(':')));
const buf = readFileSync(input);
let p = 8;
const uleb = () => { let r = 0, s = 0, b; do { b = buf[p++]; r += (b & 0x7f) * 2 ** s; s += 7; } while (b & 0x80); return r; };
const enc = (n) => { const out = []; do { let b = n & 0x7f; n = Math.floor(n / 128); if (n) b |= 0x80; out.push(b); } while (n); return Buffer.from(out); };
const str = (s) => { const b = Buffer.from(s, 'utf8'); return Buffer.concat([enc(b.length), b]); };

const parts = [buf.subarray(0, 8)];
const found = new Set();
while (p < buf.length) {
  const start = p;
  const id = buf[p++];
  const len = uleb();
  const bodyStart = p;
  if (id !== 7) {
    p = bodyStart + len;
    parts.push(buf.subarray(start, p));
    continue;
  }
  const count = uleb();
  const entries = [];
  for (let i = 0; i < count; i++) {
    const nl = uleb(); const name = buf.subarray(p, p + nl).toString(); p += nl;
    const descStart = p;
    p++; uleb();
    if (keep.has(name)) {
      found.add(name);
      entries.push(Buffer.concat([str(keep.get(name)), buf.subarray(descStart, p)]));
    }
  }
  if (p !== bodyStart + len) throw new Error('export section not parsed exactly');
  const body = Buffer.concat([enc(entries.length), ...entries]);
  parts.push(Buffer.from([7]), enc(body.length), body);
}
for (const name of keep.keys()) if (!found.has(name)) throw new Error(`export ${name} not found`);
writeFileSync(output, Buffer.concat(parts));
console.log(`kept ${found.size} exports`);
