// Starts the real, built Worker under `wrangler dev` (workerd, local Durable
// Objects, D1 and Queues) on a free loopback port, with fresh state.
// `npm test` starts one for the whole run and passes it in TOUCHLINE_URL;
// a test file run alone starts its own.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, existsSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const WRANGLER = join(ROOT, 'node_modules', '.bin', 'wrangler');
export const API_KEY = process.env.TOUCHLINE_API_KEY || 'touchline-test-key';
/** Secrets the tests pass with --var; tests act as Meta by signing with APP_SECRET. */
export const EVENTS_KEY = 'touchline-test-events-key';
export const APP_SECRET = 'test_app_secret';
export const VERIFY_TOKEN = 'local-verify-token';
export const LINK_SECRET = 'touchline-test-link-secret';

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export async function waitFor(check, { timeout = 10_000, interval = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

const WRANGLER_ENV = {
  ...process.env,
  WRANGLER_SEND_METRICS: 'false',
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
  CI: 'true',
};

/**
 * The built config, or a copy beside it (relative paths must still resolve)
 * with some `[[ratelimits]]` limits changed, e.g. `{ RL_IP: 20 }`, so a test
 * can reach a limit without depending on how fast this machine is.
 */
function configFile(port, rateLimits, name = 'wrangler.prebuilt.toml') {
  const base = join(ROOT, name);
  if (!rateLimits) return { path: base, cleanup: () => {} };
  let text = readFileSync(base, 'utf8');
  for (const [name, limit] of Object.entries(rateLimits)) {
    const re = new RegExp(`(name = "${name}"[^\\[]*?simple = \\{ limit = )\\d+`);
    if (!re.test(text)) throw new Error(`no rate limiter ${name} in wrangler.toml`);
    text = text.replace(re, `$1${limit}`);
  }
  const path = join(ROOT, `wrangler.test-${port}.toml`);
  writeFileSync(path, text);
  return { path, cleanup: () => rmSync(path, { force: true }) };
}

/** Starts wrangler dev; returns { url, apiKey, persistTo, stop }. */
export async function startWorker({ port, persistTo, apiKey = API_KEY, sites, vars = {}, testScheduled = false, rateLimits, config: configName = 'wrangler.prebuilt.toml' } = {}) {
  if (!existsSync(join(ROOT, configName))) {
    throw new Error('the Worker is not built: run `npm run build` first');
  }
  port ||= await freePort();
  persistTo ||= mkdtempSync(join(tmpdir(), 'touchline-state-'));
  const url = `http://127.0.0.1:${port}`;
  sites ||= { demo: { origins: [url, `http://localhost:${port}`] }, test: { origins: ['*'] } };
  const file = configFile(port, rateLimits, configName);
  const config = ['-c', file.path];
  execFileSync(WRANGLER, ['d1', 'migrations', 'apply', 'touchline', '--local', '--persist-to', persistTo, ...config], {
    cwd: ROOT, env: WRANGLER_ENV, stdio: 'pipe',
  });
  const child = spawn(WRANGLER, [
    'dev', ...config, '--port', String(port), '--ip', '127.0.0.1', '--inspector-port', '0',
    '--log-level', 'warn', '--persist-to', persistTo,
    '--var', `API_KEY:${apiKey}`, '--var', `SITES:${JSON.stringify(sites)}`,
    '--var', `EVENTS_KEY:${EVENTS_KEY}`, '--var', `WHATSAPP_APP_SECRET:${APP_SECRET}`,
    '--var', `WHATSAPP_VERIFY_TOKEN:${VERIFY_TOKEN}`, '--var', `LINK_SECRET:${LINK_SECRET}`,
    '--var', 'WHATSAPP_SITE_ID:demo',
    ...Object.entries(vars).flatMap(([k, v]) => ['--var', `${k}:${typeof v === 'string' ? v : JSON.stringify(v)}`]),
    ...(testScheduled ? ['--test-scheduled'] : []),
  ], { cwd: ROOT, env: WRANGLER_ENV, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let log = '';
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  try {
    await waitFor(async () => (await fetch(`${url}/health`)).ok, { timeout: 60_000, what: `wrangler dev on ${url}` });
  } catch (e) {
    try { process.kill(-child.pid, 'SIGKILL'); } catch {}
    file.cleanup();
    throw new Error(`${e.message}\n--- wrangler log ---\n${log}`);
  }
  return {
    url, apiKey, persistTo,
    /** The wrangler process (workerd runs among its descendants); also the
     * id of their process group, for CPU accounting in benchmarks. */
    pid: child.pid,
    pgid: child.pid,
    log: () => log,
    async stop() {
      try { process.kill(-child.pid, 'SIGTERM'); } catch {}
      const t = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch {} }, 3000);
      await exited;
      clearTimeout(t);
      file.cleanup();
    },
  };
}

/** The shared Worker of this run, or a fresh one for this file. */
export async function worker() {
  if (process.env.TOUCHLINE_URL) {
    return { url: process.env.TOUCHLINE_URL, apiKey: API_KEY, stop: async () => {} };
  }
  return startWorker();
}

/** GET a JSON API path with the API key. */
export async function api(w, path, init = {}) {
  const res = await fetch(`${w.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${w.apiKey}`, ...(init.headers || {}) },
  });
  return { status: res.status, body: await res.json().catch(() => null), headers: res.headers };
}
