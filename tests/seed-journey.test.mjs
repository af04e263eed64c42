// The seed journey of PRODUCT.md, replayed with real components: Meta's webhook
// (signed, with a click-to-WhatsApp referral), the link API, headless Chromium
// running the real tracker on the demo shop, and the timeline API.
//
//   10:32  ad clicked -> "Hi, tell me about the blue kurta"   (webhook, payload time)
//   10:33  "Is COD available?"                                 (webhook, payload time)
//   11:05  the chat link is opened in the browser               (real time, "now")
//          two product pages viewed (kurta, then saree)
//   11:16  cash-on-delivery order placed through the demo shop  (real time)
//
// The chat messages carry Meta's timestamps, set 33 and 32 minutes before the
// browser visit; the web part runs in real time, so its minutes are compressed
// into seconds (the collector stamps browser events with its own clock).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { worker, api } from './support/worker.mjs';
import { launch, trackerReady } from './support/browser.mjs';
import { CTWA_AD, delivery, postWebhook, textMessage, timelineWhen, uniqueWaId } from './support/meta.mjs';

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

const MIN = 60_000;

test('the seed journey reads as one profile: ad, chat, link visit, two products, COD order credited to the ad', async (t) => {
  const waId = uniqueWaId();
  const visitAt = Date.now();
  const adAt = visitAt - 33 * MIN; // 10:32
  const codAt = visitAt - 32 * MIN; // 10:33

  // Meta delivers the first message, opened from the ad, then the question.
  const first = await postWebhook(w, delivery([
    textMessage({ waId, text: 'Hi, tell me about the blue kurta', at: adAt, referral: CTWA_AD }),
  ], { waId, name: 'Asha Verma' }));
  assert.equal(first.status, 200);
  const second = await postWebhook(w, delivery([textMessage({ waId, text: 'Is COD available?', at: codAt })], { waId, name: 'Asha Verma' }));
  assert.equal(second.status, 200);
  await timelineWhen(w, waId, (b) => b.events.length === 2, 'both chat messages');

  // The agent answers with a signed chat link minted by the API.
  const link = await api(w, '/v1/links', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url: `${w.url}/products/kurta`, wa_id: waId }),
  });
  assert.equal(link.status, 200);

  // 11:05: the customer opens it, compares two products and orders with COD.
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(link.body.url);
  await trackerReady(page);
  await page.click('[data-testid=compare]');
  await page.waitForURL('**/products/saree');
  await trackerReady(page);
  await page.click('[data-testid=add-to-cart]');
  await page.waitForURL('**/checkout/cart');
  await page.click('[data-testid=cart-continue]');
  await page.waitForURL('**/checkout/address');
  await page.fill('#name', 'Asha Verma');
  await page.fill('#phone', waId.slice(-10));
  await page.fill('#address', '12 MI Road, Jaipur');
  await page.fill('#pin', '302001');
  await page.click('[data-testid=to-payment]');
  await page.waitForURL('**/checkout/payment**');
  await page.check('[data-testid=pay-cod]');
  await page.click('[data-testid=place-order]');
  await page.waitForURL('**/checkout/confirmation**');
  await trackerReady(page);
  const orderId = await page.textContent('#order-id');
  await page.evaluate(() => window.touchline('flush'));
  await page.close();

  const tl = await timelineWhen(w, waId, (b) => b.events.some((e) => e.data.kind === 'order'), 'the order on the chat\'s profile', { timeout: 20_000 });

  // One profile holds the chat and the browser.
  const visitor = tl.events.find((e) => e.via === 'collect').visitor_id;
  assert.ok(tl.identities.includes(`wa:${waId}`));
  assert.ok(tl.identities.includes(`v:${visitor}`));
  assert.equal((await api(w, `/v1/profiles/${visitor}/timeline`)).body.profile_id, tl.profile_id);
  assert.equal((await api(w, `/v1/journeys/${visitor}`)).body.profile_id, tl.profile_id, 'the journeys alias agrees');

  // Everything in time order.
  const times = tl.touchpoints.map((p) => p.time);
  assert.deepEqual(times, [...times].sort((a, b) => a - b));
  for (const p of tl.touchpoints) {
    t.diagnostic(`${new Date(p.time).toISOString().slice(11, 19)} ${p.channel.padEnd(8)} ${p.action.padEnd(13)} ${p.campaign ?? ''} ${p.detail ?? ''}`);
  }

  // 10:32: the ad click and the chat it opened, with the ad's ids.
  const [click, hi, cod] = tl.touchpoints;
  assert.deepEqual([click.channel, click.action, click.campaign, click.time], ['ads', 'ad_click', CTWA_AD.source_id, Math.floor(adAt / 1000) * 1000]);
  assert.deepEqual([hi.channel, hi.action, hi.detail], ['whatsapp', 'message', 'Hi, tell me about the blue kurta']);
  assert.equal(hi.ad.source_id, CTWA_AD.source_id);
  assert.equal(hi.ad.ctwa_clid, CTWA_AD.ctwa_clid);
  assert.deepEqual([cod.channel, cod.detail, cod.time], ['whatsapp', 'Is COD available?', Math.floor(codAt / 1000) * 1000]);

  // 11:05: the visit, two product pages, in order, after the chat.
  const web = tl.touchpoints.filter((p) => p.channel === 'web');
  const views = web.filter((p) => p.action === 'page_view').map((p) => p.detail);
  assert.deepEqual(views.slice(0, 2), ['/products/kurta', '/products/saree']);
  assert.ok(web[0].time >= visitAt - 1000 && web[0].time > cod.time);

  // 11:16: the COD order, after every visit and chat (only the dwell time of
  // the confirmation page, sent as the tab closes, may follow it), credited to
  // the ad that started the chat.
  const order = tl.touchpoints.find((p) => p.action === 'order');
  assert.ok(order, 'an order');
  const after = tl.touchpoints.slice(tl.touchpoints.indexOf(order) + 1);
  assert.deepEqual(after.filter((p) => !['engagement', 'scroll'].includes(p.action)), [], 'nothing but page metrics after the order');
  assert.equal(order.channel, 'web');
  assert.match(order.detail, new RegExp(`^${orderId} 1499 INR, cod$`));
  assert.equal(order.attributed_to.channel, 'ads');
  assert.equal(order.attributed_to.campaign, CTWA_AD.source_id);
  assert.equal(order.attributed_to.ctwa_clid, CTWA_AD.ctwa_clid);
  assert.deepEqual(order.attributed_to.evidence, hi.evidence);
  assert.deepEqual(errors, [], 'no exception reached the page');
  await context.close();
});
