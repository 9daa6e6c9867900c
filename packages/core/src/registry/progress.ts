// Progress events of one blob transfer: one at the start, then at most one every PROGRESS_STEP
// bytes (not one per chunk read, so a listener stays cheap on a fast link), and one at the end.

import type { BlobEvent, RegistryEvent } from './types.js';

const PROGRESS_STEP = 512 * 1024;

export class BlobProgress {
  private reported = 0;

  constructor(
    private readonly emit: (e: RegistryEvent) => void,
    private readonly type: 'blob-upload' | 'blob-download',
    private readonly digest: string,
    private readonly total: number,
    private readonly repository: string,
  ) {}

  start(): void {
    this.send(0, this.total);
  }

  /** `bytes` moved so far. */
  at(bytes: number): void {
    if (bytes - this.reported < PROGRESS_STEP) return;
    this.reported = bytes;
    this.send(bytes, this.total);
  }

  /** The transfer is complete at `bytes` (which is then the total, whatever was announced). */
  done(bytes: number): void {
    this.send(bytes, bytes);
  }

  private send(bytes: number, total: number): void {
    const e: BlobEvent = { type: this.type, digest: this.digest, bytes, total, repository: this.repository };
    this.emit(e);
  }
}
