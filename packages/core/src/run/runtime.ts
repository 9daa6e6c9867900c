// The small interface the sandbox runs processes through, so another OCI runtime (or a rootless
// path) can stand in for runc later.

export interface RunIo {
  /** Output as it arrives (stdin is always closed). */
  onOutput?: (stream: 'stdout' | 'stderr', chunk: Buffer) => void;
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
