// The contract of Kiln's local content-addressed store. Other rooms code against this interface;
// store.ts implements it on a directory.

import type { Readable, Writable } from 'node:stream';

export interface BlobInfo {
  digest: string;
  size: number;
}

/** Streams bytes into the store: hashed as written, renamed into place only on commit. */
export interface BlobWriter {
  /** Write here (or call write()); backpressure as for any Writable. */
  readonly stream: Writable;
  write(chunk: Uint8Array): Promise<void>;
  /**
   * Finish: verify against `expectedDigest` if given (a mismatch deletes the temp file and
   * throws), then move the blob into place. Idempotent if the blob already exists.
   */
  commit(expectedDigest?: string): Promise<BlobInfo>;
  /** Drop the temp file; nothing becomes visible. */
  abort(): Promise<void>;
}

/** A build-cache record: what one cacheable step produced. */
export interface CacheRecord {
  /** The layer the step added, or null when the step changed no file. */
  layer: LayerRecord | null;
  /** Milliseconds since the epoch, for pruning. */
  created: number;
}

export interface LayerRecord {
  digest: string;
  diffId: string;
  size: number;
  mediaType: string;
}

export interface RefRecord {
  /** Full normalized reference, e.g. `docker.io/library/app:latest`. */
  ref: string;
  /** Manifest digest. */
  digest: string;
  /** Milliseconds since the epoch. */
  updated: number;
}

export interface VerifyReport {
  checked: number;
  /** Digests whose bytes no longer hash to their name (moved aside, never served). */
  corrupt: string[];
}

export interface ContentStore {
  readonly root: string;

  hasBlob(digest: string): Promise<boolean>;
  /** Filesystem path of a blob (for streaming reads); it exists only if hasBlob is true. */
  blobPath(digest: string): string;
  /** Size of a stored blob, or undefined. */
  blobSize(digest: string): Promise<number | undefined>;
  /** Store bytes; verified against `expectedDigest` when given. */
  writeBlob(data: Uint8Array, expectedDigest?: string): Promise<BlobInfo>;
  createBlobWriter(): Promise<BlobWriter>;
  /** Read a whole blob, verifying its digest (throws StoreCorruptionError on mismatch). */
  readBlob(digest: string): Promise<Buffer>;
  /** Stream a blob; the stream errors at its end if the bytes do not match the digest. */
  openBlob(digest: string): Readable;
  /** JSON helpers: bytes are JSON.stringify(doc), digest over exactly those bytes. */
  writeJson(doc: unknown): Promise<BlobInfo & { bytes: Buffer }>;
  readJson<T>(digest: string): Promise<T>;

  setRef(ref: string, digest: string): Promise<void>;
  getRef(ref: string): Promise<string | undefined>;
  deleteRef(ref: string): Promise<boolean>;
  listRefs(): Promise<RefRecord[]>;

  getCache(key: string): Promise<CacheRecord | undefined>;
  putCache(key: string, record: CacheRecord): Promise<void>;

  /** Small JSON side files by kind and id (context digest caches, layer indexes), written atomically. */
  readMeta<T>(kind: string, id: string): Promise<T | undefined>;
  writeMeta(kind: string, id: string, value: unknown): Promise<void>;

  /** A directory under the store's tmp area for scratch work, removed by the caller or by the next open. */
  makeTempDir(prefix: string): Promise<string>;

  /** Hold a named cross-process lock while fn runs. */
  withLock<T>(name: string, fn: () => Promise<T>): Promise<T>;

  /** Re-hash every blob. */
  verify(): Promise<VerifyReport>;
}
