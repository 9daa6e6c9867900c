// What the terminal renderers' tests share: ANSI stripping and a clock whose timers fire only
// when the test moves time on.
import type { TtyClock } from '../../src/cli/live-frame.js';

export const ANSI = /\x1b\[[0-?]*[ -/]*[@-~]/g;
export const strip = (text: string): string => text.replace(ANSI, '').replace(/\r/g, '');

/** Timers that fire only when the test moves time on. */
export class FakeClock implements TtyClock {
  private t = 0;
  private nextId = 1;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  /** Move to `to` (ms), firing each timer due on the way at its own time. */
  until(to: number): void {
    for (;;) {
      const due = [...this.timers.entries()].filter(([, t]) => t.at <= to).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.t = Math.max(this.t, due[1].at);
      due[1].fn();
    }
    this.t = Math.max(this.t, to);
  }
  get pending(): number {
    return this.timers.size;
  }
}
