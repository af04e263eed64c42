// Failure injection: a signal receiver that fails half of all requests at
// random (5xx, 429 or a dropped connection) and answers some only after the
// Worker's 10 s timeout. Every signal must end delivered or in the dead-letter
// list, every attempt the Worker counts must reach the receiver, and after
// de-duplication by Idempotency-Key the receiver holds each signal once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWorker, api, waitFor, freePort } from './support/worker.mjs';
import { startReceiver } from './support/receiver.mjs';
import { fixture } from './support/fixtures.mjs';

// The default seed sends 2 of 12 signals to the dead-letter list (5 failures in a row).
const SEED = process.env.FAILURE_SEED || 'touchline-6';
const SIGNALS = Number(process.env.FAILURE_SIGNALS || 12);
const RULES = [
  { id: 'repeat_pricing_view', when: 'repeat_pricing_view', min_views: 2, window_ms: 7 * 86_400_000, cooldown_ms: 86_400_000, action: 'Send a pricing offer' },
];

const draw = (visitor, attempt) => createHash('sha256').update(`${SEED}:${visitor}:${attempt}`).digest().readUInt32BE(0) / 2 ** 32;

/** The fate of a signal's nth attempt, from the seed: reproducible whatever the arrival order. */
function fate(visitor, attempt) {
  const x = draw(visitor, attempt);
  if (x < 0.2) return { status: 503 };
  if (x < 0.3) return { status: 500 };
  if (x < 0.4) return { status: 429 };
  if (x < 0.5) return { status: 0, reset: true };
  if (x < 0.6) return { status: 200, delayMs: 10_500 }; // answered after the Worker gave up
  return { status: 200 };
}

let rx;
let w;
before(async () => {
  // A signal is named by the visitor of its evidence (`<visitor>-b`).
  rx = await startReceiver((req, attempt) => fate(String(JSON.parse(req.body).evidence?.[1]).replace(/-b$/, ''), attempt));
  w = await startWorker({
    vars: { WEBHOOK_URLS: [`${rx.url}/hook`], WEBHOOK_SECRET: 'whsec_failures', RULES, RETRY_BASE_SECONDS: '1' },
  });
});
after(async () => {
  await w?.stop();
  await rx?.close();
});

test('a receiver failing half its requests and timing out on some gets every signal once after dedup, the rest dead-lettered', async () => {
  const visitors = Array.from({ length: SIGNALS }, (_, i) => `vfail${i}`);
  for (const visitor of visitors) {
    const events = [
      fixture('pricing_view', { visitor, id: `${visitor}-a`, ts: Date.now() - 2000 }),
      fixture('pricing_view', { visitor, id: `${visitor}-b`, ts: Date.now() - 1000 }),
    ];
    const res = await fetch(`${w.url}/v1/collect`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ events }) });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).accepted, 2);
  }
  // What the seed predicts: dead-lettered when all 5 attempts fail.
  const expectDead = visitors.filter((v) => [1, 2, 3, 4, 5].every((a) => draw(v, a) < 0.6));
  const ours = (s) => visitors.some((v) => s.evidence.includes(`${v}-b`));
  // Every delivery settles: delivered, or failed after the maximum attempts.
  const signals = await waitFor(async () => {
    const r = await api(w, '/v1/signals?limit=500');
    const mine = r.body.signals.filter(ours);
    return mine.length === SIGNALS && mine.every((s) => s.deliveries.every((d) => d.status !== 'pending')) && mine;
  }, { timeout: 240_000, interval: 500, what: 'every delivery to settle' });
  const deliveries = signals.map((s) => ({ id: s.id, ...s.deliveries[0] }));
  const delivered = deliveries.filter((d) => d.status === 'delivered');
  const failed = deliveries.filter((d) => d.status === 'failed');
  assert.equal(delivered.length + failed.length, SIGNALS, 'no signal lost');
  const visitorOf = (id) => signals.find((s) => s.id === id).evidence[1].replace(/-b$/, '');
  assert.deepEqual(failed.map((d) => visitorOf(d.id)).sort(), [...expectDead].sort(), 'exactly the signals the seed fails 5 times are dead-lettered');
  for (const d of failed) {
    assert.equal(d.attempts, 5, `${d.id}: 1 + max_retries attempts before the dead-letter list`);
    assert.match(d.last_error, /maximum attempts/);
  }
  // Each attempt the Worker counted reached the receiver (late answers included).
  const byKey = (id) => rx.requests.filter((r) => r.headers['idempotency-key'] === id);
  await waitFor(() => deliveries.every((d) => byKey(d.id).length === d.attempts), {
    timeout: 15_000, what: 'late answers to be recorded',
  });
  const successes = new Set(rx.requests.filter((r) => r.status === 200 && !r.reset).map((r) => r.headers['idempotency-key']));
  for (const d of delivered) assert.ok(successes.has(d.id), `${d.id} delivered and seen by the receiver`);
  const injected = rx.requests.filter((r) => r.status !== 200 || r.reset || r.delayMs > 0);
  const late = rx.requests.filter((r) => r.delayMs > 0);
  const duplicates = rx.requests.filter((r) => r.status === 200 && !r.reset).length - successes.size;
  assert.ok(injected.length > 0 && late.length > 0, 'failures and timeouts were injected');
  console.log(`failures: seed ${SEED}, ${SIGNALS} signals, ${rx.requests.length} requests, ${injected.length} failures injected `
    + `(${late.length} timeouts), ${delivered.length} delivered, ${failed.length} dead-lettered, `
    + `${successes.size} unique keys at the receiver (${duplicates} duplicate successes removed by Idempotency-Key), lost 0`);
});

test('a worker killed with requests in flight and restarted on its state loses no event and stores each once', async () => {
  const opts = { port: await freePort(), persistTo: mkdtempSync(join(tmpdir(), 'touchline-kill-')) };
  let w2 = await startWorker(opts);
  const visitor = 'vkilled';
  const ids = Array.from({ length: 60 }, (_, i) => `kill${i}`);
  const body = (id) => JSON.stringify({ events: [fixture('scroll', { visitor, id, ts: Date.now() - 1000 })] });
  // An answer whose body the kill cut off is no answer (the client retries it),
  // like a request that got none.
  const post = (id) => fetch(`${w2.url}/v1/collect`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: body(id) })
    .then(async (r) => ({ id, status: r.status, json: await r.json() }))
    .catch(() => ({ id, status: 0 }));
  try {
    const before = await Promise.all(ids.slice(0, 30).map(post));
    assert.ok(before.every((r) => r.status === 200));
    // Kill -9 with the next 30 in flight: some answered, some cut off.
    const inFlight = ids.slice(30).map(post);
    await Promise.race(inFlight); // the first answer: the rest are on their way
    process.kill(-w2.pid, 'SIGKILL');
    const cut = await Promise.all(inFlight);
    await w2.stop();
    w2 = await startWorker(opts);
    // The client retries what got no answer, as the tracker does.
    const unanswered = cut.filter((r) => r.status !== 200).map((r) => r.id);
    const retried = await Promise.all(unanswered.map(post));
    assert.ok(retried.every((r) => r.status === 200), JSON.stringify(retried));
    const t = await api(w2, `/v1/journeys/${visitor}`);
    assert.equal(t.status, 200);
    assert.deepEqual(t.body.events.map((e) => e.event_id).sort(), [...ids].sort(), 'every event once');
    const dup = retried.reduce((n, r) => n + r.json.duplicates, 0);
    console.log(`restart: 60 events, ${60 - unanswered.length} acknowledged, ${unanswered.length} cut off by kill -9 and retried (${dup} of them had been stored), 60 stored, lost 0`);
  } finally {
    await w2.stop();
  }
});
