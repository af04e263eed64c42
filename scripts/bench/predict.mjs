// `npm run bench:predict`: the predicted-intent evaluation on generated
// journeys (shared/examples/predict_eval.rs, the same Rust code the Worker
// runs): held-out ROC AUC and reliability bins of the trained model vs the
// default weights and the rule-based score, at 50, 200 and 1,000 converters.
// Writes its section of BENCHMARKS.md. Numbers only, never pass/fail.
import { execFileSync } from 'node:child_process';
import { ROOT, machine, writeSection } from './report.mjs';

const CMD = ['run', '-q', '-p', 'touchline-shared', '--example', 'predict_eval', '--features', 'validate', '--release'];
const out = execFileSync('cargo', CMD, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
console.log(out);
writeSection('predict', `
Command: \`npm run bench:predict\` (runs \`cargo ${CMD.filter((a) => a !== '-q').join(' ')}\`), ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}, on ${machine()}.
The generating process, with its noise, is documented at the top of \`shared/examples/predict_eval.rs\`.

${out.trim()}
`);
