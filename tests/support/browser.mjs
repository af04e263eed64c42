// Headless Chromium from Debian, driven by playwright-core (no browser download).
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
// Headless Chromium says "HeadlessChrome" in its User-Agent, which the
// collector filters as a bot; tests browse as the desktop Chrome it is.
export const USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36';
export const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', `--user-agent=${USER_AGENT}`,
];

export function launch(options = {}) {
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS, ...options });
}

/** Resolves once t.js has loaded the wasm and replayed the command queue. */
export async function trackerReady(page) {
  await page.waitForFunction(() => typeof window.touchline === 'function' && window.touchline.ready === true, null, {
    timeout: 10_000,
  });
}
