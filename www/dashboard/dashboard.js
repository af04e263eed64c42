// Touchline journey dashboard: plain JS, no framework, no build step. Talks to
// the same origin's API with the bearer key kept in sessionStorage.
'use strict';
(() => {
  const $ = (s) => document.querySelector(s);
  const KEY = 'tl_api_key';
  const DAY = 86_400_000;
  const POLL_MS = 5000;
  let since = 0;
  let pollTimer = null;

  const el = (tag, attrs = {}, ...kids) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === 'class') e.className = v; else if (k === 'text') e.textContent = v; else e.setAttribute(k, v);
    }
    for (const k of kids) if (k != null) e.append(k);
    return e;
  };
  const svgNS = 'http://www.w3.org/2000/svg';
  const svg = (tag, attrs = {}) => {
    const e = document.createElementNS(svgNS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    return e;
  };

  // Channel icons: small inline SVG paths (white on the channel's colour).
  const ICONS = {
    ads: 'M3 10v4h3l5 4V6L6 10H3zm13.5 2a4.5 4.5 0 0 0-2.5-4v8a4.5 4.5 0 0 0 2.5-4z',
    whatsapp: 'M12 3a9 9 0 0 0-7.8 13.5L3 21l4.6-1.2A9 9 0 1 0 12 3zm4.4 12.6c-.2.5-1.1 1-1.6 1-.4.1-.9.1-1.5-.1-3.1-1-5-4.2-5.2-4.4-.1-.2-1-1.4-1-2.6s.6-1.8.9-2.1c.2-.2.5-.3.6-.3h.5c.1 0 .4 0 .5.4l.8 1.8c.1.1.1.3 0 .5l-.4.6c-.1.1-.2.3-.1.5.6 1.1 1.5 2 2.6 2.5.2.1.4.1.5-.1l.7-.8c.2-.2.3-.2.5-.1l1.7.8c.2.1.4.2.4.3.1.2.1.8-.1 1.2z',
    instagram: 'M7 3h10a4 4 0 0 1 4 4v10a4 4 0 0 1-4 4H7a4 4 0 0 1-4-4V7a4 4 0 0 1 4-4zm5 5a4 4 0 1 0 0 8 4 4 0 0 0 0-8zm5.5-2a1 1 0 1 0 0 2 1 1 0 0 0 0-2z',
    search: 'M10 3a7 7 0 0 1 5.6 11.2l5 5-1.4 1.4-5-5A7 7 0 1 1 10 3zm0 2a5 5 0 1 0 0 10 5 5 0 0 0 0-10z',
    web: 'M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18zm6.9 8h-3a14 14 0 0 0-1.3-5.3A7 7 0 0 1 18.9 11zM12 5c.9 1.2 1.7 3.4 1.9 6h-3.8c.2-2.6 1-4.8 1.9-6zM9.4 5.7A14 14 0 0 0 8.1 11h-3a7 7 0 0 1 4.3-5.3zM5.1 13h3a14 14 0 0 0 1.3 5.3A7 7 0 0 1 5.1 13zM12 19c-.9-1.2-1.7-3.4-1.9-6h3.8c-.2 2.6-1 4.8-1.9 6zm2.6-.7a14 14 0 0 0 1.3-5.3h3a7 7 0 0 1-4.3 5.3z',
    offline: 'M3 7l9-4 9 4v10l-9 4-9-4V7zm9-1.8L6.2 7.7 12 10.3l5.8-2.6L12 5.2z',
    signal: 'M12 2l2.4 6.9H21l-5.4 4 2 7-5.6-4.2L6.4 20l2-7L3 9h6.6z',
  };
  const CHANNEL_NAMES = { ads: 'Ad', whatsapp: 'WhatsApp', instagram: 'Instagram', search: 'Search', web: 'Website', offline: 'Offline', signal: 'Signal' };
  function icon(channel) {
    const s = svg('svg', { viewBox: '0 0 24 24', 'aria-hidden': 'true', fill: 'currentColor' });
    s.append(svg('path', { d: ICONS[channel] || ICONS.web }));
    return el('span', { class: `icon ch-${channel}`, role: 'img', 'aria-label': CHANNEL_NAMES[channel] || channel, title: CHANNEL_NAMES[channel] || channel }, s);
  }

  // ------------------------------------------------------------------ API
  async function api(path, init = {}) {
    const res = await fetch(path, { ...init, headers: { authorization: `Bearer ${sessionStorage.getItem(KEY)}`, ...(init.headers || {}) } });
    const body = await res.json().catch(() => null);
    if (res.status === 401) { signOut('That API key was not accepted.'); throw new Error('unauthorized'); }
    if (!res.ok) { const err = new Error(body?.error?.message || `HTTP ${res.status}`); err.status = res.status; throw err; }
    return body;
  }
  const showError = (e) => { if (e.message !== 'unauthorized') $('#error').textContent = e.message; };

  // ------------------------------------------------------------ formatting
  const time = (ms) => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hour12: false });
  const date = (ms) => new Date(ms).toLocaleDateString([], { day: 'numeric', month: 'short' });
  const money = (v, cur) => (v == null ? '—' : new Intl.NumberFormat(undefined, { style: 'currency', currency: cur || 'INR', maximumFractionDigits: 0 }).format(v));
  const pct = (x) => `${(x * 100).toFixed(x > 0 && x < 0.1 ? 1 : 0)}%`;
  const num = (x) => (Number.isInteger(x) ? String(x) : x.toFixed(2));
  const dur = (ms) => (ms == null ? '—' : ms < 3_600_000 ? `${Math.round(ms / 60_000)} min` : ms < DAY ? `${(ms / 3_600_000).toFixed(1)} h` : `${(ms / DAY).toFixed(1)} d`);
  const SOURCE_NAMES = {
    meta_ctwa: 'Meta click-to-WhatsApp ad', meta: 'Meta', google: 'Google', instagram: 'Instagram', whatsapp: 'WhatsApp', search: 'Search', facebook: 'Facebook',
    instagram_ad: 'Instagram click-to-Direct ad', instagram_reel: 'Instagram reel', instagram_story: 'Instagram story', instagram_profile: 'Instagram profile link', ig_me: 'ig.me link',
  };
  const ACTIONS = {
    ad_click: (p) => `Ad clicked${p.detail ? `: “${p.detail}”` : ''}`,
    message: (p) => `${p.channel === 'instagram' ? 'Instagram Direct' : 'WhatsApp'} message: “${p.detail || ''}”`,
    story_reply: (p) => `Replied to a story: “${p.detail || ''}”`,
    icebreaker: (p) => `Tapped “${p.detail || ''}” in Instagram Direct`,
    link_open: () => 'Opened an ig.me link',
    page_view: (p) => `Visited ${p.detail || '/'}`,
    product_view: (p) => `Viewed product ${p.detail || ''}`,
    pricing_view: () => 'Read the pricing page',
    checkout_step: (p) => `Checkout: ${p.detail}`,
    order: (p) => `Order ${p.detail || ''}`,
    order_status: (p) => `Order status: ${p.detail || ''}`,
    search: (p) => `Searched “${p.detail || ''}”`,
    whatsapp_click: () => 'Clicked “Chat on WhatsApp”',
    scroll: (p) => `Scrolled to ${p.detail}`,
    engagement: (p) => `Engaged for ${p.detail}`,
    identify: () => 'Identified',
    crm_stage: (p) => `CRM stage: ${p.detail || ''}`,
  };
  const actionText = (p) => (ACTIONS[p.action] || ((q) => `${q.action.replace(/_/g, ' ')}${q.detail ? `: ${q.detail}` : ''}`))(p);
  const sourceText = (source, campaign) => [source && (SOURCE_NAMES[source] || source), campaign && `campaign ${campaign}`].filter(Boolean).join(' · ');

  // ------------------------------------------------------------- sign in
  function signOut(message) {
    sessionStorage.removeItem(KEY);
    clearInterval(pollTimer);
    $('#app').hidden = true; $('#range').hidden = true; $('#signout').hidden = true;
    $('#signin').hidden = false;
    $('#signin-error').textContent = message || '';
  }
  async function signIn(key) {
    sessionStorage.setItem(KEY, key);
    try { await api('/v1/signals?limit=1'); } catch { return; }
    $('#signin').hidden = true;
    $('#app').hidden = false; $('#range').hidden = false; $('#signout').hidden = false;
    const today = new Date();
    $('#to').value ||= today.toISOString().slice(0, 10);
    $('#from').value ||= new Date(today - 29 * DAY).toISOString().slice(0, 10);
    loadReports();
    startFeed();
    const who = new URLSearchParams(location.hash.slice(1)).get('person');
    if (who) { $('#who').value = who; findPerson(who); }
  }
  const range = () => `from=${$('#from').value}&to=${$('#to').value}`;

  // ------------------------------------------------------------- timeline
  async function findPerson(who) {
    $('#error').textContent = '';
    const list = $('#timeline');
    list.replaceChildren();
    let tl;
    for (const id of [who, `order:${who}`]) {
      try { tl = await api(`/v1/profiles/${encodeURIComponent(id)}/timeline?limit=1000`); break; } catch (e) { if (e.status !== 404 && e.status !== 400) return showError(e); }
    }
    if (!tl) { $('#person-head').textContent = `Nobody found for “${who}”.`; return; }
    const touchpoints = [...tl.touchpoints];
    let after = tl.next_cursor;
    for (let pages = 1; after && pages < 5; pages++) {
      const next = await api(`/v1/profiles/${encodeURIComponent(tl.profile_id)}/timeline?limit=1000&after=${encodeURIComponent(after)}`);
      touchpoints.push(...next.touchpoints);
      after = next.next_cursor;
    }
    const signals = (await api('/v1/signals?limit=500')).signals.filter((s) => s.profile_id === tl.profile_id);
    $('#person-head').textContent = `Profile ${tl.profile_id} · ${tl.identities.join(', ')}`;
    const rows = [
      ...touchpoints.filter((p) => !['scroll', 'engagement'].includes(p.action)).map((p) => ({ at: p.time, p })),
      ...signals.map((s) => ({ at: s.triggered_at, s })),
    ].sort((a, b) => a.at - b.at || (a.s ? 1 : 0) - (b.s ? 1 : 0));
    let lastDay = '';
    for (const r of rows) {
      const day = date(r.at);
      const t = el('time', { datetime: new Date(r.at).toISOString() }, time(r.at), day !== lastDay ? el('small', { text: day }) : null);
      lastDay = day;
      if (r.s) {
        list.append(el('li', { class: 'tp signal', 'data-rule': r.s.rule }, t, icon('signal'),
          el('div', { class: 'what' }, el('div', { class: 'action', text: `Intent signal: ${r.s.rule.replace(/_/g, ' ')}` }),
            el('div', { class: 'src', text: `score ${r.s.score}${r.s.action ? ` · ${r.s.action}` : ''}` }))));
        continue;
      }
      const p = r.p;
      const what = el('div', { class: 'what' }, el('div', { class: 'action', text: actionText(p) }));
      const src = sourceText(p.source, p.campaign);
      if (src) what.append(el('div', { class: 'src', text: src }));
      if (p.attributed_to) what.append(el('div', { class: 'credit', text: `Credited to ${sourceText(p.attributed_to.source, p.attributed_to.campaign)}` }));
      list.append(el('li', { class: 'tp', 'data-channel': p.channel, 'data-action': p.action }, t, icon(p.channel), what));
    }
  }

  // --------------------------------------------------------------- reports
  async function loadCampaigns() {
    const model = document.querySelector('input[name=model]:checked').value;
    const r = await api(`/v1/reports/campaigns?model=${model}&${range()}`);
    const body = $('#campaigns tbody');
    body.replaceChildren(...r.rows.map((x) => el('tr', {},
      el('td', {}, el('span', { class: 'row' }, icon(x.channel === 'direct' ? 'web' : x.channel), x.channel)),
      el('td', { text: SOURCE_NAMES[x.source] || x.source || '—' }), el('td', { text: x.campaign || '—' }), el('td', { text: x.ad || '—' }),
      el('td', { class: 'num', text: x.visitors }), el('td', { class: 'num', text: num(x.orders) }),
      el('td', { class: 'num', text: money(x.revenue, r.currency) }), el('td', { class: 'num', text: pct(x.conversion_rate) }),
      el('td', { class: 'num', text: x.spend ? money(x.spend, r.currency) : '—' }), el('td', { class: 'num', text: money(x.cost_per_order, r.currency) }),
      el('td', { class: 'num', text: x.roas == null ? '—' : `${x.roas.toFixed(2)}×` }))));
    $('#campaigns').dataset.model = model;
  }

  async function loadFunnel() {
    const r = await api(`/v1/reports/funnel?steps=${encodeURIComponent($('#steps').value)}&window=${$('#window').value}&${range()}`);
    const steps = r.groups[0]?.steps || [];
    const W = 520; const rowH = 44; const max = Math.max(1, ...steps.map((s) => s.count));
    const chart = svg('svg', { viewBox: `0 0 ${W} ${steps.length * rowH + 4}`, width: '100%' });
    steps.forEach((s, i) => {
      const y = i * rowH; const w = Math.max(2, (s.count / max) * (W - 330));
      chart.append(svg('rect', { x: 150, y: y + 8, width: w, height: 24, rx: 4, fill: '#5b3df5', opacity: String(1 - i * 0.12) }));
      const label = svg('text', { x: 0, y: y + 25, 'font-size': 13, fill: '#1f1b2d' }); label.textContent = s.step; chart.append(label);
      const n = svg('text', { x: 156 + w, y: y + 25, 'font-size': 12, fill: '#5f5a6e' });
      n.textContent = `${s.count}${i ? ` · ${pct(s.conversion_from_previous)} · ${dur(s.median_ms_from_previous)}` : ''}`;
      chart.append(n);
    });
    $('#funnel').replaceChildren(chart);
    $('#funnel').setAttribute('aria-label', `Funnel: ${steps.map((s) => `${s.step} ${s.count}`).join(', ')}`);
  }

  async function loadCohorts() {
    const [c, t] = await Promise.all([api(`/v1/reports/cohorts?${range()}&weeks=4`), api(`/v1/reports/time-to-convert?${range()}`)]);
    const head = el('tr', {}, el('th', { scope: 'col', text: 'First touch week' }), el('th', { scope: 'col', class: 'num', text: 'People' }),
      ...[0, 1, 2, 3].map((k) => el('th', { scope: 'col', class: 'num', text: `Week ${k}` })));
    $('#cohorts thead').replaceChildren(head);
    $('#cohorts tbody').replaceChildren(...c.cohorts.map((row) => el('tr', {}, el('th', { scope: 'row', text: date(row.week) }), el('td', { class: 'num', text: row.size }),
      ...row.converted.map((x) => { const td = el('td', { class: 'cell', text: pct(x) }); td.style.background = `rgba(91,61,245,${0.15 + x * 0.85})`; td.style.color = x > 0.4 ? '#fff' : '#1f1b2d'; return td; }))));
    const max = Math.max(1, ...t.buckets.map((b) => b.count));
    const bars = el('div', { class: 'bars' });
    for (const b of t.buckets) {
      const bar = el('div', { class: 'bar' }); bar.style.width = `${(b.count / max) * 100}%`;
      bars.append(el('span', { text: b.label }), el('div', {}, bar), el('span', { class: 'num', text: b.count }));
    }
    $('#ttc').replaceChildren(el('p', { class: 'small muted', text: `${t.converted} converted · median ${dur(t.median_ms)}` }), bars);
  }

  // ------------------------------------------------- predicted intent, friction
  let intent = [];
  const site = () => encodeURIComponent($('#site').value.trim());
  function drawPredictions() {
    const table = $('#predictions');
    const key = table.dataset.sort;
    const dir = table.dataset.order === 'asc' ? 1 : -1;
    const rows = [...intent].sort((a, b) => dir * (a[key] - b[key]) || a.profile_id.localeCompare(b.profile_id));
    for (const th of table.querySelectorAll('th[data-sort]')) {
      th.setAttribute('aria-sort', th.dataset.sort === key ? (dir > 0 ? 'ascending' : 'descending') : 'none');
    }
    table.querySelector('tbody').replaceChildren(...rows.map((p) => {
      const tr = el('tr', { 'data-profile': p.profile_id, 'data-score': String(p.score), class: 'clickable' },
        el('td', { class: 'mono small', text: p.profile_id }),
        el('td', { class: 'num', text: pct(p.score) }),
        el('td', { text: p.reasons.join(', ') || '—' }),
        el('td', { class: 'num small', text: `${date(p.last_time)} ${time(p.last_time)}` }));
      tr.addEventListener('click', () => { $('#who').value = p.profile_id; findPerson(p.profile_id); });
      return tr;
    }));
  }
  async function loadPredictions() {
    const r = await api(`/v1/predictions?site=${site()}&min_score=${encodeURIComponent($('#min-score').value || '0')}&limit=100`);
    const m = r.model;
    $('#model-status').textContent = m.state === 'trained'
      ? `Model ${m.message}; default weights are used until ${m.min_converters} converters. ${r.open_profiles} open profiles.`
      : `Default weights until ${m.min_converters} converters; now ${m.converters}. ${r.open_profiles} open profiles.`;
    $('#model-status').dataset.state = m.state;
    intent = r.profiles;
    drawPredictions();
  }
  async function loadFriction() {
    const r = await api(`/v1/friction?site=${site()}&${range()}`);
    const f = r.report;
    $('#friction-note').textContent = `${f.profiles} journeys · ${f.converted} ordered · ${f.abandoned} left · ${f.in_progress} in progress${f.note ? ` — ${f.note}` : ''}`;
    const listed = (xs) => xs.map((x) => `${x.what} (${x.count})`).join('; ') || '—';
    $('#friction tbody').replaceChildren(...f.steps.map((s) => el('tr', { 'data-step': s.step },
      el('th', { scope: 'row', text: s.step }), el('td', { class: 'num', text: s.reached }), el('td', { class: 'num', text: s.left }),
      el('td', { class: 'num', text: pct(s.drop_off) }), el('td', { class: 'num', text: dur(s.median_ms_before_leaving) }),
      el('td', { class: 'small', text: listed(s.last_events), title: s.last_events.map((x) => x.examples.join(', ')).join(' | ') }),
      el('td', { class: 'small', text: listed(s.questions) }))));
  }
  function loadIntent() {
    loadPredictions().catch(showError);
    loadFriction().catch(showError);
  }

  function loadReports() {
    $('#error').textContent = '';
    loadCampaigns().catch(showError);
    loadFunnel().catch(showError);
    loadCohorts().catch(showError);
    loadIntent();
  }

  // -------------------------------------------------------------- live feed
  async function pollFeed() {
    const r = await api(`/v1/signals?limit=50&since=${since}`);
    const feed = $('#feed');
    for (const s of [...r.signals].reverse()) {
      since = Math.max(since, s.emitted_at);
      const li = el('li', {}, el('b', { text: s.rule.replace(/_/g, ' ') }),
        el('span', { class: 'small muted', text: `${date(s.triggered_at)} ${time(s.triggered_at)} · ${s.campaign ? `campaign ${s.campaign} · ` : ''}${s.action || ''}` }));
      li.addEventListener('click', () => { $('#who').value = s.profile_id; findPerson(s.profile_id); });
      feed.prepend(li);
    }
    while (feed.children.length > 100) feed.lastChild.remove();
  }
  function startFeed() {
    clearInterval(pollTimer);
    pollFeed().catch(showError);
    pollTimer = setInterval(() => pollFeed().catch(() => {}), POLL_MS);
  }

  // ----------------------------------------------------------------- wiring
  $('#signin-form').addEventListener('submit', (e) => { e.preventDefault(); signIn($('#key').value.trim()); });
  $('#signout').addEventListener('click', () => signOut());
  $('#find').addEventListener('submit', (e) => { e.preventDefault(); findPerson($('#who').value.trim()); });
  $('#range').addEventListener('submit', (e) => { e.preventDefault(); loadReports(); });
  $('#model').addEventListener('change', () => loadCampaigns().catch(showError));
  $('#funnel-form').addEventListener('submit', (e) => { e.preventDefault(); loadFunnel().catch(showError); });
  $('#intent-form').addEventListener('submit', (e) => { e.preventDefault(); loadIntent(); });
  $('#train').addEventListener('click', () => api(`/v1/model/train?site=${site()}`, { method: 'POST' }).then(loadPredictions).catch(showError));
  for (const th of document.querySelectorAll('#predictions th[data-sort]')) {
    th.addEventListener('click', () => {
      const t = $('#predictions');
      t.dataset.order = t.dataset.sort === th.dataset.sort && t.dataset.order === 'desc' ? 'asc' : 'desc';
      t.dataset.sort = th.dataset.sort;
      drawPredictions();
    });
  }
  if (sessionStorage.getItem(KEY)) signIn(sessionStorage.getItem(KEY));
})();
