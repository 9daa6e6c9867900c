// Refs: image names (`docker.io/library/app:latest`) pointing at manifest digests.

export interface RefRecord {
  /** Full normalized reference, e.g. `docker.io/library/app:latest`. */
  ref: string;
  /** Manifest digest. */
  digest: string;
  /** Milliseconds since the epoch. */
  updated: number;
}

export interface Refs {
  setRef(ref: string, digest: string): Promise<void>;
  getRef(ref: string): Promise<string | undefined>;
  deleteRef(ref: string): Promise<boolean>;
  listRefs(): Promise<RefRecord[]>;
}
