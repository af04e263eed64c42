// The bad-input corpus against the real Worker: a table of hostile and broken
// requests to every write path and the read APIs. Each must get its 4xx with a
// code or reason, never a 5xx, and nothing of a rejected request may be stored;
// the good events of a mixed batch are kept. Then replays: the same batch sent
// three times and the same WhatsApp message delivered twice are stored once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker, api, waitFor, EVENTS_KEY } from './support/worker.mjs';
import { fixture, uniqueVisitor } from './support/fixtures.mjs';
import { delivery, postWebhook, sign, textMessage, timelineWhen, uniqueWaId } from './support/meta.mjs';

let w;
before(async () => { w = await startWorker(); });
after(async () => { await w?.stop(); });

const enc = (s) => Buffer.from(s, 'utf8');
const batch = (events, extra = {}) => JSON.stringify({ sent_at: Date.now(), events, ...extra });
const oneEvent = (visitor, change = () => {}, kind = 'page_view', site = 'test') => {
  const e = fixture(kind, { visitor, site });
  change(e);
  return e;
};
const serverEvent = (id, person, kind = 'order') => {
  const e = fixture(kind, { visitor: undefined, site: 'test', id });
  delete e.visitor_id;
  if (person) e.person = person;
  return e;
};

/** One request of the corpus; `expect` is checked against its answer. */
async function send({ method = 'POST', path, headers = {}, body }) {
  const res = await fetch(`${w.url}${path}`, { method, headers, body });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch {}
  return { status: res.status, json, text };
}

const collectReq = (body, headers = {}) => ({ path: '/v1/collect', headers: { 'content-type': 'text/plain', ...headers }, body });
const eventsReq = (body, headers = {}) => ({
  path: '/v1/events', headers: { 'content-type': 'application/json', authorization: `Bearer ${EVENTS_KEY}`, ...headers }, body,
});
const webhookReq = (body, signature = sign(body)) => ({
  path: '/webhooks/whatsapp',
  headers: { 'content-type': 'application/json', ...(signature === null ? {} : { 'x-hub-signature-256': signature }) },
  body,
});
const igReq = (body, signature = sign(body)) => ({ ...webhookReq(body, signature), path: '/webhooks/instagram' });
const keyed = (key) => (key === null ? {} : { authorization: `Bearer ${key}` });
const linksReq = (body, key) => ({ path: '/v1/links', headers: { 'content-type': 'application/json', ...keyed(key) }, body });
const getReq = (path, key) => ({ method: 'GET', path, headers: keyed(key) });

/**
 * The corpus. Each case: a request, the status, and either the error code and
 * a message pattern, or per-event rejection reasons (`rejected`, by index).
 * `visitors`/`waIds` name people that must not exist afterwards.
 */
function corpus() {
  const v = () => uniqueVisitor('bad');
  const cases = [];
  const add = (group, name, c) => cases.push({ group, name, ...c });

  // POST /v1/collect
  {
    const vis = v();
    const whole = batch([oneEvent(vis)]);
    add('collect', 'truncated JSON', { req: collectReq(whole.slice(0, Math.floor(whole.length / 2))), status: 400, code: 'malformed_batch', message: /EOF while parsing/, visitors: [vis] });
  }
  {
    const vis = v();
    const deep = `{"sent_at":${Date.now()},"events":[${JSON.stringify(oneEvent(vis)).replace(/}$/, `,"extra":${'['.repeat(5000)}${']'.repeat(5000)}}`)}]}`;
    add('collect', 'JSON nested 5,000 levels deep', { req: collectReq(deep), status: 400, code: 'malformed_batch', message: /recursion limit/, visitors: [vis] });
  }
  {
    const vis = v();
    const e = oneEvent(vis, (x) => { x.data.attribution = { utm_campaign: JSON.parse(`${'{"a":'.repeat(100)}1${'}'.repeat(100)}`) }; });
    add('collect', 'an event with a value nested 100 levels deep', { req: collectReq(batch([e])), status: 400, rejected: [[0, /attribution/]], visitors: [vis] });
  }
  add('collect', 'events is not an array', { req: collectReq(JSON.stringify({ events: 'nope' })), status: 400, code: 'malformed_batch', message: /events: invalid type/ });
  add('collect', 'the body is a JSON array', { req: collectReq('[1,2,3]'), status: 400, code: 'malformed_batch', message: /invalid type/ });
  add('collect', 'an empty body', { req: collectReq(''), status: 400, code: 'malformed_batch', message: /EOF/ });
  {
    const vis = v();
    add('collect', 'sent_at is a string', { req: collectReq(JSON.stringify({ sent_at: 'now', events: [oneEvent(vis)] })), status: 400, code: 'malformed_batch', message: /sent_at/, visitors: [vis] });
  }
  for (const [field, value, reason] of [
    ['ts', 'yesterday', /^ts: invalid type/],
    ['seq', -1, /^seq: invalid value/],
    ['visitor_id', 42, /^visitor_id: invalid type/],
    ['schema', 2, /schema/],
    ['url', 'x'.repeat(60_000), /^url: is 60000 bytes; the limit is 2048/],
    ['visitor_id', 'v'.repeat(65), /^visitor_id: must be 1 to 64 characters/],
    ['visitor_id', 'v<script>', /^visitor_id: may hold only A-Z/],
  ]) {
    const vis = v();
    const e = oneEvent(vis, (x) => { x[field] = value; });
    const visitors = typeof e.visitor_id === 'string' ? [vis, e.visitor_id] : [vis];
    add('collect', `${field} = ${JSON.stringify(value).slice(0, 24)}`, { req: collectReq(batch([e])), status: 400, rejected: [[0, reason]], visitors });
  }
  {
    const vis = v();
    const e = oneEvent(vis);
    const text = batch([e]).replace(e.url, `${e.url.slice(0, 10)}\u0000@@INVALID@@`);
    const [a, b] = text.split('@@INVALID@@');
    const body = Buffer.concat([enc(a), Buffer.from([0xff, 0xfe, 0xc3, 0x28]), enc(b)]);
    add('collect', 'invalid UTF-8 in a string', { req: collectReq(body), status: 400, code: 'malformed_batch', message: /invalid unicode|UTF-8|control character/i, visitors: [vis] });
  }
  for (const ct of ['application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'text/html', null]) {
    const vis = v();
    const headers = ct === null ? {} : { 'content-type': ct };
    add('collect', `content type ${ct}`, { req: { path: '/v1/collect', headers, body: new Blob([batch([oneEvent(vis)])]) }, status: 415, code: 'unsupported_media_type', message: /text\/plain or application\/json/, visitors: [vis] });
  }
  {
    const vis = v();
    add('collect', 'a 70 KB body', { req: collectReq(batch([oneEvent(vis)], { pad: 'x'.repeat(70_000) })), status: 413, code: 'payload_too_large', message: /the limit is 65536/, visitors: [vis] });
  }
  {
    const vis = v();
    const old = oneEvent(vis, (x) => { x.ts = Date.now() - 8 * 86_400_000; });
    const future = oneEvent(vis, (x) => { x.ts = Date.now() + 3_600_000; });
    add('collect', 'timestamps 8 days in the past and 1 hour in the future', { req: collectReq(batch([old, future])), status: 400, rejected: [[0, /^ts: /], [1, /^ts: /]], visitors: [vis] });
  }
  {
    const vis = v();
    add('collect', 'an origin not allowed for the site', { req: collectReq(batch([oneEvent(vis, () => {}, 'page_view', 'demo')]), { origin: 'https://evil.example' }), status: 400, rejected: [[0, /origin https:\/\/evil\.example is not allowed to send events for site `demo`/]], visitors: [vis] });
  }
  {
    const vis = v();
    add('collect', 'an unknown site', { req: collectReq(batch([oneEvent(vis, () => {}, 'page_view', 'nosuchsite')])), status: 400, rejected: [[0, /unknown site `nosuchsite`/]], visitors: [vis] });
  }
  {
    const vis = v();
    add('collect', 'a server-only kind from a browser', { req: collectReq(batch([oneEvent(vis, () => {}, 'crm_stage')])), status: 400, rejected: [[0, /accepted only from servers/]], visitors: [vis] });
  }
  {
    // Mixed: the good events are kept, the bad ones named, nothing else stored.
    const keep = v();
    const bad = v();
    const events = [
      oneEvent(keep),
      oneEvent(bad, (x) => { x.data.kind = 'teleport'; }),
      oneEvent(bad, (x) => { x.ts = Date.now() + 86_400_000; }),
      oneEvent(keep, () => {}, 'scroll'),
      oneEvent(bad, (x) => { x.site_id = 'demo'; }),
    ];
    add('collect', 'a mixed batch from a foreign origin', {
      req: collectReq(batch(events), { origin: 'https://evil.example' }), status: 200,
      rejected: [[1, /unknown variant `teleport`/], [2, /^ts: /], [4, /not allowed/]],
      accepted: 2, kept: { [keep]: [events[0].event_id, events[3].event_id] }, visitors: [bad],
    });
  }
  {
    const keep = v();
    const events = Array.from({ length: 103 }, (_, i) => oneEvent(keep, (x) => { x.event_id = `many${i}`; }, 'scroll'));
    add('collect', '103 events in one batch', {
      req: collectReq(batch(events)), status: 200, accepted: 100,
      rejected: [[100, /more than 100 events/], [101, /more than 100/], [102, /more than 100/]],
      kept: { [keep]: events.slice(0, 100).map((e) => e.event_id) },
    });
  }

  // POST /v1/events
  {
    const b = batch([serverEvent('srv-nokey', { phone: '+91 98000 00001' })]);
    add('events', 'no key', { req: eventsReq(b, { authorization: '' }), status: 401, code: 'unauthorized', message: /Bearer/ });
    add('events', 'a wrong key', { req: eventsReq(b, { authorization: 'Bearer wrong' }), status: 401, code: 'unauthorized', message: /Bearer/ });
    add('events', 'the read API key instead of the events key', { req: eventsReq(b, { authorization: 'Bearer touchline-test-key' }), status: 401, code: 'unauthorized', message: /Bearer/ });
    add('events', 'Basic instead of Bearer', { req: eventsReq(b, { authorization: `Basic ${Buffer.from(`x:${EVENTS_KEY}`).toString('base64')}` }), status: 401, code: 'unauthorized', message: /Bearer/ });
    add('events', 'a form content type', { req: eventsReq(b, { 'content-type': 'application/x-www-form-urlencoded' }), status: 415, code: 'unsupported_media_type', message: /application\/json/ });
    add('events', 'truncated JSON', { req: eventsReq(b.slice(0, 40)), status: 400, code: 'malformed_batch', message: /EOF/ });
    add('events', 'a 70 KB body', { req: eventsReq(batch([serverEvent('srv-big', { phone: '+91 98000 00002' })], { pad: 'x'.repeat(70_000) })), status: 413, code: 'payload_too_large', message: /65536/ });
  }
  add('events', 'an event naming nobody', { req: eventsReq(batch([serverEvent('srv-nobody', null)])), status: 400, rejected: [[0, /^person: name the person by/]] });
  add('events', 'a malformed phone', { req: eventsReq(batch([serverEvent('srv-phone', { phone: 'call me' })])), status: 400, rejected: [[0, /person/]] });

  // POST /webhooks/whatsapp
  {
    const waId = uniqueWaId();
    const body = JSON.stringify(delivery([textMessage({ waId, text: 'hi' })], { waId }));
    add('webhook', 'no signature', { req: webhookReq(body, null), status: 401, code: 'bad_signature', message: /missing/, waIds: [waId] });
    add('webhook', 'signed with another secret', { req: webhookReq(body, sign(body, 'not-the-app-secret')), status: 401, code: 'bad_signature', message: /does not match/, waIds: [waId] });
    add('webhook', 'a signature without sha256=', { req: webhookReq(body, sign(body).slice(7)), status: 401, code: 'bad_signature', message: /sha256=/, waIds: [waId] });
    add('webhook', 'a signature cut short', { req: webhookReq(body, sign(body).slice(0, 40)), status: 401, code: 'bad_signature', message: /64 hex/, waIds: [waId] });
    const tampered = body.replace('"hi"', '"hI"');
    add('webhook', 'a body changed by one byte after signing', { req: webhookReq(tampered, sign(body)), status: 401, code: 'bad_signature', message: /does not match/, waIds: [waId] });
    const other = uniqueWaId();
    const replayed = JSON.stringify(delivery([textMessage({ waId: other, text: 'hi' })], { waId: other }));
    add('webhook', 'a signature replayed from another delivery', { req: webhookReq(replayed, sign(body)), status: 401, code: 'bad_signature', message: /does not match/, waIds: [other] });
  }
  add('webhook', 'signed truncated JSON', { req: webhookReq('{"object":"whatsapp_business_account","entry":[{'), status: 400, code: 'malformed_webhook', message: /not JSON/ });
  add('webhook', 'signed JSON nested 5,000 levels deep', { req: webhookReq(`{"object":"whatsapp_business_account","entry":${'['.repeat(5000)}${']'.repeat(5000)}}`), status: 400, code: 'malformed_webhook', message: /recursion limit/ });
  add('webhook', 'signed, entry is a string', { req: webhookReq('{"object":"whatsapp_business_account","entry":"x"}'), status: 400, code: 'malformed_webhook', message: /entry/ });
  add('webhook', 'signed invalid UTF-8', { req: webhookReq(Buffer.concat([enc('{"object":"whatsapp_business_account","entry":[],"x":"'), Buffer.from([0xff, 0xc3]), enc('"}')])), status: 400, code: 'malformed_webhook', message: /not JSON/ });
  add('webhook', 'a 3 MiB + 1 body', { req: webhookReq('x'.repeat(3 * 1024 * 1024 + 1), 'sha256=0'), status: 413, code: 'payload_too_large', message: /3145728/ });

  // POST /webhooks/instagram
  {
    const igsid = `98${Date.now().toString().slice(-9)}${Math.floor(Math.random() * 1e4)}`;
    const body = JSON.stringify({ object: 'instagram', entry: [{ id: '17800000000000001', time: Date.now(), messaging: [
      { sender: { id: igsid }, recipient: { id: '17800000000000001' }, timestamp: Date.now(), message: { mid: `TEST_IG_${igsid}`, text: 'hi' } }] }] });
    const stored = [`ig:${igsid}`];
    add('instagram', 'no signature', { req: igReq(body, null), status: 401, code: 'bad_signature', message: /missing/, waIds: stored });
    add('instagram', 'signed with another secret', { req: igReq(body, sign(body, 'not-the-app-secret')), status: 401, code: 'bad_signature', message: /does not match/, waIds: stored });
    add('instagram', 'a body changed by one byte after signing', { req: igReq(body.replace('"hi"', '"hI"'), sign(body)), status: 401, code: 'bad_signature', message: /does not match/, waIds: stored });
  }
  add('instagram', 'signed truncated JSON', { req: igReq('{"object":"instagram","entry":[{'), status: 400, code: 'malformed_webhook', message: /not JSON/ });
  add('instagram', 'signed JSON nested 5,000 levels deep', { req: igReq(`{"object":"instagram","entry":${'['.repeat(5000)}${']'.repeat(5000)}}`), status: 400, code: 'malformed_webhook', message: /recursion limit/ });
  add('instagram', 'signed, entry is a string', { req: igReq('{"object":"instagram","entry":"x"}'), status: 400, code: 'malformed_webhook', message: /entry/ });
  add('instagram', 'a 3 MiB + 1 body', { req: igReq('x'.repeat(3 * 1024 * 1024 + 1), 'sha256=0'), status: 413, code: 'payload_too_large', message: /3145728/ });

  // POST /v1/links
  add('links', 'an ig.me link for a username with a slash', { req: linksReq(JSON.stringify({ ig_username: 'shop/../x', visitor_id: 'vabc' }), 'KEY'), status: 400, code: 'bad_link_request', message: /ig_username/ });
  add('links', 'an ig.me link without a visitor', { req: linksReq(JSON.stringify({ ig_username: 'shop' }), 'KEY'), status: 400, code: 'bad_link_request', message: /visitor_id/ });
  add('links', 'an ig.me link that also names a chat', { req: linksReq(JSON.stringify({ ig_username: 'shop', visitor_id: 'vabc', wa_id: '15550001111' }), 'KEY'), status: 400, code: 'bad_link_request', message: /only/ });
  add('links', 'an igsid with markup', { req: linksReq(JSON.stringify({ url: 'https://shop.example/', igsid: '<script>' }), 'KEY'), status: 400, code: 'bad_link_request', message: /igsid/ });
  const link = JSON.stringify({ url: 'https://shop.example/', wa_id: '15550001111' });
  add('links', 'no key', { req: linksReq(link, null), status: 401, code: 'unauthorized', message: /Bearer/ });
  add('links', 'a wrong key', { req: linksReq(link, 'wrong'), status: 401, code: 'unauthorized', message: /Bearer/ });
  add('links', 'the events key', { req: linksReq(link, EVENTS_KEY), status: 401, code: 'unauthorized', message: /Bearer/ });
  add('links', 'truncated JSON', { req: linksReq(link.slice(0, 20), 'KEY'), status: 400, code: 'malformed_body', message: /EOF/ });
  add('links', 'url of the wrong type', { req: linksReq(JSON.stringify({ url: 5, wa_id: '15550001111' }), 'KEY'), status: 400, code: 'malformed_body', message: /invalid type/ });
  add('links', 'a javascript: url', { req: linksReq(JSON.stringify({ url: 'javascript:alert(1)', wa_id: '15550001111' }), 'KEY'), status: 400, code: 'bad_link_request', message: /absolute http/ });
  add('links', 'a 17 KB body', { req: linksReq(JSON.stringify({ url: `https://shop.example/?${'x'.repeat(17_000)}`, wa_id: '15550001111' }), 'KEY'), status: 413, code: 'payload_too_large', message: /16384/ });
  add('links', 'a ttl over 30 days', { req: linksReq(JSON.stringify({ url: 'https://shop.example/', wa_id: '15550001111', ttl_seconds: 31 * 86_400 }), 'KEY'), status: 400, code: 'bad_link_request', message: /ttl_seconds/ });

  // The read APIs
  for (const path of ['/v1/journeys', '/v1/journeys/vsomeone', '/v1/profiles/vsomeone/timeline', '/v1/signals', '/v1/stats', '/v1/reports/campaigns', '/v1/reports/cohorts']) {
    add('read', `${path} without a key`, { req: getReq(path, null), status: 401, code: 'unauthorized', message: /Bearer/ });
    add('read', `${path} with a wrong key`, { req: getReq(path, 'touchline-test-keY'), status: 401, code: 'unauthorized', message: /Bearer/ });
  }
  add('read', 'DELETE a profile with the events key', { req: { method: 'DELETE', path: '/v1/profiles/vsomeone', headers: keyed(EVENTS_KEY) }, status: 401, code: 'unauthorized', message: /Bearer/ });
  add('read', 'a limit of 0', { req: getReq('/v1/journeys?limit=0', 'KEY'), status: 400, code: 'bad_limit', message: /limit must be 1 to 500/ });
  add('read', 'a limit of 1e9', { req: getReq('/v1/journeys?limit=1000000000', 'KEY'), status: 400, code: 'bad_limit', message: /limit/ });
  add('read', 'a visitor id with markup', { req: getReq('/v1/journeys/%3Cscript%3E', 'KEY'), status: 400, code: 'bad_visitor_id', message: /visitor_id/ });
  add('read', 'a visitor id of 300 bytes', { req: getReq(`/v1/journeys/${'v'.repeat(300)}`, 'KEY'), status: 400, code: 'bad_visitor_id', message: /must be 1 to 64 characters/ });
  add('read', 'an unknown visitor', { req: getReq('/v1/journeys/vnobodyatall', 'KEY'), status: 404, code: 'not_found', message: /no journey/ });
  add('read', 'a funnel of unknown steps', { req: getReq('/v1/reports/funnel?steps=a,b', 'KEY'), status: 400, code: 'unknown_step', message: /a/ });
  add('read', 'a merge request that is not JSON', { req: { path: '/v1/profiles/merge', headers: { ...keyed('KEY'), 'content-type': 'application/json' }, body: '{"ids":[' }, status: 400, code: 'malformed_body', message: /EOF/ });
  return cases;
}

function withKey(req) {
  const h = { ...req.headers };
  if (h.authorization?.endsWith(' KEY')) h.authorization = `Bearer ${w.apiKey}`;
  return { ...req, headers: h };
}

test('every request of the bad-input corpus gets its 4xx with a reason, and nothing of it is stored', async () => {
  const cases = corpus();
  const failures = [];
  const statuses = {};
  for (const c of cases) {
    const r = await send(withKey(c.req));
    statuses[r.status] = (statuses[r.status] || 0) + 1;
    const label = `${c.group}: ${c.name}`;
    try {
      assert.ok(r.status < 500, `no 5xx (${r.status} ${r.text.slice(0, 200)})`);
      assert.equal(r.status, c.status, r.text.slice(0, 300));
      if (c.code) {
        assert.equal(r.json?.error?.code, c.code, r.text.slice(0, 300));
        assert.match(r.json.error.message, c.message);
      }
      if (c.rejected) {
        assert.deepEqual(r.json.rejected.map((x) => x.index), c.rejected.map(([i]) => i), r.text.slice(0, 300));
        c.rejected.forEach(([, re], k) => assert.match(r.json.rejected[k].reason, re));
        assert.equal(r.json.accepted, c.accepted || 0);
      }
    } catch (e) {
      failures.push(`${label}: ${e.message.split('\n')[0]}`);
    }
  }
  assert.deepEqual(failures, [], `${failures.length} of ${cases.length} cases failed`);

  // A valid delivery after the rejected ones, stored once it shows: webhook
  // storage runs after the answer, so this orders the checks below after it.
  const sentinel = uniqueWaId();
  const ok = await postWebhook(w, delivery([textMessage({ waId: sentinel, text: 'sentinel' })], { waId: sentinel }));
  assert.equal(ok.status, 200);
  await timelineWhen(w, sentinel, (b) => b.events.length === 1, 'the sentinel chat');

  for (const c of cases) {
    for (const vis of c.visitors || []) {
      const r = await api(w, `/v1/journeys/${encodeURIComponent(vis)}`);
      assert.ok(r.status === 404 || r.status === 400, `${c.name}: visitor ${vis.slice(0, 40)} was stored (${r.status})`);
    }
    for (const waId of c.waIds || []) {
      assert.equal((await api(w, `/v1/profiles/${waId}/timeline`)).status, 404, `${c.name}: ${waId} was stored`);
    }
    for (const [vis, ids] of Object.entries(c.kept || {})) {
      const r = await api(w, `/v1/journeys/${vis}`);
      assert.equal(r.status, 200, `${c.name}: the good events were kept`);
      assert.deepEqual(r.body.events.map((e) => e.event_id).sort(), [...ids].sort(), c.name);
    }
  }
  const listed = (await api(w, '/v1/journeys?limit=500')).body.visitors.map((x) => x.visitor_id);
  const rejectedVisitors = cases.flatMap((c) => c.visitors || []);
  assert.deepEqual(listed.filter((x) => rejectedVisitors.includes(x)), [], 'no rejected visitor in the index');
  console.log(`corpus: ${cases.length} requests, statuses ${JSON.stringify(statuses)}`);
});

test('a link token changed by one byte links nobody, at any position, and the page view is kept', async () => {
  const waId = uniqueWaId();
  const chat = await postWebhook(w, delivery([textMessage({ waId, text: 'send me the link' })], { waId }));
  assert.equal(chat.status, 200);
  await timelineWhen(w, waId, (b) => b.events.length === 1, 'the chat');
  const minted = await api(w, '/v1/links', {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: 'https://shop.example/', wa_id: waId }),
  });
  assert.equal(minted.status, 200);
  const { token } = minted.body;
  // Every position, each changed to another URL-safe character, in one batch.
  const visitor = uniqueVisitor('tamper');
  const events = [...token].map((ch, i) => {
    const swap = ch === 'a' ? 'b' : ch === '.' ? '-' : 'a';
    const t = token.slice(0, i) + swap + token.slice(i + 1);
    return oneEvent(visitor, (e) => { e.url = `https://shop.example/?tl=${t}`; e.event_id = `tamper${i}`; });
  });
  events.push(oneEvent(visitor, (e) => { e.url = `https://shop.example/?tl=+${token}`; e.event_id = 'tamperplus'; }));
  for (let i = 0; i < events.length; i += 50) {
    const part = events.slice(i, i + 50);
    const r = await send(collectReq(batch(part)));
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { accepted: part.length, rejected: [], duplicates: 0 });
  }
  const t = (await api(w, `/v1/profiles/${visitor}/timeline`)).body;
  assert.deepEqual(t.identities, [`v:${visitor}`], 'no tampered token linked the visitor');
  assert.equal((await api(w, `/v1/profiles/${waId}/timeline`)).body.events.length, 1, 'the WhatsApp profile gained nothing');
  // The untouched token does link (the check above is not vacuous).
  const real = uniqueVisitor('real');
  assert.equal((await send(collectReq(batch([oneEvent(real, (e) => { e.url = minted.body.url; })])))).status, 200);
  await timelineWhen(w, waId, (b) => b.identities.includes(`v:${real}`), 'the real token to link');
});

test('the same batch sent three times is stored once, the retries counted as duplicates', async () => {
  const visitor = uniqueVisitor('replay');
  const body = batch([oneEvent(visitor), oneEvent(visitor, () => {}, 'scroll'), oneEvent(visitor, () => {}, 'search')]);
  const answers = [];
  for (let i = 0; i < 3; i += 1) answers.push((await send(collectReq(body))).json);
  assert.deepEqual(answers.map((a) => [a.accepted, a.duplicates]), [[3, 0], [0, 3], [0, 3]]);
  // Sent concurrently as well: still once.
  const concurrent = await Promise.all([1, 2, 3].map(() => send(collectReq(body))));
  assert.deepEqual(concurrent.map((a) => a.json.accepted), [0, 0, 0]);
  const t = await api(w, `/v1/journeys/${visitor}`);
  assert.equal(t.body.events.length, 3);
  const server = batch([serverEvent(`ORD-REPLAY-${visitor}`, { phone: '+91 98000 12345' })]);
  const s = [];
  for (let i = 0; i < 3; i += 1) s.push((await send(eventsReq(server))).json);
  assert.deepEqual(s.map((a) => [a.accepted, a.duplicates]), [[1, 0], [0, 1], [0, 1]]);
});

test('the same WhatsApp message delivered twice, and in two deliveries, is stored once', async () => {
  const waId = uniqueWaId();
  const msg = textMessage({ waId, text: 'Is COD available?' });
  const body = JSON.stringify(delivery([msg], { waId }));
  for (let i = 0; i < 2; i += 1) assert.equal((await postWebhook(w, body)).status, 200);
  // Meta may also batch an already-sent message with a new one.
  const second = textMessage({ waId, text: 'and for KURTA-001?' });
  assert.equal((await postWebhook(w, delivery([msg, second], { waId }))).status, 200);
  const t = await timelineWhen(w, waId, (b) => b.events.length >= 2, 'both messages');
  // Settle: a late duplicate would show within the sentinel's round trip.
  const sentinel = uniqueWaId();
  await postWebhook(w, delivery([textMessage({ waId: sentinel, text: 's' })], { waId: sentinel }));
  await timelineWhen(w, sentinel, (b) => b.events.length === 1, 'the sentinel');
  const after = (await api(w, `/v1/profiles/${waId}/timeline`)).body;
  assert.equal(after.events.length, 2, JSON.stringify(after.events.map((e) => e.event_id)));
  assert.equal(new Set(after.events.map((e) => e.event_id)).size, 2);
  assert.equal(t.profile_id, after.profile_id);
});
