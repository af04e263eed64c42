// POST /v1/collect and the journey API against the real Worker: good input is
// stored once, bad input gets the right status and a reason naming the field.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { worker, api } from './support/worker.mjs';
import { fixture, BROWSER_KINDS, SERVER_KINDS, uniqueVisitor } from './support/fixtures.mjs';

let w;
before(async () => { w = await worker(); });
after(async () => { await w?.stop(); });

async function collect(body, { contentType = 'text/plain;charset=UTF-8', headers = {} } = {}) {
  const res = await fetch(`${w.url}/v1/collect`, {
    method: 'POST',
    headers: { 'content-type': contentType, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json(), headers: res.headers };
}

const timeline = async (visitor) => api(w, `/v1/journeys/${visitor}`);

test('every browser kind of the golden fixtures is accepted and stored once', async () => {
  const visitor = uniqueVisitor();
  const events = BROWSER_KINDS.map((k, i) => fixture(k, { visitor, ts: Date.now() - 1000 + i }));
  const r = await collect({ sent_at: Date.now(), events });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { accepted: BROWSER_KINDS.length, rejected: [], duplicates: 0 });
  const t = await timeline(visitor);
  assert.equal(t.status, 200);
  assert.deepEqual(t.body.events.map((e) => e.data.kind), BROWSER_KINDS);
});

test('server-only kinds sent by a browser are rejected with the endpoint to use', async () => {
  const visitor = uniqueVisitor();
  const events = SERVER_KINDS.map((k) => fixture(k, { visitor }));
  for (const e of events) e.url = 'https://shop.example/';
  const r = await collect({ sent_at: Date.now(), events });
  assert.equal(r.status, 400);
  assert.equal(r.body.accepted, 0);
  assert.deepEqual(r.body.rejected.map((x) => x.reason), SERVER_KINDS.map(
    (k) => `data.kind: \`${k}\` is accepted only from servers, on POST /v1/events`,
  ));
  assert.equal((await timeline(visitor)).status, 404, 'nothing stored');
});

test('a replayed batch is counted as duplicates and stored once', async () => {
  const visitor = uniqueVisitor();
  const events = [fixture('page_view', { visitor }), fixture('order', { visitor })];
  assert.deepEqual((await collect({ events })).body, { accepted: 2, rejected: [], duplicates: 0 });
  assert.deepEqual((await collect({ events })).body, { accepted: 0, rejected: [], duplicates: 2 });
  assert.equal((await timeline(visitor)).body.events.length, 2);
});

test('a mixed batch keeps its valid events and names each bad one by index', async () => {
  const visitor = uniqueVisitor();
  const good1 = fixture('page_view', { visitor, ts: Date.now() - 2 });
  const unknownKind = fixture('search', { visitor });
  unknownKind.data.kind = 'teleport';
  const missing = fixture('product_view', { visitor });
  delete missing.data.sku;
  const tooLong = fixture('search', { visitor });
  tooLong.data.query = 'q'.repeat(257);
  const wrongType = fixture('order', { visitor });
  wrongType.data.value = 'a lot';
  const good2 = fixture('checkout_step', { visitor, ts: Date.now() - 1 });
  const r = await collect({ events: [good1, unknownKind, missing, tooLong, wrongType, good2] });
  assert.equal(r.status, 200);
  assert.equal(r.body.accepted, 2);
  assert.deepEqual(r.body.rejected.map((x) => x.index), [1, 2, 3, 4]);
  const [kind, miss, long, type] = r.body.rejected.map((x) => x.reason);
  assert.match(kind, /^data\.kind: unknown variant `teleport`/);
  assert.match(miss, /^data: missing field `sku`/);
  assert.match(long, /^data\.query: is 257 bytes; the limit is 256/);
  assert.match(type, /^data\.value: invalid type: string "a lot"/);
  const t = await timeline(visitor);
  assert.deepEqual(t.body.events.map((e) => e.event_id), [good1.event_id, good2.event_id]);
});

test('a batch whose every event is bad answers 400 with the reasons', async () => {
  const bad = fixture('page_view');
  delete bad.visitor_id;
  const r = await collect({ events: [bad] });
  assert.equal(r.status, 400);
  assert.deepEqual(r.body.rejected, [{ index: 0, reason: 'missing field `visitor_id`' }]);
});

test('events past the batch limit are rejected one by one, the first 100 kept', async () => {
  const visitor = uniqueVisitor();
  const events = Array.from({ length: 102 }, (_, i) => fixture('scroll', { visitor, id: `e${i}` }));
  const r = await collect({ events });
  assert.equal(r.status, 200);
  assert.equal(r.body.accepted, 100);
  assert.deepEqual(r.body.rejected.map((x) => x.index), [100, 101]);
  assert.match(r.body.rejected[0].reason, /more than 100 events/);
});

test('malformed JSON is a 400 with a reason', async () => {
  const r = await collect('{"events": [');
  assert.equal(r.status, 400);
  assert.equal(r.body.error.code, 'malformed_batch');
  assert.match(r.body.error.message, /EOF while parsing/);
  const r2 = await collect({ events: 'nope' });
  assert.equal(r2.status, 400);
  assert.match(r2.body.error.message, /events: invalid type/);
});

test('an oversized body is a 413, whether or not it declares its length', async () => {
  const big = JSON.stringify({ events: [fixture('search')], pad: 'x'.repeat(70_000) });
  const r = await collect(big);
  assert.equal(r.status, 413);
  assert.equal(r.body.error.code, 'payload_too_large');
  assert.match(r.body.error.message, /the limit is 65536/);
  // Chunked (no Content-Length): the body is measured after reading.
  const stream = new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode(big)); c.close(); } });
  const res = await fetch(`${w.url}/v1/collect`, {
    method: 'POST', headers: { 'content-type': 'text/plain' }, body: stream, duplex: 'half',
  });
  assert.equal(res.status, 413);
});

test('a wrong content type is a 415 that says what is accepted', async () => {
  const r = await collect({ events: [fixture('search')] }, { contentType: 'application/x-www-form-urlencoded' });
  assert.equal(r.status, 415);
  assert.match(r.body.error.message, /text\/plain or application\/json/);
});

test('an unknown site and a foreign origin are rejected per event', async () => {
  const visitor = uniqueVisitor();
  const r = await collect({ events: [fixture('search', { visitor, site: 'nosuchsite' })] });
  assert.deepEqual(r.body.rejected, [{ index: 0, reason: 'site_id: unknown site `nosuchsite`' }]);
  const r2 = await collect({ events: [fixture('search', { visitor, site: 'demo' })] }, {
    headers: { origin: 'https://evil.example' },
  });
  assert.equal(r2.status, 400);
  assert.match(r2.body.rejected[0].reason, /origin https:\/\/evil\.example is not allowed/);
});

test('CORS: allowed origins are echoed and preflight is answered', async () => {
  const origin = new URL(w.url).origin;
  const r = await collect({ events: [fixture('search', { site: 'demo' })] }, { headers: { origin } });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('access-control-allow-origin'), origin);
  const pre = await fetch(`${w.url}/v1/collect`, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
  });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get('access-control-allow-origin'), origin);
  assert.match(pre.headers.get('access-control-allow-methods'), /POST/);
});

test('the journey API needs the right bearer key', async () => {
  const visitor = uniqueVisitor();
  await collect({ events: [fixture('search', { visitor })] });
  const none = await fetch(`${w.url}/v1/journeys/${visitor}`);
  assert.equal(none.status, 401);
  assert.equal((await none.json()).error.code, 'unauthorized');
  const wrong = await fetch(`${w.url}/v1/journeys/${visitor}`, { headers: { authorization: 'Bearer nope' } });
  assert.equal(wrong.status, 401);
  const list = await fetch(`${w.url}/v1/journeys`, { headers: { authorization: 'Basic x' } });
  assert.equal(list.status, 401);
  assert.equal((await timeline(visitor)).status, 200);
});

test('the journey API answers 404 for an unknown visitor and 400 for a bad id', async () => {
  const r = await timeline(uniqueVisitor());
  assert.equal(r.status, 404);
  assert.equal(r.body.error.code, 'not_found');
  const bad = await api(w, `/v1/journeys/${'x'.repeat(65)}`);
  assert.equal(bad.status, 400);
  assert.match(bad.body.error.message, /visitor_id: must be 1 to 64/);
  const limit = await api(w, '/v1/journeys?limit=0');
  assert.equal(limit.status, 400);
});

test('the visitor list shows recently seen visitors', async () => {
  const visitor = uniqueVisitor();
  await collect({ events: [fixture('page_view', { visitor })] });
  // The D1 index is written after the response (wait_until), so poll.
  const deadline = Date.now() + 5000;
  let found;
  while (!found && Date.now() < deadline) {
    const r = await api(w, '/v1/journeys?limit=500');
    assert.equal(r.status, 200);
    found = r.body.visitors.find((v) => v.visitor_id === visitor);
    if (!found) await new Promise((res) => setTimeout(res, 100));
  }
  assert.ok(found, 'visitor listed');
  assert.equal(found.events, 1);
  assert.equal(found.site_id, 'test');
});

test('the tracker is served compressed, typed, cacheable and revalidatable', async () => {
  const js = await fetch(`${w.url}/t.js`, { headers: { 'accept-encoding': 'br' } });
  assert.equal(js.status, 200);
  assert.equal(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
  assert.equal(js.headers.get('content-encoding'), 'br');
  assert.match(js.headers.get('cache-control'), /max-age=300/);
  const text = await js.text(); // fetch decodes brotli
  const version = text.match(/t\.wasm\?v=([0-9a-f]{16})/)?.[1];
  assert.ok(version, 'the loader names the wasm by version');
  const wasm = await fetch(`${w.url}/t.wasm?v=${version}`, { headers: { 'accept-encoding': 'gzip' } });
  assert.equal(wasm.headers.get('content-type'), 'application/wasm');
  assert.equal(wasm.headers.get('content-encoding'), 'gzip');
  assert.match(wasm.headers.get('cache-control'), /immutable/);
  assert.ok(WebAssembly.validate(new Uint8Array(await wasm.arrayBuffer())));
  const etag = js.headers.get('etag');
  const again = await fetch(`${w.url}/t.js`, { headers: { 'if-none-match': etag } });
  assert.equal(again.status, 304);
});

test('unknown routes answer a JSON 404', async () => {
  const r = await fetch(`${w.url}/v1/nothing-here`);
  assert.equal(r.status, 404);
  assert.equal((await r.json()).error.code, 'not_found');
});
