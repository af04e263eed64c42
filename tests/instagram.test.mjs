// Instagram as a channel, against the real Worker: the Instagram messaging
// webhook (signed, acting as Meta, META-FORMATS.md §5), a Direct conversation
// opened by a click-to-Direct ad, the chat link an agent sends in it opened in
// Chromium as Instagram's in-app browser, an order three days after the ad, and
// the campaign report under every model; ig.me links that join a web visitor;
// engagement exported by the business; bad input.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { worker, api, waitFor, VERIFY_TOKEN } from './support/worker.mjs';
import { launch, trackerReady } from './support/browser.mjs';
import { collect, postWebhook, serverEvents, timelineWhen } from './support/meta.mjs';
import { fixture, uniqueVisitor } from './support/fixtures.mjs';

const PATH = '/webhooks/instagram';
const DAY = 86_400_000;
const ACCOUNT = '17800000000000001';
// Instagram's in-app browser on Android: Chrome's user agent plus "Instagram <version>".
const IG_UA = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 '
  + 'Chrome/126.0.6478.122 Mobile Safari/537.36 Instagram 345.0.0.48.95 Android (34/14; 420dpi; 1080x2205; en_US)';

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

let n = 0;
const uniqueIgsid = () => `99${Date.now().toString().slice(-9)}${String(++n).padStart(4, '0')}`;
const uniqueMid = () => `TEST_IG_MID_${Date.now().toString(36)}_${++n}`;
const uniqueAd = () => `3${Date.now().toString().slice(-10)}${String(++n).padStart(4, '0')}`;

function igDelivery(messaging) {
  return { object: 'instagram', entry: [{ id: ACCOUNT, time: Date.now(), messaging }] };
}
function igMessage({ igsid, at, mid = uniqueMid(), text, referral, extra = {} }) {
  const message = { mid, ...extra };
  if (text !== undefined) message.text = text;
  if (referral) message.referral = referral;
  return { sender: { id: igsid }, recipient: { id: ACCOUNT }, timestamp: Math.floor(at), message };
}
const adReferral = (adId) => ({
  ref: 'spring-promo', ad_id: adId, source: 'ADS', type: 'OPEN_THREAD',
  ads_context_data: { ad_title: 'Festive kurtas', photo_url: 'https://example.invalid/ig-ad.jpg' },
});
const post = (payload, opts = {}) => postWebhook(w, payload, { path: PATH, ...opts });
const json = (body) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const igEvents = (t) => t.events.filter((e) => e.data.kind === 'instagram_inbound');

test('the verification handshake echoes the challenge for the right token only', async () => {
  const ok = await fetch(`${w.url}${PATH}?hub.mode=subscribe&hub.challenge=ig-42_x&hub.verify_token=${VERIFY_TOKEN}`);
  assert.equal(ok.status, 200);
  assert.equal(await ok.text(), 'ig-42_x');
  const wrong = await fetch(`${w.url}${PATH}?hub.mode=subscribe&hub.challenge=1&hub.verify_token=guess`);
  assert.equal(wrong.status, 403);
  assert.equal((await wrong.json()).error.code, 'forbidden');
});

test('click-to-Direct ad, chat link opened in the Instagram in-app browser, order three days later: one profile, the ad credited under first-touch, linear and time-decay', async (t) => {
  const igsid = uniqueIgsid();
  const adId = uniqueAd();
  const orderAt = Date.now();
  const adAt = orderAt - 3 * DAY; // the first touch, three days before the order

  // Meta delivers the first Direct message, opened from the ad (ms timestamps).
  const r = await post(igDelivery([igMessage({ igsid, at: adAt, text: 'Is the blue kurta still available?', referral: adReferral(adId) })]));
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, { received: 1, stored: 1, duplicates: 0, skipped: [] });
  const chat = await timelineWhen(w, `ig:${igsid}`, (b) => igEvents(b).length === 1, 'the Direct message');
  const [click, message] = chat.touchpoints;
  assert.deepEqual([click.channel, click.action, click.source, click.campaign], ['instagram', 'ad_click', 'instagram_ad', adId]);
  assert.deepEqual([message.channel, message.action, message.detail], ['instagram', 'message', 'Is the blue kurta still available?']);
  assert.equal(message.ad.headline, 'Festive kurtas');
  assert.equal(message.time, adAt, 'the message keeps Meta\'s millisecond timestamp');
  assert.equal(igEvents(chat)[0].data.referral.ref, 'spring-promo');

  // The agent replies with a signed chat link for this Instagram user.
  const link = await api(w, '/v1/links', json({ url: `${w.url}/products/kurta`, igsid }));
  assert.equal(link.status, 200, JSON.stringify(link.body));
  assert.match(link.body.url, new RegExp(`\\?tl=1\\.\\d+\\.[0-9a-f]{32}\\.ig:${igsid}$`));

  // The customer opens it inside Instagram: Chromium with the in-app user agent.
  const context = await browser.newContext({ userAgent: IG_UA });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(link.body.url);
  await trackerReady(page);
  assert.equal(await page.evaluate(() => navigator.userAgent), IG_UA);
  const visitor = await page.evaluate(() => localStorage.getItem('tl_vid'));
  await page.evaluate(() => window.touchline('flush'));
  await context.close();
  assert.deepEqual(errors, []);
  const joined = await timelineWhen(w, `ig:${igsid}`, (b) => b.events.some((e) => e.data.kind === 'page_view'), 'the visit on the Instagram profile', { timeout: 20_000 });
  const view = joined.events.find((e) => e.data.kind === 'page_view');
  assert.equal(view.visitor_id, visitor);
  assert.equal(view.data.attribution.referrer_class, 'instagram', 'the in-app browser is Instagram traffic');
  assert.ok(joined.identities.includes(`v:${visitor}`) && joined.identities.includes(`ig:${igsid}`));

  // Three days after the ad, after the visit, the shop reports the order
  // (explicit timestamp; a transit time is not taken for a wrong clock).
  const orderTs = Date.now();
  const order = await serverEvents(w, [{
    schema: 1, site_id: 'test', event_id: `ig-order-${igsid}`, ts: orderTs, visitor_id: visitor,
    data: { kind: 'order', order_id: `ORD-IG-${igsid}`, value: 1499, currency: 'INR', payment_method: 'cod' },
  }], { sentAt: orderTs });
  assert.equal(order.status, 200, JSON.stringify(order.body));
  const tl = await timelineWhen(w, visitor, (b) => b.events.some((e) => e.data.kind === 'order'), 'the order');
  assert.equal(tl.profile_id, joined.profile_id, 'one profile: the Direct chat, the visit and the order');
  const credited = tl.touchpoints.find((p) => p.action === 'order').attributed_to;
  assert.deepEqual([credited.channel, credited.source, credited.campaign], ['instagram', 'instagram_ad', adId]);
  for (const p of tl.touchpoints) {
    t.diagnostic(`${new Date(p.time).toISOString().slice(5, 19)} ${p.channel.padEnd(9)} ${p.action.padEnd(10)} ${p.source ?? ''} ${p.campaign ?? ''} ${p.detail ?? ''}`);
  }

  // The campaign report credits the Instagram ad under every model that should.
  const range = `from=${adAt - DAY}&to=${orderAt + DAY}&currency=INR`;
  const adRow = async (model) => {
    const rep = await api(w, `/v1/reports/campaigns?model=${model}&${range}`);
    assert.equal(rep.status, 200, JSON.stringify(rep.body));
    return { row: rep.body.rows.find((x) => x.campaign === adId), rows: rep.body.rows };
  };
  const first = await waitFor(async () => {
    const { row } = await adRow('first_touch');
    return row?.orders === 1 && row;
  }, { timeout: 15_000, what: 'the order in the campaign report' });
  assert.deepEqual([first.channel, first.source, first.ad], ['instagram', 'instagram_ad', adId]);
  assert.equal(first.revenue, 1499);
  for (const model of ['linear', 'time_decay']) {
    const { row, rows } = await adRow(model);
    assert.ok(row.orders > 0.3 && row.orders < 1, `${model}: the ad shares the credit (${row.orders})`);
    // The rest goes to the organic Instagram visit, never to another channel.
    const visitorRows = rows.filter((x) => x.channel === 'instagram' && x.source === 'instagram' && x.campaign === '');
    assert.ok(visitorRows.length === 1, `${model}: the in-app visit is credited as organic Instagram`);
    t.diagnostic(`${model}: ad ${row.orders.toFixed(3)} orders, ${row.revenue.toFixed(2)} INR`);
  }
  const funnel = await api(w, `/v1/reports/funnel?steps=instagram_inbound,page_view,order&window=7d&group_by=channel&from=${adAt - DAY}&to=${orderAt + DAY}`);
  assert.equal(funnel.status, 200, JSON.stringify(funnel.body));
  const ig = funnel.body.groups.find((g) => g.group === 'instagram');
  assert.ok(ig && ig.steps[2].count >= 1, 'Instagram is its own channel in funnels');
});

test('a forged or missing signature is refused with 401 and nothing is stored', async () => {
  const igsid = uniqueIgsid();
  const payload = igDelivery([igMessage({ igsid, at: Date.now(), text: 'hi' })]);
  const forged = await post(payload, { secret: 'not-the-app-secret' });
  assert.equal(forged.status, 401);
  assert.equal(forged.body.error.code, 'bad_signature');
  const missing = await post(payload, { signature: null });
  assert.equal(missing.status, 401);
  const tampered = await post(JSON.stringify(payload).replace('"hi"', '"ho"'), { signature: (await import('./support/meta.mjs')).sign(JSON.stringify(payload)) });
  assert.equal(tampered.status, 401);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await api(w, `/v1/profiles/ig:${igsid}/timeline`)).status, 404, 'nothing was stored');
  const bad = await post('{"object":"instagram"');
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, 'malformed_webhook');
});

test('unknown event types, echoes, missing referral fields and duplicate message ids are acknowledged and stored at most once', async () => {
  const igsid = uniqueIgsid();
  const now = Date.now();
  const mid = uniqueMid();
  const payload = igDelivery([
    { sender: { id: igsid }, recipient: { id: ACCOUNT }, timestamp: now, read: { mid: 'x' } },
    { sender: { id: igsid }, recipient: { id: ACCOUNT }, timestamp: now, teleport: { to: 'mars' } },
    { sender: { id: ACCOUNT }, recipient: { id: igsid }, timestamp: now, message: { mid: uniqueMid(), text: 'our reply', is_echo: true } },
    { sender: { id: igsid }, recipient: { id: ACCOUNT }, timestamp: now, referral: { source: 'ADS', type: 'OPEN_THREAD' } },
    igMessage({ igsid, at: now - 1000, mid, text: 'hello', referral: { source: 'ADS', type: 'OPEN_THREAD' } }),
    igMessage({ igsid, at: now - 1000, mid, text: 'hello', referral: { source: 'ADS', type: 'OPEN_THREAD' } }),
  ]);
  const r = await post(payload);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.received, 2);
  assert.equal(r.body.stored, 1, 'the same mid twice in one delivery is stored once');
  assert.equal(r.body.duplicates, 1);
  const reasons = r.body.skipped.join('\n');
  assert.match(reasons, /messaging\[0\]: messaging event `read` ignored/);
  assert.match(reasons, /messaging\[1\]: messaging event `teleport` ignored/);
  assert.match(reasons, /messaging\[2\]: echo of a message the business sent/);
  assert.match(reasons, /messaging\[3\]\.referral: referral names no ad_id or ref/);
  assert.match(reasons, /messaging\[4\]\.referral: referral names no ad_id or ref/);
  const again = await post(payload);
  assert.equal(again.status, 200);
  assert.deepEqual([again.body.stored, again.body.duplicates], [0, 2], 'Meta\'s redelivery is stored once');
  const tl = await timelineWhen(w, `ig:${igsid}`, (b) => igEvents(b).length >= 1, 'the message');
  assert.equal(igEvents(tl).length, 1);
  assert.equal(igEvents(tl)[0].data.referral, undefined, 'a referral without ad_id or ref is dropped, the message kept');
  assert.deepEqual(tl.touchpoints.map((p) => [p.channel, p.action, p.source]), [['instagram', 'message', 'instagram']]);
});

test('an ig.me link minted for a web visitor joins the Direct conversation it opens to that visitor; a forged ref joins nobody', async () => {
  const visitor = uniqueVisitor();
  assert.equal((await collect(w, [fixture('page_view', { visitor, ts: Date.now() - 5000 })])).body.accepted, 1);
  const minted = await api(w, '/v1/links', json({ ig_username: 'touchline.shop', visitor_id: visitor }));
  assert.equal(minted.status, 200, JSON.stringify(minted.body));
  const url = new URL(minted.body.url);
  assert.equal(`${url.origin}${url.pathname}`, 'https://ig.me/m/touchline.shop');
  const ref = url.searchParams.get('ref');
  assert.match(ref, /^[A-Za-z0-9_=-]+$/, 'only characters Meta allows in a ref');

  // The visitor already talks to the shop: Meta sends a messaging_referral.
  const igsid = uniqueIgsid();
  const r = await post(igDelivery([{ sender: { id: igsid }, recipient: { id: ACCOUNT }, timestamp: Date.now(),
    referral: { ref, source: 'IGME-SOURCE-LINK', type: 'OPEN_THREAD' } }]));
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.stored, 1);
  const tl = await timelineWhen(w, visitor, (b) => igEvents(b).length === 1, 'the referral on the visitor\'s profile');
  assert.ok(tl.identities.includes(`ig:${igsid}`));
  const opened = tl.touchpoints.find((p) => p.action === 'link_open');
  assert.deepEqual([opened.channel, opened.source, opened.campaign], ['instagram', 'instagram', undefined], 'a stitching ref is not a campaign');

  // A ref altered by hand names nobody; a plain ref is a campaign label.
  const other = uniqueIgsid();
  const forged = ref.replace(/.$/, (c) => (c === 'a' ? 'b' : 'a'));
  await post(igDelivery([{ sender: { id: other }, timestamp: Date.now(), referral: { ref: forged, source: 'IGME-SOURCE-LINK' } }]));
  const alone = await timelineWhen(w, `ig:${other}`, (b) => igEvents(b).length === 1, 'the forged referral');
  assert.notEqual(alone.profile_id, tl.profile_id);
  assert.ok(!alone.identities.some((k) => k.startsWith('v:')));
  const poster = uniqueIgsid();
  await post(igDelivery([{ sender: { id: poster }, timestamp: Date.now(), postback: { mid: uniqueMid(), title: 'Do you ship to Pune?', payload: 'SHIP', referral: { ref: 'poster-mumbai', source: 'SHORTLINKS', type: 'OPEN_THREAD' } } }]));
  const p = await timelineWhen(w, `ig:${poster}`, (b) => igEvents(b).length === 1, 'the Icebreaker tap');
  assert.deepEqual(p.touchpoints.map((x) => [x.action, x.source, x.campaign, x.detail]), [['icebreaker', 'ig_me', 'poster-mumbai', 'Do you ship to Pune?']]);

  const bad = await api(w, '/v1/links', json({ ig_username: 'no/slash', visitor_id: visitor }));
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, 'bad_link_request');
});

test('reel views and story replies a business exports attach to the Instagram profile by igsid', async () => {
  const igsid = uniqueIgsid();
  await post(igDelivery([igMessage({ igsid, at: Date.now() - 60_000, text: 'hi' })]));
  await timelineWhen(w, `ig:${igsid}`, (b) => igEvents(b).length === 1, 'the chat');
  const r = await serverEvents(w, [
    { schema: 1, site_id: 'test', event_id: `reel-${igsid}`, ts: Date.now() - 30_000, person: { igsid },
      data: { kind: 'instagram', action: 'reel_view', media_id: '17900000000000001' } },
    { schema: 1, site_id: 'test', event_id: `story-${igsid}`, ts: Date.now() - 20_000, person: { igsid },
      data: { kind: 'instagram', action: 'story_reply', text: 'love it', campaign: 'diwali-stories' } },
    { schema: 1, site_id: 'test', event_id: `bad-${igsid}`, ts: Date.now(), person: { igsid: 'not an id' },
      data: { kind: 'instagram', action: 'reel_view' } },
  ]);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.accepted, 2);
  assert.match(r.body.rejected[0].reason, /^person\.igsid:/);
  const tl = await timelineWhen(w, `ig:${igsid}`, (b) => b.events.length === 3, 'the exported engagement');
  const got = tl.touchpoints.filter((p) => p.channel === 'instagram' && p.action !== 'message').map((p) => [p.action, p.source, p.campaign]);
  assert.deepEqual(got, [['reel_view', 'instagram_reel', undefined], ['story_reply', 'instagram_story', 'diwali-stories']]);
});

test('web traffic from Instagram: in-app user agent, igsh, and tagged reel links are classified by the core', async () => {
  const visitor = uniqueVisitor();
  const inApp = fixture('page_view', { visitor, ts: Date.now() - 3000 });
  inApp.data.attribution = { referrer_class: 'direct' };
  const res = await fetch(`${w.url}/v1/collect`, {
    method: 'POST', headers: { 'content-type': 'text/plain', 'user-agent': IG_UA },
    body: JSON.stringify({ sent_at: Date.now(), events: [inApp] }),
  });
  assert.equal((await res.json()).accepted, 1);
  const reel = fixture('page_view', { visitor, ts: Date.now() - 2000 });
  reel.url = 'https://shop.example/?utm_source=instagram&utm_medium=paid_social&utm_campaign=reels_nov&utm_placement=reels&fbclid=F';
  reel.data.attribution = { utm_source: 'instagram', utm_medium: 'paid_social', utm_campaign: 'reels_nov', fbclid: 'F', referrer_class: 'instagram' };
  assert.equal((await collect(w, [reel])).body.accepted, 1);
  const tl = await timelineWhen(w, visitor, (b) => b.events.length === 2, 'both visits');
  assert.equal(tl.events[0].data.attribution.referrer_class, 'instagram');
  assert.deepEqual(tl.touchpoints.map((p) => [p.channel, p.source, p.campaign]), [
    ['web', 'instagram', undefined],
    ['instagram', 'instagram_reel', 'reels_nov'],
  ]);

  // A shared post's link (`igsh`) opened in a desktop browser, with the real tracker.
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${w.url}/?igsh=MWx0ZHN4`);
  await trackerReady(page);
  const shared = await page.evaluate(() => localStorage.getItem('tl_vid'));
  await page.evaluate(() => window.touchline('flush'));
  await context.close();
  const s = await timelineWhen(w, shared, (b) => b.events.some((e) => e.data.kind === 'page_view'), 'the shared-link visit');
  const pv = s.events.find((e) => e.data.kind === 'page_view');
  assert.equal(pv.data.attribution.igshid, 'MWx0ZHN4');
  assert.equal(pv.data.attribution.referrer_class, 'instagram');
  const first = s.touchpoints.find((p) => p.action === 'page_view');
  assert.deepEqual([first.channel, first.source], ['instagram', 'instagram']);
});
