// End to end: a real Chromium browses the demo shop served by the real Worker;
// the tracker's events arrive in the visitor's Durable Object timeline.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { worker, api, waitFor } from './support/worker.mjs';
import { launch, trackerReady } from './support/browser.mjs';

let w;
let browser;
before(async () => {
  w = await worker();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await w?.stop();
});

async function journey(visitor, count, kind) {
  return waitFor(async () => {
    const r = await api(w, `/v1/journeys/${visitor}`);
    const n = r.status === 200 && r.body.events.filter((e) => !kind || e.data.kind === kind).length;
    return n >= count && r.body.events;
  }, { timeout: 10_000, what: `${count} ${kind || 'events'} for ${visitor}` });
}

test('a campaign visit to product and pricing pages arrives as three ordered page views, once each', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));

  await page.goto(`${w.url}/?utm_source=meta&utm_campaign=diwali&fbclid=X`);
  await trackerReady(page);
  const visitor = await page.evaluate(() => localStorage.getItem('tl_vid'));
  assert.match(visitor, /^v[0-9a-f]{32}$/);

  await page.click('[data-testid=product-kurta]');
  await page.waitForURL('**/products/kurta');
  await trackerReady(page);
  await page.click('[data-testid=nav-pricing]');
  await page.waitForURL('**/pricing');
  await trackerReady(page);
  await page.close(); // the last page view leaves with sendBeacon on pagehide

  // The tracker also sends product, pricing, scroll and engagement events.
  const events = await journey(visitor, 3, 'page_view');
  const views = events.filter((e) => e.data.kind === 'page_view');
  assert.deepEqual(views.map((e) => new URL(e.url).pathname), ['/', '/products/kurta', '/pricing']);
  const landing = views[0];
  assert.equal(landing.data.attribution.utm_source, 'meta');
  assert.equal(landing.data.attribution.utm_campaign, 'diwali');
  assert.equal(landing.data.attribution.fbclid, 'X');
  assert.equal(landing.data.attribution.referrer_class, 'facebook');
  assert.equal(views[1].data.attribution, undefined, 'internal navigation carries no campaign');
  assert.equal(views[1].referrer, `${w.url}/?utm_source=meta&utm_campaign=diwali&fbclid=X`);
  assert.equal(new Set(views.map((e) => e.session_id)).size, 1, 'one session');
  assert.deepEqual(views.map((e) => e.seq), [...views.map((e) => e.seq)].sort((a, b) => a - b));

  // Nothing twice, even after late beacons have had time to land.
  await new Promise((r) => setTimeout(r, 1500));
  const again = (await api(w, `/v1/journeys/${visitor}`)).body.events;
  assert.equal(again.filter((e) => e.data.kind === 'page_view').length, views.length);
  assert.equal(new Set(again.map((e) => e.event_id)).size, again.length);
  assert.deepEqual(errors, [], 'no exception reached the page');
  await context.close();
});

test('commands queued before the wasm loads are replayed in order (order with COD)', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${w.url}/checkout/confirmation?payment=cod`);
  await trackerReady(page);
  const visitor = await page.evaluate(() => localStorage.getItem('tl_vid'));
  await page.evaluate(() => window.touchline('flush'));
  const events = await journey(visitor, 2);
  const order = events.find((e) => e.data.kind === 'order');
  assert.ok(order, 'order recorded');
  assert.equal(order.data.payment_method, 'cod');
  assert.equal(order.data.currency, 'INR');
  assert.equal(order.data.value, 1499);
  assert.match(order.data.order_id, /^ORD-\d+$/);
  const kinds = events.map((e) => e.data.kind);
  assert.ok(kinds.indexOf('page_view') < kinds.indexOf('order'), 'page view, then the queued order');
  await context.close();
});

test('a page whose wasm cannot load still works and throws nothing', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.route('**/t.wasm*', (route) => route.abort());
  await page.goto(`${w.url}/products/saree`);
  await page.evaluate(() => window.touchline('order', { id: 'X', value: 1 }));
  await page.click('[data-testid=add-to-cart]');
  await page.waitForURL('**/checkout/cart');
  assert.deepEqual(errors, []);
  await context.close();
});
