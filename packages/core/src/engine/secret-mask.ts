// Secret values masked in a command's output, as it streams: each occurrence becomes `****`,
// also when it arrives split across chunks (the end of a chunk that could begin a secret waits
// for the next one; anything else is shown at once, so lines are not cut).

const MASK = Buffer.from('****');

export class SecretMask {
  private readonly values: Buffer[];
  private readonly keep: number;
  private held = Buffer.alloc(0);

  constructor(values: readonly Uint8Array[]) {
    // Longest first, so a secret that contains another is masked whole.
    this.values = values.filter((v) => v.length > 0).map((v) => Buffer.from(v)).sort((a, b) => b.length - a.length);
    this.keep = Math.max(0, ...this.values.map((v) => v.length - 1));
  }

  get active(): boolean {
    return this.values.length > 0;
  }

  /** The bytes of `chunk` that can be shown now, masked. */
  push(chunk: Buffer): Buffer {
    const all = this.mask(this.held.length ? Buffer.concat([this.held, chunk]) : chunk);
    const cut = all.length - this.secretPrefixAtEnd(all);
    this.held = Buffer.from(all.subarray(cut));
    return all.subarray(0, cut);
  }

  /** The length of the longest end of `buf` that is the start of a secret (0 when none is). */
  private secretPrefixAtEnd(buf: Buffer): number {
    for (let k = Math.min(this.keep, buf.length); k > 0; k--) {
      const end = buf.subarray(buf.length - k);
      if (this.values.some((v) => v.subarray(0, k).equals(end))) return k;
    }
    return 0;
  }

  /** What is still held back, masked (at the end of the output). */
  flush(): Buffer {
    const rest = this.mask(this.held);
    this.held = Buffer.alloc(0);
    return rest;
  }

  private mask(buf: Buffer): Buffer {
    let out = buf;
    for (const v of this.values) {
      let at = out.indexOf(v);
      if (at < 0) continue;
      const parts: Buffer[] = [];
      let from = 0;
      for (; at >= 0; at = out.indexOf(v, from)) {
        parts.push(out.subarray(from, at), MASK);
        from = at + v.length;
      }
      parts.push(out.subarray(from));
      out = Buffer.concat(parts);
    }
    return out;
  }
}
