// Guards the hand-written glue (tracker/glue.js) against a change of the wasm's
// ABI: fingerprints the glue wasm-bindgen generated for this build (after
// scripts/shrink-imports.mjs, doc comments left out) and compares it with the
// fingerprint glue.js was written against (tracker/glue.fingerprint). When
// wasm-bindgen, the exported API or the imports change, the build stops here:
// compare the generated glue with glue.js, mend glue.js, then record the new
// fingerprint with `node scripts/check-glue.mjs --update`.
//   node scripts/check-glue.mjs [--update]
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';

const generated = readFileSync('tracker/pkg/touchline_tracker.js', 'utf8')
  .replace(/\/\*\*[\s\S]*?\*\//g, '')
  // The snippet directory is named by a hash of the crate's path.
  .replace(/snippets\/[^/]+\//g, 'snippets/')
  .replace(/\s+/g, ' ');
const fingerprint = createHash('sha256').update(generated).digest('hex').slice(0, 32);
const file = 'tracker/glue.fingerprint';
if (process.argv.includes('--update')) {
  writeFileSync(file, `${fingerprint}\n`);
  console.log(`glue fingerprint recorded: ${fingerprint}`);
} else {
  const expected = readFileSync(file, 'utf8').trim();
  if (expected !== fingerprint) {
    console.error(`check-glue: the glue wasm-bindgen generates changed (${fingerprint}, tracker/glue.js was written against ${expected}).
Compare tracker/pkg/touchline_tracker.js with tracker/glue.js (imports, exports, argument order), mend glue.js,
then run: node scripts/check-glue.mjs --update`);
    process.exit(1);
  }
}
