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
import { enc, rewriteSection, str } from './wasm-binary.mjs';

const base = process.argv[2];
const wasmPath = `${base}_bg.wasm`;
const jsPath = `${base}.js`;
const buf = readFileSync(wasmPath);
let js = readFileSync(jsPath, 'utf8');
const MODULE = `./${base.split('/').pop()}_bg.js`;

const renamed = new Map();
const snippets = new Set();
const wasm = rewriteSection(buf, 2, (r) => {
  const count = r.uleb();
  const entries = [enc(count)];
  for (let i = 0; i < count; i++) {
    const mod = r.name();
    const field = r.name();
    const descStart = r.p;
    const kind = r.byte();
    if (kind === 0) r.uleb();
    else if (kind === 1) { r.byte(); r.limits(); }
    else if (kind === 2) r.limits();
    else if (kind === 3) { r.p += 2; }
    else if (kind === 4) { r.byte(); r.uleb(); }
    else throw new Error(`unknown import kind ${kind}`);
    const desc = buf.subarray(descStart, r.p);
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
  return Buffer.concat(entries);
});

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

writeFileSync(wasmPath, wasm);
writeFileSync(jsPath, js);
console.log(`renamed ${renamed.size} imports`);
