// The golden event fixtures of the core crate, reused here so the edge is
// tested against exactly the wire format the Rust tests pin down.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './worker.mjs';

const DIR = join(ROOT, 'shared', 'tests', 'fixtures', 'events');

/** A fixture event made current: fresh ids and times, the given visitor and site. */
export function fixture(kind, { visitor = 'vtest', site = 'test', id, ts = Date.now() } = {}) {
  const e = JSON.parse(readFileSync(join(DIR, `${kind}.json`), 'utf8'));
  e.visitor_id = visitor;
  e.site_id = site;
  e.event_id = id || `e${Math.random().toString(36).slice(2, 12)}`;
  e.ts = ts;
  return e;
}

export const KINDS = readdirSync(DIR).map((f) => f.replace(/\.json$/, '')).sort();
/** Kinds only servers may send (POST /v1/events, the WhatsApp and Instagram webhooks). */
export const SERVER_KINDS = ['crm_stage', 'instagram', 'instagram_inbound', 'order_status', 'paid_search', 'whatsapp_inbound'];
/** Kinds the tracker sends to POST /v1/collect. */
export const BROWSER_KINDS = KINDS.filter((k) => !SERVER_KINDS.includes(k));

export function uniqueVisitor(prefix = 'v') {
  return `${prefix}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}

/** A small seeded PRNG (mulberry32) for generated test data: same seed, same data. */
export function prng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
