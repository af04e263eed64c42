// The pieces of a wasm binary that the tracker's build scripts rewrite
// (scripts/shrink-imports.mjs, scripts/prune-exports.mjs): LEB128 numbers,
// names, and one section replaced while the others are copied as they are.

/** Reads a wasm binary from position `p` on. */
export class Reader {
  constructor(buf, p = 8) {
    this.buf = buf;
    this.p = p;
  }

  byte() {
    return this.buf[this.p++];
  }

  uleb() {
    let r = 0, s = 0, b;
    do { b = this.buf[this.p++]; r += (b & 0x7f) * 2 ** s; s += 7; } while (b & 0x80);
    return r;
  }

  bytes(n) {
    const b = this.buf.subarray(this.p, this.p + n);
    this.p += n;
    return b;
  }

  name() {
    return this.bytes(this.uleb()).toString();
  }

  /** Skips a limits record (memories and tables). */
  limits() {
    const flag = this.byte();
    this.uleb();
    if (flag & 1) this.uleb();
  }
}

/** `n` as unsigned LEB128. */
export const enc = (n) => {
  const out = [];
  do { let b = n & 0x7f; n = Math.floor(n / 128); if (n) b |= 0x80; out.push(b); } while (n);
  return Buffer.from(out);
};

/** A wasm name: its length, then its UTF-8 bytes. */
export const str = (s) => { const b = Buffer.from(s, 'utf8'); return Buffer.concat([enc(b.length), b]); };

/**
 * `buf` with the body of each section `id` replaced by what `edit(reader)`
 * returns; `edit` must read the whole body (it is checked).
 */
export function rewriteSection(buf, id, edit) {
  const r = new Reader(buf);
  const parts = [buf.subarray(0, 8)];
  while (r.p < buf.length) {
    const start = r.p;
    const sectionId = r.byte();
    const end = r.uleb() + r.p;
    if (sectionId !== id) {
      r.p = end;
      parts.push(buf.subarray(start, end));
      continue;
    }
    const body = edit(r);
    if (r.p !== end) throw new Error(`section ${id} not parsed exactly`);
    parts.push(Buffer.from([id]), enc(body.length), body);
  }
  return Buffer.concat(parts);
}
