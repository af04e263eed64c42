// Stitching against the real Worker: each path that joins a web visitor to a
// WhatsApp user ends in ONE profile; merges, links and deletion with bad input.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { worker, api, waitFor, LINK_SECRET } from './support/worker.mjs';
import { fixture, KINDS, uniqueVisitor } from './support/fixtures.mjs';
import {
  CTWA_AD, collect, delivery, postWebhook, serverEvents, sha256, textMessage, timelineWhen, uniqueWaId,
} from './support/meta.mjs';

let w;
before(async () => { w = await worker(); });
after(async () => { await w?.stop(); });

const kinds = (t) => t.events.map((e) => e.data.kind);
const profileOf = async (id) => (await api(w, `/v1/profiles/${encodeURIComponent(id)}/timeline`)).body?.profile_id;

async function sendChat(waId, text, opts = {}) {
  const r = await postWebhook(w, delivery([textMessage({ waId, text, ...opts })], { waId }));
  assert.equal(r.status, 200);
  return r;
}

async function mintLink(body) {
  return api(w, '/v1/links', { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
}

test('a reference token in the prefilled message joins the chat to the visitor who clicked', async () => {
  const visitor = uniqueVisitor();
  const waId = uniqueWaId();
  const token = `tl-${Math.random().toString(16).slice(2, 12).padEnd(10, '0')}`;
  const view = fixture('page_view', { visitor, ts: Date.now() - 5000 });
  const click = fixture('whatsapp_click', { visitor, ts: Date.now() - 4000 });
  click.data.reference = token;
  assert.equal((await collect(w, [view, click])).body.accepted, 2);
  await sendChat(waId, `Is COD available? [ref:${token}]`);
  const t = await timelineWhen(w, visitor, (b) => kinds(b).includes('whatsapp_inbound'), 'the chat on the visitor\'s profile');
  assert.deepEqual(kinds(t), ['page_view', 'whatsapp_click', 'whatsapp_inbound']);
  assert.ok(t.identities.includes(`v:${visitor}`) && t.identities.includes(`wa:${waId}`) && t.identities.includes(`ref:${token}`));
  assert.equal(await profileOf(waId), t.profile_id, 'the wa_id names the same profile');
});

test('a reference token joins the two even when the chat arrives before the click', async () => {
  const visitor = uniqueVisitor();
  const waId = uniqueWaId();
  const token = 'tl-' + sha256(visitor).slice(0, 10);
  await sendChat(waId, `hello [ref:${token}]`);
  await timelineWhen(w, waId, (b) => kinds(b).includes('whatsapp_inbound'), 'the chat');
  const click = fixture('whatsapp_click', { visitor });
  click.data.reference = token;
  assert.equal((await collect(w, [click])).body.accepted, 1);
  const t = await timelineWhen(w, visitor, (b) => b.events.length === 2, 'chat and click together');
  assert.deepEqual(kinds(t).sort(), ['whatsapp_click', 'whatsapp_inbound']);
  assert.equal(await profileOf(waId), t.profile_id);
});

test('identify with the phone of a WhatsApp user joins the visitor to that chat', async () => {
  const waId = uniqueWaId();
  const visitor = uniqueVisitor();
  await sendChat(waId, 'Hi, do you have size M?');
  await timelineWhen(w, waId, (b) => b.events.length === 1, 'the chat');
  const id = fixture('identify', { visitor });
  id.data = { kind: 'identify', phone_sha256: sha256(waId) };
  assert.equal((await collect(w, [fixture('page_view', { visitor, ts: Date.now() - 10 }), id])).body.accepted, 2);
  const t = await timelineWhen(w, visitor, (b) => b.events.length === 3, 'one profile with chat, view and identify');
  assert.equal(await profileOf(waId), t.profile_id);
});

test('identify with the same email joins visitors on two devices into one profile', async () => {
  const phone = uniqueVisitor('phone');
  const laptop = uniqueVisitor('laptop');
  const email = sha256(`${phone}@example.com`);
  for (const v of [phone, laptop]) {
    const id = fixture('identify', { visitor: v });
    id.data = { kind: 'identify', email_sha256: email };
    assert.equal((await collect(w, [fixture('page_view', { visitor: v, ts: Date.now() - 10 }), id])).body.accepted, 2);
  }
  const t = await timelineWhen(w, laptop, (b) => b.events.length === 4, 'both devices');
  assert.equal(await profileOf(phone), t.profile_id);
  assert.equal(await profileOf(`em:${email}`), t.profile_id);
});

test('a server-side order carrying the phone number joins the WhatsApp chat and is credited to its ad', async () => {
  const waId = uniqueWaId();
  await sendChat(waId, 'Hi, tell me about the blue kurta', { referral: CTWA_AD, at: Date.now() - 60_000 });
  await timelineWhen(w, waId, (b) => b.events.length === 1, 'the chat');
  const phone = `+${waId.slice(0, 1)} (${waId.slice(1, 4)}) ${waId.slice(4, 7)}-${waId.slice(7)}`;
  const r = await serverEvents(w, [{
    schema: 1, site_id: 'demo', event_id: `ord-${waId}`, ts: Date.now() - 1000,
    person: { phone },
    data: { kind: 'order', order_id: `ORD-${waId}`, value: 1499.0, currency: 'INR', payment_method: 'cod' },
  }]);
  assert.deepEqual(r.body, { accepted: 1, rejected: [], duplicates: 0 });
  const t = await timelineWhen(w, waId, (b) => b.events.length === 2, 'chat and order');
  const order = t.touchpoints.find((p) => p.action === 'order');
  assert.equal(order.channel, 'offline');
  assert.equal(order.attributed_to.campaign, CTWA_AD.source_id);
  assert.equal(order.attributed_to.ctwa_clid, CTWA_AD.ctwa_clid);
  // A later delivery update names only the order id, and lands on the same profile.
  const d = await serverEvents(w, [{
    schema: 1, site_id: 'demo', event_id: `del-${waId}`, ts: Date.now(),
    person: { order_id: `ORD-${waId}` },
    data: { kind: 'order_status', order_id: `ORD-${waId}`, status: 'delivered', payment_method: 'cod' },
  }]);
  assert.equal(d.body.accepted, 1);
  const t2 = await timelineWhen(w, waId, (b) => b.events.length === 3, 'the delivery too');
  assert.equal(t2.profile_id, t.profile_id);
});

test('a chat link minted by the API links the visitor who lands with it', async () => {
  const waId = uniqueWaId();
  await sendChat(waId, 'Can you send me the link?');
  const m = await mintLink({ url: 'https://shop.example/products/kurta', wa_id: waId });
  assert.equal(m.status, 200);
  assert.match(m.body.url, /^https:\/\/shop\.example\/products\/kurta\?tl=1\.\d+\.[0-9a-f]{32}\.ph:[0-9a-f]{64}$/);
  assert.ok(!m.body.url.includes(waId), 'no phone number in the URL');
  const visitor = uniqueVisitor();
  const view = fixture('page_view', { visitor });
  view.url = m.body.url;
  assert.equal((await collect(w, [view])).body.accepted, 1);
  const t = await timelineWhen(w, visitor, (b) => b.events.length === 2, 'chat and landing');
  assert.equal(await profileOf(waId), t.profile_id);
});

test('expired and forged link tokens link nobody, and the page view is still kept', async () => {
  const waId = uniqueWaId();
  await sendChat(waId, 'link please');
  await timelineWhen(w, waId, (b) => b.events.length === 1, 'the chat');
  const short = await mintLink({ url: 'https://shop.example/', wa_id: waId, ttl_seconds: 1 });
  assert.equal(short.status, 200);
  await waitFor(() => Date.now() > short.body.expires_at + 50, { timeout: 5000, what: 'the link to expire' });
  const good = await mintLink({ url: 'https://shop.example/', wa_id: waId });
  const sig = good.body.token.split('.')[2];
  const forged = good.body.url.replace(sig, sig.replace(/^./, (c) => (c === '0' ? '1' : '0')));
  const otherSecret = good.body.url.replace(/\.ph:[0-9a-f]+$/, `.ph:${sha256(LINK_SECRET)}`);
  for (const url of [short.body.url, forged, otherSecret, 'https://shop.example/?tl=garbage']) {
    const visitor = uniqueVisitor();
    const view = fixture('page_view', { visitor });
    view.url = url;
    const r = await collect(w, [view]);
    assert.deepEqual(r.body, { accepted: 1, rejected: [], duplicates: 0 }, url);
    const t = (await api(w, `/v1/profiles/${visitor}/timeline`)).body;
    assert.deepEqual(t.identities, [`v:${visitor}`], `not linked by ${url}`);
  }
  const chat = (await api(w, `/v1/profiles/${waId}/timeline`)).body;
  assert.equal(chat.events.length, 1, 'the WhatsApp profile gained nothing');
});

test('the link API needs the key and names what is wrong with a request', async () => {
  const noKey = await fetch(`${w.url}/v1/links`, { method: 'POST', body: '{}' });
  assert.equal(noKey.status, 401);
  for (const [body, re] of [
    [{ url: 'https://shop.example/' }, /wa_id or user_id/],
    [{ url: 'javascript:alert(1)', wa_id: '15550001111' }, /absolute http/],
    [{ url: 'https://shop.example/', wa_id: '12' }, /wa_id/],
    [{ url: 'https://shop.example/', wa_id: '15550001111', ttl_seconds: 0 }, /ttl_seconds/],
    [{ url: 'https://shop.example/', wa_id: '15550001111', colour: 'red' }, /unknown field/],
  ]) {
    const r = await mintLink(body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.match(r.body.error.message, re);
  }
});

test('a merge request naming an unknown id is a 404 that names it and merges nothing', async () => {
  const visitor = uniqueVisitor();
  await collect(w, [fixture('page_view', { visitor })]);
  const before = (await api(w, `/v1/profiles/${visitor}/timeline`)).body;
  const r = await api(w, '/v1/profiles/merge', { method: 'POST', body: JSON.stringify({ ids: [visitor, 'vnobody000'] }) });
  assert.equal(r.status, 404);
  assert.match(r.body.error.message, /`vnobody000`/);
  const after = (await api(w, `/v1/profiles/${visitor}/timeline`)).body;
  assert.deepEqual(after.identities, before.identities);
  assert.equal(after.profile_id, before.profile_id);
  const bad = await api(w, '/v1/profiles/merge', { method: 'POST', body: JSON.stringify({ ids: [visitor] }) });
  assert.equal(bad.status, 400);
  const junk = await api(w, '/v1/profiles/merge', { method: 'POST', body: '{"ids": [' });
  assert.equal(junk.status, 400);
});

test('merging two profiles by API gives one ordered timeline, and merging again changes nothing', async () => {
  const a = uniqueVisitor('a');
  const b = uniqueVisitor('b');
  await collect(w, [fixture('page_view', { visitor: a, ts: Date.now() - 3000 })]);
  await collect(w, [fixture('product_view', { visitor: b, ts: Date.now() - 2000 })]);
  const pa = await profileOf(a);
  const pb = await profileOf(b);
  assert.notEqual(pa, pb);
  const r = await api(w, '/v1/profiles/merge', { method: 'POST', body: JSON.stringify({ ids: [b, a] }) });
  assert.equal(r.status, 200);
  assert.equal(r.body.profile_id, [pa, pb].sort()[0], 'the older profile wins');
  for (const id of [a, b, pa, pb]) {
    const t = (await api(w, `/v1/profiles/${id}/timeline`)).body;
    assert.equal(t.profile_id, r.body.profile_id, id);
    assert.deepEqual(kinds(t), ['page_view', 'product_view']);
  }
  const again = await api(w, '/v1/profiles/merge', { method: 'POST', body: JSON.stringify({ ids: [a, b] }) });
  assert.equal(again.body.profile_id, r.body.profile_id);
  await collect(w, [fixture('search', { visitor: b })]);
  assert.deepEqual(kinds((await api(w, `/v1/profiles/${pb}/timeline`)).body), ['page_view', 'product_view', 'search'],
    'later events of the merged-away visitor land on the winner');
});

test('concurrent first events of visitors sharing an email settle on one profile and lose nothing', async () => {
  const email = sha256(`${uniqueVisitor()}@example.com`);
  const visitors = Array.from({ length: 6 }, (_, i) => uniqueVisitor(`c${i}`));
  const sends = visitors.map((visitor, i) => {
    const id = fixture('identify', { visitor, ts: Date.now() - 100 + i });
    id.data = { kind: 'identify', email_sha256: email };
    return collect(w, [fixture('page_view', { visitor, ts: Date.now() - 200 + i }), id]);
  });
  for (const r of await Promise.all(sends)) assert.equal(r.body.accepted, 2);
  const t = await timelineWhen(w, `em:${email}`, (b) => b.events.length === 12, 'all twelve events in one profile');
  const ids = await Promise.all(visitors.map(profileOf));
  assert.deepEqual(new Set(ids), new Set([t.profile_id]));
  assert.equal(new Set(t.events.map((e) => e.event_id)).size, 12);
});

test('long timelines are read in pages that join up exactly', async () => {
  const visitor = uniqueVisitor();
  const t0 = Date.now() - 60_000;
  const events = Array.from({ length: 25 }, (_, i) => fixture('page_view', { visitor, ts: t0 + i * 100 }));
  assert.equal((await collect(w, events)).body.accepted, 25);
  const seen = [];
  let after = null;
  let pages = 0;
  do {
    const q = after ? `?limit=10&after=${encodeURIComponent(after)}` : '?limit=10';
    const r = await api(w, `/v1/profiles/${visitor}/timeline${q}`);
    assert.equal(r.status, 200);
    seen.push(...r.body.events.map((e) => e.event_id));
    after = r.body.next_cursor;
    pages += 1;
  } while (after);
  assert.equal(pages, 3);
  assert.deepEqual(seen, events.map((e) => e.event_id));
  assert.equal((await api(w, `/v1/profiles/${visitor}/timeline?limit=0`)).status, 400);
  assert.equal((await api(w, `/v1/profiles/${visitor}/timeline?after=nonsense`)).status, 400);
});

test('deleting a profile erases its events and links, and afterwards nothing about the person can be read', async () => {
  const visitor = uniqueVisitor();
  const waId = uniqueWaId();
  const id = fixture('identify', { visitor });
  id.data = { kind: 'identify', phone_sha256: sha256(waId) };
  await collect(w, [fixture('page_view', { visitor, ts: Date.now() - 10 }), id]);
  await sendChat(waId, 'please forget me');
  const t = await timelineWhen(w, visitor, (b) => b.events.length === 3, 'the joined profile');
  const del = await api(w, `/v1/profiles/${waId}`, { method: 'DELETE' });
  assert.equal(del.status, 200);
  assert.equal(del.body.deleted, t.profile_id);
  assert.equal(del.body.events, 3);
  assert.ok(del.body.identities >= 3);
  for (const ref of [visitor, waId, t.profile_id, `ph:${sha256(waId)}`]) {
    const r = await api(w, `/v1/profiles/${encodeURIComponent(ref)}/timeline`);
    assert.equal(r.status, 404, ref);
  }
  assert.equal((await api(w, `/v1/journeys/${visitor}`)).status, 404);
  const list = await api(w, '/v1/journeys?limit=500');
  assert.ok(!list.body.visitors.some((v) => v.visitor_id === visitor), 'gone from the visitor list');
  assert.equal((await api(w, `/v1/profiles/${waId}`, { method: 'DELETE' })).status, 404, 'a second delete finds nothing');
  assert.equal((await fetch(`${w.url}/v1/profiles/${waId}`, { method: 'DELETE' })).status, 401, 'needs the key');
});

test('server-side events need the events key, accept every kind and reject events that name nobody', async () => {
  assert.equal((await serverEvents(w, [], { key: 'wrong' })).status, 401);
  const waId = uniqueWaId();
  const events = KINDS.map((k, i) => {
    const e = fixture(k, { visitor: `srv-${waId}`, ts: Date.now() - 1000 + i });
    delete e.visitor_id;
    e.person = { wa_id: waId };
    return e;
  });
  const nobody = fixture('crm_stage', {});
  delete nobody.visitor_id;
  const r = await serverEvents(w, [...events, nobody]);
  assert.equal(r.status, 200);
  assert.equal(r.body.accepted, KINDS.length);
  assert.equal(r.body.rejected.length, 1);
  assert.equal(r.body.rejected[0].index, KINDS.length);
  assert.match(r.body.rejected[0].reason, /^person: name the person/);
  const t = (await api(w, `/v1/profiles/${waId}/timeline`)).body;
  assert.deepEqual(kinds(t).sort(), [...KINDS].sort());
  const channels = Object.fromEntries(t.touchpoints.filter((p) => ['instagram', 'paid_search', 'crm_stage'].includes(
    t.events.find((e) => e.event_id === p.evidence[0]).data.kind,
  )).map((p) => [p.action, p.channel]));
  assert.deepEqual(channels, { reel_view: 'instagram', ad_click: 'search', crm_stage: 'offline' });
  const malformed = await fetch(`${w.url}/v1/events`, {
    method: 'POST', headers: { authorization: 'Bearer touchline-test-events-key', 'content-type': 'application/json' }, body: '{"events": ',
  });
  assert.equal(malformed.status, 400);
});
