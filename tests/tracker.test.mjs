// End to end: the wasm tracker in a real Chromium, browsing the demo shop
// served by the real Worker; what it captures arrives in the visitor's
// timeline complete, in order and once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { worker, api, waitFor } from './support/worker.mjs';
import { launch, trackerReady } from './support/browser.mjs';

let w;
let browser;
before(async () => {
  w = await worker();
  // bfcache on (Playwright disables it by default); see shared/BROWSER-TESTING.md §4.
  browser = await launch({ ignoreDefaultArgs: ['--disable-back-forward-cache'] });
});
after(async () => {
  await browser?.close();
  await w?.stop();
});

async function timeline(visitor, until, what) {
  return waitFor(async () => {
    const r = await api(w, `/v1/journeys/${visitor}`);
    return r.status === 200 && until(r.body.events) && r.body.events;
  }, { timeout: 15_000, what });
}

async function visitorOf(page) {
  return waitFor(() => page.evaluate(() => localStorage.getItem('tl_vid')), { what: 'a visitor id' });
}

const kinds = (events) => events.map((e) => e.data.kind);

test('a shop session from a click-to-WhatsApp ad arrives complete and in order', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));

  await page.goto(`${w.url}/?utm_source=meta&utm_medium=paid_social&utm_campaign=diwali&ctwa_clid=ARAkLkA8`);
  await trackerReady(page);
  const visitor = await visitorOf(page);
  await page.click('[data-testid=product-kurta]');
  await page.waitForURL('**/products/kurta');
  await trackerReady(page);
  await page.click('[data-testid=compare]');
  await page.waitForURL('**/products/saree');
  await trackerReady(page);
  await page.click('[data-testid=nav-pricing]');
  await page.waitForURL('**/pricing');
  await trackerReady(page);
  await page.evaluate(() => scrollTo(0, document.documentElement.scrollHeight * 0.8 - innerHeight));
  await page.waitForFunction(() => scrollY > 0);
  await page.goto(`${w.url}/products/kurta`);
  await trackerReady(page);
  await page.click('[data-testid=nav-pricing]');
  await page.waitForURL('**/pricing');
  await trackerReady(page);
  await page.reload(); // the same page again: a third view
  await trackerReady(page);
  await page.goto(`${w.url}/checkout/cart`);
  await trackerReady(page);
  await page.click('[data-testid=cart-continue]');
  await page.waitForURL('**/checkout/address');
  await trackerReady(page);
  await page.close(); // leave: the last events go with sendBeacon on pagehide

  const arrived = await timeline(
    visitor,
    (evs) => evs.some((e) => e.data.kind === 'checkout_step' && e.data.step === 'address')
      && evs.filter((e) => e.data.kind === 'engagement').length >= 1,
    'the session up to the address step',
  );
  // The collector orders a timeline by clock-corrected time, which can swap
  // events a few ms apart that travelled in different batches; the tracker's
  // per-visitor sequence number is the order in which they happened.
  const events = [...arrived].sort((a, b) => a.seq - b.seq);
  const views = events.filter((e) => e.data.kind === 'page_view');
  assert.deepEqual(views.map((e) => new URL(e.url).pathname), [
    '/', '/products/kurta', '/products/saree', '/pricing', '/products/kurta', '/pricing', '/pricing',
    '/checkout/cart', '/checkout/address',
  ]);
  const landing = views[0].data.attribution;
  assert.equal(landing.utm_campaign, 'diwali');
  assert.equal(landing.ctwa_clid, 'ARAkLkA8');
  assert.equal(landing.referrer_class, 'whatsapp');

  const products = events.filter((e) => e.data.kind === 'product_view');
  assert.deepEqual(products.map((e) => [e.data.sku, e.data.distinct_in_session]),
    [['KURTA-001', 1], ['SAREE-002', 2], ['KURTA-001', 2]], 'two different products: a comparison');
  assert.equal(products[0].data.price, 1499);
  assert.equal(products[0].data.currency, 'INR');

  const pricing = events.filter((e) => e.data.kind === 'pricing_view');
  assert.deepEqual(pricing.map((e) => e.data.count_7d), [1, 2, 3]);

  const steps = events.filter((e) => e.data.kind === 'checkout_step').map((e) => e.data.step);
  assert.deepEqual(steps, ['cart', 'address'], 'each step once, though announced by meta tag and section');

  const scroll = events.filter((e) => e.data.kind === 'scroll' && new URL(e.url).pathname === '/pricing');
  assert.ok(scroll.some((e) => e.data.milestone === 75), 'the pricing page was read to 75 %');

  // Complete (no gap in the sequence), once each, one session.
  const seqs = events.map((e) => e.seq);
  assert.deepEqual(seqs, seqs.map((_, i) => seqs[0] + i), 'no event missing');
  assert.equal(new Set(events.map((e) => e.event_id)).size, events.length);
  assert.equal(new Set(events.map((e) => e.session_id)).size, 1);
  const k = kinds(events);
  assert.ok(k.indexOf('pricing_view') < k.lastIndexOf('checkout_step'));
  assert.deepEqual(errors, [], 'no exception reached the page');
  await context.close();
});

test('events tracked right before navigation arrive', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${w.url}/checkout/payment`);
  await trackerReady(page);
  const visitor = await visitorOf(page);
  // Tracked and immediately navigated away: no batch timer will ever fire.
  await page.evaluate(() => {
    window.touchline('checkout', { step: 'review' });
    setTimeout(() => { location.href = '/'; }, 0);
  });
  await page.waitForURL(`${w.url}/`);
  const events = await timeline(
    visitor,
    (evs) => evs.some((e) => e.data.kind === 'checkout_step' && e.data.step === 'review'),
    'the step tracked right before leaving',
  );
  assert.deepEqual(events.filter((e) => e.data.kind === 'checkout_step').map((e) => e.data.step), ['payment', 'review']);
  await context.close();
});

test('events sent while the collector is unreachable are delivered once when it is back', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${w.url}/products/saree`);
  await trackerReady(page);
  const visitor = await visitorOf(page);
  await page.evaluate(() => window.touchline('flush'));
  await timeline(visitor, (evs) => evs.some((e) => e.data.kind === 'product_view'), 'the first page');

  const isCollect = (u) => new URL(u).pathname === '/v1/collect';
  await page.route(isCollect, (r) => r.abort());
  await page.evaluate(() => {
    window.touchline('checkout', { step: 'offline-1' });
    window.touchline('checkout', { step: 'offline-2' });
    window.touchline('flush');
  });
  await page.waitForFunction(() => (localStorage.getItem('tl_q') || '').includes('offline-2'), null, { timeout: 10_000 });
  await page.unroute(isCollect);
  await context.setOffline(true);
  await context.setOffline(false); // 'online': the queue is sent now, not after the backoff

  const events = await timeline(
    visitor,
    (evs) => evs.filter((e) => e.data.kind === 'checkout_step').length >= 2,
    'the queued steps',
  );
  await page.waitForFunction(() => !localStorage.getItem('tl_q'), null, { timeout: 10_000 });
  const again = (await api(w, `/v1/journeys/${visitor}`)).body.events;
  const steps = again.filter((e) => e.data.kind === 'checkout_step').map((e) => e.data.step);
  assert.deepEqual(steps, ['offline-1', 'offline-2'], 'each queued event once');
  assert.ok(events.length <= again.length);
  await context.close();
});

test('a back/forward-cache restore is a new page view', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${w.url}/products/kurta`);
  await trackerReady(page);
  const visitor = await visitorOf(page);
  await page.goto(`${w.url}/pricing`);
  await trackerReady(page);
  await page.goBack({ waitUntil: 'commit' }); // a bfcache restore fires no load event
  await page.waitForURL('**/products/kurta', { waitUntil: 'commit' });
  await page.waitForFunction(() => window.touchline && window.touchline.ready === true);
  await page.evaluate(() => window.touchline('flush'));
  const events = await timeline(
    visitor,
    (evs) => evs.filter((e) => e.data.kind === 'page_view').length >= 3,
    'three page views',
  );
  const views = events.filter((e) => e.data.kind === 'page_view').map((e) => new URL(e.url).pathname);
  assert.deepEqual(views, ['/products/kurta', '/pricing', '/products/kurta']);
  await context.close();
});

test('a WhatsApp link click is decorated with the reference that its event carries', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${w.url}/products/kurta`);
  await trackerReady(page);
  const visitor = await visitorOf(page);
  // Do not really open WhatsApp: keep the tab, as a new-tab link would.
  await page.evaluate(() => document.querySelector('[data-testid=wa-ask]')
    .addEventListener('click', (e) => e.preventDefault()));
  const original = await page.evaluate(() => document.querySelector('[data-testid=wa-ask]').href);
  await page.click('[data-testid=wa-ask]');
  const href = await page.getAttribute('[data-testid=wa-ask]', 'href');
  const text = new URL(href).searchParams.get('text');
  const token = text.match(/\[ref:(tl-[0-9a-f]{10})\]$/)?.[1];
  assert.ok(token, text);
  await page.evaluate(() => window.touchline('flush'));
  const events = await timeline(visitor, (evs) => evs.some((e) => e.data.kind === 'whatsapp_click'), 'the click');
  const click = events.find((e) => e.data.kind === 'whatsapp_click');
  assert.equal(click.data.reference, token);
  // The event names the shop's link; the token travels beside it.
  assert.equal(click.data.target, original);
  assert.notEqual(href, original);
  await context.close();
});
