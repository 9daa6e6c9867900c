// Per-layer byte progress of `kiln pull`, `kiln push` and `kiln build --push`: the renderer driven
// by a fake clock and a scripted event sequence (tty frames, throttling, plain lines), the
// registry client's per-blob report throttling, then the real binary against a real registry
// (docker-registry on 127.0.0.1): plain lines off a terminal, a pull into a fresh store, and the
// live display under a pseudo-terminal (util-linux `script`).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { humanSize } from '../../src/cli/human-units.js';
import { FakeClock, strip } from '../helpers/fake-terminal.js';
import { shortDigest, TransferProgress, transferMode, type TransferMode } from '../../src/cli/transfer-progress.js';
import { RegistryClient } from '../../src/registry/client.js';
import { REPORT_INTERVAL_MS, TransferReport } from '../../src/registry/progress.js';
import { parseReference } from '../../src/reference/index.js';
import type { TransferEvent } from '../../src/registry/types.js';
import { openStore } from '../../src/store/store.js';
import { kiln, kilnBin, kilnProcess, tempDir, writeTree } from '../engine/kiln-helpers.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { describeNeeding, tools } from '../helpers/requirements.js';


const LAYER_A = `sha256:${'3f2a9c1b4e5d'.padEnd(64, '0')}`;
const LAYER_B = `sha256:${'0b1a2c3d4e5f'.padEnd(64, '1')}`;
const CONFIG = `sha256:${'c0ffee000000'.padEnd(64, '2')}`;
const MANIFEST = `sha256:${'feed00000000'.padEnd(64, '3')}`;
const REPO = '127.0.0.1:5000/team/app';
const SIZE_A = 40_100_000;
const SIZE_B = 3_100_000;

/** A TransferEvent of any type, without its repository (each union member on its own). */
type EventWithoutRepository = TransferEvent extends infer E ? (E extends TransferEvent ? Omit<E, 'repository'> : never) : never;

function harness(mode: TransferMode, options: { columns?: number; rows?: number } = {}) {
  const clock = new FakeClock();
  const writes: { at: number; raw: string }[] = [];
  const progress = new TransferProgress({
    mode,
    verb: 'push',
    write: (raw) => writes.push({ at: clock.now(), raw }),
    clock,
    columns: () => options.columns,
    rows: () => options.rows,
  });
  const frames = () =>
    writes.filter((w) => w.raw.includes('[+] Pushing')).map((w) => ({ at: w.at, raw: w.raw, lines: strip(w.raw).split('\n').filter((l) => l !== '') }));
  const send = (at: number, event: EventWithoutRepository) => {
    clock.until(at);
    progress.onProgress({ ...event, repository: REPO } as TransferEvent);
  };
  return { clock, writes, progress, frames, send };
}

/**
 * A push as the client reports it: layer A (40.1 MB) uploaded over 1.6 s at 25 MB/s with a bytes
 * event every 20 ms (more often than the client sends them, to see the renderer's own limit),
 * layer B mounted, the config already there, then the manifest.
 */
function scriptedPush(h: ReturnType<typeof harness>, stopAt = 2000): void {
  const { send } = h;
  send(0, { type: 'start', digest: LAYER_A, size: SIZE_A, kind: 'layer', action: 'push' });
  send(5, { type: 'start', digest: LAYER_B, size: SIZE_B, kind: 'layer', action: 'mount' });
  send(30, { type: 'done', digest: LAYER_B, bytes: 0, size: SIZE_B, kind: 'layer', action: 'mount' });
  send(40, { type: 'start', digest: CONFIG, size: 1234, kind: 'config', action: 'exists' });
  send(41, { type: 'done', digest: CONFIG, bytes: 0, size: 1234, kind: 'config', action: 'exists' });
  for (let t = 20; t <= 1600; t += 20) {
    send(t, { type: 'bytes', digest: LAYER_A, bytes: Math.min(SIZE_A, Math.round(t * 25_000)), size: SIZE_A });
  }
  send(1604, { type: 'bytes', digest: LAYER_A, bytes: SIZE_A, size: SIZE_A });
  send(1604, { type: 'done', digest: LAYER_A, bytes: SIZE_A, size: SIZE_A, kind: 'layer', action: 'push' });
  send(1700, { type: 'start', digest: MANIFEST, size: 528, kind: 'manifest', action: 'push' });
  send(1720, { type: 'done', digest: MANIFEST, bytes: 528, size: 528, kind: 'manifest', action: 'push' });
  h.clock.until(stopAt);
  h.progress.stop('finished');
}

describe('TransferProgress (tty)', () => {
  it('ends with a full frame, one line per blob, and a summary line', () => {
    const h = harness('tty');
    scriptedPush(h);
    const last = h.frames().at(-1)!;
    expect(last.at).toBe(2000);
    expect(last.lines).toEqual([
      '[+] Pushing 2.0s (4/4) FINISHED',
      ' => pushed sha256:3f2a9c1b4e5d 40.1MB 1.6s',
      ' => mounted sha256:0b1a2c3d4e5f 3.1MB',
      ' => already exists config sha256:c0ffee000000 1.23kB',
      ' => pushed manifest sha256:feed00000000 528B 0.0s',
    ]);
    // drawn over the frame before, finished lines blue, cursor shown again at the end
    expect(last.raw).toMatch(/^\x1b\[\?25l\x1b\[5A\r\[\+\] Pushing/);
    expect(last.raw).toContain('\x1b[34m => pushed sha256:3f2a9c1b4e5d');
    expect(last.raw.endsWith('\x1b[J\x1b[?25h')).toBe(true);
    // after it: the summary, counting bytes moved (the mount and the existing config move none)
    expect(h.writes.at(-1)!.raw).toBe('Pushed 1 blob, 40.1MB in 2.0s (20.1MB/s); 1 mounted, 1 already there\n');
    expect(h.clock.pending).toBe(0);
  });

  it('shows bytes done / total and the speed while a layer moves', () => {
    const h = harness('tty');
    scriptedPush(h);
    const at500 = h.frames().filter((f) => f.at <= 500).at(-1)!;
    expect(at500.at).toBeGreaterThan(400);
    const line = at500.lines.find((l) => l.includes('3f2a9c1b4e5d'))!;
    expect(line).toMatch(/^ => pushing sha256:3f2a9c1b4e5d \d+(\.\d+)?MB \/ 40\.1MB 25MB\/s$/);
    expect(at500.lines[0]).toMatch(/^\[\+\] Pushing 0\.\ds \(2\/3\)$/);
  });

  it('draws at most one frame per 100 ms, however many events arrive', () => {
    const h = harness('tty');
    scriptedPush(h);
    const frames = h.frames();
    // ~90 events in 1.7 s; a frame per interval, not per event
    expect(frames.length).toBeLessThanOrEqual(Math.ceil(2000 / 100) + 2);
    expect(frames.length).toBeGreaterThan(10);
    for (let i = 1; i < frames.length - 1; i++) expect(frames[i]!.at - frames[i - 1]!.at).toBeGreaterThanOrEqual(100);
  });

  it('keeps a frame within the terminal: the oldest finished lines go first, the final frame has all', () => {
    const h = harness('tty', { rows: 4, columns: 40 });
    scriptedPush(h);
    for (const f of h.frames().slice(0, -1)) {
      expect(f.lines.length).toBeLessThanOrEqual(3);
      for (const l of f.lines) expect(l.length).toBeLessThanOrEqual(39);
    }
    const mid = h.frames().filter((f) => f.at >= 200 && f.at < 1600)[0]!;
    expect(mid.lines.some((l) => l.includes('pushing sha256:3f2a9c1b4e5d'))).toBe(true);
    expect(h.frames().at(-1)!.lines).toHaveLength(5);
  });

  it('marks what was still moving ERROR when the command fails, and prints no summary', () => {
    const h = harness('tty');
    h.send(0, { type: 'start', digest: LAYER_A, size: SIZE_A, kind: 'layer', action: 'push' });
    h.send(300, { type: 'bytes', digest: LAYER_A, bytes: 5_000_000, size: SIZE_A });
    h.clock.until(500);
    h.progress.stop('error');
    const last = h.frames().at(-1)!;
    expect(last.lines).toEqual(['[+] Pushing 0.5s (0/1)', ' => ERROR pushing sha256:3f2a9c1b4e5d 5MB / 40.1MB 0.5s']);
    expect(h.writes.at(-1)!.raw).toBe(last.raw);
    expect(h.clock.pending).toBe(0);
  });
});

describe('TransferProgress (plain)', () => {
  it('prints a line when a layer starts moving and when it is in place, then the summary', () => {
    const h = harness('plain');
    scriptedPush(h);
    expect(h.writes.map((w) => w.raw).join('')).toBe(
      [
        'layer sha256:3f2a9c1b4e5d: pushing 40.1MB',
        'layer sha256:0b1a2c3d4e5f: mounted 3.1MB',
        'config sha256:c0ffee000000: already exists 1.23kB',
        'layer sha256:3f2a9c1b4e5d: pushed 40.1MB in 1.6s',
        'manifest sha256:feed00000000: pushing 528B',
        'manifest sha256:feed00000000: pushed 528B in 0.0s',
        'Pushed 1 blob, 40.1MB in 2.0s (20.1MB/s); 1 mounted, 1 already there',
        '',
      ].join('\n'),
    );
    expect(h.writes.some((w) => w.raw.includes('\x1b'))).toBe(false);
  });
});

describe('transferMode', () => {
  it('auto is tty on a terminal (unless TERM=dumb), plain off one, nothing when the io does not say', () => {
    expect(transferMode('auto', { stderrIsTTY: true }, { TERM: 'xterm' })).toBe('tty');
    expect(transferMode('auto', { stderrIsTTY: true }, { TERM: 'dumb' })).toBe('plain');
    expect(transferMode('auto', { stderrIsTTY: false }, { TERM: 'xterm' })).toBe('plain');
    expect(transferMode('auto', {}, { TERM: 'xterm' })).toBeUndefined();
    expect(transferMode('plain', { stderrIsTTY: true }, {})).toBe('plain');
    expect(transferMode('tty', { stderrIsTTY: false }, {})).toBe('tty');
    expect(transferMode('quiet', { stderrIsTTY: true }, {})).toBeUndefined();
  });

  it('shortDigest keeps the algorithm and 12 hex digits', () => {
    expect(shortDigest(LAYER_A)).toBe('sha256:3f2a9c1b4e5d');
  });
});

describe('TransferReport (the registry client side)', () => {
  it('sends bytes at most every 100 ms per blob, the last count before done, and ignores a throwing listener', () => {
    let t = 0;
    const events: (TransferEvent & { at: number })[] = [];
    const report = new TransferReport((e) => events.push({ ...e, at: t }), LAYER_A, 10_000_000, 'layer', REPO, () => t);
    report.start('push');
    for (let b = 65_536; b <= 10_000_000; b += 65_536) {
      t += 3;
      report.at(b);
    }
    t += 3;
    report.done(10_000_000);
    const bytes = events.filter((e) => e.type === 'bytes');
    expect(events[0]).toMatchObject({ type: 'start', action: 'push', size: 10_000_000, kind: 'layer', at: 0 });
    for (let i = 1; i < bytes.length - 1; i++) expect(bytes[i]!.at - bytes[i - 1]!.at).toBeGreaterThanOrEqual(REPORT_INTERVAL_MS);
    expect(bytes.length).toBeLessThanOrEqual(Math.ceil(t / REPORT_INTERVAL_MS) + 1);
    expect(bytes.at(-1)).toMatchObject({ bytes: 10_000_000 });
    expect(events.at(-1)).toMatchObject({ type: 'done', bytes: 10_000_000, action: 'push' });

    const throwing = new TransferReport(() => {
      throw new Error('listener bug');
    }, LAYER_B, 1, 'layer', REPO);
    expect(() => {
      throwing.start('pull');
      throwing.done(1);
    }).not.toThrow();
  });

  it('a retried attempt restarts at 0 bytes without a second start; a changed action is a new start', () => {
    const events: TransferEvent[] = [];
    let t = 0;
    const report = new TransferReport((e) => events.push(e), LAYER_A, 100, 'layer', REPO, () => t);
    report.start('push');
    t = 500;
    report.at(60);
    report.start('push');
    report.start('exists');
    report.done(0);
    expect(events.map((e) => `${e.type}${'action' in e ? `:${e.action}` : ''}${e.type === 'bytes' ? `:${e.bytes}` : ''}`)).toEqual([
      'start:push',
      'bytes:60',
      'bytes:0',
      'start:exists',
      'done:exists',
    ]);
  });
});

describeNeeding(tools('docker-registry'), 'kiln push / pull progress against a real registry', () => {
  let registry: TestRegistry;
  const work = tempDir('transfer-progress');
  const store = join(work, 'store');
  const ctx = writeTree(join(work, 'ctx'), {
    Dockerfile: 'FROM scratch\nCOPY small.txt /small.txt\nCOPY big.bin /big.bin\nCMD ["/app"]\n',
    'small.txt': 'hello\n',
  });
  writeFileSync(join(ctx, 'big.bin'), randomBytes(5 * 1024 * 1024));
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  let blobs: { kind: 'layer' | 'config'; digest: string; size: number }[] = [];
  let manifestDigest = '';

  beforeAll(async () => {
    registry = await startRegistry();
    const built = await kiln(['build', '--store', store, '-q', '-t', `${registry.host}/app:1`, '-t', `${registry.host}/tty/app:1`, ctx]);
    if (built.code !== 0) throw new Error(built.stderr);
    const s = await openStore(store);
    manifestDigest = (await s.getRef(`${registry.host}/app:1`))!;
    const m = JSON.parse((await s.readBlob(manifestDigest)).toString('utf8')) as {
      config: { digest: string; size: number };
      layers: { digest: string; size: number }[];
    };
    blobs = [{ kind: 'config', ...m.config }, ...m.layers.map((l) => ({ kind: 'layer' as const, digest: l.digest, size: l.size }))];
    cpSync(store, join(work, 'store-unpushed'), { recursive: true });
  }, 60_000);
  /** A copy of the store before any push (so it knows of no repository to mount from). */
  const unpushedCopy = (name: string): string => {
    const dir = join(work, `store-${name}`);
    cpSync(join(work, 'store-unpushed'), dir, { recursive: true });
    return dir;
  };
  afterAll(async () => {
    await registry?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('kiln push --progress plain: one start and one done line per layer with its size; stdout as before', async () => {
    expect(blobs.filter((b) => b.kind === 'layer')).toHaveLength(2);
    expect(blobs.find((b) => b.kind === 'layer' && b.size > 5 * 1024 * 1024)).toBeDefined();
    const r = await kilnProcess(['push', '--compression', 'none', '--store', store, '--progress', 'plain', `${registry.host}/app:1`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${registry.host}/app:1: digest: ${manifestDigest} (3 blobs uploaded, 0 mounted, 0 already there)\n`);
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    for (const b of blobs) {
      const mine = lines.filter((l) => l.startsWith(`${b.kind} ${shortDigest(b.digest)}: `));
      expect(mine).toEqual([
        `${b.kind} ${shortDigest(b.digest)}: pushing ${humanSize(b.size)}`,
        expect.stringMatching(new RegExp(`^${b.kind} ${shortDigest(b.digest)}: pushed ${humanSize(b.size).replace('.', '\\.')} in \\d+\\.\\ds$`)),
      ]);
    }
    expect(lines).toContain(`manifest ${shortDigest(manifestDigest)}: pushing ${humanSize(await manifestSize())}`);
    const total = blobs.reduce((n, b) => n + b.size, 0);
    expect(lines.at(-1)).toMatch(new RegExp(`^Pushed 3 blobs, ${humanSize(total).replace('.', '\\.')} in \\d+\\.\\ds \\(\\S+/s\\); 0 mounted, 0 already there$`));
    expect(r.stderr).not.toContain('\x1b');

    // The same push, quiet: nothing on stderr, the same stdout (the blobs are there now).
    const q = await kilnProcess(['push', '--compression', 'none', '--store', store, '--progress', 'quiet', `${registry.host}/app:1`]);
    expect(q.stderr).toBe('');
    expect(q.stdout).toBe(`${registry.host}/app:1: digest: ${manifestDigest} (0 blobs uploaded, 0 mounted, 3 already there)\n`);
    // Off a terminal, auto is plain: the blobs that are there say so, one line each.
    const again = await kilnProcess(['push', '--compression', 'none', '--store', store, `${registry.host}/app:1`], undefined, { TERM: 'xterm' });
    expect(again.stdout).toBe(q.stdout);
    for (const b of blobs) expect(again.stderr).toContain(`${b.kind} ${shortDigest(b.digest)}: already exists ${humanSize(b.size)}\n`);
    expect(again.stderr).toMatch(/Pushed 0 blobs, 0B in \d+\.\ds \(\S+\/s\); 0 mounted, 3 already there\n$/);
  });

  async function manifestSize(): Promise<number> {
    return (await (await openStore(store)).readBlob(manifestDigest)).length;
  }

  it('kiln pull --progress plain into a fresh store: a start and a done line per layer; stdout as before', async () => {
    const fresh = join(work, 'store-pull');
    const r = await kilnProcess(['pull', '--store', fresh, '--progress', 'plain', `${registry.host}/app:1`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`Digest: ${manifestDigest}\nStatus: Downloaded ${registry.host}/app:1\n${registry.host}/app:1\n`);
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    for (const b of blobs) {
      expect(lines.filter((l) => l.startsWith(`${b.kind} ${shortDigest(b.digest)}: `))).toEqual([
        `${b.kind} ${shortDigest(b.digest)}: pulling ${humanSize(b.size)}`,
        expect.stringMatching(new RegExp(`^${b.kind} ${shortDigest(b.digest)}: pulled ${humanSize(b.size).replace('.', '\\.')} in \\d+\\.\\ds$`)),
      ]);
    }
    expect(lines.at(-1)).toMatch(/^Pulled 3 blobs, \S+ in \d+\.\ds \(\S+\/s\); 0 already there$/);
    const s = await openStore(fresh);
    for (const b of blobs) expect(await s.hasBlob(b.digest)).toBe(true);
    // -q: the reference only, nothing on stderr
    const q = await kilnProcess(['pull', '--store', fresh, '-q', `${registry.host}/app:1`]);
    expect(q).toEqual({ code: 0, stdout: `${registry.host}/app:1\n`, stderr: '' });
  });

  it('a pushed or pulled image has its repository digest, as docker images --digests and inspect show it', async () => {
    const expected = `${registry.host}/app@${manifestDigest}`;
    for (const where of [store, join(work, 'store-pull')]) {
      const listed = await kilnProcess(['images', '--store', where, '--digests', '--format', '{{.Repository}}:{{.Tag}} {{.Digest}}', `${registry.host}/app`]);
      expect(listed.stdout).toBe(`${registry.host}/app:1 ${manifestDigest}\n`);
      const inspected = await kilnProcess(['inspect', '--store', where, '--format', '{{json .RepoDigests}}', `${registry.host}/app:1`]);
      expect(JSON.parse(inspected.stdout)).toContain(expected);
    }
    // A tag no registry has: <none>, as docker shows it.
    const local = await kilnProcess(['images', '--store', store, '--digests', '--format', '{{.Repository}} {{.Digest}}', `${registry.host}/tty/app`]);
    expect(local.stdout).toBe(`${registry.host}/tty/app <none>\n`);
  });

  it('kiln push under a pseudo-terminal: the live display, drawn over itself, with the final sizes', async () => {
    // A store that pushed nothing yet: it would mount what it pushed to app:1 (same registry).
    const fresh = unpushedCopy('tty');
    const cmd = [process.execPath, kilnBin, 'push', '--compression', 'none', '--store', fresh, `${registry.host}/tty/app:1`].map(quote).join(' ');
    const env: NodeJS.ProcessEnv = { ...process.env, TERM: 'xterm' };
    delete env.NO_COLOR;
    const { stdout } = await promisify(execFile)('script', ['-qefc', cmd, '/dev/null'], { env, maxBuffer: 16 << 20 });
    expect(stdout).toContain('\x1b[?25l[+] Pushing ');
    expect(stdout).toMatch(/\x1b\[\d+A\r\[\+\] Pushing \d+\.\ds \(4\/4\) FINISHED/); // the last frame, over the one before
    expect(stdout).toContain('\x1b[J\x1b[?25h');
    const text = strip(stdout);
    const final = text.slice(text.lastIndexOf('[+] Pushing'));
    for (const b of blobs) {
      const what = `${b.kind === 'layer' ? '' : `${b.kind} `}${shortDigest(b.digest)}`;
      expect(final).toMatch(new RegExp(` => pushed ${what} ${humanSize(b.size).replace('.', '\\.')} \\d+\\.\\ds\\n`));
    }
    expect(final).toMatch(/\nPushed 3 blobs, \S+ in \d+\.\ds \(\S+\/s\); 0 mounted, 0 already there\n/);
    // stdout's line comes after the progress, as it did
    expect(final).toMatch(new RegExp(`already there\\n${registry.host.replace(/\./g, '\\.')}/tty/app:1: digest: ${manifestDigest} \\(3 blobs uploaded, 0 mounted, 0 already there\\)\\n?$`));
  });

  it('RegistryClient: push and pull report every blob (start, bytes, done) through onProgress; existing callers unchanged', async () => {
    const s = await openStore(store);
    const client = new RegistryClient({ loopbackOnly: true });
    try {
      const ref = parseReference(`${registry.host}/client/app:1`);
      const pushEvents: TransferEvent[] = [];
      const pushed = await client.push(s, manifestDigest, [ref], { onProgress: (e) => pushEvents.push(e) });
      expect(pushed.uploadedBlobs).toBe(3);
      for (const b of blobs) {
        const mine = pushEvents.filter((e) => e.digest === b.digest);
        expect(mine[0]).toEqual({ type: 'start', digest: b.digest, size: b.size, kind: b.kind, action: 'push', repository: `${registry.host}/client/app` });
        expect(mine.at(-1)).toEqual({ type: 'done', digest: b.digest, bytes: b.size, size: b.size, kind: b.kind, action: 'push', repository: `${registry.host}/client/app` });
        const counts = mine.filter((e) => e.type === 'bytes').map((e) => (e as { bytes: number }).bytes);
        expect(counts.at(-1)).toBe(b.size);
        expect([...counts].sort((x, y) => x - y)).toEqual(counts);
      }
      expect(pushEvents.filter((e) => e.digest === manifestDigest).map((e) => `${e.type}:${'kind' in e ? e.kind : ''}`)).toEqual(['start:manifest', 'bytes:', 'done:manifest']);
      // again: every blob is there
      const again: TransferEvent[] = [];
      await client.push(s, manifestDigest, [ref], { onProgress: (e) => again.push(e) });
      for (const b of blobs) expect(again.filter((e) => e.digest === b.digest).map((e) => `${e.type}:${'action' in e ? e.action : ''}`)).toEqual(['start:exists', 'done:exists']);
      // pull into a fresh store, and without a listener as before
      const fresh = await openStore(join(work, 'store-client-pull'));
      const pullEvents: TransferEvent[] = [];
      const pulled = await client.pull(ref, fresh, { onProgress: (e) => pullEvents.push(e) });
      expect(pulled.manifestDigest).toBe(manifestDigest);
      for (const b of blobs) {
        const mine = pullEvents.filter((e) => e.digest === b.digest);
        expect(mine[0]).toMatchObject({ type: 'start', action: 'pull', kind: b.kind, size: b.size });
        expect(mine.at(-1)).toMatchObject({ type: 'done', action: 'pull', bytes: b.size });
      }
      expect((await client.pull(ref, fresh)).manifestDigest).toBe(manifestDigest);
    } finally {
      client.close();
    }
  });

  it('kiln build --push --progress plain: per-layer lines after the build, then the pushed line', async () => {
    const r = await kiln(['build', '--store', unpushedCopy('built'), '--compression', 'none', '--progress', 'plain', '-t', `${registry.host}/built/app:1`, '--push', ctx]);
    expect(r.code).toBe(0);
    const pushedAt = r.stderr.indexOf('pushed ');
    const firstLayer = r.stderr.indexOf('layer sha256:');
    expect(firstLayer).toBeGreaterThan(r.stderr.lastIndexOf('DONE'));
    expect(firstLayer).toBeLessThan(pushedAt);
    for (const b of blobs) expect(r.stderr).toContain(`${b.kind} ${shortDigest(b.digest)}: pushing ${humanSize(b.size)}\n`);
    expect(r.stderr).toMatch(/pushed .*built\/app:1: 3 blobs uploaded \(\d+ bytes\), 0 mounted, 0 already there/);
    expect(r.stdout).toBe('');
  });
});
