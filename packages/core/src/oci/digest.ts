import { createHash } from 'node:crypto';

const DIGEST = /^sha256:[a-f0-9]{64}$/;

export function sha256Digest(data: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function isDigest(value: string): boolean {
  return DIGEST.test(value);
}

/** The hex part of a sha256 digest; throws on anything else, so it is safe in file paths. */
export function digestHex(digest: string): string {
  if (!DIGEST.test(digest)) throw new Error(`not a sha256 digest: ${JSON.stringify(digest)}`);
  return digest.slice('sha256:'.length);
}

/** JSON bytes of a document, exactly as Kiln stores, hashes and writes them. */
export function canonicalJson(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}
