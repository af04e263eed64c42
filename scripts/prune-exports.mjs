// Keeps only the wasm exports the pages' hand-written glue (tracker/glue.js)
// uses, under short names, so that wasm-opt drops what only wasm-bindgen's
// generated glue would call (realloc, free, its abort hooks) and the names
// cost a few bytes instead of a few dozen. Run on the wasm that wasm-opt then
// optimises; glue.js uses the new names.
//   node scripts/prune-exports.mjs in.wasm out.wasm old:new [old:new ...]
import { readFileSync, writeFileSync } from 'node:fs';
import { enc, rewriteSection, str } from './wasm-binary.mjs';

const [input, output, ...pairs] = process.argv.slice(2);
const keep = new Map(pairs.map((p) => p.split(':')));
const found = new Set();
const out = rewriteSection(readFileSync(input), 7, (r) => {
  const count = r.uleb();
  const entries = [];
  for (let i = 0; i < count; i++) {
    const name = r.name();
    const descStart = r.p;
    r.byte();
    r.uleb();
    if (keep.has(name)) {
      found.add(name);
      entries.push(Buffer.concat([str(keep.get(name)), r.buf.subarray(descStart, r.p)]));
    }
  }
  return Buffer.concat([enc(entries.length), ...entries]);
});
for (const name of keep.keys()) if (!found.has(name)) throw new Error(`export ${name} not found`);
writeFileSync(output, out);
console.log(`kept ${found.size} exports`);
