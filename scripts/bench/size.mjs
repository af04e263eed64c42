// `npm run bench:size`: what a page downloads for Touchline and for each peer,
// raw / gzip -9 / brotli -11 (the compressors of scripts/compress.mjs, the same
// settings for everyone). Writes the `peers-size` section of BENCHMARKS.md and
// scripts/bench/out/size.json (for the chart).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzip, brotli } from '../compress.mjs';
import { machine, writeSection } from './report.mjs';
import { buildPeers, sizeSubjects, OUT } from './peers.mjs';

export function measureSizes() {
  buildPeers();
  const rows = [];
  for (const s of sizeSubjects()) {
    if (s.missing.length) throw new Error(`${s.missing.join(', ')} missing (run \`npm run build\` / \`npm ci\`)`);
    const t = { raw: 0, gzip: 0, brotli: 0 };
    for (const f of s.files) {
      const b = readFileSync(f);
      t.raw += b.length; t.gzip += gzip(b).length; t.brotli += brotli(b).length;
    }
    rows.push({ ...s, ...t });
  }
  return rows;
}

export function sizeMarkdown(rows) {
  const tl = rows.find((r) => r.id === 'touchline');
  const sp = rows.find((r) => r.id === 'snowplow');
  const kb = (b) => (b / 1000).toFixed(1);
  const ratio = tl.brotli / sp.brotli;
  const abs = tl.brotli <= 15_000;
  const rel = ratio <= 0.6;
  return `
### Shipped size: Touchline and the peers

Command: \`npm run bench:size\` (part of \`npm run bench\`), ${new Date().toISOString().slice(0, 10)}, ${machine()}.
Peers come from the npm registry (exact versions in package.json). gzip level 9 and brotli quality 11 from Node's zlib, for every row.

| tracker | what | raw bytes | gzip -9 | brotli -11 | brotli vs Touchline |
|---|---|---:|---:|---:|---:|
${rows.map((r) => `| ${r.name} | ${r.note} | ${r.raw} | ${r.gzip} | ${r.brotli} | ${(r.brotli / tl.brotli).toFixed(2)}x |`).join('\n')}

Targets:
- Touchline loader + wasm <= 15 KB brotli: ${abs ? '**met**' : `**missed**: ${kb(tl.brotli)} KB, ${kb(tl.brotli - 15_000)} KB over`}.
- <= 0.6x Snowplow's tracker (the esbuild bundle above, ${kb(sp.brotli)} KB brotli): ${rel ? '**met**' : `**missed**: ${ratio.toFixed(2)}x (needs <= ${kb(sp.brotli * 0.6)} KB, i.e. ${kb(tl.brotli - sp.brotli * 0.6)} KB less)`}.
`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = measureSizes();
  writeFileSync(join(OUT, 'size.json'), JSON.stringify(rows.map(({ id, name, raw, gzip: g, brotli: b }) => ({ id, name, raw, gzip: g, brotli: b })), null, 1));
  const md = sizeMarkdown(rows);
  console.log(md);
  writeSection('peers-size', md);
}
