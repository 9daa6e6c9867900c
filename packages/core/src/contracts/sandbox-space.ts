// Where the RUN sandbox keeps its files in the store: the unpacked layers every build shares as
// read-only overlay lower directories, and one directory per running sandbox.

export interface SandboxSpace {
  /** Holds the unpacked layers, one directory each, named by the hex of the layer's chain ID. */
  readonly unpackedDir: string;
  /**
   * The unpacked directory of the layer whose chain ID is `chainId`; when missing, `unpack` fills
   * a fresh directory that then takes its place (once across processes sharing the store).
   */
  unpackedLayer(chainId: string, unpack: (dir: string) => Promise<void>): Promise<string>;
  /** Holds one directory per sandbox, named `s-<pid>-<host>-<random>` so stale ones can be told apart. */
  readonly sandboxesDir: string;
  /** A new directory for one sandbox (its bundle, upper and work directories), on the store's filesystem. */
  makeSandboxDir(): Promise<string>;
  /** Whether the process that made this sandbox directory (by its name) is gone. */
  isStaleSandbox(name: string): boolean;
  /** Holds runc's container state when RUN runs rootless (nothing under /run is the user's). */
  readonly rootlessRuntimeDir: string;
  /** Holds the RUN cache mounts (`--mount=type=cache`), one directory each, by the hash of its id. */
  readonly cacheMountsDir: string;
  /**
   * The directory of the cache mount `id`; the first time, `init` makes it (a directory at the
   * path it is given, with the mount's owner and mode, and any initial content). Beside it,
   * `<hash>.json` holds `{ id, created }`, and its mtime is the mount's last use.
   */
  cacheMount(id: string, init: (dir: string) => Promise<void>): Promise<string>;
}
