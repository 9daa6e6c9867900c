// Secret values masked in a command's output, as it streams: each occurrence becomes `****`,
// also when it arrives split across chunks (the end of a chunk that could begin a secret waits
// for the next one; anything else is shown at once, so lines are not cut).

const MASK = Buffer.from('****');

export class SecretMask {
  private readonly values: Buffer[];
  private readonly keep: number;
  private held = Buffer.alloc(0);

  constructor(values: readonly Uint8Array[]) {
    // A secret file's value is often printed without its final newline, or a line at a time (an
    // .npmrc, a key): the value, its trimmed form and each line of 4 or more characters are masked.
    const forms = new Set<string>();
    for (const value of values) {
      const text = Buffer.from(value).toString('latin1');
      for (const form of [text, text.trim(), ...text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length >= 4)]) if (form !== '') forms.add(form);
    }
    // Longest first, so a secret that contains another is masked whole.
    this.values = [...forms].map((f) => Buffer.from(f, 'latin1')).sort((a, b) => b.length - a.length);
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
      const at = buf.length - k;
      // Only where a secret's first byte is: few positions are ever compared.
      if (!this.values.some((v) => v[0] === buf[at] && v.length > k && v.compare(buf, at, buf.length, 0, k) === 0)) continue;
      return k;
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
