// The build-cache index: a step's cache key -> what the step produced.

import type { LayerRecord } from './blobs.js';

/** A build-cache record: what one cacheable step produced. */
export interface CacheRecord {
  /** The layer the step added, or null when the step changed no file. */
  layer: LayerRecord | null;
  /** Milliseconds since the epoch, for pruning. */
  created: number;
}

export interface CacheIndex {
  getCache(key: string): Promise<CacheRecord | undefined>;
  putCache(key: string, record: CacheRecord): Promise<void>;
}
