// Headless Chromium from Debian, driven by playwright-core (no browser download).
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run',
];

export function launch(options = {}) {
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS, ...options });
}

/** Resolves once t.js has loaded the wasm and replayed the command queue. */
export async function trackerReady(page) {
  await page.waitForFunction(() => typeof window.touchline === 'function' && window.touchline.ready === 1, null, {
    timeout: 10_000,
  });
}
