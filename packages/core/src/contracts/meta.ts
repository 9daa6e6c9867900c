// Small JSON side files kept beside the content: caches a room keeps for itself (the build
// context's file digests), by kind and id.

export interface MetaFiles {
  /** The value last written for (kind, id); undefined when absent or unreadable (it only caches). */
  readMeta<T>(kind: string, id: string): Promise<T | undefined>;
  /** Written atomically; `kind` is `[a-z0-9-]+`, `id` any string. */
  writeMeta(kind: string, id: string, value: unknown): Promise<void>;
}
