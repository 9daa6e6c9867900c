// The small interface the sandbox runs processes through, so another OCI runtime (or a rootless
// path) can stand in for runc later.

/**
 * The container's standard streams: captured output and no stdin (RUN), or the caller's own file
 * descriptors (`kiln run -i`: stdin; `-t`: a terminal on stdin, stdout and stderr, which runc puts
 * behind a pseudo-terminal of the container's own).
 */
export interface Attached {
  /** The caller's descriptors for stdin, stdout and stderr. */
  fds: [number, number, number];
  tty: boolean;
}

export interface RunIo {
  /** Output as it arrives, when not attached (stdin is then closed). */
  onOutput?: (stream: 'stdout' | 'stderr', chunk: Buffer) => void;
  /** `kiln run -i`/`-t`: stdin (and with a terminal, all three streams) are the caller's. */
  attached?: Attached;
  /** Aborting kills the container's whole process tree. */
  signal?: AbortSignal;
}

export interface ContainerRuntime {
  readonly name: string;
  /** Run the bundle's process in the foreground; resolves with its exit code (128+N for signal N). */
  run(bundleDir: string, id: string, io: RunIo): Promise<number>;
  /** Kill and delete the containers (in this runtime's state) that `isStale` says a crashed Kiln left. */
  cleanStale(isStale: (id: string) => boolean): Promise<void>;
}
