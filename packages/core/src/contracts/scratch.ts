// Scratch space on the store's filesystem, so that what is built there can be renamed or
// hardlinked into the store.

export interface ScratchSpace {
  /** A new directory for scratch work, removed by the caller (or by the store when it is next opened). */
  makeTempDir(prefix: string): Promise<string>;
}
