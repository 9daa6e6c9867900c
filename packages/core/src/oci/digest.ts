import { createHash } from 'node:crypto';
import { KilnError } from '../errors.js';

const DIGEST = /^sha256:([a-f0-9]{64})$/;

/** A string that is not `sha256:` followed by 64 lowercase hex digits. */
export class InvalidDigestError extends KilnError {
  constructor(readonly digest: string) {
    super(`invalid digest ${JSON.stringify(digest)}: expected "sha256:" followed by 64 lowercase hex digits`);
  }
}

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export function sha256Digest(data: Uint8Array | string): string {
  return `sha256:${sha256Hex(data)}`;
}

export function isDigest(value: unknown): value is string {
  return typeof value === 'string' && DIGEST.test(value);
}

/** The hex part of a sha256 digest; throws InvalidDigestError otherwise, so it is safe in file paths. */
export function digestHex(digest: string): string {
  const m = typeof digest === 'string' ? DIGEST.exec(digest) : null;
  if (!m?.[1]) throw new InvalidDigestError(String(digest));
  return m[1];
}

/** JSON bytes of a document, exactly as Kiln stores, hashes and writes them. */
export function canonicalJson(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

/** The chain ID of each layer of a stack (OCI image spec): its diffID chained onto its parent's chain ID. */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const diffId of diffIds) {
    const prev = out[out.length - 1];
    out.push(prev === undefined ? diffId : sha256Digest(`${prev} ${diffId}`));
  }
  return out;
}
