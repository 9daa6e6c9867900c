/** The dockerd binary: $KILN_TEST_DOCKERD or the usual places; undefined when there is none. */
export function findDockerd(): string | undefined;
/** Whether `pid` is a live process (a zombie counts as gone). */
export function isRunning(pid: number): boolean;
/** Whether `pid` runs with `root` on its command line. */
export function runsUnder(pid: number, root: string): boolean;
/** Stops the dockerd `pid` living under `root` (and its containerd), unmounts and removes `root`. */
export function stopDockerdAt(daemon: { pid: number; root: string }): Promise<void>;
