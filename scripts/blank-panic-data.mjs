// Zeroes the static data that only a panic message could read, in the page's
// optimised wasm: the standard library's source paths (in panic locations),
// the allocation-failure message, and core's two-digit table, which only
// core's integer formatting reads. The tracker's panic handler traps without
// reading its message or location, and the tracker formats no integers with
// core (it has its own `push_u64`), yet the linker keeps these bytes because
// code that wasm-opt later removes referred to them. A nightly build with
// `panic_immediate_abort` would not emit them at all; the project builds on
// stable.
//
// A range is zeroed only when no instruction of the final code names an
// address inside it (as an `i32.const` or a load/store offset, per
// binaryen's `wasm-dis`); otherwise it is kept and reported, and the size
// check shows the cost. The zeroes stay in place (brotli makes them almost
// free; splitting the data segment around them costs more than it saves).
//   node scripts/blank-panic-data.mjs in.wasm out.wasm
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Reader } from './wasm-binary.mjs';

const [input, output] = process.argv.slice(2);
const buf = Buffer.from(readFileSync(input));
const bin = join(dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', '.bin');

// Active data segments of memory 0 at a constant address: where each one's
// bytes sit in the file and in memory.
function segments() {
  const out = [];
  const r = new Reader(buf);
  while (r.p < buf.length) {
    const id = r.byte();
    const end = r.uleb() + r.p;
    if (id === 11) {
      for (let n = r.uleb(); n > 0; n--) {
        const flags = r.uleb();
        if (flags !== 0) throw new Error(`data segment kind ${flags} not handled`);
        if (r.byte() !== 0x41) throw new Error('data segment offset is not an i32.const');
        // A signed LEB128; an address is positive, so it reads the same unsigned.
        const addr = r.uleb();
        if (r.byte() !== 0x0b) throw new Error('data segment offset is not a constant');
        const len = r.uleb();
        out.push({ addr, file: r.p, len });
        r.p += len;
      }
    }
    r.p = end;
  }
  return out;
}

const digits = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0')).join('');
const patterns = [
  /\/rustc\/[0-9a-f]{40}\/library\/[A-Za-z0-9_/.-]+?\.rs/g,
  /memory allocation of /g,
  / bytes failed/g,
  new RegExp(digits, 'g'),
];

const text = execFileSync(join(bin, 'wasm-dis'), [input], { maxBuffer: 1 << 28 }).toString();
const code = text.split('\n').filter((l) => !l.startsWith(' (data')).join('\n');
const named = new Set();
for (const m of code.matchAll(/\(i32\.const (-?\d+)\)|offset=(\d+)/g)) named.add(Number(m[1] ?? m[2]));

let zeroed = 0;
for (const seg of segments()) {
  const data = buf.toString('latin1', seg.file, seg.file + seg.len);
  for (const re of patterns) {
    for (const m of data.matchAll(re)) {
      const from = seg.addr + m.index;
      const to = from + m[0].length;
      const hit = [...named].find((v) => v >= from && v < to);
      if (hit !== undefined) {
        console.log(`kept ${JSON.stringify(m[0].slice(0, 40))}: the code names address ${hit}`);
        continue;
      }
      buf.fill(0, seg.file + m.index, seg.file + m.index + m[0].length);
      zeroed += m[0].length;
    }
  }
}
writeFileSync(output, buf);
console.log(`zeroed ${zeroed} bytes of panic-only data`);
