// What the main step leaves the post step (core.saveState; the runner hands it back as STATE_kiln).

import type { CacheMountsPlan } from './cache-mounts.js';

export const STATE_KEY = 'kiln';

export interface PostState {
  /** The cache path as @actions/cache was given it on restore (the cache version hashes it). */
  path: string;
  /** That path on this machine. */
  dir: string;
  /** The restore key; the saved key adds the digest of the directory's content. */
  key: string;
  /** The key restored, if any. */
  restoredKey?: string;
  /** The RUN cache mounts to save, and when the build began (only mounts used since then are news). */
  mounts?: CacheMountsPlan & { since: number };
}
