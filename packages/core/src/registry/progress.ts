// Progress events of one blob transfer: one at the start, then at most one every PROGRESS_STEP
// bytes (not one per chunk read, so a listener stays cheap on a fast link), and one at the end —
// the client-wide `onEvent`. Below, the per-call reports of pull() and push() (`onProgress`).

import type { BlobEvent, RegistryEvent, TransferAction, TransferEvent, TransferKind, TransferListener } from './types.js';

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

/** The shortest time between two `bytes` events of one blob to a per-call listener, ms. */
export const REPORT_INTERVAL_MS = 100;

/** What a pull or push asks of a blob transfer: whom to tell, and what the blob is to the image. */
export interface ProgressRequest {
  listener: TransferListener;
  kind: TransferKind;
}

/**
 * One blob's events for a per-call listener (pull()'s and push()'s `onProgress`): `start` when the
 * action is known, `bytes` as they stream (at most every REPORT_INTERVAL_MS, and the last count
 * before `done`), then `done`. A retried attempt starts again from 0 bytes. Counting is the
 * caller's: it calls `at` with the bytes moved so far, nothing is buffered here.
 */
export class TransferReport {
  private action: TransferAction | undefined;
  private size: number;
  private bytes = 0;
  private sentBytes = -1;
  private lastSent = -Infinity;
  private finished = false;

  constructor(
    private readonly listener: TransferListener,
    private readonly digest: string,
    size: number,
    private readonly kind: TransferKind,
    private readonly repository: string,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.size = size;
  }

  /**
   * The blob is being pulled, pushed, mounted or found there. Called again for the same action
   * (a retried attempt), it only resets the count to 0.
   */
  start(action: TransferAction, size?: number): void {
    if (this.finished) return;
    if (size !== undefined && size > 0) this.size = size;
    this.bytes = 0;
    if (this.action === action) {
      this.sendBytes();
      return;
    }
    this.action = action;
    this.sentBytes = 0;
    this.lastSent = this.now();
    this.send({ type: 'start', digest: this.digest, size: this.size, kind: this.kind, action, repository: this.repository });
  }

  /** `bytes` moved so far (of this attempt). */
  at(bytes: number): void {
    if (this.finished || this.action === undefined) return;
    this.bytes = bytes;
    if (this.now() - this.lastSent >= REPORT_INTERVAL_MS) this.sendBytes();
  }

  /** The blob is in place; `bytes` moved in all (default: the last count). */
  done(bytes = this.bytes): void {
    if (this.finished) return;
    const action = this.action ?? 'exists';
    if (this.action === undefined) this.start(action);
    this.bytes = bytes;
    if ((action === 'pull' || action === 'push') && bytes !== this.sentBytes) this.sendBytes();
    this.finished = true;
    this.send({ type: 'done', digest: this.digest, bytes, size: this.size, kind: this.kind, action, repository: this.repository });
  }

  private sendBytes(): void {
    this.sentBytes = this.bytes;
    this.lastSent = this.now();
    this.send({ type: 'bytes', digest: this.digest, bytes: this.bytes, size: this.size, repository: this.repository });
  }

  private send(e: TransferEvent): void {
    try {
      this.listener(e);
    } catch {
      // a listener's failure must not break a transfer
    }
  }
}
