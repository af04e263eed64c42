// Hosts the built Worker through wrangler's programmatic dev server
// (`unstable_startWorker`) with the DevTools inspector OFF and request logging
// off (`wrangler dev` on the command line always starts the inspector), for
// comparing hosts' memory (scripts/bench/memory.mjs). Same bindings as
// wrangler.prebuilt.toml.
//
//   node scripts/bench/dev-host.mjs PORT PERSIST_DIR '{"API_KEY":"…"}'
//
// D1 migrations must already be applied to PERSIST_DIR. Prints "ready URL".
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ROOT } from '../../tests/support/worker.mjs';

const require = createRequire(import.meta.url);
const { unstable_startWorker: startWorker } = require(join(ROOT, 'node_modules', 'wrangler'));

const [port, persistTo, varsJson = '{}'] = process.argv.slice(2);
const vars = Object.fromEntries(Object.entries(JSON.parse(varsJson)).map(([k, v]) => [k, { type: 'plain_text', value: typeof v === 'string' ? v : JSON.stringify(v) }]));
const w = await startWorker({
  config: join(ROOT, 'wrangler.prebuilt.toml'),
  bindings: vars,
  dev: {
    server: { hostname: '127.0.0.1', port: Number(port) },
    inspector: false,
    logLevel: 'none',
    watch: false,
    persist: persistTo,
    liveReload: false,
  },
});
await w.ready;
console.log(`ready ${await w.url}`);
process.on('SIGTERM', async () => { await w.dispose(); process.exit(0); });
