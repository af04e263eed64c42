// The journey dashboard in headless Chromium: sign in with the API key, find
// the seed-journey person by order id, read the timeline rows (order, times,
// channels, sources) in the DOM, switch the attribution model and see the
// campaign table change. A screenshot is saved to tests/output/dashboard.png.
//
// The seed journey of PRODUCT.md is produced here with explicit times (Meta's
// signed webhook for the ad chat, server events for the visit and the order),
// so the times on screen can be checked to the minute, in India's time zone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { worker, api, waitFor, ROOT } from './support/worker.mjs';
import { launch } from './support/browser.mjs';
import { CTWA_AD, delivery, postWebhook, serverEvents, textMessage, timelineWhen, uniqueWaId } from './support/meta.mjs';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const IST = 5.5 * HOUR;
const OUTPUT = join(ROOT, 'tests', 'output');

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

// Two days ago, at a wall-clock time in India.
const DAY0 = Math.floor((Date.now() - 2 * DAY) / DAY) * DAY;
const at = (hh, mm, dayOffset = 0) => DAY0 + dayOffset * DAY + (hh * 60 + mm) * MIN - IST;

async function seedJourney() {
  const waId = uniqueWaId();
  const run = waId;
  const orderId = `ORD-SEED-${run}`;
  const visitor = `vseed${run}`;
  const hi = await postWebhook(w, delivery([
    textMessage({ waId, text: 'Hi, tell me about the blue kurta', at: at(10, 32), referral: CTWA_AD }),
  ], { waId, name: 'Asha Verma' }));
  assert.equal(hi.status, 200);
  const cod = await postWebhook(w, delivery([textMessage({ waId, text: 'Is COD available?', at: at(10, 33) })], { waId, name: 'Asha Verma' }));
  assert.equal(cod.status, 200);
  await timelineWhen(w, waId, (b) => b.events.length === 2, 'both chat messages');
  let n = 0;
  const web = (time, data, extra = {}) => ({ schema: 1, site_id: 'test', visitor_id: visitor, event_id: `${visitor}_${n++}`, ts: time, data, ...extra });
  const r = await serverEvents(w, [
    web(at(11, 5), { kind: 'page_view', title: 'Cotton kurta' }, { url: 'https://shop.example/products/kurta', person: { wa_id: waId } }),
    web(at(11, 5) + 2000, { kind: 'product_view', sku: 'KURTA-001', name: 'Cotton Kurta' }),
    web(at(11, 8), { kind: 'page_view', title: 'Silk saree' }, { url: 'https://shop.example/products/saree' }),
    web(at(11, 8) + 2000, { kind: 'product_view', sku: 'SAREE-002', name: 'Silk Saree' }),
    web(at(11, 12), { kind: 'checkout_step', step: 'address' }),
    web(at(11, 14), { kind: 'checkout_step', step: 'payment' }),
    web(at(11, 16), { kind: 'order', order_id: orderId, value: 1499, currency: 'INR', payment_method: 'cod' }, { person: { wa_id: waId, order_id: orderId } }),
  ]);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body.rejected, []);
  await timelineWhen(w, waId, (b) => b.events.length === 9, 'the whole seed journey on one profile');
  return { waId, orderId };
}

// A second person whose order the models credit differently: an Instagram
// reel visit a day before a "brand + discount" search ad click and an order.
async function reelThenSearch() {
  const v = `vreel${Date.now().toString(36)}`;
  const r = await serverEvents(w, [
    { schema: 1, site_id: 'test', visitor_id: v, event_id: `${v}_1`, ts: at(9, 0, -1), url: 'https://shop.example/', data: { kind: 'page_view', attribution: { utm_source: 'instagram', utm_medium: 'social', utm_campaign: 'reels_nov', igshid: 'ig1' } } },
    { schema: 1, site_id: 'test', visitor_id: v, event_id: `${v}_2`, ts: at(12, 0), data: { kind: 'paid_search', term: 'saathi discount', engine: 'google', campaign: 'brand_discount' } },
    { schema: 1, site_id: 'test', visitor_id: v, event_id: `${v}_3`, ts: at(12, 10), data: { kind: 'order', order_id: `${v}-o`, value: 999, currency: 'INR', payment_method: 'upi' } },
  ]);
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

test('the dashboard shows the seed journey as a timeline and its campaign table follows the attribution model', async () => {
  const { orderId } = await seedJourney();
  await reelThenSearch();
  // Reports are written off the request path; wait until both orders count.
  await waitFor(async () => (await api(w, '/v1/reports/campaigns?model=last_touch')).body?.totals.orders === 2, { timeout: 20_000, what: 'both orders in the campaign report' });
  await waitFor(async () => (await api(w, '/v1/signals')).body?.signals.some((s) => s.rule === 'whatsapp_question'), { timeout: 20_000, what: 'the COD question\'s signal' });

  const context = await browser.newContext({ timezoneId: 'Asia/Kolkata', locale: 'en-IN', viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const external = [];
  page.on('request', (req) => { if (!req.url().startsWith(w.url)) external.push(req.url()); });
  await page.goto(`${w.url}/dashboard/`);

  // A wrong key is refused with a message; the right one opens the dashboard.
  await page.fill('#key', 'not-the-key');
  await page.click('#signin-form button');
  await page.waitForFunction(() => document.querySelector('#signin-error').textContent.includes('not accepted'));
  await page.fill('#key', w.apiKey);
  await page.click('#signin-form button');
  await page.waitForSelector('#app:not([hidden])');

  // Find the person by the order id.
  await page.fill('#who', orderId);
  await page.click('#find button');
  await page.waitForFunction(() => document.querySelectorAll('#timeline li.tp:not(.signal)').length === 10, null, { timeout: 10_000 });
  const rows = await page.$$eval('#timeline li.tp:not(.signal)', (lis) => lis.map((li) => ({
    time: li.querySelector('time').firstChild.textContent,
    channel: li.dataset.channel,
    icon: li.querySelector('.icon').getAttribute('aria-label'),
    action: li.querySelector('.action').textContent,
    src: li.querySelector('.src')?.textContent || '',
    credit: li.querySelector('.credit')?.textContent || '',
  })));
  assert.deepEqual(rows.map((r) => [r.time, r.channel, r.action]), [
    ['10:32', 'ads', `Ad clicked: “${CTWA_AD.headline}”`],
    ['10:32', 'whatsapp', 'WhatsApp message: “Hi, tell me about the blue kurta”'],
    ['10:33', 'whatsapp', 'WhatsApp message: “Is COD available?”'],
    ['11:05', 'web', 'Visited /products/kurta'],
    ['11:05', 'web', 'Viewed product Cotton Kurta'],
    ['11:08', 'web', 'Visited /products/saree'],
    ['11:08', 'web', 'Viewed product Silk Saree'],
    ['11:12', 'web', 'Checkout: address'],
    ['11:14', 'web', 'Checkout: payment'],
    ['11:16', 'offline', `Order ${orderId} 1499 INR, cod`],
  ]);
  assert.equal(rows[0].icon, 'Ad');
  assert.equal(rows[1].icon, 'WhatsApp');
  assert.equal(rows[0].src, `Meta click-to-WhatsApp ad · campaign ${CTWA_AD.source_id}`);
  assert.equal(rows[9].credit, `Credited to Meta click-to-WhatsApp ad · campaign ${CTWA_AD.source_id}`);
  // The COD question raised an intent signal, shown inline after it.
  const signal = await page.$('#timeline li.signal[data-rule=whatsapp_question]');
  assert.ok(signal, 'the whatsapp_question signal is on the timeline');
  const order = await page.$$eval('#timeline li', (lis) => lis.map((li) => li.dataset.rule || li.dataset.action));
  assert.ok(order.indexOf('whatsapp_question') > 1 && order.indexOf('whatsapp_question') < order.indexOf('page_view'), order.join(' '));

  // The campaign table under last touch, then first touch.
  const revenueOf = () => page.$$eval('#campaigns tbody tr', (trs) => Object.fromEntries(trs.map((tr) => {
    const td = [...tr.querySelectorAll('td')].map((x) => x.textContent);
    return [td[2], td[6]];
  })));
  await page.waitForFunction(() => document.querySelector('#campaigns').dataset.model === 'last_touch' && document.querySelectorAll('#campaigns tbody tr').length > 0);
  const last = await revenueOf();
  assert.match(last.brand_discount, /999/);
  assert.match(last.reels_nov, /0$/);
  assert.match(last[CTWA_AD.source_id], /1,499/);
  await page.click('label:has(input[value=first_touch])');
  await page.waitForFunction(() => document.querySelector('#campaigns').dataset.model === 'first_touch');
  const first = await revenueOf();
  assert.match(first.reels_nov, /999/);
  assert.match(first.brand_discount, /0$/);
  assert.match(first[CTWA_AD.source_id], /1,499/);

  // The funnel chart and the cohort grid are drawn.
  await page.waitForSelector('#funnel svg rect');
  await page.waitForSelector('#cohorts tbody tr');
  await page.waitForSelector('#feed li');

  mkdirSync(OUTPUT, { recursive: true });
  await page.screenshot({ path: join(OUTPUT, 'dashboard.png'), fullPage: true });
  assert.deepEqual(errors, [], 'no exception reached the page');
  assert.deepEqual(external, [], 'nothing is loaded from outside the collector');
  await context.close();
});
