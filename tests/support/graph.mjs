// A local stand-in for Meta's Graph API (META-FORMATS.md §2-§3): the Cloud API
// template send and the Conversions API. It checks the request shape and the
// bearer token, answers in Meta's format, and records what it got.
// `failFor(kind, body)` may return a Graph error code to answer with.
import { createServer } from 'node:http';

export const GRAPH_VERSION = 'v23.0';
export const TOKEN = 'test-whatsapp-token';
export const DATASET = '444444444444444';
export const WABA = '111111111111111';
const ALLOWED = ['Purchase', 'LeadSubmitted', 'InitiateCheckout', 'AddToCart', 'ViewContent', 'OrderCreated',
  'OrderShipped', 'OrderDelivered', 'OrderCanceled', 'OrderReturned', 'CartAbandoned', 'QualifiedLead',
  'RatingProvided', 'ReviewProvided'];

function problems(kind, body, headers) {
  const p = [];
  if (headers.authorization !== `Bearer ${TOKEN}`) p.push('bad bearer token');
  if (kind === 'messages') {
    if (body.messaging_product !== 'whatsapp') p.push('messaging_product');
    if (body.type !== 'template') p.push('type');
    if (!body.template?.name || !body.template?.language?.code) p.push('template name/language');
    if (!(typeof body.to === 'string' && body.to.startsWith('+')) && !body.recipient) p.push('to must start with +');
  } else {
    const e = body.data?.[0];
    if (!e) p.push('data[0]');
    else {
      if (!ALLOWED.includes(e.event_name)) p.push('event_name');
      if (!Number.isInteger(e.event_time) || e.event_time > Date.now() / 1000 + 60 || e.event_time < Date.now() / 1000 - 7 * 86400) p.push('event_time (unix seconds, < 7 days old)');
      if (e.action_source !== 'business_messaging') p.push('action_source');
      if (e.messaging_channel !== 'whatsapp') p.push('messaging_channel');
      if (!e.user_data?.ctwa_clid || !e.user_data?.whatsapp_business_account_id) p.push('user_data');
      if (typeof e.custom_data?.value !== 'number' || !/^[A-Z]{3}$/.test(e.custom_data?.currency || '')) p.push('custom_data');
    }
  }
  return p;
}

export async function startGraph(failFor = () => null) {
  const requests = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => { raw += c; });
    req.on('end', () => {
      const m = req.url.match(/^\/(v[\d.]+)\/(\d+)\/(messages|events)$/);
      let body = null;
      try { body = JSON.parse(raw); } catch {}
      const send = (status, json) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(json)); };
      const error = (status, code, message) => send(status, { error: { message, type: 'OAuthException', code, fbtrace_id: 'TEST_FBTRACE' } });
      const record = (status) => requests.push({ url: req.url, kind: m?.[3], id: m?.[2], headers: req.headers, body, status });
      if (!m || m[1] !== GRAPH_VERSION || !body) { record(400); return error(400, 100, `unexpected request ${req.url}`); }
      const bad = problems(m[3], body, req.headers);
      if (bad.length) { record(400); return error(400, 100, `Invalid parameter: ${bad.join(', ')}`); }
      const code = failFor(m[3], body);
      if (code) { record(400); return error(400, code, `(#${code}) injected`); }
      record(200);
      if (m[3] === 'messages') {
        return send(200, { messaging_product: 'whatsapp', contacts: [{ input: body.to, wa_id: String(body.to || '').replace('+', '') }], messages: [{ id: `wamid.OUT_${requests.length}`, message_status: 'accepted' }] });
      }
      return send(200, { events_received: body.data.length, messages: [], fbtrace_id: 'TEST_FBTRACE' });
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, requests, close: () => new Promise((r) => server.close(r)) };
}
