// Named locks shared by every process using the same store (parallel Nx tasks, CI steps).

export interface Locks {
  /**
   * Hold the lock `name` while fn runs. Re-entrant: fn (and what it starts) may take it again.
   * Aborting `signal` gives up waiting for it.
   */
  withLock<T>(name: string, fn: () => Promise<T>, options?: { signal?: AbortSignal }): Promise<T>;
}
