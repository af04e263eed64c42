// Predicted purchase intent and friction against the real Worker: a site with
// no conversions shows the "not enough data" state; generated history (server
// events and signed WhatsApp webhooks, 1-5 days old) is loaded and the model
// trained; then two fresh journeys in headless Chromium on the demo shop, one
// like past buyers (pricing twice, a product, checkout to the address step)
// and one like past bouncers (the home page only): the first scores higher,
// fires `predicted_intent`, and the dashboard lists it with its reasons.
// Bad input: unknown site, bad parameters, one-event and extreme profiles.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startWorker, api, waitFor, ROOT } from './support/worker.mjs';
import { launch, trackerReady } from './support/browser.mjs';
import { delivery, postWebhook, serverEvents, textMessage } from './support/meta.mjs';
import { prng } from './support/fixtures.mjs';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const RULES = [
  { id: 'predicted_intent', when: 'predicted_intent', threshold: 0.5, cooldown_ms: DAY, action: 'Call them: they look like past buyers' },
];

let w;
let browser;
before(async () => {
  w = await startWorker({ vars: { RULES }, testScheduled: true });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await w?.stop();
});

/**
 * The generating process of the history: 60 planners (pricing twice, on one
 * or two days, a product, cart, address, payment; 80% then order), 80
 * browsers (the home page, half a product, a fifth the cart; 10% order
 * anyway: noise), 20 chatters (ask "Is COD available?" on WhatsApp, reach the
 * payment step, leave). Returns how many converted.
 */
async function loadHistory() {
  const rnd = prng(7);
  const now = Date.now();
  let converters = 0;
  const base = (v, i) => now - (1 + (i % 4)) * DAY - (i % 17) * HOUR;
  for (let i = 0; i < 160; i++) {
    const v = `vhist${i}`;
    let n = 0;
    let t = base(v, i);
    const ev = (data, extra = {}) => ({ schema: 1, site_id: 'demo', visitor_id: v, session_id: extra.session || `${v}s1`, event_id: `${v}_${n++}`, ts: t, url: extra.url || 'https://shop.example/', data, ...(extra.person ? { person: extra.person } : {}) });
    const events = [];
    const step = (s) => { t += 2 * MIN; events.push(ev({ kind: 'checkout_step', step: s }, { session: `${v}s2`, url: `https://shop.example/checkout/${s}` })); };
    if (i < 60) {
      events.push(ev({ kind: 'page_view' }));
      t += MIN; events.push(ev({ kind: 'pricing_view', count_7d: 1 }, { url: 'https://shop.example/pricing' }));
      t += i % 2 ? 20 * HOUR : 3 * MIN; // half come back the next day, half stay
      events.push(ev({ kind: 'page_view' }, { session: `${v}s${1 + (i % 2)}`, url: 'https://shop.example/pricing' }));
      t += MIN; events.push(ev({ kind: 'pricing_view', count_7d: 2 }, { session: `${v}s2`, url: 'https://shop.example/pricing' }));
      t += MIN; events.push(ev({ kind: 'product_view', sku: 'KURTA-001' }, { session: `${v}s2`, url: 'https://shop.example/products/kurta' }));
      step('cart');
      step('address');
      step('payment');
      if (rnd() < 0.8) {
        t += MIN; events.push(ev({ kind: 'order', order_id: `ORD-H${i}`, value: 1499, currency: 'INR', payment_method: 'cod' }, { session: `${v}s2` }));
        converters++;
      }
    } else if (i < 140) {
      events.push(ev({ kind: 'page_view' }));
      if (rnd() < 0.5) { t += MIN; events.push(ev({ kind: 'product_view', sku: 'SAREE-002' }, { url: 'https://shop.example/products/saree' })); }
      if (rnd() < 0.2) step('cart');
      if (rnd() < 0.1) { t += 3 * MIN; events.push(ev({ kind: 'order', order_id: `ORD-H${i}`, value: 999, currency: 'INR' })); converters++; }
    } else {
      const waId = `9199${String(7000000 + i)}`;
      const r = await postWebhook(w, delivery([textMessage({ waId, text: 'Is COD available?', at: t })], { waId, name: `Chatter ${i}` }));
      assert.equal(r.status, 200);
      t += 5 * MIN;
      events.push(ev({ kind: 'page_view' }, { person: { wa_id: waId }, url: 'https://shop.example/products/kurta' }));
      step('cart');
      step('address');
      step('payment');
    }
    const r = await serverEvents(w, events);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.rejected, []);
  }
  return converters;
}

const predictions = (q = '') => api(w, `/v1/predictions?site=demo${q}`);

test('a site with no conversions yet answers with default weights and a clear not-enough-data state', async () => {
  const p = await predictions();
  assert.equal(p.status, 200, JSON.stringify(p.body));
  assert.equal(p.body.model.state, 'default');
  assert.equal(p.body.model.converters, 0);
  assert.equal(p.body.model.min_converters, 30);
  assert.match(p.body.model.message, /not enough data/);
  assert.deepEqual(p.body.profiles, []);
  const t = await api(w, '/v1/model/train?site=demo', { method: 'POST' });
  assert.equal(t.status, 200);
  assert.equal(t.body.model.state, 'default');
  const f = await api(w, '/v1/friction?site=demo');
  assert.equal(f.status, 200);
  assert.equal(f.body.report.enough_data, false);
  assert.match(f.body.report.note, /not enough data/);
  assert.ok(f.body.report.steps.every((s) => s.drop_off === 0));
});

test('bad parameters are refused with 4xx and a reason', async () => {
  const cases = [
    ['/v1/predictions?site=nope', 400, 'unknown_site'],
    ['/v1/predictions?site=demo&min_score=2', 400, 'bad_min_score'],
    ['/v1/predictions?site=demo&min_score=NaN', 400, 'bad_min_score'],
    ['/v1/predictions?site=demo&limit=0', 400, 'bad_limit'],
    ['/v1/predictions?site=demo&limit=100000', 400, 'bad_limit'],
    ['/v1/friction?site=demo&from=2026-13-01', 400, null],
    ['/v1/friction?site=' + 'x'.repeat(300), 400, 'unknown_site'],
  ];
  for (const [path, status, code] of cases) {
    const r = await api(w, path);
    assert.equal(r.status, status, `${path}: ${JSON.stringify(r.body)}`);
    assert.ok(r.body.error.message.length > 0);
    if (code) assert.equal(r.body.error.code, code, path);
  }
  const t = await api(w, '/v1/model/train?site=nope', { method: 'POST' });
  assert.equal(t.status, 400);
  const anon = await fetch(`${w.url}/v1/predictions?site=demo`);
  assert.equal(anon.status, 401);
});

let buyerProfile;

test('trained by the cron on generated history, a buyer-like Chromium journey outscores a bouncer-like one and fires predicted_intent', async () => {
  const converters = await loadHistory();
  // Prediction rows are written off the request path: run the cron (which
  // trains every site whose rows changed) until all of them count.
  const complete = (m) => m?.state === 'trained' && m.converters === converters && m.non_converters === 160 - converters;
  await waitFor(async () => {
    const cron = await fetch(`${w.url}/__scheduled?cron=*/5+*+*+*+*`);
    return cron.ok && complete((await predictions()).body?.model);
  }, { timeout: 60_000, interval: 1000, what: `the cron training a model on ${converters} converters` });
  const trained = await api(w, '/v1/model/train?site=demo', { method: 'POST' });
  assert.equal(trained.status, 200);
  assert.ok(complete(trained.body.model), JSON.stringify(trained.body));
  assert.match(trained.body.model.message, /trained on/);

  // Bouncer: the home page, then gone.
  const bctx = await browser.newContext();
  const bpage = await bctx.newPage();
  await bpage.goto(`${w.url}/`);
  await trackerReady(bpage);
  const bouncerVisitor = await bpage.evaluate(() => localStorage.getItem('tl_vid'));
  await bpage.evaluate(() => window.touchline('flush'));

  // Buyer: pricing, home, pricing again, a product, cart, address.
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  for (const path of ['/pricing', '/', '/pricing', '/products/kurta', '/checkout/cart']) {
    await page.goto(`${w.url}${path}`);
    await trackerReady(page);
  }
  await page.click('[data-testid=cart-continue]');
  await page.waitForURL('**/checkout/address');
  await trackerReady(page);
  const buyerVisitor = await page.evaluate(() => localStorage.getItem('tl_vid'));
  await page.evaluate(() => window.touchline('flush'));

  const profileOf = async (v) => waitFor(async () => (await api(w, `/v1/journeys/${v}`)).body?.profile_id, { what: `profile of ${v}` });
  buyerProfile = await profileOf(buyerVisitor);
  const bouncerProfile = await profileOf(bouncerVisitor);
  const both = await waitFor(async () => {
    const p = await predictions('&limit=500');
    const buyer = p.body?.profiles.find((x) => x.profile_id === buyerProfile);
    const bouncer = p.body?.profiles.find((x) => x.profile_id === bouncerProfile);
    return buyer?.reasons.includes('reached the address step') && bouncer && { buyer, bouncer, body: p.body };
  }, { timeout: 30_000, what: 'both journeys scored, the buyer up to the address step' });
  assert.equal(both.body.model.state, 'trained');
  assert.ok(both.buyer.score > both.bouncer.score, `${both.buyer.score} > ${both.bouncer.score}`);
  console.log(`buyer ${both.buyer.score.toFixed(3)} (${both.buyer.reasons.join('; ')}), bouncer ${both.bouncer.score.toFixed(3)} (${both.bouncer.reasons.join('; ')})`);
  assert.ok(both.buyer.score > 0.5, `buyer ${both.buyer.score}`);
  assert.ok(both.bouncer.score < 0.3, `bouncer ${both.bouncer.score}`);
  assert.ok(both.buyer.reasons.some((r) => /viewed pricing \d+ times/.test(r)), both.buyer.reasons.join('; '));
  const ranks = both.body.profiles.map((x) => x.score);
  assert.deepEqual(ranks, [...ranks].sort((a, b) => b - a), 'best first');
  const high = await predictions(`&min_score=${both.buyer.score}`);
  assert.ok(high.body.profiles.every((x) => x.score >= both.buyer.score));
  assert.ok(high.body.profiles.some((x) => x.profile_id === buyerProfile));

  // The rule predicted_intent >= 0.5 sent a signal for the buyer, not the bouncer.
  const sig = await waitFor(async () => (await api(w, '/v1/signals')).body?.signals.find((s) => s.rule === 'predicted_intent' && s.profile_id === buyerProfile), { timeout: 20_000, what: 'the predicted_intent signal' });
  assert.ok(sig.score >= 0.5);
  const all = (await api(w, '/v1/signals')).body.signals;
  assert.ok(!all.some((s) => s.rule === 'predicted_intent' && s.profile_id === bouncerProfile));
  assert.deepEqual(errors, []);
  await ctx.close();
  await bctx.close();
});

test('friction shows where the generated journeys stopped and the COD question of those who left at payment', async () => {
  const f = await api(w, '/v1/friction?site=demo');
  assert.equal(f.status, 200);
  const r = f.body.report;
  assert.ok(r.enough_data);
  const payment = r.steps.find((s) => s.step === 'payment');
  assert.ok(payment.left >= 20, JSON.stringify(payment));
  assert.ok(payment.drop_off > 0 && payment.drop_off < 1);
  assert.ok(payment.median_ms_before_leaving >= 0);
  assert.equal(payment.questions[0].what, 'COD');
  assert.ok(payment.questions[0].count >= 20);
  assert.equal(payment.questions[0].examples.length, 3);
  assert.ok(payment.last_events[0].what.endsWith('payment step'), payment.last_events[0].what);
  const cart = r.steps.find((s) => s.step === 'cart');
  assert.ok(cart.left >= 1, JSON.stringify(cart));
  assert.ok(r.questions.some((q) => q.what === 'COD'));
});

test('the dashboard lists the open high-intent profile with its reasons, the model status and the friction view', async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${w.url}/dashboard/`);
  await page.fill('#key', w.apiKey);
  await page.click('#signin-form button');
  await page.waitForSelector('#app:not([hidden])');
  const row = await page.waitForSelector(`#predictions tbody tr[data-profile="${buyerProfile}"]`, { timeout: 15_000 });
  const text = await row.textContent();
  assert.match(text, /reached the address step/);
  assert.match(await page.textContent('#model-status'), /trained on \d+ converted/);
  // Sorting by score, lowest first, then back.
  const scores = () => page.$$eval('#predictions tbody tr', (trs) => trs.map((tr) => Number(tr.dataset.score)));
  const desc = await scores();
  assert.deepEqual(desc, [...desc].sort((a, b) => b - a));
  await page.click('#predictions th[data-sort=score]');
  await page.waitForFunction(() => document.querySelector('#predictions').dataset.order === 'asc');
  const asc = await scores();
  assert.deepEqual(asc, [...asc].sort((a, b) => a - b));
  await page.waitForSelector('#friction tbody tr[data-step=payment]');
  assert.match(await page.textContent('#friction tbody tr[data-step=payment]'), /COD/);
  mkdirSync(join(ROOT, 'tests', 'output'), { recursive: true });
  await page.screenshot({ path: join(ROOT, 'tests', 'output', 'predictions.png'), fullPage: true });
  assert.deepEqual(errors, []);
  await ctx.close();
});

test('a one-event profile and extreme values get finite scores in [0, 1]', async () => {
  const now = Date.now();
  const one = await serverEvents(w, [{ schema: 1, site_id: 'demo', visitor_id: 'vone', event_id: 'vone_1', ts: now - 2 * HOUR, url: 'https://shop.example/', data: { kind: 'page_view' } }]);
  assert.equal(one.status, 200);
  const big = 4294967295;
  const x = (n, data, url = 'https://shop.example/pricing') => ({ schema: 1, site_id: 'demo', visitor_id: 'vext', session_id: 'vexts', event_id: `vext_${n}`, ts: now - HOUR + n, url, data });
  const ext = await serverEvents(w, [
    x(1, { kind: 'pricing_view', count_7d: big }),
    x(2, { kind: 'scroll', depth_pct: 100 }),
    x(3, { kind: 'engagement', engaged_ms: big, total_ms: big }),
    x(4, { kind: 'checkout_step', step: 'zz-unknown-step' }),
  ]);
  assert.equal(ext.status, 200, JSON.stringify(ext.body));
  const got = await waitFor(async () => {
    const p = await predictions('&limit=500');
    const ids = await Promise.all(['vone', 'vext'].map(async (v) => (await api(w, `/v1/journeys/${v}`)).body?.profile_id));
    const rows = ids.map((id) => p.body.profiles.find((r) => r.profile_id === id));
    return rows.every(Boolean) && rows;
  }, { timeout: 20_000, what: 'both profiles scored' });
  for (const r of got) {
    assert.ok(Number.isFinite(r.score) && r.score >= 0 && r.score <= 1, JSON.stringify(r));
  }
});

test('a merge leaves one prediction row with both journeys in it, and deleting the profile removes it', async () => {
  const now = Date.now();
  const ev = (v, n, data, url = 'https://shop.example/pricing') => ({ schema: 1, site_id: 'demo', visitor_id: v, session_id: `${v}s`, event_id: `${v}_${n}`, ts: now - HOUR + n * MIN, url, data });
  const a = `vmergea${now.toString(36)}`;
  const b = `vmergeb${now.toString(36)}`;
  assert.equal((await serverEvents(w, [ev(a, 1, { kind: 'pricing_view', count_7d: 1 })])).status, 200);
  assert.equal((await serverEvents(w, [ev(b, 2, { kind: 'pricing_view', count_7d: 1 }), ev(b, 3, { kind: 'checkout_step', step: 'address' }, 'https://shop.example/checkout/address')])).status, 200);
  const ids = async () => Promise.all([a, b].map(async (v) => (await api(w, `/v1/journeys/${v}`)).body?.profile_id));
  const [pa, pb] = await waitFor(async () => { const x = await ids(); return x.every(Boolean) && x; }, { what: 'both profiles' });
  await waitFor(async () => {
    const p = (await predictions('&limit=500')).body.profiles;
    return p.some((x) => x.profile_id === pa) && p.some((x) => x.profile_id === pb);
  }, { what: 'both scored before the merge' });
  const m = await api(w, '/v1/profiles/merge', { method: 'POST', body: JSON.stringify({ ids: [a, b] }) });
  assert.equal(m.status, 200);
  const winner = m.body.profile_id;
  const loser = winner === pa ? pb : pa;
  const merged = await waitFor(async () => {
    const p = (await predictions('&limit=500')).body.profiles;
    const row = p.find((x) => x.profile_id === winner);
    return !p.some((x) => x.profile_id === loser) && row?.reasons.includes('viewed pricing 2 times') && row;
  }, { timeout: 20_000, what: 'one row for the merged profile, with both pricing views' });
  assert.ok(merged.reasons.includes('reached the address step'), merged.reasons.join('; '));
  const d = await api(w, `/v1/profiles/${winner}`, { method: 'DELETE' });
  assert.equal(d.status, 200);
  const after = (await predictions('&limit=500')).body.profiles;
  assert.ok(!after.some((x) => x.profile_id === winner || x.profile_id === loser));
});
