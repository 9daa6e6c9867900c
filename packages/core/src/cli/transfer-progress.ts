// Per-blob byte progress of `kiln pull`, `kiln push` and `kiln build --push`, from the registry
// client's `onProgress` events (the library only reports; this file draws).
// - tty: one line per blob, redrawn in place (cursor-up/erase, at most one frame per interval,
//   100 ms), as docker pull / buildx's tty display:
//     [+] Pushing 1.2s (1/3)
//      => pushing sha256:3f2a9c1b4e5d 12.5MB / 40.1MB 25.0MB/s
//      => mounted sha256:0b1a2c3d4e5f 3.1MB
//   then a last frame and a summary line.
// - plain: one line when a blob starts moving and one when it is in place (size and time):
//     layer sha256:3f2a9c1b4e5d: pushing 40.1MB
//     layer sha256:3f2a9c1b4e5d: pushed 40.1MB in 1.6s
//   (a mounted or existing blob has its one `done` line), then the summary line.
// The class only formats: it writes through `write` and reads time from `clock`, so tests drive it
// with a fake clock and a scripted event sequence.

import type { TransferAction, TransferEvent, TransferKind } from '../registry/types.js';
import { humanSize } from './human-units.js';
import { BLUE, LiveFrame, RED, type TerminalOptions } from './live-frame.js';

export type TransferMode = 'tty' | 'plain';

export interface TransferProgressOptions extends TerminalOptions {
  mode: TransferMode;
  /** What the command does: the header's and the summary's verb. */
  verb: 'pull' | 'push';
  /** Print the summary line at the end (default true). */
  summary?: boolean;
}


/** How far back the speed of a running transfer is measured, ms. */
const SPEED_WINDOW_MS = 2000;

interface Entry {
  digest: string;
  repository: string;
  kind: TransferKind;
  action: TransferAction;
  size: number;
  bytes: number;
  started: number;
  /** Set when it is in place (or the command failed): its duration. */
  durationMs?: number;
  state: 'running' | 'done' | 'error';
  /** (time, bytes) of recent byte counts, for the speed. */
  samples: { t: number; b: number }[];
}

const PAST: Record<TransferAction, string> = { pull: 'pulled', push: 'pushed', mount: 'mounted', exists: 'already exists' };
const ING: Record<TransferAction, string> = { pull: 'pulling', push: 'pushing', mount: 'mounting', exists: 'checking' };

/** `sha256:3f2a9c1b4e5d`: the algorithm and 12 hex digits, as docker shows layer IDs. */
export function shortDigest(digest: string): string {
  const i = digest.indexOf(':');
  return i < 0 ? digest.slice(0, 12) : digest.slice(0, i + 13);
}

function seconds(ms: number): string {
  return `${(ms < 50 ? 0 : ms / 1000).toFixed(1)}s`;
}

function speed(bytesPerSecond: number): string {
  return `${humanSize(Math.max(0, bytesPerSecond))}/s`;
}

export class TransferProgress extends LiveFrame {
  private readonly mode: TransferMode;
  private readonly verb: 'pull' | 'push';
  private readonly summary: boolean;
  private readonly entries = new Map<string, Entry>();

  constructor(options: TransferProgressOptions) {
    super(options);
    this.mode = options.mode;
    this.verb = options.verb;
    this.summary = options.summary ?? true;
  }

  /** The registry client's `onProgress`. */
  readonly onProgress = (event: TransferEvent): void => {
    if (this.stopped) return;
    const now = this.clock.now();
    const key = `${event.repository}\n${event.digest}`;
    let entry = this.entries.get(key);
    switch (event.type) {
      case 'start': {
        const moving = event.action === 'pull' || event.action === 'push';
        if (!entry) {
          entry = {
            digest: event.digest,
            repository: event.repository,
            kind: event.kind,
            action: event.action,
            size: event.size,
            bytes: 0,
            started: now,
            state: 'running',
            samples: [{ t: now, b: 0 }],
          };
          this.entries.set(key, entry);
          if (this.mode === 'plain' && moving) this.line(`${event.kind} ${shortDigest(event.digest)}: ${ING[event.action]} ${humanSize(event.size)}`);
        } else {
          // A retried attempt, or what another caller's transfer turned out to be.
          entry.action = event.action;
          entry.size = event.size || entry.size;
          entry.bytes = 0;
          entry.samples = [{ t: now, b: 0 }];
        }
        break;
      }
      case 'bytes':
        if (!entry) return;
        entry.bytes = event.bytes;
        if (event.size > 0) entry.size = event.size;
        entry.samples.push({ t: now, b: event.bytes });
        while (entry.samples.length > 2 && entry.samples[0]!.t < now - SPEED_WINDOW_MS) entry.samples.shift();
        break;
      case 'done': {
        if (!entry) {
          this.onProgress({ ...event, type: 'start' });
          entry = this.entries.get(key)!;
        }
        entry.action = event.action;
        entry.kind = event.kind;
        entry.bytes = event.bytes;
        if (event.size > 0) entry.size = event.size;
        entry.state = 'done';
        entry.durationMs = now - entry.started;
        if (this.mode === 'plain') this.line(this.plainDone(entry));
        break;
      }
      default:
        return;
    }
    if (this.mode === 'tty') this.request();
  };

  /**
   * The command is over: a tty draws its last frame (running transfers marked ERROR when it
   * failed); then the summary line when it finished. Later events and calls do nothing.
   */
  stop(outcome: 'finished' | 'error' = 'finished'): void {
    if (this.stopped) return;
    this.stopped = true;
    this.cancelTimer();
    const now = this.clock.now();
    if (outcome === 'error') {
      for (const e of this.entries.values()) {
        if (e.state !== 'running') continue;
        e.state = 'error';
        e.durationMs = now - e.started;
      }
    }
    if (this.mode === 'tty' && this.entries.size > 0) this.drawLast();
    if (outcome === 'finished' && this.summary && this.entries.size > 0) this.line(this.summaryLine());
  }

  /** The lines of a tty frame (colors included when on, no cursor movement). */
  frameLines(final: boolean): string[] {
    const now = this.clock.now();
    const columns = this.columns();
    const width = columns && columns > 0 ? columns : 80;
    const max = Math.max(width - 1, 1); // one short of the width never wraps
    const all = [...this.entries.values()];
    const done = all.filter((e) => e.state === 'done').length;
    const finished = final && done === all.length;
    const title = this.verb === 'push' ? 'Pushing' : 'Pulling';
    const header = `[+] ${title} ${seconds(now - this.startedAt)} (${done}/${all.length})${finished ? ' FINISHED' : ''}`.slice(0, max);
    let shown = all;
    const rows = this.rows();
    if (!final && rows && rows > 0) {
      // A frame taller than the terminal cannot be redrawn in place: the oldest finished go first.
      const limit = Math.max(rows - 2, 1);
      shown = [...all];
      for (let i = 0; i < shown.length && shown.length > limit; ) {
        if (shown[i]!.state !== 'running') shown.splice(i, 1);
        else i++;
      }
      if (shown.length > limit) shown = shown.slice(shown.length - limit);
    }
    return [header, ...shown.map((e) => this.paint(this.ttyLine(e, now).slice(0, max), e.state === 'done' ? BLUE : e.state === 'error' ? RED : ''))];
  }

  /** `Pushed 3 blobs, 45.2MB in 2.3s (19.6MB/s); 1 mounted, 0 already there`. */
  summaryLine(): string {
    const blobs = [...this.entries.values()].filter((e) => e.kind !== 'manifest' && e.state === 'done');
    const moved = blobs.filter((e) => e.action === 'pull' || e.action === 'push');
    const bytes = moved.reduce((n, e) => n + e.bytes, 0);
    const ms = this.clock.now() - this.startedAt;
    const rate = ms > 0 ? (bytes * 1000) / ms : 0;
    const mounted = blobs.filter((e) => e.action === 'mount').length;
    const there = blobs.filter((e) => e.action === 'exists').length;
    const verb = this.verb === 'push' ? 'Pushed' : 'Pulled';
    const rest = this.verb === 'push' ? `${mounted} mounted, ${there} already there` : `${there} already there`;
    return `${verb} ${moved.length} blob${moved.length === 1 ? '' : 's'}, ${humanSize(bytes)} in ${seconds(ms)} (${speed(rate)}); ${rest}`;
  }

  private ttyLine(e: Entry, now: number): string {
    const what = `${e.kind === 'layer' ? '' : `${e.kind} `}${shortDigest(e.digest)}`;
    const moving = e.action === 'pull' || e.action === 'push';
    if (e.state === 'running') {
      if (!moving) return ` => ${ING[e.action]} ${what}`;
      const rate = this.rate(e, now);
      return ` => ${ING[e.action]} ${what} ${humanSize(e.bytes)} / ${humanSize(e.size)}${rate === undefined ? '' : ` ${speed(rate)}`}`;
    }
    if (e.state === 'error') return ` => ERROR ${ING[e.action]} ${what} ${humanSize(e.bytes)} / ${humanSize(e.size)} ${seconds(e.durationMs ?? 0)}`;
    if (!moving) return ` => ${PAST[e.action]} ${what} ${humanSize(e.size)}`;
    return ` => ${PAST[e.action]} ${what} ${humanSize(e.bytes)} ${seconds(e.durationMs ?? 0)}`;
  }

  private plainDone(e: Entry): string {
    const head = `${e.kind} ${shortDigest(e.digest)}: ${PAST[e.action]} ${humanSize(e.action === 'pull' || e.action === 'push' ? e.bytes : e.size)}`;
    return e.action === 'pull' || e.action === 'push' ? `${head} in ${seconds(e.durationMs ?? 0)}` : head;
  }

  /**
   * Bytes per second over the last SPEED_WINDOW_MS of counts (up to the last count, or up to now
   * when nothing came for a second: a stalled transfer slows down); undefined until measurable.
   */
  private rate(e: Entry, now: number): number | undefined {
    const last = e.samples[e.samples.length - 1]!;
    const end = now - last.t > 1000 ? now : last.t;
    const first = e.samples.find((s) => s.t >= end - SPEED_WINDOW_MS) ?? last;
    const ms = end - first.t;
    if (ms < 50) return undefined;
    return ((last.b - first.b) * 1000) / ms;
  }

  private line(text: string): void {
    this.write(`${text}\n`);
  }

  /** Speeds and the header's clock move on without events while something runs. */
  protected override ticking(): boolean {
    return [...this.entries.values()].some((e) => e.state === 'running');
  }
}

/** What `--progress` and the terminal give: a renderer's mode, or undefined for none. */
export function transferMode(
  progress: string,
  io: { stderrIsTTY?: boolean },
  env: NodeJS.ProcessEnv = process.env,
): TransferMode | undefined {
  if (progress === 'quiet') return undefined;
  if (progress === 'tty' || progress === 'plain') return progress;
  // auto: live on a terminal; plain lines when stderr is known not to be one. An io that does not
  // say (a program that runs the verbs with its own io) gets the result only, as before.
  if (io.stderrIsTTY === true) return env.TERM === 'dumb' ? 'plain' : 'tty';
  if (io.stderrIsTTY === false) return 'plain';
  return undefined;
}
