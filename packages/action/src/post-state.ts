// What the main step leaves the post step (core.saveState; the runner hands it back as STATE_kiln).

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
}
