// `npm run bench`: every benchmark in one run, side by side, each writing its
// section of BENCHMARKS.md: shipped size (Touchline and peers), main-thread cost
// and load time in headless Chromium, edge throughput/latency and growth with
// history, event -> signal latency, predicted-intent accuracy; then the chart docs/bench.svg.
// Each part also runs alone (npm run bench:size / bench:browser / bench:edge /
// bench:signals / bench:predict / bench:chart). Numbers only: nothing here fails on timing.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, machine, writeSection } from './report.mjs';

const parts = (process.env.PARTS || 'size,browser,edge,signals,predict,chart').split(',');
const started = new Date();
for (const p of parts) {
  console.log(`\n== bench: ${p} ==`);
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'bench', `${p}.mjs`)], { cwd: ROOT, stdio: 'inherit' });
}
writeSection('bench-run', `
Last full run: \`npm run bench\` (parts: ${parts.join(', ')}), started ${started.toISOString().replace(/\.\d+Z$/, 'Z')}, took
${Math.round((Date.now() - started) / 60000)} min, on ${machine()}. Chart: [docs/bench.svg](docs/bench.svg) (size and per-event main-thread cost vs the peers).

![size and per-event cost vs the peers](docs/bench.svg)
`);
