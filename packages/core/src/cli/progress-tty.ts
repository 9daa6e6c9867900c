// `kiln build --progress tty`: buildx's live terminal progress. A frame is a header
// (`[+] Building 3.2s (5/9)`), one line per step (` => [stage 2/5] RUN npm ci        1.2s`) and,
// under each running step with output, a window of its last lines (` => => # ...`, dimmed); each
// frame is drawn over the last with cursor-up/erase sequences, at most once per interval (100 ms,
// as buildx's display limiter). The last frame (`... FINISHED`) stays, with warnings and output
// lines after it. The class only formats: it writes through `write` and reads time from `clock`,
// so tests drive it with a fake clock and a recorded event sequence.
import { progressLine } from '../engine/report.js';
import type { BuildEvent } from '../engine/types.js';
import { BLUE, FAINT, LiveFrame, RED, YELLOW, type TerminalOptions } from './live-frame.js';

export type TtyProgressOptions = TerminalOptions;

/** How the build ended: `finished` says FINISHED; the others mark the running steps ERROR or CANCELED. */
export type ProgressOutcome = 'finished' | 'error' | 'canceled';

/** How many output lines a running step shows (buildx's termHeight). */
export const OUTPUT_WINDOW = 6;

interface Step {
  id: number;
  name: string;
  started: number;
  /** Set when the step is over: its duration. */
  durationMs?: number;
  state: 'running' | 'done' | 'cached' | 'error' | 'canceled';
  /** The last complete output lines (at most OUTPUT_WINDOW), and the line still being written. */
  lines: string[];
  partial: string;
  /** An escape sequence cut by the end of a chunk, kept for the next. */
  pendingEscape: string;
}

export class TtyProgress extends LiveFrame {
  private readonly steps = new Map<number, Step>();
  /** Warnings and output lines, printed after the last frame. */
  private readonly after: string[] = [];
  /** The build finished: the last frame says FINISHED. */
  private finished = false;

  constructor(options: TtyProgressOptions) {
    super(options);
  }

  /** The build's onEvent: updates the state, draws a frame unless one was drawn under an interval ago. */
  readonly onEvent = (event: BuildEvent): void => {
    if (this.stopped) return;
    const now = this.clock.now();
    switch (event.type) {
      case 'step-start':
        this.steps.set(event.id, {
          id: event.id,
          name: oneLine(`[${event.stage} ${event.step}/${event.steps}] ${event.instruction}`),
          started: now,
          state: 'running',
          lines: [],
          partial: '',
          pendingEscape: '',
        });
        break;
      case 'step-done': {
        const step = this.steps.get(event.id);
        if (!step) return;
        step.state = event.cached ? 'cached' : 'done';
        step.durationMs = event.durationMs;
        break;
      }
      case 'step-output': {
        const step = this.steps.get(event.id);
        if (!step) return;
        addOutput(step, event.text);
        break;
      }
      case 'warning':
      case 'output': {
        const line = progressLine(event);
        if (line !== undefined) this.after.push(line);
        return; // shown after the last frame, nothing to redraw
      }
      default:
        return;
    }
    this.request();
  };

  /**
   * Draws the last frame (all steps; FINISHED when the build finished) and the warnings and output
   * lines after it; then the caller may print. Later events and calls do nothing.
   */
  stop(outcome: ProgressOutcome = 'finished'): void {
    if (this.stopped) return;
    this.stopped = true;
    const now = this.clock.now();
    if (outcome !== 'finished') {
      for (const step of this.steps.values()) {
        if (step.state !== 'running') continue;
        step.state = outcome;
        step.durationMs = now - step.started;
      }
    }
    this.finished = outcome === 'finished';
    this.drawLast();
    if (this.after.length) this.write(this.after.map((line) => `${line}\n`).join(''));
  }

  /** The lines of a frame, without escapes' cursor movement (colors included when on). */
  frameLines(final: boolean): string[] {
    const finished = final && this.finished;
    const now = this.clock.now();
    const columns = this.columns();
    const width = columns && columns > 0 ? columns : 80;
    // A line one short of the width never wraps, so counting lines counts terminal rows.
    const max = Math.max(width - 1, 1);
    const steps = [...this.steps.values()];
    const done = steps.filter((s) => s.state !== 'running').length;
    const seconds = ((now - this.startedAt) / 1000).toFixed(1);
    const header = cut(`[+] Building ${seconds}s (${done}/${steps.length})${finished && done === steps.length ? ' FINISHED' : ''}`, max);

    const blocks: { running: boolean; lines: string[] }[] = [];
    for (const step of steps) {
      const running = step.state === 'running';
      const ms = running ? now - step.started : (step.durationMs ?? 0);
      const timer = ` ${(ms < 50 ? 0 : ms / 1000).toFixed(1)}s`;
      const prefix = { running: '', done: '', cached: 'CACHED ', error: 'ERROR ', canceled: 'CANCELED ' }[step.state];
      const left = ' => ';
      const room = max - left.length - timer.length - 1;
      const name = cut(prefix + step.name, Math.max(room, 0));
      let line = left + name + ' '.repeat(Math.max(max - left.length - displayWidth(name) - timer.length, 1)) + timer;
      line = cut(line, max);
      const tint = { running: '', done: BLUE, cached: BLUE, error: RED, canceled: YELLOW }[step.state];
      const lines = [this.paint(line, tint)];
      // The window: under a running step, and under one that failed or was canceled (the error's context).
      if (step.state === 'running' || step.state === 'error' || step.state === 'canceled') {
        for (const text of windowOf(step)) lines.push(this.paint(cut(` => => # ${text}`, max), FAINT));
      }
      blocks.push({ running, lines });
    }

    let body = blocks.flatMap((b) => b.lines);
    const rows = this.rows();
    if (!final && rows && rows > 0) {
      // A frame taller than the terminal cannot be redrawn in place: as buildx, leave out the
      // oldest finished steps first, then output lines of the longest windows, then whatever is on top.
      const limit = Math.max(rows - 2, 1);
      let total = body.length;
      const kept = [...blocks];
      for (let i = 0; i < kept.length && total > limit; ) {
        if (!kept[i]!.running) {
          total -= kept[i]!.lines.length;
          kept.splice(i, 1);
        } else i++;
      }
      while (total > limit) {
        const longest = kept.reduce<(typeof kept)[number] | undefined>((a, b) => (b.lines.length > (a?.lines.length ?? 1) ? b : a), undefined);
        if (!longest) break;
        longest.lines = [longest.lines[0]!, ...longest.lines.slice(2)];
        total--;
      }
      body = kept.flatMap((b) => b.lines);
      if (body.length > limit) body = body.slice(body.length - limit);
    }
    return [header, ...body];
  }
}

/** A step's name on one line: heredocs and tabs become spaces, control characters go. */
function oneLine(text: string): string {
  return text
    .replace(/\s*[\r\n]+\s*/g, ' ')
    .replace(/\t/g, ' ')
    .replace(/[\x00-\x1f\x7f]/g, '');
}

/** Adds a chunk of RUN output to the step's lines: escapes dropped, `\r` rewrites the line. */
function addOutput(step: Step, chunk: string): void {
  let text = step.pendingEscape + chunk;
  step.pendingEscape = '';
  const cutEscape = /\x1b(\[[0-?]*[ -/]*|\][^\x07\x1b]*)?$/.exec(text);
  if (cutEscape) {
    step.pendingEscape = cutEscape[0];
    text = text.slice(0, cutEscape.index);
  }
  text = text
    .replace(/\x1b\[[0-?]*[ -/]*[@-~]/g, '') // CSI: colors, cursor movement
    .replace(/\x1b\][^\x07\x1b]*(\x07|\x1b\\)/g, '') // OSC: titles, links
    .replace(/\x1b[@-_]/g, '')
    .replace(/\r\n/g, '\n')
    .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g, '');
  const parts = text.split('\n');
  step.partial += parts[0]!;
  for (const part of parts.slice(1)) {
    const line = resolveLine(step.partial);
    if (line.trim() !== '') {
      step.lines.push(line);
      if (step.lines.length > OUTPUT_WINDOW) step.lines.shift();
    }
    step.partial = part;
  }
}

/** What a terminal would show of a line with carriage returns (roughly: the last text written), tabs expanded. */
function resolveLine(raw: string): string {
  const pieces = raw.split('\r').filter((p) => p !== '');
  const text = pieces.length ? pieces[pieces.length - 1]! : '';
  let out = '';
  for (const ch of text) out += ch === '\t' ? ' '.repeat(8 - (out.length % 8)) : ch;
  return out;
}

/** The last OUTPUT_WINDOW non-blank lines, the one being written included. */
function windowOf(step: Step): string[] {
  const partial = resolveLine(step.partial);
  const lines = partial.trim() !== '' ? [...step.lines, partial] : step.lines;
  return lines.slice(-OUTPUT_WINDOW);
}

/** Terminal columns a character takes: 2 for East Asian wide and emoji, else 1. */
function charWidth(code: number): number {
  return (code >= 0x1100 && code <= 0x115f) ||
    (code >= 0x2e80 && code <= 0xa4cf) ||
    (code >= 0xac00 && code <= 0xd7a3) ||
    (code >= 0xf900 && code <= 0xfaff) ||
    (code >= 0xfe30 && code <= 0xfe4f) ||
    (code >= 0xff00 && code <= 0xff60) ||
    (code >= 0xffe0 && code <= 0xffe6) ||
    (code >= 0x1f300 && code <= 0x1faff) ||
    (code >= 0x20000 && code <= 0x3fffd)
    ? 2
    : 1;
}

function displayWidth(text: string): number {
  let n = 0;
  for (const ch of text) n += charWidth(ch.codePointAt(0)!);
  return n;
}

/** The text cut to at most `columns` terminal columns. */
function cut(text: string, columns: number): string {
  let n = 0;
  let out = '';
  for (const ch of text) {
    n += charWidth(ch.codePointAt(0)!);
    if (n > columns) break;
    out += ch;
  }
  return out;
}
