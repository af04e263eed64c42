// Acting as Meta: WhatsApp Cloud API webhook deliveries (shapes from
// META-FORMATS.md §1), signed with the app secret the test Worker was given.
import { createHmac, createHash } from 'node:crypto';
import { APP_SECRET, EVENTS_KEY, api, waitFor } from './worker.mjs';

export const BUSINESS = { display_phone_number: '15550009999', phone_number_id: '222222222222222' };

export function sign(body, secret = APP_SECRET) {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export const sha256 = (s) => createHash('sha256').update(s).digest('hex');

/** A fresh fake wa_id (555 numbers) so tests never share a person. */
export function uniqueWaId() {
  return `1555${Math.floor(1e6 + Math.random() * 8.999e6)}`;
}

let counter = 0;
export function uniqueWamid() {
  counter += 1;
  return `wamid.TEST_${Date.now().toString(36)}_${counter}_${Math.random().toString(36).slice(2, 8)}`;
}

/** A text message; `at` is a Date or ms; options add a referral, BSUID, etc. */
export function textMessage({ waId, text, at = Date.now(), id = uniqueWamid(), referral, userId, type = 'text', extra = {} }) {
  const m = { id, timestamp: String(Math.floor(+at / 1000)), type, ...extra };
  if (waId) m.from = waId;
  if (userId) m.from_user_id = userId;
  if (type === 'text') m.text = { body: text };
  if (referral) m.referral = referral;
  return m;
}

export function delivery(messages, { waId, userId, name = 'Test User', statuses } = {}) {
  const contact = { profile: { name } };
  if (waId) contact.wa_id = waId;
  if (userId) contact.user_id = userId;
  const value = { messaging_product: 'whatsapp', metadata: BUSINESS, contacts: [contact], messages };
  if (statuses) value.statuses = statuses;
  return { object: 'whatsapp_business_account', entry: [{ id: '111111111111111', changes: [{ field: 'messages', value }] }] };
}

/** POSTs a delivery as Meta would: raw body, signed. */
export async function postWebhook(w, payload, { signature, secret, headers = {}, path = '/webhooks/whatsapp' } = {}) {
  const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
  const sig = signature === undefined ? sign(body, secret) : signature;
  const h = { 'content-type': 'application/json', ...headers };
  if (sig !== null) h['x-hub-signature-256'] = sig;
  const res = await fetch(`${w.url}${path}`, { method: 'POST', headers: h, body });
  return { status: res.status, body: await res.json().catch(() => null) };
}

export const CTWA_AD = {
  source_url: 'https://fb.me/TESTAD0001',
  source_id: '333333333333333',
  source_type: 'ad',
  headline: 'Blue cotton kurta',
  body: 'Festive kurtas with cash on delivery',
  media_type: 'image',
  image_url: 'https://example.invalid/ad-image.jpg',
  ctwa_clid: 'TEST_CTWA_CLID_0001',
};

/** The profile timeline of `id`, once `ready(body)` holds. */
export async function timelineWhen(w, id, ready, what, { timeout = 15_000 } = {}) {
  return waitFor(async () => {
    const r = await api(w, `/v1/profiles/${encodeURIComponent(id)}/timeline`);
    return r.status === 200 && ready(r.body) && r.body;
  }, { timeout, what });
}

/** POST /v1/events with the events key. */
export async function serverEvents(w, events, { key = EVENTS_KEY, sentAt } = {}) {
  const res = await fetch(`${w.url}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify(sentAt ? { sent_at: sentAt, events } : { events }),
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

/** POST /v1/collect as a browser would. */
export async function collect(w, events) {
  const res = await fetch(`${w.url}/v1/collect`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain;charset=UTF-8' },
    body: JSON.stringify({ sent_at: Date.now(), events }),
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}
