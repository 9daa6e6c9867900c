// writeLayer: byte-for-byte determinism, digests, what GNU tar sees, long names, streaming, errors.
import { execFileSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { gunzipSync } from 'node:zlib';
import { KilnError } from '../../src/errors.js';
import { LayerEntryError, LayerSourceChangedError, readLayer, writeLayer } from '../../src/layer/index.js';
import type { LayerEntry, TarHeader } from '../../src/layer/index.js';
import { MediaTypes } from '../../src/oci/media-types.js';
import { TempStore, pseudoRandom, removeDir, sha256, tempDir } from './helpers.js';

const EPOCH = 1_700_000_000;

let work: string;
let store: Awaited<ReturnType<typeof TempStore.create>>;

beforeAll(async () => {
  work = await tempDir();
  store = await TempStore.create();
});
afterAll(async () => {
  await removeDir(work);
  await removeDir(store.root);
});

async function sampleEntries(): Promise<LayerEntry[]> {
  const src = join(work, 'src');
  await mkdir(src, { recursive: true });
  await writeFile(join(src, 'app.js'), 'console.log("hi")\n');
  await writeFile(join(src, 'big.bin'), pseudoRandom(300_000, 7));
  const long = `${'deep/'.repeat(30)}file-with-a-long-name.txt`; // > 100 and > 155 chars
  return [
    { path: 'app', type: 'dir', mode: 0o755, uid: 0, gid: 0 },
    { path: 'app/index.js', type: 'file', mode: 0o644, uid: 1000, gid: 1000, content: { path: join(src, 'app.js') } },
    { path: 'app/big.bin', type: 'file', mode: 0o600, uid: 1000, gid: 1000, size: 300_000, content: { path: join(src, 'big.bin') } },
    { path: 'app/inline.txt', type: 'file', mode: 0o640, uid: 0, gid: 0, content: { data: Buffer.from('inline bytes') }, mtime: 1 },
    { path: 'app/empty', type: 'file', mode: 0o644, uid: 0, gid: 0 },
    { path: 'usr/bin/su', type: 'file', mode: 0o4755, uid: 0, gid: 0, content: { data: Buffer.from('#!/bin/sh\n') } },
    { path: 'tmp', type: 'dir', mode: 0o1777, uid: 0, gid: 0, mtime: EPOCH + 1_000_000 },
    { path: 'usr', type: 'dir', mode: 0o755, uid: 0, gid: 0 },
    { path: 'usr/bin', type: 'dir', mode: 0o2755, uid: 0, gid: 50 },
    { path: 'bin', type: 'symlink', mode: 0o777, uid: 0, gid: 0, linkTarget: 'usr/bin' },
    { path: 'app/link-to-index', type: 'hardlink', mode: 0o644, uid: 1000, gid: 1000, linkTarget: 'app/index.js' },
    { path: 'dev/null', type: 'char', mode: 0o666, uid: 0, gid: 0, devMajor: 1, devMinor: 3 },
    { path: 'dev/sda', type: 'block', mode: 0o660, uid: 0, gid: 6, devMajor: 8, devMinor: 0 },
    { path: 'run/pipe', type: 'fifo', mode: 0o600, uid: 0, gid: 0 },
    { path: 'home/bigid', type: 'file', mode: 0o644, uid: 3_000_000, gid: 4_000_000, content: { data: Buffer.from('x') } },
    { path: long, type: 'file', mode: 0o644, uid: 0, gid: 0, content: { data: Buffer.from('long') } },
    { path: 'links/long-target', type: 'symlink', mode: 0o777, uid: 0, gid: 0, linkTarget: `/${'t'.repeat(150)}/target` },
    { path: 'links/héllo-wörld', type: 'file', mode: 0o644, uid: 0, gid: 0, content: { data: Buffer.from('unicode') } },
    // Long directories: prefix/name split (slash must survive), full name field, single segment.
    { path: `${'q/'.repeat(49)}ab`, type: 'dir', mode: 0o755, uid: 0, gid: 0 },
    { path: `c/${'d'.repeat(120)}`, type: 'dir', mode: 0o755, uid: 0, gid: 0 },
    { path: 'r'.repeat(99), type: 'dir', mode: 0o755, uid: 0, gid: 0 },
    { path: 'x'.repeat(150), type: 'file', mode: 0o644, uid: 0, gid: 0 },
    { path: `a/${'b'.repeat(120)}`, type: 'file', mode: 0o644, uid: 0, gid: 0 },
  ];
}

function shuffle<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let x = seed;
  for (let i = out.length - 1; i > 0; i--) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const j = x % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

async function gnuList(file: string): Promise<string[]> {
  return execFileSync('tar', ['--numeric-owner', '--full-time', '-tvf', file], { env: { ...process.env, TZ: 'UTC' } })
    .toString('utf8')
    .trim()
    .split('\n');
}

async function headersOf(blob: string, compression: 'gzip' | 'none' = 'gzip'): Promise<TarHeader[]> {
  const out: TarHeader[] = [];
  await readLayer(store.openBlob(blob), compression, async (h) => {
    out.push(h);
  });
  return out;
}

describe('writeLayer', () => {
  it('is deterministic: same entries, twice and shuffled, give byte-identical blobs', async () => {
    const entries = await sampleEntries();
    const a = await writeLayer(entries, store, { epoch: EPOCH });
    const b = await writeLayer(entries, store, { epoch: EPOCH });
    const c = await writeLayer(shuffle(entries, 42), store, { epoch: EPOCH });
    const d = await writeLayer(shuffle(entries, 7), store, { epoch: EPOCH });
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    expect(d).toEqual(a);
    const bytes = await readFile(store.blobPath(a.digest));
    expect(sha256(bytes)).toBe(a.digest);
    // A different epoch changes the bytes (mtimes are in the headers).
    const e = await writeLayer(entries, store, { epoch: EPOCH - 1 });
    expect(e.diffId).not.toBe(a.diffId);
  });

  it('reports diffID = sha256(tar), digest = sha256(blob), sizes and the media type', async () => {
    const entries = await sampleEntries();
    const layer = await writeLayer(entries, store, { epoch: EPOCH });
    const blob = await readFile(store.blobPath(layer.digest));
    const tarBytes = gunzipSync(blob);
    expect(layer.mediaType).toBe(MediaTypes.ociLayerGzip);
    expect(layer.digest).toBe(sha256(blob));
    expect(layer.diffId).toBe(sha256(tarBytes));
    expect(layer.size).toBe(blob.length);
    expect(layer.uncompressedSize).toBe(tarBytes.length);
    expect(layer.entries).toBe(entries.length);
    expect(tarBytes.length % 512).toBe(0);
    expect(tarBytes.subarray(-1024).every((b) => b === 0)).toBe(true);
    // gzip header: no mtime, OS byte pinned to 255 (zlib would write the build's OS code).
    expect([...blob.subarray(0, 4)]).toEqual([0x1f, 0x8b, 8, 0]);
    expect(blob.readUInt32LE(4)).toBe(0);
    expect(blob[9]).toBe(0xff);

    const plain = await writeLayer(entries, store, { epoch: EPOCH, compression: 'none' });
    expect(plain.mediaType).toBe(MediaTypes.ociLayer);
    expect(plain.digest).toBe(layer.diffId);
    expect(plain.diffId).toBe(layer.diffId);
    expect((await readFile(store.blobPath(plain.digest))).equals(tarBytes)).toBe(true);

    const fast = await writeLayer(entries, store, { epoch: EPOCH, gzipLevel: 1 });
    expect(fast.diffId).toBe(layer.diffId);
    expect(fast.digest).not.toBe(layer.digest);
  });

  it('writes what GNU tar lists: modes, numeric owners, link targets, clamped mtimes, dirs with /', async () => {
    const entries = await sampleEntries();
    const layer = await writeLayer(entries, store, { epoch: EPOCH });
    const lines = await gnuList(store.blobPath(layer.digest));
    const byName = new Map(lines.map((l) => [l.split(/\s+/)[5] ?? '', l]));
    const epochTime = new Date(EPOCH * 1000).toISOString().replace('T', ' ').replace('.000Z', '');
    const expectLine = (name: string, re: RegExp) => {
      const line = byName.get(name);
      expect(line).toBeDefined();
      expect(line).toMatch(re);
    };
    expectLine('app/', new RegExp(`^drwxr-xr-x 0/0\\s+0 ${epochTime} app/$`));
    expectLine('app/index.js', new RegExp(`^-rw-r--r-- 1000/1000\\s+18 ${epochTime} app/index.js$`));
    expectLine('app/big.bin', /^-rw------- 1000\/1000\s+300000 /);
    expectLine('app/inline.txt', /^-rw-r----- 0\/0\s+12 1970-01-01 00:00:01 app\/inline.txt$/);
    expectLine('usr/bin/su', /^-rwsr-xr-x 0\/0 /);
    expectLine('usr/bin/', /^drwxr-sr-x 0\/50 /);
    expectLine('tmp/', new RegExp(`^drwxrwxrwt 0/0\\s+0 ${epochTime} tmp/$`)); // mtime clamped to the epoch
    expectLine('bin', /^lrwxrwxrwx 0\/0\s+0 .* bin -> usr\/bin$/);
    expectLine('app/link-to-index', /^hrw-r--r-- 1000\/1000\s+0 .* app\/link-to-index link to app\/index.js$/);
    expectLine('dev/null', /^crw-rw-rw- 0\/0\s+1,3 /);
    expectLine('dev/sda', /^brw-rw---- 0\/6\s+8,0 /);
    expectLine('run/pipe', /^prw------- 0\/0 /);
    expectLine('home/bigid', /^-rw-r--r-- 3000000\/4000000 /);
    expectLine(`${'deep/'.repeat(30)}file-with-a-long-name.txt`, /^-rw-r--r-- 0\/0\s+4 /);
    expect(lines.some((l) => l.endsWith(`links/long-target -> /${'t'.repeat(150)}/target`))).toBe(true);
    expect(lines.some((l) => l.includes('links/héllo-wörld'))).toBe(true);
    // Every directory is listed with its trailing '/', every path exactly as given.
    for (const line of lines.filter((l) => l.startsWith('d'))) expect(line).toMatch(/\/$/);
    const listed = new Set(lines.map((l) => (l.split(/\s+/)[5] ?? '').replace(/\/$/, '')));
    for (const e of entries) expect(listed.has(e.path)).toBe(true);
    // Sorted by path bytes, parents before children.
    const names = lines.map((l) => l.split(/\s+/)[5] ?? '').map((n) => n.replace(/\/$/, ''));
    const sorted = [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect(names).toEqual(sorted);
    expect(names.indexOf('usr')).toBeLessThan(names.indexOf('usr/bin'));
    expect(names.indexOf('usr/bin')).toBeLessThan(names.indexOf('usr/bin/su'));
  });

  it('puts only path/linkpath/size/uid/gid in pax headers, with names that do not vary', async () => {
    const entries = await sampleEntries();
    const layer = await writeLayer(entries, store, { epoch: EPOCH, compression: 'none' });
    const tar = await readFile(store.blobPath(layer.digest));
    const keys = new Set<string>();
    const names: string[] = [];
    for (let off = 0; off + 512 <= tar.length; ) {
      const block = tar.subarray(off, off + 512);
      if (block.every((b) => b === 0)) break;
      const size = parseInt(block.subarray(124, 136).toString('latin1').replace(/\0.*$/, '').trim() || '0', 8);
      const type = String.fromCharCode(block[156] ?? 0);
      // uname and gname are empty everywhere
      expect(block.subarray(265, 329).every((b) => b === 0)).toBe(true);
      const bodyBlocks = type === '0' || type === 'x' ? Math.ceil(size / 512) : 0;
      if (type === 'x') {
        names.push(block.subarray(0, 100).toString('utf8').replace(/\0.*$/s, ''));
        const body = tar.subarray(off + 512, off + 512 + size).toString('utf8');
        for (const line of body.split('\n').filter(Boolean)) keys.add(line.split(' ')[1]!.split('=')[0]!);
      }
      off += 512 + bodyBlocks * 512;
    }
    expect([...keys].sort()).toEqual(['gid', 'linkpath', 'path', 'uid']);
    expect(names.length).toBeGreaterThan(0);
    for (const n of names) {
      expect(n).toMatch(/^PaxHeader\/[\x20-\x7e]+$/);
      expect(n).not.toContain(String(process.pid));
    }
  });

  it('round-trips through readLayer: long paths, long link targets, big ids, devices', async () => {
    const entries = await sampleEntries();
    const layer = await writeLayer(entries, store, { epoch: EPOCH });
    const headers = await headersOf(layer.digest);
    const byPath = new Map(headers.map((h) => [h.path, h]));
    for (const e of entries) {
      const h = byPath.get(e.path);
      expect(h).toBeDefined();
      expect(h!.type).toBe(e.type);
      expect(h!.mode).toBe(e.mode);
      expect([h!.uid, h!.gid]).toEqual([e.uid, e.gid]);
      expect(h!.mtime).toBe(Math.min(e.mtime ?? EPOCH, EPOCH));
      if (e.type === 'symlink' || e.type === 'hardlink') expect(h!.linkTarget).toBe(e.linkTarget);
      if (e.type === 'char' || e.type === 'block') expect([h!.devMajor, h!.devMinor]).toEqual([e.devMajor, e.devMinor]);
    }
  });

  it('makes the first name of a hardlinked inode carry the content, whatever the given roles', async () => {
    const entries: LayerEntry[] = [
      { path: 'z-original', type: 'file', mode: 0o644, uid: 1, gid: 2, content: { data: Buffer.from('shared') } },
      { path: 'a-link', type: 'hardlink', mode: 0o644, uid: 1, gid: 2, linkTarget: 'z-original' },
      { path: 'm-link', type: 'hardlink', mode: 0o644, uid: 1, gid: 2, linkTarget: 'a-link' },
    ];
    const layer = await writeLayer(entries, store, { epoch: EPOCH });
    const lines = await gnuList(store.blobPath(layer.digest));
    expect(lines[0]).toMatch(/^-rw-r--r-- 1\/2\s+6 .* a-link$/);
    expect(lines[1]).toMatch(/ m-link link to a-link$/);
    expect(lines[2]).toMatch(/ z-original link to a-link$/);
    const out = join(work, 'hardlinks-out');
    await mkdir(out);
    execFileSync('tar', ['-xf', store.blobPath(layer.digest), '-C', out]);
    expect(await readFile(join(out, 'z-original'), 'utf8')).toBe('shared');
  });

  it('refuses invalid paths, duplicates and inconsistent entries with clear errors', async () => {
    const base = { type: 'file' as const, mode: 0o644, uid: 0, gid: 0 };
    for (const path of ['', '/abs', 'a/', 'a//b', './a', 'a/./b', 'a/../b', '..', 'nul\0byte']) {
      await expect(writeLayer([{ ...base, path }], store, { epoch: EPOCH })).rejects.toThrow(LayerEntryError);
    }
    await expect(writeLayer([{ ...base, path: 'a' }, { ...base, path: 'a' }], store, { epoch: EPOCH })).rejects.toThrow(
      /duplicate layer entry "a"/,
    );
    await expect(
      writeLayer([{ ...base, path: 'h', type: 'hardlink', linkTarget: '../etc/passwd' }], store, { epoch: EPOCH }),
    ).rejects.toThrow(/invalid hardlink target/);
    await expect(writeLayer([{ ...base, path: 'f', size: 3, content: { data: Buffer.from('x') } }], store, { epoch: EPOCH })).rejects.toThrow(
      /size 3 does not match/,
    );
    await expect(writeLayer([{ ...base, path: 's', type: 'symlink' }], store, { epoch: EPOCH })).rejects.toThrow(/linkTarget/);
    await expect(writeLayer([], store, { epoch: EPOCH, gzipLevel: 12 })).rejects.toThrow(KilnError);
  });

  it('fails clearly (and commits nothing) when a file changes size between stat and read', async () => {
    const f = join(work, 'changing.txt');
    await writeFile(f, 'twelve bytes');
    const before = new Set(await readdir(join(store.root, 'blobs')));
    const grew = writeLayer([{ path: 'c', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 5, content: { path: f } }], store, { epoch: EPOCH });
    await expect(grew).rejects.toThrow(LayerSourceChangedError);
    await expect(grew).rejects.toThrow(/changing\.txt .*"c".* expected 5 bytes, it grew/);
    const shrank = writeLayer([{ path: 'c', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 100, content: { path: f } }], store, { epoch: EPOCH });
    await expect(shrank).rejects.toThrow(/expected 100 bytes/);
    const big = join(work, 'changing.bin');
    await writeFile(big, Buffer.alloc(300_000, 1));
    const bigEntry = (size: number): LayerEntry => ({ path: 'b', type: 'file', mode: 0o644, uid: 0, gid: 0, size, content: { path: big } });
    await expect(writeLayer([bigEntry(200_000)], store, { epoch: EPOCH })).rejects.toThrow(/expected 200000 bytes, it now has 300000/);
    await expect(writeLayer([bigEntry(400_000)], store, { epoch: EPOCH })).rejects.toThrow(LayerSourceChangedError);
    const gone = join(work, 'gone.txt');
    await expect(
      writeLayer([{ path: 'g', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 3, content: { path: gone } }], store, { epoch: EPOCH }),
    ).rejects.toThrow(/gone\.txt .* it was deleted/);
    expect(new Set(await readdir(join(store.root, 'blobs')))).toEqual(before);
    expect(await readdir(join(store.root, 'tmp'))).toEqual([]);
  });

  it('stats files itself when no size is given, and refuses non-files', async () => {
    const dir = join(work, 'stat-me');
    await mkdir(dir);
    await writeFile(join(dir, 'f'), 'abc');
    await symlink('f', join(dir, 'l'));
    const layer = await writeLayer([{ path: 'f', type: 'file', mode: 0o644, uid: 0, gid: 0, content: { path: join(dir, 'l') } }], store, {
      epoch: EPOCH,
    });
    expect((await headersOf(layer.digest))[0]?.size).toBe(3);
    await expect(
      writeLayer([{ path: 'd', type: 'file', mode: 0o644, uid: 0, gid: 0, content: { path: dir } }], store, { epoch: EPOCH }),
    ).rejects.toThrow(/not a regular file/);
  });

  it('streams a 50 MB file without holding it in memory', async () => {
    const f = join(work, 'fifty.bin');
    const ws = createWriteStream(f);
    const chunk = pseudoRandom(1024 * 1024, 3);
    for (let i = 0; i < 50; i++) {
      chunk[0] = i;
      if (!ws.write(Buffer.from(chunk))) await new Promise<void>((r) => ws.once('drain', () => r()));
    }
    ws.end();
    await finished(ws);
    global.gc?.();
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const timer = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 2);
    const layer = await writeLayer([{ path: 'fifty.bin', type: 'file', mode: 0o644, uid: 0, gid: 0, content: { path: f } }], store, {
      epoch: EPOCH,
      gzipLevel: 1,
    });
    clearInterval(timer);
    peak = Math.max(peak, process.memoryUsage().rss);
    expect(layer.uncompressedSize).toBe(50 * 1024 * 1024 + 512 + 1024);
    // Loose: a whole-file buffer would add >= 50 MB (plus its gzip copy).
    expect(peak - baseline).toBeLessThan(25 * 1024 * 1024);
  });

});

describe('a layer written from the one it replaces', () => {
  // Files known by digest (as COPY gives context files), so their bytes can come from the old layer.
  async function withDigests(entries: LayerEntry[]): Promise<LayerEntry[]> {
    return Promise.all(
      entries.map(async (e) =>
        e.content && 'path' in e.content ? { ...e, content: { path: e.content.path, digest: sha256(await readFile(e.content.path)) } } : e,
      ),
    );
  }
  const plain = { epoch: EPOCH, compression: 'none' as const };

  it('copies unchanged entries and has the digest of a fresh write, whatever changed', async () => {
    const first = await withDigests(await sampleEntries());
    const old = await writeLayer(first, store, { ...plain, spans: true });
    expect(old.spans!.spans.length).toBe(first.length);
    const reuse = { ...old.spans!, file: store.blobPath(old.digest) };

    // One file's content changes (and its size), one entry's mode, one is added, one removed.
    const changedFile = join(work, 'changed.js');
    await writeFile(changedFile, 'console.log("changed, and longer than before")\n');
    const second = await withDigests(
      first
        .filter((e) => e.path !== 'run/pipe')
        .map((e) => (e.path === 'app/index.js' ? { ...e, content: { path: changedFile } } : e.path === 'usr/bin/su' ? { ...e, mode: 0o755 } : e))
        .concat([{ path: 'app/new.txt', type: 'file', mode: 0o644, uid: 0, gid: 0, content: { data: Buffer.from('new') } }]),
    );
    const spliced = await writeLayer(second, store, { ...plain, spans: true, reuse });
    const fresh = await writeLayer(second, store, plain);
    expect(spliced.digest).toBe(fresh.digest);
    // Every entry but the changed file, the chmod'ed one and the new one (the hardlink to the
    // changed file is a header naming it: unchanged).
    expect(spliced.reused).toBe(second.length - 3);

    // The spans of a spliced layer are right too: a third write from it is still exact.
    const third = second.filter((e) => e.path !== 'app/new.txt');
    const again = await writeLayer(third, store, { ...plain, reuse: { ...spliced.spans!, file: store.blobPath(spliced.digest) } });
    expect(again.digest).toBe((await writeLayer(third, store, plain)).digest);
    expect(again.reused).toBe(third.length);
  });

  it('random edits over generations: every spliced layer equals a fresh write', async () => {
    let seed = 11;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const body = (i: number, v: number) => Buffer.from(`entry ${i} version ${v} `.repeat(1 + ((i * 37 + v) % 300)));
    const entryOf = (i: number, v: number): LayerEntry =>
      i % 9 === 0
        ? { path: `d${i % 5}/link-${i}`, type: 'symlink', mode: 0o777, uid: 0, gid: 0, linkTarget: `../t${v}` }
        : { path: `d${i % 5}/${i % 4 === 0 ? 'x'.repeat(120) : 'f'}-${i}`, type: 'file', mode: 0o644, uid: i % 3 ? 0 : 3_000_000, gid: 0, content: { data: body(i, v) } };
    const versions = new Map(Array.from({ length: 80 }, (_, i) => [i, 0]));
    const entries = () => [...versions].map(([i, v]) => entryOf(i, v)).concat([0, 1, 2, 3, 4].map((d) => ({ path: `d${d}`, type: 'dir' as const, mode: 0o755, uid: 0, gid: 0 })));
    let last = await writeLayer(entries(), store, { ...plain, spans: true });
    for (let round = 0; round < 12; round++) {
      for (let k = rand(6); k >= 0; k--) {
        const i = rand(100);
        if (versions.has(i) && rand(4) === 0) versions.delete(i);
        else versions.set(i, (versions.get(i) ?? 0) + 1);
      }
      const spliced = await writeLayer(entries(), store, { ...plain, spans: true, reuse: { ...last.spans!, file: store.blobPath(last.digest) } });
      expect(spliced.digest).toBe((await writeLayer(entries(), store, plain)).digest);
      expect(spliced.reused).toBeGreaterThan(0);
      last = spliced;
    }
  });

  it('reads a file whose digest is not known, and never reuses across compressions', async () => {
    const entries = await sampleEntries();
    const old = await writeLayer(await withDigests(entries), store, { ...plain, spans: true });
    const reuse = { ...old.spans!, file: store.blobPath(old.digest) };
    const undigested = await writeLayer(entries, store, { ...plain, reuse });
    expect(undigested.digest).toBe(old.digest);
    expect(undigested.reused).toBe(entries.filter((e) => !(e.content && 'path' in e.content && (e.size ?? 1) > 0)).length);
    const gz = await writeLayer(await withDigests(entries), store, { epoch: EPOCH, compression: 'gzip', reuse, spans: true });
    expect(gz.reused).toBe(0);
    expect(gz.spans).toBeUndefined();
  });
});
