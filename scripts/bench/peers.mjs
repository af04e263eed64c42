// The trackers compared by the benchmarks: Touchline and its peers, each as the
// files a page downloads, built from the npm packages pinned in package.json
// (no CDN). `buildPeers()` writes the esbuild bundles to scripts/bench/out/.
import { mkdirSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { ROOT } from './report.mjs';

export const OUT = join(ROOT, 'scripts', 'bench', 'out');
const NM = join(ROOT, 'node_modules');
const ESBUILD = join(NM, '.bin', 'esbuild');

export function version(pkg) {
  return JSON.parse(readFileSync(join(NM, pkg, 'package.json'), 'utf8')).version;
}

// Entries bundled with esbuild (minified IIFE, browser target): only what the
// page below uses, so tree shaking counts in the peer's favour.
const ENTRIES = {
  'snowplow.js': `import { newTracker, trackPageView, enableActivityTracking } from '@snowplow/browser-tracker';
window.snowplowBench = { newTracker, trackPageView, enableActivityTracking };`,
  'plausible.js': `import Plausible from 'plausible-tracker';
window.plausibleBench = Plausible;`,
};

export function buildPeers() {
  mkdirSync(OUT, { recursive: true });
  for (const [file, src] of Object.entries(ENTRIES)) {
    const entry = join(OUT, `${file}.entry.mjs`);
    writeFileSync(entry, src);
    const args = [entry, '--bundle', '--minify', '--format=iife', '--platform=browser', '--target=es2019', '--legal-comments=none', '--log-level=warning'];
    execFileSync(ESBUILD, [...args, `--outfile=${join(OUT, file)}`], { cwd: ROOT, stdio: 'inherit' });
    // For the main-thread page only: NODE_ENV=test is Plausible's own switch that drops the 150 ms delayed
    // `location.href = link` after an outbound click (it would leave the benchmark page); sizes use the build above.
    execFileSync(ESBUILD, [...args, "--define:process.env.NODE_ENV='test'", `--outfile=${join(OUT, file.replace('.js', '.nonav.js'))}`], { cwd: ROOT, stdio: 'inherit' });
  }
}

/** What a page downloads for each tracker: name, files (absolute paths), and a note. */
export function sizeSubjects() {
  const pt = join(NM, 'posthog-js', 'dist');
  const sg = join(NM, '@segment', 'analytics-next', 'dist', 'umd');
  return [
    { id: 'touchline', name: 'Touchline (t.js + t.wasm)', files: [join(ROOT, 'tracker/dist/t.js'), join(ROOT, 'tracker/dist/t.wasm')],
      note: 'loader + wasm' },
    { id: 'snowplow', name: `Snowplow @snowplow/browser-tracker ${version('@snowplow/browser-tracker')}`, files: [join(OUT, 'snowplow.js')],
      note: 'esbuild bundle of newTracker + trackPageView + enableActivityTracking' },
    { id: 'snowplow-umd', name: `Snowplow browser-tracker UMD (index.umd.min.js)`, files: [join(NM, '@snowplow/browser-tracker/dist/index.umd.min.js')],
      note: 'the package\'s own minified UMD build (whole API); the package ships no sp.js (that is @snowplow/javascript-tracker)' },
    { id: 'posthog', name: `PostHog posthog-js ${version('posthog-js')} (dist/array.js)`, files: [join(pt, 'array.js')],
      note: 'the browser bundle the snippet loads; extensions (recorder, surveys, ...) load later on demand' },
    { id: 'posthog-full', name: 'PostHog (dist/array.full.js)', files: [join(pt, 'array.full.js')], note: 'with every extension bundled' },
    { id: 'segment', name: `Segment @segment/analytics-next ${version('@segment/analytics-next')} (umd/standalone.js)`, files: [join(sg, 'standalone.js')],
      note: 'standalone bundle (analytics.min.js on the CDN); destinations and middleware chunks load later' },
    { id: 'plausible', name: `Plausible plausible-tracker ${version('plausible-tracker')}`, files: [join(OUT, 'plausible.js')],
      note: 'esbuild bundle of the default export' },
  ].map((s) => ({ ...s, missing: s.files.filter((f) => !existsSync(f)) }));
}
