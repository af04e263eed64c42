// Intent signals from a real browser session: the tracker in headless
// Chromium on the demo shop, the real Worker, and a local webhook receiver.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker, waitFor } from './support/worker.mjs';
import { startReceiver, validSignature } from './support/receiver.mjs';
import { launch, trackerReady } from './support/browser.mjs';

const SECRET = 'whsec_browser';
const ABANDON_MS = 3000;
const RULES = [
  { id: 'repeat_pricing_view', when: 'repeat_pricing_view', min_views: 2, window_ms: 7 * 86_400_000, cooldown_ms: 86_400_000, action: 'Send a pricing offer' },
  { id: 'checkout_abandoned', when: 'checkout_abandoned', steps: ['address', 'payment'], delay_ms: ABANDON_MS, cooldown_ms: 86_400_000, action: 'Need help completing your order?' },
];

let w, rx, browser;
before(async () => {
  rx = await startReceiver(() => 200);
  w = await startWorker({ vars: { WEBHOOK_URLS: [`${rx.url}/hook`], WEBHOOK_SECRET: SECRET, RULES } });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await w?.stop();
  await rx?.close();
});

async function shopper() {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  return { context, page, errors };
}

const signalsFor = (ids, rule) => rx.requests.filter((r) => r.json?.rule === rule && r.json.evidence.some((e) => ids.has(e)));

/** The tracker's visitor id, which the journeys API resolves to the profile. */
const visitorId = (page) => page.evaluate(() => localStorage.getItem('tl_vid'));

test('viewing the pricing page twice in the browser sends repeat_pricing_view with both views as evidence', async () => {
  const { context, page, errors } = await shopper();
  await page.goto(`${w.url}/pricing`);
  await trackerReady(page);
  await page.goto(`${w.url}/`);
  await trackerReady(page);
  await page.click('[data-testid=nav-pricing]');
  await page.waitForURL('**/pricing');
  await trackerReady(page);
  const visitor = await visitorId(page);
  await page.evaluate(() => window.touchline('flush'));
  const hit = await waitFor(() => rx.requests.find((r) => r.json?.rule === 'repeat_pricing_view'), { timeout: 15_000, what: 'repeat_pricing_view' });
  assert.equal(hit.json.evidence.length, 2);
  assert.ok(validSignature(hit, SECRET));
  const tl = await fetch(`${w.url}/v1/journeys/${visitor}`, { headers: { authorization: `Bearer ${w.apiKey}` } }).then((r) => r.json());
  const pricing = tl.events.filter((e) => e.data.kind === 'pricing_view').map((e) => e.event_id);
  assert.deepEqual(hit.json.evidence, pricing.slice(0, 2), 'the two pricing views, oldest first');
  assert.equal(hit.json.profile_id, tl.profile_id);
  assert.deepEqual(errors, []);
  await context.close();
});

test('reaching the address step in the browser and leaving sends checkout_abandoned after the alarm', async () => {
  const { context, page } = await shopper();
  await page.goto(`${w.url}/checkout/cart`);
  await trackerReady(page);
  await page.click('[data-testid=cart-continue]');
  await page.waitForURL('**/checkout/address');
  await trackerReady(page);
  const visitor = await visitorId(page);
  await page.close(); // leaves: the step goes out with the page-hide beacon
  const tl = await waitFor(async () => {
    const r = await fetch(`${w.url}/v1/journeys/${visitor}`, { headers: { authorization: `Bearer ${w.apiKey}` } });
    const b = r.status === 200 ? await r.json() : null;
    return b?.events.some((e) => e.data.kind === 'checkout_step' && e.data.step === 'address') && b;
  }, { what: 'the address step stored' });
  const step = tl.events.find((e) => e.data.kind === 'checkout_step' && e.data.step === 'address');
  const hit = await waitFor(() => signalsFor(new Set([step.event_id]), 'checkout_abandoned')[0], { timeout: 15_000, what: 'checkout_abandoned' });
  assert.ok(hit.at - step.received_at >= ABANDON_MS - 1000, 'not before the delay');
  assert.equal(hit.json.action, 'Need help completing your order?');
  await context.close();
});

test('an order placed in the browser before the alarm means no abandonment signal', async () => {
  const { context, page } = await shopper();
  await page.goto(`${w.url}/checkout/address`);
  await trackerReady(page);
  await page.click('[data-testid=to-payment]');
  await page.waitForURL('**/checkout/payment**');
  await page.click('[data-testid=place-order]');
  await page.waitForURL('**/checkout/confirmation**');
  await trackerReady(page);
  const visitor = await visitorId(page);
  await page.evaluate(() => window.touchline('flush'));
  const tl = await waitFor(async () => {
    const r = await fetch(`${w.url}/v1/journeys/${visitor}`, { headers: { authorization: `Bearer ${w.apiKey}` } });
    const b = r.status === 200 ? await r.json() : null;
    return b?.events.some((e) => e.data.kind === 'order') && b;
  }, { what: 'the order stored' });
  const steps = new Set(tl.events.filter((e) => e.data.kind === 'checkout_step').map((e) => e.event_id));
  assert.ok(steps.size >= 1);
  // Let the alarm's time pass, proven by a control shopper who does abandon.
  const control = await shopper();
  await control.page.goto(`${w.url}/checkout/address`);
  await trackerReady(control.page);
  const controlVisitor = await visitorId(control.page);
  await control.page.close();
  await waitFor(async () => {
    const r = await fetch(`${w.url}/v1/journeys/${controlVisitor}`, { headers: { authorization: `Bearer ${w.apiKey}` } });
    const b = r.status === 200 ? await r.json() : null;
    const ids = new Set((b?.events || []).map((e) => e.event_id));
    return signalsFor(ids, 'checkout_abandoned').length > 0;
  }, { timeout: 20_000, what: 'the control abandonment' });
  assert.equal(signalsFor(steps, 'checkout_abandoned').length, 0);
  await context.close();
  await control.context.close();
});
