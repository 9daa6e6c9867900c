// `kiln build --progress tty`: buildx's live display. The renderer driven by a fake clock and a
// recorded event sequence; then the real binary under a pseudo-terminal (util-linux `script`),
// and the same build with stderr a pipe, which keeps docker build's plain lines.
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { TtyProgress } from '../../src/cli/progress-tty.js';
import { FakeClock, strip } from '../helpers/fake-terminal.js';
import type { BuildEvent } from '../../src/engine/types.js';
import { kilnBin, kilnProcess, tempDir, writeTree } from '../engine/kiln-helpers.js';


interface Frame {
  at: number;
  raw: string;
  lines: string[];
}

function harness(columns = 80, rows?: number) {
  const clock = new FakeClock();
  const writes: { at: number; raw: string }[] = [];
  const progress = new TtyProgress({ write: (raw) => writes.push({ at: clock.now(), raw }), clock, columns: () => columns, rows: () => rows });
  const frames = (): Frame[] =>
    writes
      .filter((w) => w.raw.includes('[+] Building'))
      .map((w) => ({ at: w.at, raw: w.raw, lines: strip(w.raw).split('\n').filter((l) => l !== '') }));
  /** Send an event at time `at`. */
  const send = (at: number, event: BuildEvent) => {
    clock.until(at);
    progress.onEvent(event);
  };
  return { clock, writes, progress, frames, send };
}

/** A 3-step build: a CACHED COPY, a RUN printing 10 lines (one split across chunks), a COPY; a warning. */
function recordedBuild(h: ReturnType<typeof harness>): void {
  const { send } = h;
  send(0, { type: 'stage-start', stage: 'stage-0', index: 0 });
  send(10, { type: 'step-start', id: 1, stage: 'stage-0', step: 1, steps: 3, instruction: 'COPY package.json /app/', line: 2 });
  send(20, { type: 'step-done', id: 1, cached: true, durationMs: 0 });
  send(30, { type: 'step-start', id: 2, stage: 'stage-0', step: 2, steps: 3, instruction: 'RUN npm ci', line: 3 });
  for (let i = 1; i <= 10; i++) {
    const at = 30 + i * 150;
    if (i === 3) {
      send(at, { type: 'step-output', id: 2, stream: 'stdout', text: 'output li', elapsedMs: at - 30 });
      send(at + 120, { type: 'step-output', id: 2, stream: 'stdout', text: `ne ${i}\n`, elapsedMs: at + 90 });
    } else {
      send(at, { type: 'step-output', id: 2, stream: i % 2 ? 'stdout' : 'stderr', text: `\x1b[32moutput line ${i}\x1b[0m\n`, elapsedMs: at - 30 });
    }
  }
  send(1630, { type: 'step-done', id: 2, cached: false, durationMs: 1600 });
  send(1640, { type: 'warning', message: 'Dockerfile:1: something to mend' });
  send(1640, { type: 'step-start', id: 3, stage: 'stage-0', step: 3, steps: 3, instruction: 'COPY . /app', line: 4 });
  send(1940, { type: 'step-done', id: 3, cached: false, durationMs: 300 });
  h.clock.until(2000);
  h.progress.stop('finished');
}

describe('TtyProgress', () => {
  it('ends with a full frame: FINISHED (3/3), each step with its duration, warnings after it', () => {
    const h = harness();
    recordedBuild(h);
    const last = h.frames().at(-1)!;
    expect(last.at).toBe(2000);
    expect(last.lines).toEqual([
      '[+] Building 2.0s (3/3) FINISHED',
      expect.stringMatching(/^ => CACHED \[stage-0 1\/3\] COPY package\.json \/app\/ +0\.0s$/),
      expect.stringMatching(/^ => \[stage-0 2\/3\] RUN npm ci +1\.6s$/),
      expect.stringMatching(/^ => \[stage-0 3\/3\] COPY \. \/app +0\.3s$/),
    ]);
    // Step lines fill the width but one column, so no line wraps.
    for (const line of last.lines.slice(1)) expect(line).toHaveLength(79);
    // Finished steps in buildx's blue; the cursor is shown again at the end of every frame.
    expect(last.raw).toContain('\x1b[34m => CACHED');
    for (const w of h.writes.filter((x) => x.raw.includes('[+]'))) expect(w.raw.endsWith('\x1b[J\x1b[?25h')).toBe(true);
    // After the frame: the warning, once, as a line of its own; then nothing more is drawn.
    const rest = h.writes.slice(h.writes.findIndex((w) => w.raw === last.raw) + 1).map((w) => w.raw).join('');
    expect(rest).toBe('WARNING: Dockerfile:1: something to mend\n');
    expect(h.clock.pending).toBe(0);
    const count = h.writes.length;
    h.clock.until(5000);
    h.progress.onEvent({ type: 'step-start', id: 9, stage: 'x', step: 1, steps: 1, instruction: 'RUN late', line: 9 });
    h.progress.stop('finished');
    expect(h.writes).toHaveLength(count);
  });

  it('shows the last 6 lines of a running RUN, dimmed under `=> => # `, with a live elapsed time', () => {
    const h = harness();
    recordedBuild(h);
    const running = h.frames().filter((f) => f.at >= 30 && f.at < 1630);
    expect(running.length).toBeGreaterThan(5);
    for (const f of running) {
      const window = f.lines.filter((l) => l.startsWith(' => => # '));
      expect(window.length).toBeLessThanOrEqual(6);
      // The step's time moves with the clock while it runs.
      const step = f.lines.find((l) => l.includes('RUN npm ci'))!;
      expect(step).toMatch(new RegExp(`RUN npm ci +${(f.at - 30 < 50 ? 0 : (f.at - 30) / 1000).toFixed(1)}s$`));
    }
    // The last frame before the step ends: lines 5 to 10, escapes of the program's output dropped.
    const lastRunning = running.at(-1)!;
    expect(lastRunning.lines.filter((l) => l.startsWith(' => => # '))).toEqual([5, 6, 7, 8, 9, 10].map((i) => ` => => # output line ${i}`));
    expect(lastRunning.raw).toContain('\x1b[2m => => # output line 10\x1b[0m');
    expect(lastRunning.raw).not.toContain('\x1b[32m');
    // A line split across two chunks is one line.
    const withThree = running.find((f) => f.lines.includes(' => => # output line 3'));
    expect(withThree).toBeDefined();
    expect(running.some((f) => f.lines.includes(' => => # output li'))).toBe(true); // the partial line, while it is written
    // Each frame after the first goes up over the one before it.
    const frames = h.frames();
    expect(frames[0]!.raw.startsWith('\x1b[?25l[+]')).toBe(true);
    for (let i = 1; i < frames.length; i++) {
      expect(frames[i]!.raw.startsWith(`\x1b[?25l\x1b[${frames[i - 1]!.lines.length}A\r[+]`)).toBe(true);
    }
  });

  it('draws at most one frame per 100 ms, however fast events come, and catches up after', () => {
    const h = harness();
    recordedBuild(h);
    // (The last frame, drawn when the build ends, waits for nothing.)
    const at = h.frames().slice(0, -1).map((f) => f.at);
    expect(at.length).toBeGreaterThan(10);
    for (let i = 1; i < at.length; i++) expect(at[i]! - at[i - 1]!).toBeGreaterThanOrEqual(100);

    // A burst: 200 chunks within 50 ms give one frame at once and one when the interval is over.
    const b = harness();
    b.send(0, { type: 'step-start', id: 1, stage: 'stage-0', step: 1, steps: 1, instruction: 'RUN yes | head -200', line: 2 });
    for (let i = 0; i < 200; i++) b.send(i / 4, { type: 'step-output', id: 1, stream: 'stdout', text: `y ${i}\n`, elapsedMs: i / 4 });
    expect(b.frames().map((f) => f.at)).toEqual([0]);
    b.clock.until(100);
    const frames = b.frames();
    expect(frames.map((f) => f.at)).toEqual([0, 100]);
    expect(frames[1]!.lines.at(-1)).toBe(' => => # y 199');
    // With no events, the running time still moves: a frame each interval.
    b.clock.until(1000);
    expect(b.frames()).toHaveLength(11);
    b.progress.stop('finished');
    expect(b.clock.pending).toBe(0);
  });

  it('cuts long instructions to the terminal width and keeps a live frame within its height', () => {
    const h = harness(40, 8);
    h.send(0, { type: 'step-start', id: 1, stage: 'stage-0', step: 1, steps: 5, instruction: 'FROM scratch', line: 1 });
    h.send(1, { type: 'step-done', id: 1, cached: false, durationMs: 1 });
    h.send(2, { type: 'step-start', id: 2, stage: 'stage-0', step: 2, steps: 5, instruction: 'COPY a b', line: 2 });
    h.send(3, { type: 'step-done', id: 2, cached: false, durationMs: 1 });
    const long = `RUN echo ${'x'.repeat(100)} && \\\n  echo\tdone`;
    h.send(200, { type: 'step-start', id: 3, stage: 'stage-0', step: 3, steps: 5, instruction: long, line: 3 });
    for (let i = 1; i <= 8; i++) h.send(200 + i, { type: 'step-output', id: 3, stream: 'stdout', text: `${'z'.repeat(60)} ${i}\n`, elapsedMs: i });
    h.clock.until(400);
    const live = h.frames().at(-1)!;
    // 8 rows: the header and 6 lines at most (as buildx, height - 2); the oldest finished steps go
    // first, then the window's oldest lines.
    expect(live.lines).toHaveLength(7);
    expect(live.lines[0]).toMatch(/^\[\+\] Building 0\.4s \(2\/3\)$/);
    expect(live.lines[1]).toMatch(/^ => \[stage-0 3\/5\] RUN echo x+ +0\.2s$/);
    for (const line of live.lines) expect(line.length).toBeLessThanOrEqual(39);
    expect(live.lines.slice(2)).toEqual([4, 5, 6, 7, 8].map(() => ` => => # ${'z'.repeat(30)}`));

    // The build fails: the last frame has every step, the running one marked ERROR with its
    // output (what it printed before the error), and no FINISHED.
    h.clock.until(900);
    h.progress.stop('error');
    const last = h.frames().at(-1)!;
    expect(last.lines[0]).toBe('[+] Building 0.9s (3/3)');
    expect(last.lines.slice(1, 4).map((l) => l.slice(0, 20))).toEqual([' => [stage-0 1/5] FR', ' => [stage-0 2/5] CO', ' => ERROR [stage-0 3']);
    expect(last.lines[3]).toMatch(/ 0\.7s$/);
    expect(last.lines.filter((l) => l.startsWith(' => => # '))).toHaveLength(6);
    expect(last.raw).toContain('\x1b[31m => ERROR');
    for (const line of last.lines) expect(line.length).toBeLessThanOrEqual(39);
  });

  it('marks running steps CANCELED on Ctrl-C and draws no color with color off', () => {
    const clock = new FakeClock();
    let out = '';
    const p = new TtyProgress({ write: (t) => void (out += t), clock, color: false });
    p.onEvent({ type: 'step-start', id: 1, stage: 'stage-0', step: 1, steps: 2, instruction: 'RUN sleep 100', line: 2 });
    clock.until(2500);
    p.stop('canceled');
    const frames = out.split('\x1b[?25l').filter(Boolean);
    const last = strip(frames.at(-1)!).split('\n').filter(Boolean);
    expect(last).toEqual(['[+] Building 2.5s (1/1)', expect.stringMatching(/^ => CANCELED \[stage-0 1\/2\] RUN sleep 100 +2\.5s$/)]);
    expect(out.replace(/\x1b\[(\?25[lh]|\d*A|K|J)/g, '')).not.toContain('\x1b');
    expect(out.endsWith('\x1b[J\x1b[?25h')).toBe(true);
  });
});

describe('kiln build --progress auto', () => {
  const work = tempDir('progress-tty');
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  const ctx = writeTree(join(work, 'ctx'), {
    Dockerfile: 'FROM scratch\nCOPY a.txt /a.txt\nCOPY dir/ /dir/\nCMD ["/a"]\n',
    'a.txt': 'a\n',
    'dir/b.txt': 'b\n',
  });
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

  it('draws the live display when stderr is a terminal (under a pseudo-terminal)', async () => {
    const store = join(work, 'store-tty');
    const cmd = [process.execPath, kilnBin, 'build', '--store', store, '--progress', 'auto', '-t', 'kiln-test/tty:1', ctx].map(quote).join(' ');
    const env: NodeJS.ProcessEnv = { ...process.env, TERM: 'xterm' };
    delete env.NO_COLOR;
    const { stdout } = await promisify(execFile)('script', ['-qefc', cmd, '/dev/null'], { env, maxBuffer: 16 << 20 });
    expect(stdout).toContain('\x1b[?25l[+] Building ');
    expect(stdout).toMatch(/\x1b\[\d+A\r\[\+\] Building \d+\.\ds \(4\/4\) FINISHED/); // the last frame, drawn over the one before
    expect(stdout).toContain('\x1b[J\x1b[?25h');
    const text = strip(stdout).replace(/\r/g, '');
    expect(text).toMatch(/ => \[stage-0 2\/4\] COPY a\.txt \/a\.txt +\d+\.\ds\n/);
    expect(text).toMatch(/FINISHED\n(.*\n){4}naming to docker\.io\/kiln-test\/tty:1\nwriting image sha256:[0-9a-f]{64} done/);
    expect(text).not.toMatch(/^#\d+ /m);
  });

  it('prints the plain lines when stderr is not a terminal', async () => {
    const r = await kilnProcess(['build', '--store', join(work, 'store-plain'), '--progress', 'auto', ctx], undefined, { TERM: 'xterm' });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('#1 [stage-0 1/4] FROM scratch\n');
    expect(r.stderr).toMatch(/#2 \[stage-0 2\/4\] COPY a\.txt \/a\.txt\n#2 DONE \d+\.\ds\n/);
    expect(r.stderr).not.toContain('\x1b');
    expect(r.stderr).not.toContain('[+] Building');
  });

  it('refuses an unknown --progress, naming tty among the choices', async () => {
    const r = await kilnProcess(['build', '--progress', 'fancy', ctx]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--progress must be auto, tty, plain or quiet, not "fancy"');
  });
});
