// What only the store's garbage collection (engine/garbage.ts: rmi, the prunes, system df) needs:
// every entry of each area with its size, removal, and the lease that keeps a collection from
// running while a build, pull, load or push uses the store.

import type { CacheRecord } from './cache-index.js';

export interface StoredBlob {
  digest: string;
  size: number;
  /** Last modification (ms). */
  mtime: number;
}

export interface StoredCacheRecord {
  /** The record's file name (the hash of its key). */
  id: string;
  record: CacheRecord;
  /** Last use (ms): the file's mtime, renewed on every cache hit. */
  used: number;
  /** Bytes of the record file. */
  size: number;
}

export interface StoredDirectory {
  /** The directory's name in its area (a chain ID's hex, a cache mount's hash). */
  name: string;
  path: string;
  /** What it is for people (a cache mount's id). */
  description?: string;
  /** Last use (ms). */
  used: number;
}

export interface Maintenance {
  listBlobs(): Promise<StoredBlob[]>;
  removeBlob(digest: string): Promise<void>;
  listCacheRecords(): Promise<StoredCacheRecord[]>;
  removeCacheRecord(id: string): Promise<void>;
  /** Unpacked layers (RUN's rootfs cache), named by chain ID hex. */
  listUnpackedLayers(): Promise<StoredDirectory[]>;
  /** RUN cache mounts, named by the hash of their id. */
  listCacheMounts(): Promise<StoredDirectory[]>;
  /** Remove a directory listed above (with its side file). */
  removeDirectory(entry: StoredDirectory): Promise<void>;
  /**
   * Run `fn` while the store is in use: any number of leases at once, across processes; a
   * collection waits for them to end, and new leases wait for a collection to end.
   */
  withLease<T>(fn: () => Promise<T>, options?: { signal?: AbortSignal }): Promise<T>;
  /** Run `fn` (a collection) with no lease held; `waiting` is told how many leases it waits for. */
  withoutLeases<T>(fn: () => Promise<T>, options?: { waiting?: (leases: number) => void; signal?: AbortSignal }): Promise<T>;
}
