// Where the executors write what Nx shows as a task's output: the console for a task of its own
// (Nx captures the process's output), a buffer per task in a batch (Nx shows each task's
// terminalOutput). Not @nx/devkit's logger: importing @nx/devkit costs a forked Nx task ~0.2 s
// of module loading, more than a cached build takes.

export interface TaskLog {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export const log: TaskLog = {
  info: (message) => console.info(message),
  warn: (message) => console.warn(message),
  error: (message) => console.error(message),
};

/** A log that keeps the lines, for a batch task's terminalOutput. */
export function bufferedLog(): TaskLog & { text(): string } {
  const lines: string[] = [];
  return {
    info: (message) => void lines.push(message),
    warn: (message) => void lines.push(message),
    error: (message) => void lines.push(message),
    text: () => (lines.length ? `${lines.join('\n')}\n` : ''),
  };
}
