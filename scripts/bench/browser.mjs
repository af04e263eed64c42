// `npm run bench:browser`: main-thread cost and load time of Touchline, the
// plain-JS floor and the peers in headless Chromium, same pages, same run.
//
// Main thread: a long page (120 sections, 50 k px) driven through N_SCROLL
// scroll steps (one scroll event per animation frame), N_VIS visibility changes
// (document.visibilityState overridden + a dispatched visibilitychange: headless
// Chromium under plain launch() keeps pages visible, see BROWSER-TESTING.md) and
// N_CLICK real mouse clicks on wa.me links (navigations answered 204 by a route,
// so the page stays). Measured with the CDP Profiler (100 us sampling): a sample
// counts as the tracker's when any frame of its stack is in the tracker's files.
// Also CDP Performance.getMetrics ScriptDuration over the driven phase, and long
// tasks (> 50 ms, PerformanceObserver) during it.
//
// Load: the demo shop with the tracker's snippet in place of Touchline's; from
// the snippet's position in <head> to the tracker's ready callback, fresh
// context (cold cache) each time.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { launch } from '../../tests/support/browser.mjs';
import { summary, machine, writeSection } from './report.mjs';
import { buildPeers, OUT } from './peers.mjs';
import { startPages } from './pages.mjs';

const N_SCROLL = Number(process.env.N_SCROLL || 300);
const N_VIS = Number(process.env.N_VIS || 40);
const N_CLICK = Number(process.env.N_CLICK || 40);
const REPS = Number(process.env.REPS || 3);
const LOAD_REPS = Number(process.env.LOAD_REPS || 10);
const EVENTS = N_SCROLL + N_VIS + N_CLICK;

// Which of the driven events each tracker captures.
export const SUBJECTS = [
  { id: 'none', name: 'no tracker (page + driver only)', url: null },
  { id: 'floor', name: 'plain-JS floor', url: /\/bench\/floor\.js/, captures: 'scroll, visibility, wa.me clicks' },
  { id: 'touchline', name: 'Touchline', url: /\/t\.js|\/t\.wasm|^wasm:\/\//, captures: 'scroll, visibility (engagement), wa.me clicks' },
  { id: 'snowplow', name: 'Snowplow (activity tracking)', url: /\/bench\/snowplow\.js/, captures: 'scroll offsets, activity, visibility (page pings); no link clicks without a plugin' },
  { id: 'posthog', name: 'PostHog (autocapture)', url: /\/bench\/posthog\.js/, captures: 'clicks, scroll depth, visibility' },
  { id: 'segment', name: 'Segment (analytics-next)', url: /analytics\.min\.js|\/analytics-next\/bundles\//, captures: 'none of these (page views only): its idle cost' },
  { id: 'plausible', name: 'Plausible (outbound links)', url: /\/bench\/plausible(\.nonav)?\.js/, captures: 'wa.me clicks (outbound links) only' },
];

function trackerMs(profile, re) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children || []) parent.set(c, n.id);
  const hit = new Map();
  const isTracker = (id) => {
    if (hit.has(id)) return hit.get(id);
    const n = byId.get(id);
    const v = re.test(n.callFrame.url || '') || (parent.has(id) && isTracker(parent.get(id)));
    hit.set(id, v);
    return v;
  };
  let us = 0;
  // timeDeltas[i] is the time before sample i; attribute it to sample i-1's stack.
  for (let i = 1; i < profile.samples.length; i++) if (isTracker(profile.samples[i - 1])) us += profile.timeDeltas[i];
  return us / 1000;
}

async function drive(page) {
  // Scrolling: one step per animation frame, down then back up.
  await page.evaluate(async (n) => {
    const h = document.documentElement.scrollHeight - innerHeight;
    for (let i = 1; i <= n; i++) {
      const f = i <= n / 2 ? i / (n / 2) : (n - i) / (n / 2);
      scrollTo(0, Math.round(h * f));
      await new Promise((r) => requestAnimationFrame(r));
    }
  }, N_SCROLL);
  // Visibility: hidden/visible pairs.
  await page.evaluate(async (n) => {
    for (let i = 0; i < n; i++) {
      const v = i % 2 === 0 ? 'hidden' : 'visible';
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => v });
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => v === 'hidden' });
      document.dispatchEvent(new Event('visibilitychange'));
      await new Promise((r) => requestAnimationFrame(r));
    }
  }, N_VIS);
  // Clicks on wa.me links (real input events).
  // Coordinates + page.mouse rather than locator.click(): Playwright's actions wait
  // for navigations, and Plausible's outbound handler navigates (to a 204) itself.
  for (let i = 0; i < N_CLICK; i++) {
    const { x, y } = await page.evaluate((id) => {
      const a = document.getElementById(id);
      a.scrollIntoView({ block: 'center' });
      const r = a.getBoundingClientRect();
      return { x: r.left + r.width / 2, y: r.top + r.height / 2 };
    }, `wa${i % 120}`);
    await page.mouse.click(x, y);
  }
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
}

async function mainThreadRun(browser, origin, s) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  await context.route(/^https:\/\/(wa\.me|api\.whatsapp\.com)\//, (r) => r.fulfill({ status: 204 }));
  await context.route((u) => !u.href.startsWith(origin) && !u.href.startsWith('data:'), (r) => r.abort());
  const page = await context.newPage();
  await page.addInitScript(() => {
    window.__long = [];
    new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__long.push({ start: e.startTime, dur: e.duration }); })
      .observe({ type: 'longtask', buffered: true });
  });
  await page.goto(`${origin}/long/${s.id}`);
  await page.waitForFunction(() => window.__readyAt !== null, null, { timeout: 15_000 });
  await page.waitForTimeout(300); // let start-up work (first batch, timers) settle before the driven phase
  const cdp = await context.newCDPSession(page);
  await cdp.send('Performance.enable');
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 100 });
  const t0 = await page.evaluate(() => performance.now());
  const m0 = Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
  await cdp.send('Profiler.start');
  await drive(page);
  const { profile } = await cdp.send('Profiler.stop');
  const m1 = Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
  const long = await page.evaluate((t) => window.__long.filter((e) => e.start >= t), t0);
  await context.close();
  return {
    trackerMs: s.url ? trackerMs(profile, s.url) : 0,
    scriptMs: (m1.ScriptDuration - m0.ScriptDuration) * 1000,
    taskMs: (m1.TaskDuration - m0.TaskDuration) * 1000,
    longTasks: long.length,
    longMaxMs: long.reduce((m, e) => Math.max(m, e.dur), 0),
  };
}

async function loadRun(browser, origin, id) {
  const context = await browser.newContext();
  await context.route((u) => !u.href.startsWith(origin) && !u.href.startsWith('data:'), (r) => r.abort());
  const page = await context.newPage();
  await page.goto(`${origin}/shop/${id}`);
  await page.waitForFunction(() => window.__readyAt !== null, null, { timeout: 15_000 });
  const r = await page.evaluate(() => ({ ready: window.__readyAt - window.__t0 }));
  await context.close();
  return r.ready;
}

const median = (xs) => summary(xs).p50;

export async function runBrowser() {
  buildPeers();
  const pages = await startPages();
  const browser = await launch();
  const main = Object.fromEntries(SUBJECTS.map((s) => [s.id, []]));
  const load = Object.fromEntries(SUBJECTS.filter((s) => s.id !== 'none').map((s) => [s.id, []]));
  try {
    for (let r = 0; r < REPS; r++) { // interleaved, so drift in machine load hits every subject alike
      for (const s of SUBJECTS) main[s.id].push(await mainThreadRun(browser, pages.origin, s).catch((e) => { throw new Error(`${s.id}: ${e.message}`); }));
    }
    for (let r = 0; r < LOAD_REPS; r++) {
      for (const id of Object.keys(load)) load[id].push(await loadRun(browser, pages.origin, id).catch((e) => { throw new Error(`${id}: ${e.message}`); }));
    }
  } finally {
    await browser.close();
    await pages.close();
  }
  const none = main.none;
  const rows = SUBJECTS.map((s) => {
    const runs = main[s.id];
    const tracker = median(runs.map((x) => x.trackerMs));
    const script = median(runs.map((x) => x.scriptMs));
    const extraScript = median(runs.map((x, i) => x.scriptMs - none[i].scriptMs));
    return {
      id: s.id, name: s.name, captures: s.captures || '',
      trackerMs: tracker, perEventUs: (tracker / EVENTS) * 1000, scriptMs: script, extraScriptMs: extraScript,
      taskMs: median(runs.map((x) => x.taskMs)),
      longTasks: Math.max(...runs.map((x) => x.longTasks)), noneLong: Math.max(...none.map((x) => x.longTasks)),
      longMaxMs: Math.max(...runs.map((x) => x.longMaxMs)),
      load: load[s.id] ? summary(load[s.id]) : null,
    };
  });
  return rows;
}

export function browserMarkdown(rows) {
  const floor = rows.find((r) => r.id === 'floor');
  const tl = rows.find((r) => r.id === 'touchline');
  const f1 = (x) => x.toFixed(1);
  const ratio = (r) => (floor.trackerMs > 0 ? `${(r.trackerMs / floor.trackerMs).toFixed(2)}x` : 'n/a');
  const tlRatio = tl.trackerMs / floor.trackerMs;
  const tlCausedLong = Math.max(0, tl.longTasks - tl.noneLong);
  const date = new Date().toISOString().slice(0, 10);
  return `
### Main-thread cost in headless Chromium

Command: \`npm run bench:browser\` (part of \`npm run bench\`), ${date}, ${machine()}, Chromium ${'${CHROMIUM}'}.
One long page (120 sections), ${EVENTS} driven events: ${N_SCROLL} scroll steps (one per animation frame), ${N_VIS} visibility changes
(overridden \`visibilityState\` + dispatched \`visibilitychange\`; headless Chromium keeps pages visible otherwise), ${N_CLICK} real mouse clicks on
wa.me links (the page's own last click listener, on window, prevents the default navigation; Plausible's own delayed
navigation is left out with its own switch, NODE_ENV=test at bundle time, for this page only). Median of ${REPS} interleaved runs, a fresh context each.
*Tracker time*: CDP Profiler samples (100 us) whose stack includes the tracker's files (for Touchline: t.js and its wasm), over the driven phase.
*Extra scripting*: CDP \`ScriptDuration\` of the driven phase minus that of the same page without a tracker (noisy; can go negative).
*Long tasks*: PerformanceObserver entries > 50 ms during the driven phase (max over runs; the page without a tracker had ${tl.noneLong}).

| tracker | captures of the driven events | tracker time ms | per event us | vs plain-JS floor | extra scripting ms | long tasks | longest ms |
|---|---|---:|---:|---:|---:|---:|---:|
${rows.filter((r) => r.id !== 'none').map((r) => `| ${r.name} | ${r.captures} | ${f1(r.trackerMs)} | ${f1(r.perEventUs)} | ${ratio(r)} | ${f1(r.extraScriptMs)} | ${r.longTasks} | ${f1(r.longMaxMs)} |`).join('\n')}

Targets:
- Per-event main-thread cost <= 1.3x the plain-JS floor: ${tlRatio <= 1.3 ? '**met**' : `**missed**: ${tlRatio.toFixed(2)}x (${f1(tl.perEventUs)} us vs ${f1(floor.perEventUs)} us per event)`}.
- Zero tracker-caused long tasks: ${tlCausedLong === 0 ? '**met**' : `**missed**: ${tl.longTasks} long tasks with Touchline (${tl.noneLong} without a tracker)`}.

### Load time: script tag to tracker ready (demo shop)

Same run. The demo shop's home page with each tracker's snippet in place of Touchline's, a fresh context (cold HTTP and code cache) per load,
${LOAD_REPS} loads each, files from a loopback server (so this is parse + compile + instantiate + init, not network).
Ready: Touchline's \`touchline:ready\` (wasm compiled and instantiated, queue replayed), PostHog's \`loaded\`, Segment's \`ready\` (after its settings
request to the local sink), Snowplow and Plausible when their synchronous init calls have returned.

| tracker | n | p50 ms | p95 ms | max ms |
|---|---:|---:|---:|---:|
${rows.filter((r) => r.load).map((r) => `| ${r.name} | ${r.load.n} | ${f1(r.load.p50)} | ${f1(r.load.p95)} | ${f1(r.load.max)} |`).join('\n')}
`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await runBrowser();
  writeFileSync(join(OUT, 'browser.json'), JSON.stringify(rows, null, 1));
  const { execFileSync } = await import('node:child_process');
  let ver = 'unknown';
  try { ver = execFileSync('/usr/bin/chromium', ['--version'], { encoding: 'utf8' }).trim().split('\n').pop(); } catch {}
  const md = browserMarkdown(rows).replace('${CHROMIUM}', ver);
  console.log(md);
  writeSection('browser', md);
}
