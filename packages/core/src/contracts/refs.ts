// Refs: image names (`docker.io/library/app:latest`) pointing at manifest digests; and the
// images the store holds, tagged or not (what `kiln images` lists, `<none>` when untagged).

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

/** An image the store holds, tagged or not. */
export interface ImageRecord {
  /** Its top digest: a manifest, or an index of several platforms. */
  digest: string;
  /** When it entered the store (milliseconds since the epoch). */
  added: number;
  /** Where a registry has it: `REPOSITORY@DIGEST`, normalized (from pulls and pushes). */
  repoDigests?: string[];
}

export interface Images {
  /**
   * Remember an image a build, load, pull or commit put in the store (again: no change), with
   * where a registry has it (`docker.io/library/app@sha256:...`), when a pull or push says.
   */
  addImage(digest: string, repoDigest?: string): Promise<void>;
  /** Every image recorded, and every image a ref names (stores made before images were recorded). */
  listImages(): Promise<ImageRecord[]>;
  /** Forget an image (its refs are removed separately); true when it was recorded. */
  removeImage(digest: string): Promise<boolean>;
}
