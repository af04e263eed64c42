// A local webhook receiver: records every request, answers with a status
// chosen per request by `respond(request, attempt)`: a number, or
// `{ status, delayMs, reset }` to answer late or drop the connection (the
// request is recorded when it is answered).
import { createServer } from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';

export async function startReceiver(respond = () => 200) {
  const requests = [];
  const attempts = new Map();
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const key = `${req.url} ${req.headers['idempotency-key']}`;
      const attempt = (attempts.get(key) || 0) + 1;
      attempts.set(key, attempt);
      const out = respond({ url: req.url, headers: req.headers, body }, attempt);
      const { status, delayMs = 0, reset = false } = typeof out === 'number' ? { status: out } : out;
      const answer = () => {
        requests.push({ url: req.url, headers: req.headers, body, json: safeJson(body), status, at: Date.now(), delayMs, reset });
        if (reset) return req.socket.destroy();
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end('{}');
      };
      if (delayMs > 0) setTimeout(answer, delayMs);
      else answer();
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }),
  };
}

function safeJson(s) {
  try { return JSON.parse(s); } catch { return null; }
}

/** Checks `X-Touchline-Signature` over "<timestamp>.<body>" with the shared secret. */
export function validSignature(req, secret) {
  const ts = req.headers['x-touchline-timestamp'];
  const got = req.headers['x-touchline-signature'] || '';
  const want = `sha256=${createHmac('sha256', secret).update(`${ts}.${req.body}`).digest('hex')}`;
  return got.length === want.length && timingSafeEqual(Buffer.from(got), Buffer.from(want));
}
