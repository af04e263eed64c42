// Memory probe: one kind of traffic at a steady rate against one host of the
// built Worker, sampling the resident memory of each process (workerd, node)
// from /proc and the Worker's Wasm linear memory (`wasm_memory_bytes` of
// GET /v1/stats). Used to tell local dev's own growth from ours
// (RELIABILITY.md, "Memory").
//
//   HOST=wrangler TRAFFIC=static SECONDS=60 RATE=30 node scripts/bench/memory.mjs
//
// HOST: `wrangler` (`wrangler dev` exactly as the tests start it: inspector on,
// --log-level warn) or `dev-noinspect` (wrangler's programmatic dev server with
// the inspector and request logging off, scripts/bench/dev-host.mjs).
// TRAFFIC: `static` (GET /, an asset served before the Worker runs), `health`
// (GET /health, the Worker, no storage), `reject` (POST /v1/collect answered
// 415), `collect` (one valid event per request, one of VISITORS visitors),
// `webhook` (one signed WhatsApp message). Extra V8 flags for workerd:
// MINIFLARE_WORKERD_V8_FLAGS="--max-old-space-size=64" (read by miniflare).
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWorker, freePort, waitFor, api, ROOT, API_KEY, EVENTS_KEY, APP_SECRET, VERIFY_TOKEN, LINK_SECRET } from '../../tests/support/worker.mjs';
import { fixture } from '../../tests/support/fixtures.mjs';
import { delivery, postWebhook, textMessage, uniqueWamid } from '../../tests/support/meta.mjs';
import { processRss, v8Heap, inspectorUrl } from '../soak.mjs';

const HOST = process.env.HOST || 'wrangler';
const TRAFFIC = process.env.TRAFFIC || 'static';
const SECONDS = Number(process.env.SECONDS || 60);
const RATE = Number(process.env.RATE || 30);
const VISITORS = Number(process.env.VISITORS || 200);
const SAMPLE_S = Number(process.env.SAMPLE_S || 5);

async function devHost() {
  const port = await freePort();
  const persistTo = mkdtempSync(join(tmpdir(), 'touchline-mem-'));
  const env = { ...process.env, CI: 'true', WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' };
  execFileSync(join(ROOT, 'node_modules', '.bin', 'wrangler'), ['d1', 'migrations', 'apply', 'touchline', '--local', '--persist-to', persistTo, '-c', join(ROOT, 'wrangler.prebuilt.toml')], { cwd: ROOT, env, stdio: 'pipe' });
  const vars = {
    API_KEY, EVENTS_KEY, WHATSAPP_APP_SECRET: APP_SECRET, WHATSAPP_VERIFY_TOKEN: VERIFY_TOKEN, LINK_SECRET,
    WHATSAPP_SITE_ID: 'demo', SITES: { test: { origins: ['*'] }, demo: { origins: ['*'] } },
  };
  const child = spawn(process.execPath, [join(ROOT, 'scripts', 'bench', 'dev-host.mjs'), String(port), persistTo, JSON.stringify(vars)], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let log = '';
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/health`)).ok, { timeout: 60_000, what: `dev host on ${url}\n${log}` });
  return { url, apiKey: API_KEY, pid: child.pid, stop: async () => { try { process.kill(-child.pid, 'SIGTERM'); } catch {} await new Promise((r) => setTimeout(r, 1500)); try { process.kill(-child.pid, 'SIGKILL'); } catch {} } };
}

const w = HOST === 'wrangler' ? await startWorker() : await devHost();
const visitors = Array.from({ length: VISITORS }, (_, i) => `mem${Date.now().toString(36)}v${i}`);
const pick = (a) => a[Math.floor(Math.random() * a.length)];
const KINDS = ['page_view', 'scroll', 'engagement', 'product_view', 'search'];
const requests = {
  static: () => fetch(`${w.url}/`).then((r) => r.arrayBuffer().then(() => r.status)),
  health: () => fetch(`${w.url}/health`).then((r) => r.arrayBuffer().then(() => r.status)),
  reject: () => fetch(`${w.url}/v1/collect`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1' }).then((r) => r.arrayBuffer().then(() => r.status)),
  collect: () => {
    const visitor = pick(visitors);
    const body = JSON.stringify({ sent_at: Date.now(), events: [fixture(pick(KINDS), { visitor, site: 'test', ts: Date.now() })] });
    return fetch(`${w.url}/v1/collect`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body }).then((r) => r.arrayBuffer().then(() => r.status));
  },
  webhook: () => {
    const waId = `1555${7_100_000 + Math.floor(Math.random() * 50)}`;
    return postWebhook(w, delivery([textMessage({ waId, id: uniqueWamid(), text: 'mem' })], { waId })).then((a) => a.status);
  },
};
const send = requests[TRAFFIC];
if (!send) throw new Error(`unknown TRAFFIC ${TRAFFIC}`);

const inspector = HOST === 'wrangler' ? await inspectorUrl(w.pid) : null;

const samples = [];
const sample = async (t) => {
  const procs = processRss(w.pid);
  const by = (re) => procs.filter((p) => re.test(p.name)).reduce((n, p) => n + p.mb, 0);
  const s = await api(w, '/v1/stats').catch(() => null);
  samples.push({
    t_s: t, workerd_mb: by(/^workerd/), node_mb: by(/node|wrangler/),
    each: procs.filter((p) => /workerd|node/.test(p.name)).map((p) => `${p.name}:${p.mb}(anon ${p.anon_mb})`).join(' '),
    wasm_mb: s?.body?.wasm_memory_bytes ? +(s.body.wasm_memory_bytes / 1048576).toFixed(1) : null,
    v8_heap: inspector ? await v8Heap(inspector) : null,
  });
};
const statuses = {};
const t0 = Date.now();
await sample(0);
let next = SAMPLE_S;
const pending = new Set();
for (let i = 0; ; i += 1) {
  const due = t0 + (i * 1000) / RATE;
  if (due >= t0 + SECONDS * 1000) break;
  if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
  if ((Date.now() - t0) / 1000 >= next) { await sample(next); next += SAMPLE_S; }
  if (pending.size >= 64) continue;
  const p = send().then((s) => { statuses[s] = (statuses[s] || 0) + 1; }, () => { statuses.err = (statuses.err || 0) + 1; }).finally(() => pending.delete(p));
  pending.add(p);
}
await Promise.all(pending);
await sample(Math.round((Date.now() - t0) / 1000));
const afterGc = inspector ? await v8Heap(inspector, true, `${w.url}/health`) : null;
await w.stop();
const first = samples[0];
const last = samples[samples.length - 1];
const half = samples[Math.floor(samples.length / 2)];
const slope = (a, b, k) => +(((b[k] - a[k]) / Math.max(1, b.t_s - a.t_s)) * 60).toFixed(1);
console.log(JSON.stringify({
  host: HOST, traffic: TRAFFIC, seconds: SECONDS, rate: RATE, v8_flags: process.env.MINIFLARE_WORKERD_V8_FLAGS || null, statuses,
  workerd_mb: [first.workerd_mb, half.workerd_mb, last.workerd_mb], node_mb: [first.node_mb, half.node_mb, last.node_mb],
  wasm_mb: [first.wasm_mb, half.wasm_mb, last.wasm_mb],
  v8_heap_used_mb: [first.v8_heap?.used_mb, half.v8_heap?.used_mb, last.v8_heap?.used_mb], v8_heap_used_after_gc_mb: afterGc?.used_mb,
  workerd_mb_per_min_first_half: slope(first, half, 'workerd_mb'), workerd_mb_per_min_second_half: slope(half, last, 'workerd_mb'),
}));
if (process.env.VERBOSE) for (const s of samples) console.log(JSON.stringify(s));
