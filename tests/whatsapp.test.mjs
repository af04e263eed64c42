// The WhatsApp Cloud API webhook against the real Worker. The tests act as
// Meta: they build deliveries in Meta's documented shapes and sign them with
// the app secret the Worker was started with.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { worker, api, VERIFY_TOKEN } from './support/worker.mjs';
import {
  CTWA_AD, delivery, postWebhook, textMessage, timelineWhen, uniqueWaId, uniqueWamid, sign,
} from './support/meta.mjs';

let w;
before(async () => { w = await worker(); });
after(async () => { await w?.stop(); });

const verify = (query) => fetch(`${w.url}/webhooks/whatsapp?${query}`);
const messages = (body) => body.events.filter((e) => e.data.kind === 'whatsapp_inbound');

test('the verification handshake echoes the challenge for the right token and refuses anything else', async () => {
  const ok = await verify(`hub.mode=subscribe&hub.challenge=1234567890&hub.verify_token=${VERIFY_TOKEN}`);
  assert.equal(ok.status, 200);
  assert.equal(await ok.text(), '1234567890');
  const odd = await verify(`hub.mode=subscribe&hub.challenge=ab-12_x&hub.verify_token=${VERIFY_TOKEN}`);
  assert.equal(await odd.text(), 'ab-12_x', 'a non-numeric challenge is echoed unchanged');
  const wrong = await verify('hub.mode=subscribe&hub.challenge=1&hub.verify_token=guess');
  assert.equal(wrong.status, 403);
  assert.equal((await wrong.json()).error.code, 'forbidden');
  assert.equal((await verify(`hub.challenge=1&hub.verify_token=${VERIFY_TOKEN}`)).status, 403, 'missing hub.mode');
  assert.equal((await verify('hub.mode=subscribe&hub.challenge=1')).status, 403, 'missing token');
});

test('a signed message with a click-to-WhatsApp referral lands on its sender\'s timeline with the ad', async () => {
  const waId = uniqueWaId();
  const at = Date.now() - 60_000;
  const r = await postWebhook(w, delivery([
    textMessage({ waId, text: 'Hi, tell me about the blue kurta', at, referral: CTWA_AD }),
  ], { waId, name: 'Asha' }));
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { received: 1, statuses: 0, skipped: [] });
  const t = await timelineWhen(w, waId, (b) => messages(b).length === 1, 'the chat on the timeline');
  assert.ok(t.identities.includes(`wa:${waId}`));
  const [click, chat] = t.touchpoints;
  assert.equal(click.channel, 'ads');
  assert.equal(click.action, 'ad_click');
  assert.equal(click.campaign, CTWA_AD.source_id);
  assert.equal(chat.channel, 'whatsapp');
  assert.equal(chat.action, 'message');
  assert.equal(chat.detail, 'Hi, tell me about the blue kurta');
  assert.equal(chat.campaign, CTWA_AD.source_id);
  assert.equal(chat.ad.ctwa_clid, CTWA_AD.ctwa_clid);
  assert.equal(chat.ad.headline, CTWA_AD.headline);
  assert.equal(chat.ad.source_url, CTWA_AD.source_url);
  assert.equal(chat.time, Math.floor(at / 1000) * 1000, 'the message time comes from the payload');
  const e = messages(t)[0];
  assert.equal(e.data.profile_name, 'Asha');
  assert.equal(e.via, 'webhook');
  assert.deepEqual(chat.evidence, [e.event_id]);
});

test('a missing or forged signature is refused with 401 and nothing is stored', async () => {
  const waId = uniqueWaId();
  const forged = delivery([textMessage({ waId, text: 'forged' })], { waId });
  const body = JSON.stringify(forged);
  const missing = await postWebhook(w, body, { signature: null });
  assert.equal(missing.status, 401);
  assert.equal(missing.body.error.code, 'bad_signature');
  assert.match(missing.body.error.message, /missing/);
  assert.equal((await postWebhook(w, body, { secret: 'not-the-app-secret' })).status, 401);
  assert.equal((await postWebhook(w, body, { signature: 'sha256=abc' })).status, 401);
  const tampered = body.replace('forged', 'altered');
  assert.equal((await postWebhook(w, tampered, { signature: sign(body) })).status, 401);
  // A genuine message from the same sender afterwards: once it is stored, the
  // refused ones would have been too.
  const ok = await postWebhook(w, delivery([textMessage({ waId, text: 'genuine' })], { waId }));
  assert.equal(ok.status, 200);
  const t = await timelineWhen(w, waId, (b) => messages(b).length >= 1, 'the genuine message');
  assert.deepEqual(messages(t).map((e) => e.data.text), ['genuine']);
});

test('malformed webhook JSON is a 400 that says why, even when signed', async () => {
  for (const body of ['{"object": "whatsapp_business_account", "entry": [', '[]', '{"entry": []}', '{"object": "whatsapp_business_account"}']) {
    const r = await postWebhook(w, body);
    assert.equal(r.status, 400, body);
    assert.equal(r.body.error.code, 'malformed_webhook');
    assert.ok(r.body.error.message.length > 0);
  }
});

test('a duplicate delivery of the same message id is stored once', async () => {
  const waId = uniqueWaId();
  const id = uniqueWamid();
  const payload = delivery([textMessage({ waId, id, text: 'Is COD available?' })], { waId });
  for (let i = 0; i < 3; i += 1) assert.equal((await postWebhook(w, payload)).status, 200);
  await postWebhook(w, delivery([textMessage({ waId, text: 'after the retries' })], { waId }));
  const t = await timelineWhen(w, waId, (b) => messages(b).length >= 2, 'both messages');
  const texts = messages(t).map((e) => e.data.text).sort();
  assert.deepEqual(texts, ['Is COD available?', 'after the retries']);
});

test('button, interactive and unknown message types are all kept, unknown ones as other', async () => {
  const waId = uniqueWaId();
  const t0 = Date.now() - 10_000;
  const r = await postWebhook(w, delivery([
    textMessage({ waId, type: 'button', at: t0, extra: { button: { text: 'Yes, book it', payload: 'BOOK' } } }),
    textMessage({ waId, type: 'interactive', at: t0 + 1000, extra: { interactive: { type: 'button_reply', button_reply: { id: 'y', title: 'Yes' } } } }),
    textMessage({ waId, type: 'sticker', at: t0 + 2000, extra: { sticker: { id: 'x' } } }),
    textMessage({ waId, type: 'unsupported', at: t0 + 3000, extra: { errors: [{ code: 131051 }] } }),
  ], { waId }));
  assert.equal(r.status, 200);
  assert.equal(r.body.received, 4);
  const t = await timelineWhen(w, waId, (b) => messages(b).length === 4, 'four messages');
  assert.deepEqual(messages(t).map((e) => [e.data.message_type, e.data.text ?? e.data.original_type]), [
    ['button', 'Yes, book it'], ['interactive', 'Yes'], ['other', 'sticker'], ['other', 'unsupported'],
  ]);
  assert.deepEqual(t.touchpoints.map((p) => p.detail), ['Yes, book it', 'Yes', '[sticker]', '[unsupported]']);
});

test('a sender known only by a business-scoped user id gets a profile keyed by it', async () => {
  const userId = `US.${Date.now()}${Math.floor(Math.random() * 1e6)}`;
  const r = await postWebhook(w, delivery([textMessage({ userId, text: 'username user here' })], { userId }));
  assert.equal(r.status, 200);
  const t = await timelineWhen(w, userId, (b) => messages(b).length === 1, 'the BSUID message');
  assert.deepEqual(t.identities, [`wa:${userId}`]);
  assert.equal(messages(t)[0].data.wa, userId);
  assert.equal(messages(t)[0].data.wa_id, undefined);
});

test('statuses, other fields and messages without an id are acknowledged and not stored', async () => {
  const payload = {
    object: 'whatsapp_business_account',
    entry: [{ id: '111111111111111', changes: [
      { field: 'messages', value: { metadata: {}, statuses: [{ id: 'wamid.OUT', status: 'read', timestamp: '1700000000', recipient_id: '15550001111' }] } },
      { field: 'account_update', value: { event: 'VERIFIED_ACCOUNT' } },
      { field: 'messages', value: { messages: [{ from: '15550001111', type: 'text', text: { body: 'no id' } }] } },
    ] }],
  };
  const r = await postWebhook(w, payload);
  assert.equal(r.status, 200);
  assert.equal(r.body.received, 0);
  assert.equal(r.body.statuses, 1);
  assert.equal(r.body.skipped.length, 2);
  const other = await postWebhook(w, { object: 'instagram', entry: [] });
  assert.equal(other.status, 200, 'deliveries for other products are acknowledged, not retried');
});

test('an oversized webhook body is refused with 413 before anything else', async () => {
  const body = JSON.stringify({ object: 'whatsapp_business_account', entry: [], pad: 'x'.repeat(3 * 1024 * 1024) });
  const r = await postWebhook(w, body);
  assert.equal(r.status, 413);
  assert.equal(r.body.error.code, 'payload_too_large');
});

test('the timeline API needs the bearer key and answers 404 for an unknown person', async () => {
  const noKey = await fetch(`${w.url}/v1/profiles/15550001234/timeline`);
  assert.equal(noKey.status, 401);
  const unknown = await api(w, `/v1/profiles/${uniqueWaId()}/timeline`);
  assert.equal(unknown.status, 404);
  assert.equal(unknown.body.error.code, 'not_found');
});
