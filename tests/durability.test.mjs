// Kill -9 right after answers: whatever the Worker acknowledged must survive,
// including what it used to write after the answer (RELIABILITY.md, Restart):
// WhatsApp messages (stored before the 200 now), the D1 visitor index and the
// report touches (written through the Profile's outbox, drained after the
// answer and by its alarm, which survives a restart).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWorker, api, waitFor, freePort, ROOT } from './support/worker.mjs';
import { fixture } from './support/fixtures.mjs';
import { delivery, postWebhook, sha256, textMessage, uniqueWamid } from './support/meta.mjs';

const VISITORS = 12;
const WA_USERS = 6;
const COLLECTS = 48;
const DELIVERIES = 24;
/** The kill comes with the answer to this request (the rest are in flight). */
const KILL_AT_ANSWER = 36;

/** Event ids of the report touches in D1, read from the state on disk. */
function touchIds(persistTo) {
  const out = execFileSync(join(ROOT, 'node_modules', '.bin', 'wrangler'), [
    'd1', 'execute', 'touchline', '--local', '--persist-to', persistTo,
    '-c', join(ROOT, 'wrangler.prebuilt.toml'), '--json', '--command', 'SELECT event_id FROM touches',
  ], { cwd: ROOT, env: { ...process.env, CI: 'true', WRANGLER_SEND_METRICS: 'false' }, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Set(JSON.parse(out)[0].results.map((r) => r.event_id));
}

// OUTBOX_DRAIN_DELAY_MS holds the Profile's post-answer drain back 60 s, so the
// kill always lands inside the window that used to lose the visitor index and
// the touches; after the restart only the Durable Object alarm can write them.
test('a worker killed right after answering keeps every answered message and event, in the timelines, the visitor index and the report touches', async () => {
  const opts = {
    port: await freePort(), persistTo: mkdtempSync(join(tmpdir(), 'touchline-durable-')),
    vars: { OUTBOX_DRAIN_DELAY_MS: '60000' },
  };
  let w = await startWorker(opts);
  const run = Date.now().toString(36);
  const visitors = Array.from({ length: VISITORS }, (_, i) => `dur${run}v${i}`);
  const waIds = Array.from({ length: WA_USERS }, (_, i) => `1555${String(8_100_000 + i)}`);
  let answers = 0;
  let killed = false;
  let reached;
  const threshold = new Promise((r) => { reached = r; });
  const kill = () => {
    if (killed) return;
    killed = true;
    process.kill(-w.pid, 'SIGKILL');
  };
  // Kill in the same tick as the answer that reaches the threshold, so the
  // work the Worker does after that answer is cut off.
  const answered = (status) => {
    if (status === 200) answers += 1;
    if (answers >= KILL_AT_ANSWER) {
      kill();
      reached();
    }
  };
  const collects = Array.from({ length: COLLECTS }, (_, i) => {
    const visitor = visitors[i % VISITORS];
    const events = Array.from({ length: 1 + (i % 3) }, (_, k) => fixture(['page_view', 'product_view', 'scroll'][k], { visitor, id: `dur${run}c${i}e${k}`, ts: Date.now() - 2000 }));
    return { visitor, events };
  });
  const deliveries = Array.from({ length: DELIVERIES }, (_, i) => {
    const waId = waIds[i % WA_USERS];
    const ids = Array.from({ length: 1 + (i % 3) }, () => uniqueWamid());
    return { waId, ids, body: delivery(ids.map((id) => textMessage({ waId, id, text: 'durable?' })), { waId }) };
  });
  // Interleaved (two batches, one delivery), a few milliseconds apart.
  const sends = [];
  let [nc, nd] = [0, 0];
  for (let i = 0; i < COLLECTS + DELIVERIES; i += 1) {
    // The last sixth is sent only once the kill has happened (or every earlier
    // request is settled): on a busy machine this process can see the answers
    // late, after the Worker has answered everything, and then nothing would be
    // in flight when it dies.
    if (i === Math.floor(((COLLECTS + DELIVERIES) * 5) / 6)) {
      await Promise.race([threshold, Promise.allSettled(sends)]);
      kill();
    }
    if (i % 3 === 2) {
      const d = deliveries[nd++];
      sends.push(postWebhook(w, d.body).then((a) => { answered(a.status); return { kind: 'webhook', d, status: a.status }; }, () => ({ kind: 'webhook', d, status: 0 })));
    } else {
      const c = collects[nc++];
      sends.push(fetch(`${w.url}/v1/collect`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ events: c.events }) })
        .then((r) => { answered(r.status); return { kind: 'collect', c, status: r.status }; }, () => ({ kind: 'collect', c, status: 0 })));
    }
    await new Promise((r) => setTimeout(r, 4));
  }
  const results = await Promise.all(sends);
  kill();
  await w.stop();
  const ok = results.filter((r) => r.status === 200);
  const okCollect = ok.filter((r) => r.kind === 'collect');
  const okWebhook = ok.filter((r) => r.kind === 'webhook');
  assert.ok(okCollect.length > 0 && okWebhook.length > 0, `answers before the kill: ${okCollect.length} batches, ${okWebhook.length} deliveries`);
  assert.ok(results.some((r) => r.status !== 200), 'some requests were cut off by the kill');

  // What the Worker acknowledged.
  const wantEvents = new Map(visitors.map((v) => [v, new Set()]));
  for (const r of okCollect) for (const e of r.c.events) wantEvents.get(r.c.visitor).add(e.event_id);
  const wantMessages = new Map(waIds.map((x) => [x, new Set()]));
  for (const r of okWebhook) for (const id of r.d.ids) wantMessages.get(r.d.waId).add(`wa-${sha256(id).slice(0, 32)}`);
  const acknowledged = [...wantEvents.values(), ...wantMessages.values()].reduce((n, s) => n + s.size, 0);

  // Restart on the same state (the drain at once this time); nothing is re-sent.
  w = await startWorker({ ...opts, vars: {} });
  const restarted = Date.now();
  try {
    const timelines = new Map();
    for (const v of visitors) {
      const r = await api(w, `/v1/journeys/${v}?limit=1000`);
      timelines.set(v, new Set(r.status === 200 ? r.body.events.map((e) => e.event_id) : []));
    }
    for (const x of waIds) {
      const r = await api(w, `/v1/profiles/${x}/timeline?limit=1000`);
      timelines.set(x, new Set(r.status === 200 ? r.body.events.map((e) => e.event_id) : []));
    }
    const missing = (want) => [...want].flatMap(([who, ids]) => [...ids].filter((id) => !timelines.get(who).has(id)));
    assert.deepEqual(missing(wantEvents), [], 'every acknowledged event in its journey');
    assert.deepEqual(missing(wantMessages), [], 'every acknowledged WhatsApp message in its timeline');

    // The visitor index counts every stored event (acknowledged or not) of each
    // visitor; the alarm drains what the kill cut off, so wait for it.
    let listed;
    await waitFor(async () => {
      const l = await api(w, '/v1/journeys?limit=500');
      listed = new Map(l.body.visitors.map((x) => [x.visitor_id, x.events]));
      return visitors.every((v) => (listed.get(v) || 0) === timelines.get(v).size);
    }, { timeout: 30_000, interval: 500, what: 'the visitor index to count every stored event' }).catch(() => {});
    assert.deepEqual(Object.fromEntries(visitors.map((v) => [v, listed.get(v) || 0])),
      Object.fromEntries(visitors.map((v) => [v, timelines.get(v).size])), 'the visitor index counts every stored event');

    // Report touches: one per stored event (acknowledged or stored before the kill).
    const stored = [...timelines.values()].flatMap((s) => [...s]);
    let lacking = stored;
    await waitFor(async () => {
      const t = touchIds(opts.persistTo);
      lacking = stored.filter((id) => !t.has(id));
      return lacking.length === 0;
    }, { timeout: 30_000, interval: 1000, what: 'a report touch for every stored event' }).catch(() => {});
    assert.deepEqual(lacking, [], 'a report touch for every stored event');
    const caughtUp = ((Date.now() - restarted) / 1000).toFixed(1);
    console.log(`durability: kill -9 at answer ${KILL_AT_ANSWER}: ${okCollect.length}/${COLLECTS} batches and ${okWebhook.length}/${DELIVERIES} deliveries answered 200, `
      + `${acknowledged} events and messages acknowledged, ${stored.length} stored, all in the visitor index and the touches ${caughtUp} s after the restart, lost 0`);
  } finally {
    await w.stop();
  }
});
