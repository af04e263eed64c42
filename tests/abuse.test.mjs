// Abuse: bots and crawlers are filtered and counted, not stored; one address
// sending too fast gets 429 with Retry-After.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker, api, waitFor } from './support/worker.mjs';
import { fixture, uniqueVisitor } from './support/fixtures.mjs';

let w;
// A low per-address limit (the production one is 600 per 10 s), so reaching it
// does not depend on how fast this machine can send.
const IP_LIMIT = 20;
before(async () => { w = await startWorker({ rateLimits: { RL_IP: IP_LIMIT } }); });
after(async () => { await w?.stop(); });

const post = (events, ua) => fetch(`${w.url}/v1/collect`, {
  method: 'POST',
  headers: { 'content-type': 'text/plain', ...(ua === undefined ? {} : { 'user-agent': ua }) },
  body: JSON.stringify({ events }),
});

async function counter(kind) {
  const r = await api(w, '/v1/stats');
  assert.equal(r.status, 200);
  return r.body.counters.filter((c) => c.kind === kind).reduce((n, c) => n + c.count, 0);
}

test('crawlers, link previewers and headless browsers are filtered and counted, not stored', async () => {
  const before = await counter('bot_batches');
  const uas = [
    'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
    'facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)',
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36',
    '',
  ];
  for (const ua of uas) {
    const visitor = uniqueVisitor('bot');
    const r = await post([fixture('page_view', { visitor })], ua);
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { accepted: 0, rejected: [], duplicates: 0, filtered: 'bot' });
    assert.equal((await api(w, `/v1/journeys/${visitor}`)).status, 404, `nothing stored for ${ua}`);
  }
  assert.equal(await counter('bot_batches') - before, uas.length);
  const human = uniqueVisitor();
  const ok = await post([fixture('page_view', { visitor: human })], 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1');
  assert.equal((await ok.json()).accepted, 1);
});

test('an address sending faster than its limit gets 429 with Retry-After, and is counted', async () => {
  const before = await counter('rate_limited');
  const body = JSON.stringify({ events: [] });
  let limited = null;
  let sent = 0;
  // Bounded: at most 10 x the limit, 4 at a time.
  while (!limited && sent < 10 * IP_LIMIT) {
    const batch = await Promise.all(Array.from({ length: 4 }, () => fetch(`${w.url}/v1/collect`, {
      method: 'POST', headers: { 'content-type': 'text/plain', 'user-agent': 'Mozilla/5.0 Firefox/127.0' }, body,
    })));
    sent += batch.length;
    limited = batch.find((r) => r.status === 429) || null;
    for (const r of batch) if (r !== limited) await r.arrayBuffer();
  }
  assert.ok(limited, `a 429 within ${sent} requests`);
  assert.equal(limited.headers.get('retry-after'), '10');
  const err = await limited.json();
  assert.equal(err.error.code, 'too_many_requests');
  assert.match(err.error.message, /retry after 10 s/);
  await waitFor(async () => (await counter('rate_limited')) > before, { what: 'the rate-limit counter' });
});

test('the stats API needs the key', async () => {
  assert.equal((await fetch(`${w.url}/v1/stats`)).status, 401);
});
