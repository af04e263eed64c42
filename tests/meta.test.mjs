// The WhatsApp side of intent signals, against a local Graph API stand-in:
// whatsapp_question attributed to the ad that started the chat, template
// nudges, and Conversions API purchases sent exactly once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker, api, waitFor } from './support/worker.mjs';
import { startReceiver } from './support/receiver.mjs';
import { startGraph, GRAPH_VERSION, TOKEN, DATASET, WABA } from './support/graph.mjs';
import { postWebhook, delivery, textMessage, uniqueWaId, CTWA_AD, BUSINESS, serverEvents, timelineWhen } from './support/meta.mjs';

const RULES = [{
  id: 'whatsapp_question', when: 'whatsapp_question', patterns: ['cod', 'cash on delivery'],
  cooldown_ms: 1_800_000, action: 'Answer in the chat now', template: 'cod_help',
}];
// Graph errors injected by recipient: 131047 (re-engagement: not retryable),
// 130429 once (throughput: retryable).
const REFUSE = '+15550000001';
const THROTTLE = '+15550000002';
let throttled = false;

let w, rx, graph;
before(async () => {
  rx = await startReceiver(() => 200);
  graph = await startGraph((kind, body) => {
    if (kind !== 'messages') return null;
    if (body.to === REFUSE) return 131047;
    if (body.to === THROTTLE && !throttled) { throttled = true; return 130429; }
    return null;
  });
  w = await startWorker({
    vars: {
      WEBHOOK_URLS: [`${rx.url}/hook`], WEBHOOK_SECRET: 'whsec', RULES, RETRY_BASE_SECONDS: '1',
      WHATSAPP_NUDGES: 'on', WHATSAPP_TOKEN: TOKEN, META_GRAPH_URL: graph.url, META_GRAPH_VERSION: GRAPH_VERSION,
      WHATSAPP_BUSINESS_ACCOUNT_ID: WABA, META_DATASET_ID: DATASET,
    },
  });
});
after(async () => {
  await w?.stop();
  await rx?.close();
  await graph?.close();
});

async function chat(waId, text, opts = {}) {
  const r = await postWebhook(w, delivery([textMessage({ waId, text, ...opts })], { waId }));
  assert.equal(r.status, 200);
}

const nudgesTo = (to) => graph.requests.filter((r) => r.kind === 'messages' && r.body?.to === to);

test('"Is COD available?" from a click-to-WhatsApp chat fires whatsapp_question attributed to the ad and nudges the person', async () => {
  const waId = uniqueWaId();
  await chat(waId, 'Hi, tell me about the blue kurta. Is COD available?', { referral: CTWA_AD });
  const hit = await waitFor(() => rx.requests.find((r) => r.json?.rule === 'whatsapp_question' && r.json.campaign === CTWA_AD.source_id && graph.requests.length >= 0 && nudgesTo(`+${waId}`).length), { what: 'signal and nudge' });
  assert.equal(hit.json.action, 'Answer in the chat now');
  assert.equal(hit.json.evidence.length, 1);
  const [nudge] = nudgesTo(`+${waId}`);
  assert.equal(nudge.status, 200);
  assert.equal(nudge.url, `/${GRAPH_VERSION}/${BUSINESS.phone_number_id}/messages`, 'sent from the number the customer wrote to');
  assert.equal(nudge.headers.authorization, `Bearer ${TOKEN}`);
  assert.equal(nudge.body.template.name, 'cod_help');
  assert.equal(nudge.body.biz_opaque_callback_data, hit.json.id);
  const listed = await api(w, '/v1/signals?limit=500');
  const sig = listed.body.signals.find((s) => s.id === hit.json.id);
  const wa = sig.deliveries.find((d) => d.url === 'whatsapp:cod_help');
  assert.equal(wa.status, 'delivered');
});

test('a Graph error that retrying cannot fix fails the nudge at once; a throughput limit is retried', async () => {
  for (const to of [REFUSE, THROTTLE]) await chat(to.slice(1), 'cod?');
  const signalOf = async (to) => {
    const r = await api(w, '/v1/signals?limit=500');
    return r.body.signals.find((s) => s.deliveries.some((d) => d.url === 'whatsapp:cod_help') && s.rule === 'whatsapp_question'
      && nudgesTo(to).some((n) => n.body.biz_opaque_callback_data === s.id));
  };
  const refused = await waitFor(async () => {
    const s = await signalOf(REFUSE);
    return s?.deliveries.find((d) => d.url === 'whatsapp:cod_help' && d.status === 'failed');
  }, { what: 'the refused nudge' });
  assert.equal(refused.attempts, 1);
  assert.match(refused.last_error, /131047/);
  const retried = await waitFor(async () => {
    const s = await signalOf(THROTTLE);
    return s?.deliveries.find((d) => d.url === 'whatsapp:cod_help' && d.status === 'delivered');
  }, { timeout: 15_000, what: 'the throttled nudge, retried' });
  assert.equal(retried.attempts, 2);
  assert.deepEqual(nudgesTo(THROTTLE).map((r) => r.status), [400, 200]);
});

test('an order credited to the click-to-WhatsApp ad is reported to the Conversions API exactly once', async () => {
  const waId = uniqueWaId();
  await chat(waId, 'Hi, tell me about the blue kurta', { referral: CTWA_AD, at: Date.now() - 60_000 });
  await timelineWhen(w, waId, (b) => b.events.length === 1, 'the chat');
  const order = (eventId) => ({
    schema: 1, site_id: 'demo', event_id: eventId, ts: Date.now() - 1000, person: { wa_id: waId },
    data: { kind: 'order', order_id: `ORD-${waId}`, value: 1499.0, currency: 'INR', payment_method: 'cod' },
  });
  assert.equal((await serverEvents(w, [order(`o1-${waId}`)])).body.accepted, 1);
  const sent = await waitFor(() => graph.requests.find((r) => r.kind === 'events' && r.body.data[0].event_id === `order-ORD-${waId}:Purchase`), { what: 'the Purchase event' });
  assert.equal(sent.status, 200);
  assert.equal(sent.url, `/${GRAPH_VERSION}/${DATASET}/events`);
  const e = sent.body.data[0];
  assert.equal(e.event_name, 'Purchase');
  assert.equal(e.user_data.ctwa_clid, CTWA_AD.ctwa_clid, 'raw, not hashed');
  assert.equal(e.user_data.whatsapp_business_account_id, WABA);
  assert.deepEqual(e.custom_data, { currency: 'INR', value: 1499 });
  // The same order again: replayed, and reported anew under another event id.
  await serverEvents(w, [order(`o1-${waId}`)]);
  await serverEvents(w, [order(`o2-${waId}`)]);
  await timelineWhen(w, waId, (b) => b.events.length === 3, 'the second order event stored');
  // A control order for another person proves the queue has moved on.
  const other = uniqueWaId();
  await chat(other, 'hello', { referral: { ...CTWA_AD, ctwa_clid: 'OTHER_CLID' }, at: Date.now() - 60_000 });
  await timelineWhen(w, other, (b) => b.events.length === 1, 'the control chat');
  await serverEvents(w, [{ ...order(`o3-${other}`), person: { wa_id: other }, data: { ...order('x').data, order_id: `ORD-${other}` } }]);
  await waitFor(() => graph.requests.some((r) => r.kind === 'events' && r.body.data[0].user_data.ctwa_clid === 'OTHER_CLID'), { what: 'the control Purchase' });
  assert.equal(graph.requests.filter((r) => r.kind === 'events' && r.body.data[0].event_id === `order-ORD-${waId}:Purchase`).length, 1);
});

test('an organic chat (no ad) fires no conversion', async () => {
  const waId = uniqueWaId();
  await chat(waId, 'hello there', { at: Date.now() - 60_000 });
  await timelineWhen(w, waId, (b) => b.events.length === 1, 'the chat');
  await serverEvents(w, [{
    schema: 1, site_id: 'demo', event_id: `o-${waId}`, ts: Date.now() - 1000, person: { wa_id: waId },
    data: { kind: 'order', order_id: `ORD-${waId}`, value: 10, currency: 'INR' },
  }]);
  await timelineWhen(w, waId, (b) => b.events.length === 2, 'the order');
  assert.ok(!graph.requests.some((r) => r.kind === 'events' && r.body.data[0].event_id === `order-ORD-${waId}:Purchase`));
});
