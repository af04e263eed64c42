// Intent signals end to end: events into the real Worker, rules in the
// visitor's Durable Object, alarms, the Queue, and a local webhook receiver.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWorker, api, waitFor, freePort } from './support/worker.mjs';
import { startReceiver, validSignature } from './support/receiver.mjs';
import { fixture, uniqueVisitor } from './support/fixtures.mjs';

const SECRET = 'whsec_test_secret';
const ABANDON_MS = 3000;
const RULES = [
  { id: 'repeat_pricing_view', when: 'repeat_pricing_view', min_views: 2, window_ms: 7 * 86_400_000, cooldown_ms: 86_400_000, action: 'Send a pricing offer' },
  { id: 'checkout_abandoned', when: 'checkout_abandoned', steps: ['address', 'payment'], delay_ms: ABANDON_MS, cooldown_ms: 86_400_000, action: 'Need help completing your order?' },
];

let w;
let rx;
// Paths on the receiver: /ok answers 200, /flaky fails twice then 200, /down always 503, /gone 410.
const flaky = (req, attempt) => {
  if (req.url === '/flaky') return attempt <= 2 ? 503 : 200;
  if (req.url === '/down') return 503;
  if (req.url === '/gone') return 410;
  return 200;
};

before(async () => {
  rx = await startReceiver(flaky);
  w = await startWorker({
    vars: {
      WEBHOOK_URLS: [`${rx.url}/ok`, `${rx.url}/flaky`, `${rx.url}/down`, `${rx.url}/gone`],
      WEBHOOK_SECRET: SECRET,
      RULES,
      RETRY_BASE_SECONDS: '1',
    },
  });
});
after(async () => {
  await w?.stop();
  await rx?.close();
});

async function send(events) {
  const res = await fetch(`${w.url}/v1/collect`, {
    method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ events }),
  });
  assert.equal(res.status, 200, await res.text());
}

// A signal is "about" an event when that event is part of its evidence.
const about = (event) => (x) => Boolean(x.json?.evidence?.includes(event.event_id));
const received = (path, pred = () => true) => rx.requests.filter((r) => r.url === path && r.status < 300 && pred(r));

test('two pricing views reach the webhook as repeat_pricing_view with both as evidence, signed', async () => {
  const visitor = uniqueVisitor();
  const a = fixture('pricing_view', { visitor, ts: Date.now() - 5000 });
  const b = fixture('pricing_view', { visitor, ts: Date.now() - 1000 });
  await send([a]);
  await send([b]);
  const [hit] = await waitFor(() => {
    const r = received('/ok', about(b));
    return r.length ? r : null;
  }, { what: 'the signal at the receiver' });
  const s = hit.json;
  assert.equal(s.rule, 'repeat_pricing_view');
  assert.deepEqual(s.evidence, [a.event_id, b.event_id]);
  assert.equal(s.action, 'Send a pricing offer');
  assert.match(s.id, /^sig_[0-9a-f]{16}$/);
  assert.equal(hit.headers['idempotency-key'], s.id);
  assert.ok(validSignature(hit, SECRET), 'signature verifies with the shared secret');
  assert.ok(!validSignature(hit, 'another secret'));
  assert.ok(s.emitted_at >= s.triggered_at);
});

test('a flaky receiver gets the signal exactly once after retries; a 4xx one is not retried', async () => {
  const visitor = uniqueVisitor();
  const second = fixture('pricing_view', { visitor });
  await send([fixture('pricing_view', { visitor, ts: Date.now() - 3000 }), second]);
  const ok = await waitFor(() => {
    const r = received('/flaky', about(second));
    return r.length ? r : null;
  }, { timeout: 20_000, what: 'delivery after two failures' });
  const id = ok[0].json.id;
  const all = rx.requests.filter((r) => r.url === '/flaky' && r.headers['idempotency-key'] === id);
  assert.deepEqual(all.map((r) => r.status), [503, 503, 200]);
  const gone = rx.requests.filter((r) => r.url === '/gone' && r.headers['idempotency-key'] === id);
  assert.deepEqual(gone.map((r) => r.status), [410]);
  // Backoff: the second retry waited about twice as long as the first.
  assert.ok(all[1].at - all[0].at >= 900 && all[2].at - all[1].at >= 1800, 'exponential backoff');
  const listed = await api(w, '/v1/signals?limit=500');
  const sig = listed.body.signals.find((x) => x.id === id);
  const byUrl = Object.fromEntries(sig.deliveries.map((d) => [new URL(d.url).pathname, d]));
  assert.equal(byUrl['/flaky'].status, 'delivered');
  assert.equal(byUrl['/flaky'].attempts, 3);
  assert.equal(byUrl['/gone'].status, 'failed');
  assert.equal(byUrl['/gone'].attempts, 1);
});

test('an always-failing receiver leaves the signal in the dead-letter list, and it can be re-sent', async () => {
  const visitor = uniqueVisitor();
  const second = fixture('pricing_view', { visitor });
  await send([fixture('pricing_view', { visitor, ts: Date.now() - 3000 }), second]);
  const failed = await waitFor(async () => {
    const r = await api(w, '/v1/signals?status=failed&limit=500');
    const s = r.body.signals.find((x) => x.evidence.includes(second.event_id));
    const down = s?.deliveries.find((d) => d.url.endsWith('/down'));
    return down?.status === 'failed' ? s : null;
  }, { timeout: 40_000, interval: 250, what: 'the dead-letter status' });
  const down = failed.deliveries.find((d) => d.url.endsWith('/down'));
  assert.equal(down.attempts, 5, '1 + max_retries attempts');
  assert.match(down.last_error, /maximum attempts/);
  const resend = await api(w, `/v1/signals/${failed.id}/resend`, { method: 'POST' });
  assert.equal(resend.status, 202);
  assert.equal(resend.body.requeued, 2, 'the /down and /gone deliveries');
  const missing = await api(w, '/v1/signals/sig_0000000000000000/resend', { method: 'POST' });
  assert.equal(missing.status, 404);
});

test('checkout to the address step without an order fires checkout_abandoned after the alarm', async () => {
  const visitor = uniqueVisitor();
  const step = fixture('checkout_step', { visitor });
  await send([step]);
  const t0 = Date.now();
  const [hit] = await waitFor(() => {
    const r = received('/ok', (x) => about(step)(x) && x.json.rule === 'checkout_abandoned');
    return r.length ? r : null;
  }, { timeout: 15_000, what: 'checkout_abandoned' });
  assert.ok(hit.at - t0 >= ABANDON_MS - 1000, 'not before the delay');
  assert.deepEqual(hit.json.evidence, [step.event_id]);
  assert.equal(hit.json.action, 'Need help completing your order?');
});

test('an order before the alarm means no abandonment signal', async () => {
  const visitor = uniqueVisitor();
  const step = fixture('checkout_step', { visitor, ts: Date.now() - 100 });
  await send([step]);
  await send([fixture('order', { visitor })]);
  // A control visitor that abandons proves the alarm had time to fire.
  const control = fixture('checkout_step', { visitor: uniqueVisitor() });
  await send([control]);
  await waitFor(() => received('/ok', about(control)).length > 0, {
    timeout: 15_000, what: 'the control abandonment',
  });
  assert.equal(received('/ok', about(step)).length, 0);
});

test('the signals API needs the key and checks its parameters', async () => {
  assert.equal((await fetch(`${w.url}/v1/signals`)).status, 401);
  assert.equal((await api(w, '/v1/signals?status=lost')).status, 400);
  assert.equal((await api(w, '/v1/signals?limit=100000')).status, 400);
});

test('restarting the worker while a delivery waits for its retry loses no signal', async () => {
  let up = false;
  const hook = await startReceiver(() => (up ? 200 : 503));
  const opts = {
    port: await freePort(),
    persistTo: mkdtempSync(join(tmpdir(), 'touchline-restart-')),
    testScheduled: true,
    vars: { WEBHOOK_URLS: [`${hook.url}/hook`], WEBHOOK_SECRET: SECRET, RULES, RETRY_BASE_SECONDS: '30', REDRIVE_AFTER_SECONDS: '0' },
  };
  let w2 = await startWorker(opts);
  try {
    const visitor = uniqueVisitor();
    const body = JSON.stringify({ events: [fixture('pricing_view', { visitor, ts: Date.now() - 2000 }), fixture('pricing_view', { visitor })] });
    const res = await fetch(`${w2.url}/v1/collect`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body });
    assert.equal(res.status, 200);
    await waitFor(() => hook.requests.length >= 1, { what: 'the first, failing attempt' });
    await w2.stop(); // the retry, 30 s away, was held by the local queue broker
    up = true;
    w2 = await startWorker(opts);
    const cron = await fetch(`${w2.url}/__scheduled?cron=*/5+*+*+*+*`);
    assert.equal(cron.status, 200);
    const ok = await waitFor(() => hook.requests.find((r) => r.status === 200), { timeout: 15_000, what: 'delivery after restart' });
    assert.ok(ok.json.evidence.length === 2);
    const listed = await api(w2, '/v1/signals?status=delivered');
    assert.ok(listed.body.signals.some((s) => s.id === ok.json.id));
    assert.equal(hook.requests.filter((r) => r.status === 200).length, 1, 'delivered once');
  } finally {
    await w2.stop();
    await hook.close();
  }
});
