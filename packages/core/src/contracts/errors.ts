// The errors the blob contract promises (blobs.ts): callers may catch them whatever store they use.

import { KilnError } from '../errors.js';

/** Bytes that do not hash to the digest they are stored (or were announced) under. */
export class StoreCorruptionError extends KilnError {
  constructor(
    message: string,
    readonly digest?: string,
    readonly path?: string,
  ) {
    super(message);
  }
}

/** Content whose sha256 differs from the digest it was expected to have. */
export class DigestMismatchError extends StoreCorruptionError {
  constructor(
    readonly expected: string,
    readonly actual: string,
    what: string,
    path?: string,
  ) {
    super(`digest mismatch for ${what}: expected ${expected}, got ${actual}`, expected, path);
  }
}
