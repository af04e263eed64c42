// `npm run size`: what a page downloads for Touchline (loader + wasm), raw,
// gzip -9 and brotli -11 bytes. `--write` also records the table in BENCHMARKS.md;
// `--check` fails when the brotli total exceeds tracker/size-budget.json (the
// build is deterministic, so this is an exact, not a flaky, check).
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzip, brotli } from './compress.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const files = [['loader t.js', 'tracker/dist/t.js'], ['wasm t.wasm', 'tracker/dist/t.wasm']];
for (const [, f] of files) {
  if (!existsSync(join(root, f))) {
    console.error(`${f} is missing: run \`npm run build\` first`);
    process.exit(1);
  }
}
const rows = files.map(([name, f]) => {
  const raw = readFileSync(join(root, f));
  return { name, raw: raw.length, gzip: gzip(raw).length, brotli: brotli(raw).length };
});
rows.push(rows.reduce((t, r) => ({ name: '**total**', raw: t.raw + r.raw, gzip: t.gzip + r.gzip, brotli: t.brotli + r.brotli }),
  { raw: 0, gzip: 0, brotli: 0 }));
const table = [
  '| file | raw bytes | gzip -9 | brotli -11 |',
  '|---|---:|---:|---:|',
  ...rows.map((r) => `| ${r.name} | ${r.raw} | ${r.gzip} | ${r.brotli} |`),
].join('\n');
console.log(table);

if (process.argv.includes('--write')) {
  const path = join(root, 'BENCHMARKS.md');
  const begin = '<!-- size:begin -->';
  const end = '<!-- size:end -->';
  const doc = readFileSync(path, 'utf8');
  const stamp = `Measured ${new Date().toISOString().slice(0, 10)} with \`npm run size -- --write\` (after \`npm run build\`).`;
  const block = `${begin}\n${stamp}\n\n${table}\n${end}`;
  const i = doc.indexOf(begin);
  const j = doc.indexOf(end);
  writeFileSync(path, i >= 0 && j > i ? doc.slice(0, i) + block + doc.slice(j + end.length) : `${doc}\n${block}\n`);
  console.log('BENCHMARKS.md updated');
}

if (process.argv.includes('--check')) {
  const { target_brotli_bytes: target, ceiling_brotli_bytes: ceiling } = JSON.parse(
    readFileSync(join(root, 'tracker', 'size-budget.json'), 'utf8'),
  );
  const total = rows[rows.length - 1].brotli;
  if (total > ceiling) {
    console.error(`tracker size: ${total} bytes brotli grew past the ceiling of ${ceiling} bytes (tracker/size-budget.json)`);
    process.exit(1);
  }
  if (total > target) {
    console.log(`tracker size: ${total} bytes brotli; TARGET NOT MET: ${total - target} bytes over the ${target}-byte target (ceiling ${ceiling})`);
  } else {
    console.log(`tracker size: ${total} bytes brotli, within the ${target}-byte target`);
  }
}
