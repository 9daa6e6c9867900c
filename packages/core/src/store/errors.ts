// Errors the local store reports. Every one is a KilnError: its message names the path or digest
// involved and what the user can do, so the CLI can print it alone.

import { KilnError } from '../errors.js';

export { DigestMismatchError, StoreCorruptionError } from '../contracts/errors.js';
export { InvalidDigestError } from '../oci/digest.js';

export class BlobNotFoundError extends KilnError {
  constructor(
    readonly digest: string,
    readonly root: string,
  ) {
    super(`blob ${digest} is not in the Kiln store at ${root}`);
  }
}

/** The directory is not a store this Kiln can use (newer format, foreign directory, bad VERSION). */
export class StoreFormatError extends KilnError {
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message);
  }
}

/** The filesystem refused a store operation: no space, no permission, read-only, quota. */
export class StoreAccessError extends KilnError {
  constructor(
    message: string,
    readonly code: string,
    readonly path: string,
    cause?: unknown,
  ) {
    super(message);
    if (cause !== undefined) this.cause = cause;
  }
}

export class LockTimeoutError extends KilnError {
  constructor(
    message: string,
    readonly lockPath: string,
  ) {
    super(message);
  }
}

/**
 * Turns a filesystem error a user can act on (ENOSPC, EACCES, EPERM, EROFS, EDQUOT) into a
 * StoreAccessError naming the path and the store; anything else is returned unchanged.
 * `doing` reads as "while <doing> <path>", e.g. "writing to", "creating".
 */
export function storeFsError(err: unknown, doing: string, path: string, root: string): unknown {
  if (err instanceof KilnError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const where = path === root ? `the Kiln store at ${root}` : `${path} (Kiln store at ${root})`;
  const elsewhere = 'or point KILN_STORE (or --store) at another directory';
  switch (code) {
    case 'ENOSPC':
      return new StoreAccessError(
        `no space left on device while ${doing} ${where}: free some space (with no kiln running, deleting ${root}/tmp is safe; deleting ${root} itself drops every image and build-cache entry Kiln keeps there) ${elsewhere}`,
        code,
        path,
        err,
      );
    case 'EDQUOT':
      return new StoreAccessError(
        `disk quota exceeded while ${doing} ${where}: free some space (with no kiln running, deleting ${root}/tmp is safe; deleting ${root} itself drops every image and build-cache entry Kiln keeps there) ${elsewhere}`,
        code,
        path,
        err,
      );
    case 'EACCES':
    case 'EPERM':
      return new StoreAccessError(
        `permission denied while ${doing} ${where}: give the current user access to it ${elsewhere}`,
        code,
        path,
        err,
      );
    case 'EROFS':
      return new StoreAccessError(
        `read-only file system while ${doing} ${where}: point KILN_STORE (or --store) at a writable directory`,
        code,
        path,
        err,
      );
    default:
      return err;
  }
}
