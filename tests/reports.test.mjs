// The reports API on generated journeys. The expected numbers are computed
// here, from the generated scenario, by a few lines of plain arithmetic — not
// by calling the code under test.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { worker, api, waitFor } from './support/worker.mjs';
import { serverEvents } from './support/meta.mjs';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;

let w;
after(async () => { await w?.stop(); });

// Deterministic PRNG (mulberry32).
function prng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// The sources, and the event that carries each (all paid or tagged).
const SOURCES = {
  diwali: { key: 'ads|meta|diwali', data: { kind: 'page_view', attribution: { utm_source: 'meta', utm_medium: 'paid_social', utm_campaign: 'diwali', fbclid: 'fb1' } } },
  brand_discount: { key: 'search|google|brand_discount', data: { kind: 'paid_search', term: 'saathi discount', engine: 'google', campaign: 'brand_discount' } },
  reels: { key: 'instagram|instagram|reels', data: { kind: 'page_view', attribution: { utm_source: 'instagram', utm_medium: 'social', utm_campaign: 'reels', igshid: 'ig1' } } },
};
const NAMES = Object.keys(SOURCES);

const run = `r${Date.now().toString(36)}`;
// A UTC day at least 5 days ago (events may be up to 7 days old).
const BASE = Math.floor((Date.now() - 6 * DAY) / DAY) * DAY;
const N = 40;

function generate() {
  const rnd = prng(20261126);
  const pick = (xs) => xs[Math.floor(rnd() * xs.length)];
  const people = [];
  for (let i = 0; i < N; i++) {
    const t0 = BASE + HOUR + i * 5 * MIN;
    const first = pick([...NAMES, null]);
    const second = first && rnd() < 0.5 ? pick(NAMES) : null;
    const p = { visitor: `${run}_${i}`, t0, first, second, events: [] };
    let n = 0;
    const ev = (time, data) => p.events.push({ schema: 1, site_id: 'test', visitor_id: p.visitor, event_id: `${p.visitor}_${n++}`, ts: time, data });
    if (first) ev(t0, SOURCES[first].data);
    if (second) ev(t0 + 20 * MIN, SOURCES[second].data);
    if (rnd() < 0.85) {
      p.view = t0 + 40 * MIN;
      ev(p.view, { kind: 'product_view', sku: 'KURTA-001', name: 'Cotton kurta' });
      if (rnd() < 0.7) {
        p.address = p.view + pick([5, 10, 15]) * MIN;
        ev(p.address, { kind: 'checkout_step', step: 'address' });
        if (rnd() < 0.75) {
          p.order = p.address + pick([5, 10, 20, 120]) * MIN;
          p.value = pick([499, 999, 1499]);
          ev(p.order, { kind: 'order', order_id: `${p.visitor}-o`, value: p.value, currency: 'INR', payment_method: pick(['cod', 'upi']) });
        }
      }
    }
    if (p.events.length === 0) ev(t0, { kind: 'page_view' });
    people.push(p);
  }
  return people;
}

const people = generate();
const range = `from=${BASE}&to=${BASE + DAY}`;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (!n) return null;
  return n % 2 ? s[(n - 1) / 2] : Math.floor((s[n / 2 - 1] + s[n / 2]) / 2);
};
const close = (a, b, what) => assert.ok(Math.abs(a - b) < 1e-6, `${what}: ${a} != ${b}`);

before(async () => {
  w = await worker();
  const events = people.flatMap((p) => p.events);
  for (let i = 0; i < events.length; i += 100) {
    const r = await serverEvents(w, events.slice(i, i + 100));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.rejected, []);
  }
  // Report rows are written off the request path: wait until all are in.
  await waitFor(async () => {
    const r = await api(w, `/v1/reports/funnel?steps=page_view,order&${range}`);
    return r.status === 200 && r.body.profiles === N;
  }, { timeout: 20_000, what: `all ${N} generated profiles in the reports` });
});

test('the funnel counts ordered steps within the window, with conversion and median times per step', async () => {
  const window = 45 * MIN;
  const r = await api(w, `/v1/reports/funnel?steps=product_view,checkout:address,order&${range}&window=45m`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const viewed = people.filter((p) => p.view);
  const addressed = viewed.filter((p) => p.address);
  const ordered = addressed.filter((p) => p.order && p.order - p.view <= window);
  assert.ok(ordered.length > 0 && ordered.length < addressed.length, 'the scenario has late orders');
  const [g] = r.body.groups;
  assert.equal(g.group, 'all');
  assert.deepEqual(g.steps.map((s) => s.count), [viewed.length, addressed.length, ordered.length]);
  close(g.steps[1].conversion_from_previous, addressed.length / viewed.length, 'address conversion');
  close(g.steps[2].conversion_from_start, ordered.length / viewed.length, 'order conversion');
  assert.equal(g.steps[1].median_ms_from_previous, median(addressed.map((p) => p.address - p.view)));
  assert.equal(g.steps[2].median_ms_from_previous, median(ordered.map((p) => p.order - p.address)));
});

test('the funnel grouped by campaign counts each entrant under its last campaign before entering', async () => {
  const r = await api(w, `/v1/reports/funnel?steps=product_view,order&${range}&window=1d&group_by=campaign`);
  assert.equal(r.status, 200);
  const want = {};
  for (const p of people.filter((q) => q.view)) {
    const g = p.second || p.first || 'direct';
    want[g] ||= [0, 0];
    want[g][0] += 1;
    if (p.order) want[g][1] += 1;
  }
  const got = Object.fromEntries(r.body.groups.map((g) => [g.group, g.steps.map((s) => s.count)]));
  assert.deepEqual(got, want);
});

function expectedCampaigns(model) {
  const rows = {};
  const row = (k) => (rows[k] ||= { visitors: 0, orders: 0, revenue: 0 });
  for (const p of people) {
    const touches = [p.first, p.second].filter(Boolean).map((n) => SOURCES[n].key);
    for (const k of new Set(touches)) row(k).visitors += 1;
    if (!p.order) continue;
    if (touches.length === 0) {
      row('direct||').orders += 1;
      row('direct||').revenue += p.value;
      continue;
    }
    const shares = {
      first_touch: touches.map((_, i) => (i === 0 ? 1 : 0)),
      last_touch: touches.map((_, i) => (i === touches.length - 1 ? 1 : 0)),
      linear: touches.map(() => 1 / touches.length),
    }[model];
    touches.forEach((k, i) => {
      row(k).orders += shares[i];
      row(k).revenue += shares[i] * p.value;
    });
  }
  return rows;
}

const keyOf = (r) => `${r.channel}|${r.source}|${r.campaign}`;

test('the campaign table credits orders and revenue under first-touch, last-touch and linear, with spend, cost per order and ROAS', async () => {
  const spend = await api(w, '/v1/spend', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ spend: [
      { campaign: 'diwali', day: new Date(BASE).toISOString().slice(0, 10), amount: 1200, currency: 'INR' },
      { campaign: 'diwali', day: new Date(BASE - 10 * DAY).toISOString().slice(0, 10), amount: 99999, currency: 'INR' },
    ] }),
  });
  assert.equal(spend.status, 200, JSON.stringify(spend.body));
  const seen = {};
  for (const model of ['first_touch', 'last_touch', 'linear']) {
    const r = await api(w, `/v1/reports/campaigns?model=${model}&${range}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.currency, 'INR');
    const want = expectedCampaigns(model);
    const got = Object.fromEntries(r.body.rows.map((x) => [keyOf(x), x]));
    assert.deepEqual(Object.keys(got).sort(), Object.keys(want).sort(), model);
    for (const [k, e] of Object.entries(want)) {
      close(got[k].orders, e.orders, `${model} ${k} orders`);
      close(got[k].revenue, e.revenue, `${model} ${k} revenue`);
      assert.equal(got[k].visitors, e.visitors, `${model} ${k} visitors`);
    }
    const d = got['ads|meta|diwali'];
    assert.equal(d.spend, 1200, 'only the spend of days in the range');
    close(d.roas, d.revenue / 1200, 'ROAS');
    close(d.cost_per_order, 1200 / d.orders, 'cost per order');
    close(r.body.totals.revenue, people.reduce((s, p) => s + (p.value || 0), 0), 'total revenue');
    seen[model] = got['search|google|brand_discount'].revenue;
  }
  assert.notEqual(seen.first_touch, seen.last_touch, 'the models differ on this data');
});

test('cohorts group people by the week of their first touch and time to convert is measured from it', async () => {
  const r = await api(w, `/v1/reports/cohorts?${range}&weeks=4`);
  assert.equal(r.status, 200);
  const monday = Math.floor((BASE - 4 * DAY) / WEEK) * WEEK + 4 * DAY;
  const converted = people.filter((p) => p.order).length;
  assert.deepEqual(r.body.cohorts, [{ week: monday, size: N, converted: [converted / N, 0, 0, 0] }]);

  const t = await api(w, `/v1/reports/time-to-convert?${range}`);
  assert.equal(t.status, 200);
  const waits = people.filter((p) => p.order).map((p) => p.order - Math.min(...p.events.map((e) => e.ts)));
  assert.equal(t.body.converted, waits.length);
  assert.equal(t.body.median_ms, median(waits));
  const under = (lo, hi) => waits.filter((x) => x >= lo && x < hi).length;
  assert.deepEqual(t.body.buckets.map((b) => b.count), [under(0, HOUR), under(HOUR, DAY), under(DAY, 7 * DAY), under(7 * DAY, 30 * DAY), under(30 * DAY, Infinity)]);
});

test('touches follow a merge into one profile, and leave the reports when the profile is deleted', async () => {
  const day = `from=${BASE + DAY}&to=${BASE + 2 * DAY}`;
  const t0 = BASE + DAY + HOUR;
  const a = `${run}_merge_a`;
  const b = `${run}_merge_b`;
  const r = await serverEvents(w, [
    { schema: 1, site_id: 'test', visitor_id: a, event_id: `${a}_1`, ts: t0, data: SOURCES.reels.data },
    { schema: 1, site_id: 'test', visitor_id: b, event_id: `${b}_1`, ts: t0 + HOUR, data: { kind: 'order', order_id: `${b}-o`, value: 700, currency: 'INR' } },
  ]);
  assert.equal(r.status, 200);
  const report = () => api(w, `/v1/reports/campaigns?model=last_touch&${day}`);
  await waitFor(async () => (await report()).body.profiles === 2, { what: 'two profiles before the merge' });
  assert.equal((await report()).body.rows.find((x) => x.campaign === 'reels')?.revenue ?? 0, 0);

  const m = await api(w, '/v1/profiles/merge', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ids: [a, b] }) });
  assert.equal(m.status, 200);
  const merged = await waitFor(async () => {
    const x = await report();
    return x.body.profiles === 1 && x.body;
  }, { what: 'one profile after the merge' });
  assert.equal(merged.rows.find((x) => x.campaign === 'reels').revenue, 700, 'the order is credited to the merged visitor\'s campaign');

  assert.equal((await api(w, `/v1/profiles/${a}`, { method: 'DELETE' })).status, 200);
  const gone = await report();
  assert.equal(gone.body.profiles, 0);
  assert.deepEqual(gone.body.rows, []);
});

test('bad report questions get clear 4xx errors', async () => {
  const cases = [
    ['/v1/reports/funnel?steps=product_view,add_to_basket', 400, 'unknown_step', /add_to_basket/],
    ['/v1/reports/funnel', 400, 'bad_steps', /steps is required/],
    ['/v1/reports/funnel?steps=product_view,order&window=7w', 400, 'bad_window', /window/],
    ['/v1/reports/funnel?steps=product_view,order&group_by=ad', 400, 'bad_group_by', /group_by/],
    ['/v1/reports/campaigns?from=2026-11-20&to=2026-11-01', 400, 'bad_range', /inverted/],
    ['/v1/reports/campaigns?from=yesterday', 400, 'bad_date', /YYYY-MM-DD/],
    ['/v1/reports/campaigns?from=2024-01-01&to=2026-01-01', 400, 'bad_range', /366 days/],
    ['/v1/reports/campaigns?model=shapley', 400, 'unknown_model', /first_touch, last_touch, linear or time_decay/],
    ['/v1/reports/campaigns?currency=rupees', 400, 'bad_currency', /ISO 4217/],
    ['/v1/reports/cohorts?weeks=99', 400, 'bad_weeks', /1 to 26/],
    ['/v1/signals?since=soon', 400, 'bad_since', /since/],
  ];
  for (const [path, status, code, message] of cases) {
    const r = await api(w, path);
    assert.equal(r.status, status, path);
    assert.equal(r.body.error.code, code, path);
    assert.match(r.body.error.message, message, path);
  }
  for (const path of ['/v1/reports/funnel?steps=page_view,order', '/v1/reports/campaigns', '/v1/reports/cohorts', '/v1/reports/time-to-convert']) {
    const r = await fetch(`${w.url}${path}`);
    assert.equal(r.status, 401, path);
    assert.equal((await r.json()).error.code, 'unauthorized');
  }
  const post = (body, key = w.apiKey) => fetch(`${w.url}/v1/spend`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify(body),
  });
  assert.equal((await post({ campaign: 'x', day: '2026-11-20', amount: 1, currency: 'INR' }, 'wrong')).status, 401);
  for (const [body, message] of [
    [{ campaign: 'x', day: '2026-02-30', amount: 1, currency: 'INR' }, /spend\[0\]\.day/],
    [{ campaign: 'x', day: '2026-11-20', amount: -5, currency: 'INR' }, /spend\[0\]\.amount/],
    [{ spend: [{ campaign: 'x', day: '2026-11-20', amount: 5, currency: 'INR' }, { campaign: '', day: '2026-11-20', amount: 5, currency: 'INR' }] }, /spend\[1\]\.campaign/],
    [{ campaign: 'x', day: '2026-11-20', amount: 1, currency: 'inr' }, /currency/],
  ]) {
    const r = await post(body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.match((await r.json()).error.message, message);
  }
});
