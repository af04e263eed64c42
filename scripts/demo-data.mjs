#!/usr/bin/env node
// Fills a running collector with realistic journeys through its public APIs:
// the signed WhatsApp webhook (click-to-WhatsApp ads, organic chats, COD
// questions), POST /v1/events (visits, product views, checkout steps, orders,
// Instagram and search-ad clicks) and POST /v1/spend. Deterministic (seeded
// PRNG); times spread over the past 6 days (the collector accepts events up to
// 7 days old). Skips when the demo person is already there.
//
//   npm run demo-data                 # against http://127.0.0.1:8787 (npm start)
//   node scripts/demo-data.mjs --url http://127.0.0.1:8787 --force
import { createHmac } from 'node:crypto';

const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : dflt; };
const URL_ = opt('url', process.env.TOUCHLINE_URL || 'http://127.0.0.1:8787');
const API_KEY = process.env.TOUCHLINE_API_KEY || 'touchline-dev-key';
const EVENTS_KEY = process.env.TOUCHLINE_EVENTS_KEY || 'touchline-dev-events-key';
const APP_SECRET = process.env.WHATSAPP_APP_SECRET || 'touchline-dev-app-secret';
const SITE = opt('site', 'demo');
const PEOPLE = Number(opt('people', '80'));
const SEED_WA = '919800000001';

const MIN = 60_000; const HOUR = 60 * MIN; const DAY = 24 * HOUR;
const NOW = Date.now();

function prng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rnd = prng(42);
const pick = (xs) => xs[Math.floor(rnd() * xs.length)];
const chance = (p) => rnd() < p;

async function call(path, body, key) {
  const res = await fetch(`${URL_}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify(body),
  });
  const out = await res.json().catch(() => null);
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${JSON.stringify(out)}`);
  if (out?.rejected?.length) throw new Error(`${path}: rejected ${JSON.stringify(out.rejected)}`);
  return out;
}

let wamids = 0;
async function whatsapp(waId, name, text, at, referral) {
  const message = { from: waId, id: `wamid.DEMO_${waId}_${wamids++}`, timestamp: String(Math.floor(at / 1000)), type: 'text', text: { body: text } };
  if (referral) message.referral = referral;
  const body = JSON.stringify({ object: 'whatsapp_business_account', entry: [{ id: '1', changes: [{ field: 'messages', value: {
    messaging_product: 'whatsapp', metadata: { display_phone_number: '919800000000', phone_number_id: '1' },
    contacts: [{ profile: { name }, wa_id: waId }], messages: [message] } }] }] });
  const res = await fetch(`${URL_}/webhooks/whatsapp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': `sha256=${createHmac('sha256', APP_SECRET).update(body).digest('hex')}` },
    body,
  });
  if (!res.ok) throw new Error(`webhook: HTTP ${res.status}`);
}

const ADS = {
  kurta: { source_url: 'https://fb.me/saathi-kurta', source_id: '120210000000001', source_type: 'ad', headline: 'Blue cotton kurta', body: 'Festive kurtas, cash on delivery', media_type: 'image' },
  saree: { source_url: 'https://fb.me/saathi-saree', source_id: '120210000000002', source_type: 'ad', headline: 'Silk sarees for the wedding season', body: 'Handloom silk, COD', media_type: 'video' },
};
const LANDINGS = {
  meta_diwali: { utm_source: 'meta', utm_medium: 'paid_social', utm_campaign: 'diwali_sale', utm_content: 'carousel_a', fbclid: 'fbdemo' },
  instagram_reels: { utm_source: 'instagram', utm_medium: 'social', utm_campaign: 'reels_nov', igshid: 'igdemo' },
  organic_search: { referrer_class: 'search' },
  organic_instagram: { referrer_class: 'instagram' },
};
const PRODUCTS = [['KURTA-001', 'Cotton Kurta', '/products/kurta', 1499], ['SAREE-002', 'Silk Saree', '/products/saree', 4999]];
const NAMES = ['Asha', 'Ravi', 'Meera', 'Imran', 'Priya', 'Karan', 'Sana', 'Vikram', 'Neha', 'Arjun', 'Divya', 'Farhan'];

async function person(i, start) {
  const visitor = `vdemo${String(i).padStart(4, '0')}`;
  const waId = `9198${String(10000000 + i * 7919).slice(0, 8)}`;
  const name = `${pick(NAMES)} ${pick(['Verma', 'Shah', 'Khan', 'Iyer', 'Das', 'Nair'])}`;
  const events = [];
  let n = 0;
  let t = start;
  const ev = (data, extra = {}) => events.push({ schema: 1, site_id: SITE, visitor_id: visitor, event_id: `${visitor}_${n++}`, ts: t, data, ...extra });
  const url = (path) => `${URL_}${path}`;
  const entry = pick(['ctwa', 'ctwa', 'meta_diwali', 'instagram_reels', 'instagram_reels', 'search_ad', 'organic_search', 'organic_instagram', 'organic_whatsapp', 'direct']);
  let chatted = false;
  if (entry === 'ctwa' || entry === 'organic_whatsapp') {
    const ad = entry === 'ctwa' ? pick([ADS.kurta, ADS.saree]) : null;
    await whatsapp(waId, name, ad ? `Hi, tell me about the ${ad === ADS.kurta ? 'blue kurta' : 'silk saree'}` : 'Hi, do you have kurtas in XL?', t, ad && { ...ad, ctwa_clid: `CLID${i}` });
    t += pick([1, 2, 5]) * MIN;
    if (chance(0.6)) await whatsapp(waId, name, pick(['Is COD available?', 'What is the delivery time to Pune?', 'Price for 2 pieces?']), t);
    chatted = true;
    if (!chance(0.75)) return events; // only chatted
    t += pick([10, 30, 90, 300]) * MIN;
    ev({ kind: 'page_view', title: 'Saathi Threads' }, { url: url('/products/kurta'), person: { wa_id: waId } });
  } else if (entry === 'search_ad') {
    ev({ kind: 'paid_search', term: pick(['saathi discount', 'saathi coupon', 'saathi offer']), engine: 'google', campaign: 'brand_discount' });
    t += MIN;
    ev({ kind: 'page_view', attribution: { utm_source: 'google', utm_medium: 'cpc', utm_campaign: 'brand_discount', gclid: `g${i}` } }, { url: url('/') });
  } else if (entry === 'direct') {
    ev({ kind: 'page_view' }, { url: url('/') });
  } else {
    if (entry === 'instagram_reels' && chance(0.5)) {
      ev({ kind: 'instagram', action: 'reel_view', media_id: 'REEL_77' });
      t += pick([2, 24, 48]) * HOUR;
    }
    ev({ kind: 'page_view', attribution: LANDINGS[entry] }, { url: url('/') });
  }
  // Browsing.
  const [sku, pname, path, price] = pick(PRODUCTS);
  t += pick([1, 2, 3]) * MIN;
  ev({ kind: 'page_view' }, { url: url(path) });
  ev({ kind: 'product_view', sku, name: pname, price, currency: 'INR' });
  if (chance(0.4)) {
    const [sku2, pname2, path2, price2] = PRODUCTS.find((p) => p[0] !== sku);
    t += pick([2, 4]) * MIN;
    ev({ kind: 'page_view' }, { url: url(path2) });
    ev({ kind: 'product_view', sku: sku2, name: pname2, price: price2, currency: 'INR' });
  }
  if (chance(0.3)) { t += MIN; ev({ kind: 'pricing_view', count_7d: 1 }, { url: url('/pricing') }); }
  // A later search ad click for some (a "brand + discount" hand-raiser).
  if (chance(0.15)) { t += pick([6, 20]) * HOUR; ev({ kind: 'paid_search', term: 'saathi discount', engine: 'google', campaign: 'brand_discount' }); }
  if (!chance(0.65)) return events;
  t += pick([1, 3, 8]) * MIN; ev({ kind: 'checkout_step', step: 'cart' }, { url: url('/checkout/cart') });
  if (!chance(0.8)) return events;
  t += pick([1, 2]) * MIN; ev({ kind: 'checkout_step', step: 'address' }, { url: url('/checkout/address') });
  if (!chance(0.75)) return events; // abandoned after the address step
  t += pick([1, 2, 4]) * MIN; ev({ kind: 'checkout_step', step: 'payment' }, { url: url('/checkout/payment') });
  if (!chance(0.85)) return events;
  t += pick([1, 2, 3]) * MIN;
  const qty = pick([1, 1, 1, 2]);
  ev({ kind: 'order', order_id: `ORD-DEMO-${i}`, value: price * qty, currency: 'INR', payment_method: pick(['cod', 'cod', 'upi', 'card']) },
    { url: url('/checkout/confirmation'), person: chatted ? { wa_id: waId } : { phone: `+91 98${String(20000000 + i)}` } });
  return events;
}

// The journey of PRODUCT.md, yesterday: ad 10:32, chat, visit 11:05, two products, COD order 11:16 (IST).
async function seedPerson() {
  const IST = 5.5 * HOUR;
  const day = Math.floor((NOW - DAY) / DAY) * DAY;
  const at = (h, m) => day + (h * 60 + m) * MIN - IST;
  await whatsapp(SEED_WA, 'Asha Verma', 'Hi, tell me about the blue kurta', at(10, 32), { ...ADS.kurta, ctwa_clid: 'CLIDSEED' });
  await whatsapp(SEED_WA, 'Asha Verma', 'Is COD available?', at(10, 33));
  const v = 'vseedasha';
  let n = 0;
  const ev = (time, data, extra = {}) => ({ schema: 1, site_id: SITE, visitor_id: v, event_id: `${v}_${n++}`, ts: time, data, ...extra });
  await call('/v1/events', { events: [
    ev(at(11, 5), { kind: 'page_view', title: 'Cotton Kurta' }, { url: `${URL_}/products/kurta`, person: { wa_id: SEED_WA } }),
    ev(at(11, 5) + 2000, { kind: 'product_view', sku: 'KURTA-001', name: 'Cotton Kurta', price: 1499, currency: 'INR' }),
    ev(at(11, 8), { kind: 'page_view', title: 'Silk Saree' }, { url: `${URL_}/products/saree` }),
    ev(at(11, 8) + 2000, { kind: 'product_view', sku: 'SAREE-002', name: 'Silk Saree', price: 4999, currency: 'INR' }),
    ev(at(11, 9), { kind: 'pricing_view', count_7d: 1 }, { url: `${URL_}/pricing` }),
    ev(at(11, 12), { kind: 'checkout_step', step: 'address' }, { url: `${URL_}/checkout/address` }),
    ev(at(11, 14), { kind: 'checkout_step', step: 'payment' }, { url: `${URL_}/checkout/payment` }),
    ev(at(11, 16), { kind: 'order', order_id: 'ORD-SEED-1', value: 1499, currency: 'INR', payment_method: 'cod' }, { url: `${URL_}/checkout/confirmation`, person: { wa_id: SEED_WA, order_id: 'ORD-SEED-1' } }),
  ] }, EVENTS_KEY);
}

// An Instagram click-to-Direct ad three days ago, the chat link opened in
// Instagram's in-app browser, and an order today (Instagram's "watched, bought later").
const IG_AD = { id: '120210000000077', title: 'Festive kurtas, now on reels' };
async function instagramPerson() {
  const igsid = '990000000000777';
  const t0 = NOW - 3 * DAY - 2 * HOUR;
  const dm = (mid, at, text, referral) => ({ sender: { id: igsid }, recipient: { id: '17800000000000001' }, timestamp: at,
    message: { mid, text, ...(referral ? { referral } : {}) } });
  const body = JSON.stringify({ object: 'instagram', entry: [{ id: '17800000000000001', time: t0, messaging: [
    dm('DEMO_IG_MID_1', t0, 'Is the blue kurta still available?', { ad_id: IG_AD.id, source: 'ADS', type: 'OPEN_THREAD', ads_context_data: { ad_title: IG_AD.title } }),
    dm('DEMO_IG_MID_2', t0 + 2 * MIN, 'Is COD available?'),
  ] }] });
  const res = await fetch(`${URL_}/webhooks/instagram`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': `sha256=${createHmac('sha256', APP_SECRET).update(body).digest('hex')}` },
    body,
  });
  if (!res.ok) throw new Error(`instagram webhook: HTTP ${res.status}`);
  const v = 'vdemoig01';
  const at = NOW - HOUR;
  let n = 0;
  const ev = (time, data, extra = {}) => ({ schema: 1, site_id: SITE, visitor_id: v, event_id: `${v}_${n++}`, ts: time, data, ...extra });
  await call('/v1/events', { events: [
    ev(at, { kind: 'page_view', title: 'Cotton Kurta', attribution: { referrer_class: 'instagram' } }, { url: `${URL_}/products/kurta`, person: { igsid } }),
    ev(at + 2000, { kind: 'product_view', sku: 'KURTA-001', name: 'Cotton Kurta', price: 1499, currency: 'INR' }, { url: `${URL_}/products/kurta` }),
    ev(at + 6 * MIN, { kind: 'order', order_id: 'ORD-DEMO-IG-1', value: 1499, currency: 'INR', payment_method: 'cod' }, { url: `${URL_}/checkout/confirmation`, person: { igsid } }),
  ] }, EVENTS_KEY);
}

async function main() {
  const seeded = await fetch(`${URL_}/v1/profiles/${SEED_WA}/timeline?limit=1`, { headers: { authorization: `Bearer ${API_KEY}` } });
  if (seeded.status === 401) throw new Error('the API key was refused: set TOUCHLINE_API_KEY');
  if (seeded.status === 200 && !args.includes('--force')) {
    console.log(`demo data: already there (profile of wa_id ${SEED_WA}); --force to post again`);
    return;
  }
  let events = 0;
  for (let i = 0; i < PEOPLE; i++) {
    const start = NOW - 6 * DAY + Math.floor(rnd() * 5.5 * DAY);
    const evs = (await person(i, start)).filter((e) => e.ts < NOW);
    for (let k = 0; k < evs.length; k += 50) await call('/v1/events', { events: evs.slice(k, k + 50) }, EVENTS_KEY);
    events += evs.length;
  }
  await seedPerson();
  await instagramPerson();
  const days = [...Array(7).keys()].map((d) => new Date(NOW - d * DAY).toISOString().slice(0, 10));
  const spend = days.flatMap((day) => [
    { campaign: ADS.kurta.source_id, day, amount: 900 + Math.round(rnd() * 300), currency: 'INR' },
    { campaign: ADS.saree.source_id, day, amount: 1200 + Math.round(rnd() * 400), currency: 'INR' },
    { campaign: 'diwali_sale', day, amount: 700 + Math.round(rnd() * 200), currency: 'INR' },
    { campaign: 'reels_nov', day, amount: 400 + Math.round(rnd() * 150), currency: 'INR' },
    { campaign: 'brand_discount', day, amount: 300 + Math.round(rnd() * 100), currency: 'INR' },
  ]);
  await call('/v1/spend', { spend }, API_KEY);
  await call('/v1/spend', { spend: days.map((day) => ({ campaign: IG_AD.id, day, amount: 350, currency: 'INR' })) }, API_KEY);
  console.log(`demo data: ${PEOPLE} people, ${events} events, ${spend.length} spend lines, the seed journey (wa_id ${SEED_WA}, order ORD-SEED-1) and an Instagram click-to-Direct journey (ig:990000000000777, order ORD-DEMO-IG-1)`);
}

main().catch((e) => { console.error(`demo data failed: ${e.message}`); process.exit(1); });
