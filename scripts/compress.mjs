// Writes FILE.gz, FILE.br (maximum compression) and FILE.etag (first 16 hex
// digits of its SHA-256) next to each FILE, for the edge to serve and for
// `npm run size` to report.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { gzipSync, brotliCompressSync, constants } from 'node:zlib';

export function gzip(buf) {
  return gzipSync(buf, { level: 9 });
}
export function brotli(buf) {
  return brotliCompressSync(buf, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: buf.length },
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const file of process.argv.slice(2)) {
    const raw = readFileSync(file);
    writeFileSync(`${file}.gz`, gzip(raw));
    writeFileSync(`${file}.br`, brotli(raw));
    writeFileSync(`${file}.etag`, createHash('sha256').update(raw).digest('hex').slice(0, 16));
  }
}
