// What the live terminal displays share (the build's, progress-tty.ts, and the transfers',
// transfer-progress.ts): the clock, the terminal's size and colours, and a frame redrawn in place
// at most once per interval. A display says what a frame holds (frameLines) and whether it
// changes with time alone (ticking); this class decides when frames are drawn.

/** Time and timers; the renderer's only link to the outside besides `write`. */
export interface TtyClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The real clock; its timers do not keep the process alive. */
export const systemClock: TtyClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return timer;
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** What a live display needs of the terminal (the build's and the transfers'). */
export interface TerminalOptions {
  /** Where frames go (stderr); each frame is one call, so the cursor never stops mid-frame. */
  write(text: string): void;
  clock?: TtyClock;
  /** The terminal's width and height now (undefined or 0: unknown, 80 columns and no height limit). */
  columns?: () => number | undefined;
  rows?: () => number | undefined;
  /** Colors and dim output (off for NO_COLOR). */
  color?: boolean;
  /** The shortest time between two frames, ms. */
  intervalMs?: number;
}

const ESC = '\x1b[';
const HIDE_CURSOR = `${ESC}?25l`;
const SHOW_CURSOR = `${ESC}?25h`;
const ERASE_LINE_END = `${ESC}K`;
const ERASE_BELOW = `${ESC}J`;
export const RESET = `${ESC}0m`;
export const BLUE = `${ESC}34m`; // buildx's color for a finished step
export const RED = `${ESC}31m`;
export const YELLOW = `${ESC}33m`;
export const FAINT = `${ESC}2m`;

/**
 * One frame drawn over the last (which was `drawnLines` tall), as one write: the cursor hidden,
 * moved up to where the last frame began, each line erased to its end, whatever the last frame
 * had below erased, the cursor shown at the start of the next line.
 */
export function frameText(lines: readonly string[], drawnLines: number): string {
  const up = drawnLines > 0 ? `${ESC}${drawnLines}A\r` : '';
  return HIDE_CURSOR + up + lines.map((line) => `${line}${ERASE_LINE_END}\n`).join('') + ERASE_BELOW + SHOW_CURSOR;
}

export abstract class LiveFrame {
  protected readonly write: (text: string) => void;
  protected readonly clock: TtyClock;
  protected readonly columns: () => number | undefined;
  protected readonly rows: () => number | undefined;
  protected readonly color: boolean;
  protected readonly startedAt: number;
  protected stopped = false;
  private readonly intervalMs: number;
  /** Lines the last frame took (where the next one starts: that many lines up). */
  private drawnLines = 0;
  private lastDraw = -Infinity;
  private timer: unknown;

  constructor(options: TerminalOptions) {
    this.write = options.write;
    this.clock = options.clock ?? systemClock;
    this.columns = options.columns ?? (() => undefined);
    this.rows = options.rows ?? (() => undefined);
    this.color = options.color ?? true;
    this.intervalMs = options.intervalMs ?? 100;
    this.startedAt = this.clock.now();
  }

  /** The lines of a frame (colours included when on, no cursor movement); `final` for the last one. */
  abstract frameLines(final: boolean): string[];

  /** Whether frames change with time alone (running clocks, speeds): then one is drawn each interval. */
  protected ticking(): boolean {
    return true;
  }

  /** Draw now if the last frame is an interval old, else once it is. */
  protected request(): void {
    const wait = this.lastDraw + this.intervalMs - this.clock.now();
    if (wait <= 0) this.draw(false);
    else if (this.timer === undefined) this.timer = this.clock.setTimeout(() => this.tick(), wait);
  }

  /** The last frame: no more are drawn after it. */
  protected drawLast(): void {
    this.cancelTimer();
    this.draw(true);
  }

  protected cancelTimer(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  protected paint(text: string, tint: string): string {
    return this.color && tint ? `${tint}${text}${RESET}` : text;
  }

  private tick(): void {
    this.timer = undefined;
    if (!this.stopped) this.draw(false);
  }

  private draw(final: boolean): void {
    const lines = this.frameLines(final);
    this.write(frameText(lines, this.drawnLines));
    this.drawnLines = lines.length;
    this.lastDraw = this.clock.now();
    this.cancelTimer();
    if (!final && this.ticking()) this.timer = this.clock.setTimeout(() => this.tick(), this.intervalMs);
  }
}
