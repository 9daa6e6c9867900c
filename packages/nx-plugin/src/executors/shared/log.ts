// Where the executors write what Nx shows in its terminal output. Plain console, not @nx/devkit's
// logger: importing @nx/devkit costs a forked Nx task ~0.2 s of module loading, more than a cached
// build takes, and Nx captures the task's stdout/stderr either way.
export const log = {
  info: (message: string): void => console.info(message),
  warn: (message: string): void => console.warn(message),
  error: (message: string): void => console.error(message),
};
