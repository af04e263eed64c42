// `npm run bench:signals`: event -> signal-webhook latency on loopback.
// Starts the built Worker under wrangler dev and a local webhook receiver;
// for each of N fresh visitors sends two pricing views (the second fires
// repeat_pricing_view) and measures from sending the second event to the
// receiver getting the signed POST. Writes the result into BENCHMARKS.md.
import { startWorker } from '../../tests/support/worker.mjs';
import { startReceiver } from '../../tests/support/receiver.mjs';
import { fixture, uniqueVisitor } from '../../tests/support/fixtures.mjs';
import { summary, machine, writeSection } from './report.mjs';

const N = Number(process.env.N || 200);
const RULES = [{ id: 'repeat_pricing_view', when: 'repeat_pricing_view', min_views: 2, window_ms: 604_800_000, cooldown_ms: 86_400_000, action: 'offer' }];

const waiting = new Map();
const rx = await startReceiver(() => 200);
const origPush = rx.requests.push.bind(rx.requests);
rx.requests.push = (r) => {
  for (const id of r.json?.evidence || []) waiting.get(id)?.(performance.now());
  return origPush(r);
};
const w = await startWorker({ vars: { WEBHOOK_URLS: [`${rx.url}/hook`], WEBHOOK_SECRET: 'bench', RULES } });
const post = (events) => fetch(`${w.url}/v1/collect`, {
  method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ events }),
}).then((r) => r.text());

const latencies = [];
const collectMs = [];
try {
  for (let i = 0; i < N + 10; i++) {
    const visitor = uniqueVisitor('b');
    await post([fixture('pricing_view', { visitor, ts: Date.now() - 1000 })]);
    const second = fixture('pricing_view', { visitor });
    const got = new Promise((resolve, reject) => {
      waiting.set(second.event_id, resolve);
      setTimeout(() => reject(new Error(`no signal for ${visitor} within 10 s`)), 10_000).unref();
    });
    const t0 = performance.now();
    await post([second]);
    const t1 = performance.now();
    const at = await got;
    waiting.delete(second.event_id);
    if (i >= 10) { // the first 10 warm up the Worker
      latencies.push(at - t0);
      collectMs.push(t1 - t0);
    }
  }
} finally {
  await w.stop();
  await rx.close();
}

const s = summary(latencies);
const c = summary(collectMs);
const f = (x) => x.toFixed(1);
const md = `
### Event -> signal webhook latency

Command: \`npm run bench:signals\` (N=${N} signals after 10 warm-up, sequential), ${new Date().toISOString().slice(0, 10)}, ${machine()}.
Path: POST /v1/collect -> validation -> visitor's Durable Object (append, rules) -> D1 record -> Queue (max_batch_timeout 0) -> consumer -> signed POST to a loopback receiver.

| measure | n | p50 ms | p95 ms | max ms |
|---|---:|---:|---:|---:|
| event sent -> webhook received | ${s.n} | ${f(s.p50)} | ${f(s.p95)} | ${f(s.max)} |
| of which: POST /v1/collect round trip | ${c.n} | ${f(c.p50)} | ${f(c.p95)} | ${f(c.max)} |

Target p95 < 1000 ms: ${s.p95 < 1000 ? '**met**' : `**missed** by ${f(s.p95 - 1000)} ms`}.
`;
console.log(md);
writeSection('signals', md);
