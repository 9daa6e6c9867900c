// The directory store: layout, blobs written by temp file + rename and verified on read, refs,
// cache and meta files, scratch space, cross-process locks (with real child processes), and the
// errors a user sees when the disk is full, read-only or not theirs.
import { execFile, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { KilnError } from '../../src/errors.js';
import {
  BlobNotFoundError,
  DigestMismatchError,
  InvalidDigestError,
  LockTimeoutError,
  STORE_FORMAT_VERSION,
  Store,
  StoreAccessError,
  StoreCorruptionError,
  StoreFormatError,
  defaultStoreRoot,
  openStore,
  safeFileName,
  storeFsError,
} from '../../src/store/index.js';
import { repoRoot } from '../helpers/conformance.js';
import { capability, haveNow, itNeeding } from '../helpers/requirements.js';

const run = promisify(execFile);
const sha256 = (data: Uint8Array | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let work: string;
let n = 0;
/** A fresh directory for one store. */
async function freshDir(): Promise<string> {
  return join(work, `s${++n}`);
}
async function freshStore(): Promise<Store> {
  return openStore(await freshDir());
}
async function tmpEntries(store: Store): Promise<string[]> {
  return readdir(join(store.root, 'tmp'));
}
async function blobEntries(store: Store): Promise<string[]> {
  return readdir(join(store.root, 'blobs', 'sha256'));
}

// Child processes run the compiled store (dist), which `npm test` / `tsc -b packages/core` builds.
const distStore = resolve(repoRoot, 'packages/core/dist/store/index.js');
function checkDist(): void {
  const src = resolve(repoRoot, 'packages/core/src/store');
  const dist = resolve(repoRoot, 'packages/core/dist/store');
  for (const name of ['store', 'errors', 'index']) {
    const js = join(dist, `${name}.js`);
    if (!existsSync(js) || statSync(js).mtimeMs < statSync(join(src, `${name}.ts`)).mtimeMs) {
      throw new Error(`${js} is missing or older than its source: run \`npx tsc -b packages/core\` before these tests`);
    }
  }
}

const CHILD = String.raw`
import { appendFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
const { openStore } = await import(process.env.STORE_MODULE);
const [mode, root, ...args] = process.argv.slice(2);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function content(size) {
  // deterministic bytes, the same in every process
  const out = Buffer.alloc(size);
  let block = Buffer.from('seed');
  for (let off = 0; off < size; off += 32) {
    block = createHash('sha256').update(block).digest();
    block.copy(out, off);
  }
  return out;
}
try {
  const store = await openStore(root);
  if (mode === 'lock') {
    const [log, id, iterations] = args;
    for (let i = 0; i < Number(iterations); i++) {
      await store.withLock('append', async () => {
        await appendFile(log, id + ' start ' + i + '\n');
        await sleep(1 + Math.random() * 3);
        await appendFile(log, id + ' end ' + i + '\n');
      });
    }
    process.stdout.write(JSON.stringify({ ok: true }));
  } else if (mode === 'same-blob') {
    const data = content(Number(args[0]));
    const results = [];
    for (let i = 0; i < 3; i++) {
      const w = await store.createBlobWriter();
      for (let off = 0; off < data.length; off += 65536) await w.write(data.subarray(off, off + 65536));
      results.push(await w.commit(args[1]));
      results.push(await store.writeBlob(data, args[1]));
    }
    process.stdout.write(JSON.stringify({ ok: true, results }));
  } else if (mode === 'write') {
    process.stdout.write(JSON.stringify({ ok: true, result: await store.writeBlob(Buffer.alloc(Number(args[0]), 7)) }));
  } else if (mode === 'stream') {
    const w = await store.createBlobWriter();
    try {
      const chunk = Buffer.alloc(65536, 9);
      for (let i = 0; i < Number(args[0]) / 65536; i++) await w.write(chunk);
      process.stdout.write(JSON.stringify({ ok: true, result: await w.commit() }));
    } catch (err) {
      await w.abort();
      throw err;
    }
  } else if (mode === 'ref') {
    await store.setRef('docker.io/library/app:latest', 'sha256:' + 'a'.repeat(64));
    process.stdout.write(JSON.stringify({ ok: true }));
  } else if (mode === 'hang') {
    const w = await store.createBlobWriter();
    await w.write(Buffer.alloc(1 << 20, 1));
    process.stdout.write('ready\n');
    await sleep(60000);
  }
} catch (err) {
  process.stdout.write(JSON.stringify({ ok: false, name: err.name, message: err.message, code: err.code }));
}
`;
let childScript: string;

interface ChildResult {
  ok: boolean;
  name?: string;
  message?: string;
  code?: string;
  results?: Array<{ digest: string; size: number }>;
  result?: { digest: string; size: number };
}

async function child(args: string[], options: { uid?: number; gid?: number; command?: string[] } = {}): Promise<ChildResult> {
  const command = options.command ?? [process.execPath, childScript];
  const [file, ...pre] = command as [string, ...string[]];
  const { stdout, stderr } = await run(file, [...pre, ...args], {
    env: { ...process.env, STORE_MODULE: pathToFileURL(distStore).href },
    cwd: work,
    maxBuffer: 16 << 20,
    ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.gid }),
  });
  try {
    return JSON.parse(stdout) as ChildResult;
  } catch {
    throw new Error(`child printed no result: stdout=${stdout} stderr=${stderr}`);
  }
}

/** The pid of a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  return r.pid as number;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'kiln-store-'));
  await chmod(work, 0o755); // child processes running as another user (EACCES test) must reach it
  childScript = join(work, 'child.mjs');
  await writeFile(childScript, CHILD);
  await chmod(childScript, 0o644);
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('opening a store', () => {
  it('initializes a new directory with VERSION and the layout', async () => {
    const root = await freshDir();
    const store = await openStore(root);
    expect(store.root).toBe(root);
    expect(JSON.parse(await readFile(join(root, 'VERSION'), 'utf8'))).toEqual({ format: 'kiln-store', version: 1 });
    for (const dir of ['blobs/sha256', 'refs', 'cache', 'meta', 'tmp', 'locks']) {
      expect((await stat(join(root, dir))).isDirectory()).toBe(true);
    }
    expect(STORE_FORMAT_VERSION).toBe(1);
    // reopening keeps the content
    const info = await store.writeBlob(Buffer.from('hello'));
    const again = await openStore(root);
    expect((await again.readBlob(info.digest)).toString()).toBe('hello');
  });

  it('initializes an existing empty directory, and a half-initialized one', async () => {
    const empty = await freshDir();
    await mkdir(empty);
    await openStore(empty);
    expect(existsSync(join(empty, 'VERSION'))).toBe(true);

    const half = await freshDir();
    await mkdir(join(half, 'tmp'), { recursive: true });
    await openStore(half);
    expect(existsSync(join(half, 'VERSION'))).toBe(true);
  });

  it('refuses a store written by a newer Kiln, naming the path and the Kiln it needs', async () => {
    const root = await freshDir();
    await openStore(root);
    await writeFile(join(root, 'VERSION'), JSON.stringify({ format: 'kiln-store', version: 2 }));
    const err = await openStore(root).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreFormatError);
    expect(err).toBeInstanceOf(KilnError);
    const message = (err as Error).message;
    expect(message).toContain(root);
    expect(message).toContain('format version 2');
    expect(message).toContain('supports only version 1');
    expect(message).toMatch(/needs a newer Kiln release that supports store format version 2/);
    expect(message).toMatch(/upgrade Kiln/);

    await writeFile(join(root, 'VERSION'), JSON.stringify({ format: 'kiln-store', version: 3, minKiln: '2.4.0' }));
    await expect(openStore(root)).rejects.toThrow(/needs Kiln 2\.4\.0 or later/);
  });

  it('refuses a non-empty directory that is not a store, and a broken VERSION file', async () => {
    const root = await freshDir();
    await mkdir(root);
    await writeFile(join(root, 'notes.txt'), 'mine');
    const err = await openStore(root).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreFormatError);
    expect((err as Error).message).toContain(`${root} is not a Kiln store`);
    expect((err as Error).message).toContain('notes.txt');
    expect(await readdir(root)).toEqual(['notes.txt']); // nothing was added

    const bad = await freshDir();
    await mkdir(bad);
    await writeFile(join(bad, 'VERSION'), 'v1');
    await expect(openStore(bad)).rejects.toThrow(`${join(bad, 'VERSION')} is not a Kiln store version file`);

    const file = join(work, 'a-file');
    await writeFile(file, '');
    await expect(openStore(file)).rejects.toThrow(`${file} is not a directory`);
  });

  it('finds the default root in KILN_STORE, then XDG_CACHE_HOME, then ~/.cache', () => {
    expect(defaultStoreRoot({ KILN_STORE: '/srv/kiln', XDG_CACHE_HOME: '/x' })).toBe('/srv/kiln');
    expect(defaultStoreRoot({ XDG_CACHE_HOME: '/x/cache' })).toBe('/x/cache/kiln/store');
    expect(defaultStoreRoot({ XDG_CACHE_HOME: 'relative', HOME: process.env['HOME'] })).toMatch(
      /\/\.cache\/kiln\/store$/,
    );
    expect(defaultStoreRoot({ KILN_STORE: 'rel/dir' })).toBe(resolve('rel/dir'));
  });
});

describe('blobs', () => {
  it('round-trips bytes, and knows their size and path', async () => {
    const store = await freshStore();
    const data = Buffer.from('layer bytes');
    const info = await store.writeBlob(data);
    expect(info).toEqual({ digest: sha256(data), size: data.length });
    expect(await store.hasBlob(info.digest)).toBe(true);
    expect(await store.blobSize(info.digest)).toBe(data.length);
    expect(store.blobPath(info.digest)).toBe(join(store.root, 'blobs/sha256', info.digest.slice(7)));
    expect(await readFile(store.blobPath(info.digest))).toEqual(data);
    expect(await store.readBlob(info.digest)).toEqual(data);
    const absent = sha256('absent');
    expect(await store.hasBlob(absent)).toBe(false);
    expect(await store.blobSize(absent)).toBeUndefined();
    expect(await tmpEntries(store)).toEqual([]);
  });

  it('writes the empty blob', async () => {
    const store = await freshStore();
    const info = await store.writeBlob(new Uint8Array(0));
    expect(info).toEqual({ digest: sha256(''), size: 0 });
    expect((await store.readBlob(info.digest)).length).toBe(0);
    const w = await store.createBlobWriter();
    expect(await w.commit(sha256(''))).toEqual(info);
  });

  it('is idempotent: writing the same bytes again changes nothing', async () => {
    const store = await freshStore();
    const data = randomBytes(1000);
    const a = await store.writeBlob(data, sha256(data));
    const before = await stat(store.blobPath(a.digest));
    const b = await store.writeBlob(data);
    const w = await store.createBlobWriter();
    await w.write(data);
    const c = await w.commit(a.digest);
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    expect((await stat(store.blobPath(a.digest))).ino).toBe(before.ino); // not rewritten
    expect(await blobEntries(store)).toHaveLength(1);
    expect(await tmpEntries(store)).toEqual([]);
  });

  it('refuses bytes that do not match the expected digest, leaving no blob and no temp file', async () => {
    const store = await freshStore();
    const data = Buffer.from('what arrived');
    const expected = sha256('what was announced');
    const err = await store.writeBlob(data, expected).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DigestMismatchError);
    expect(err).toBeInstanceOf(StoreCorruptionError);
    expect((err as Error).message).toContain(expected);
    expect((err as Error).message).toContain(sha256(data));

    const w = await store.createBlobWriter();
    await w.write(data);
    const err2 = await w.commit(expected).catch((e: unknown) => e);
    expect(err2).toBeInstanceOf(DigestMismatchError);
    expect((err2 as DigestMismatchError).expected).toBe(expected);
    expect((err2 as DigestMismatchError).actual).toBe(sha256(data));

    expect(await blobEntries(store)).toEqual([]);
    expect(await tmpEntries(store)).toEqual([]);
  });

  it('streams a large blob through the writer in one pass', async () => {
    const store = await freshStore();
    const chunk = randomBytes(1 << 20);
    const hash = createHash('sha256');
    let i = 0;
    const source = new Readable({
      read() {
        if (i++ === 20) return void this.push(null);
        const c = Buffer.from(chunk);
        c[0] = i;
        hash.update(c);
        this.push(c);
      },
    });
    const w = await store.createBlobWriter();
    await pipeline(source, w.stream);
    const info = await w.commit();
    expect(info).toEqual({ digest: `sha256:${hash.digest('hex')}`, size: 20 << 20 });
    // commit is idempotent
    expect(await w.commit()).toEqual(info);
    await expect(w.write(Buffer.from('late'))).rejects.toThrow(KilnError);
    await w.abort(); // after a commit: the blob stays
    expect(await store.hasBlob(info.digest)).toBe(true);

    const readBack = createHash('sha256');
    let size = 0;
    for await (const c of store.openBlob(info.digest)) {
      readBack.update(c as Buffer);
      size += (c as Buffer).length;
    }
    expect(`sha256:${readBack.digest('hex')}`).toBe(info.digest);
    expect(size).toBe(info.size);
    expect(await tmpEntries(store)).toEqual([]);
  });

  it('leaves nothing after an abort', async () => {
    const store = await freshStore();
    const w = await store.createBlobWriter();
    await w.write(randomBytes(100_000));
    expect(await tmpEntries(store)).toHaveLength(1);
    await w.abort();
    await w.abort();
    expect(await tmpEntries(store)).toEqual([]);
    expect(await blobEntries(store)).toEqual([]);
    await expect(w.commit()).rejects.toThrow(/aborted/);
    await expect(w.write(Buffer.from('x'))).rejects.toThrow(KilnError);
  });

  it('leaves no visible blob when the writing process is killed, and cleans its temp file later', async () => {
    checkDist();
    const root = await freshDir();
    await openStore(root);
    const proc = spawn(process.execPath, [childScript, 'hang', root], {
      env: { ...process.env, STORE_MODULE: pathToFileURL(distStore).href },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((ok, fail) => {
      proc.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && ok());
      proc.on('exit', () => fail(new Error('child exited early')));
    });
    proc.kill('SIGKILL');
    await new Promise((ok) => proc.on('exit', ok));
    expect(await readdir(join(root, 'blobs/sha256'))).toEqual([]);
    const leftovers = await readdir(join(root, 'tmp'));
    expect(leftovers).toHaveLength(1);
    // an hour later, the next open removes it (its writer is dead)
    const old = new Date(Date.now() - 2 * 3600_000);
    await utimes(join(root, 'tmp', leftovers[0] as string), old, old);
    await openStore(root);
    expect(await readdir(join(root, 'tmp'))).toEqual([]);
  });

  it('reports a missing blob clearly', async () => {
    const store = await freshStore();
    const digest = sha256('nope');
    const err = await store.readBlob(digest).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BlobNotFoundError);
    expect((err as Error).message).toBe(`blob ${digest} is not in the Kiln store at ${store.root}`);
    const streamErr = await (async () => {
      for await (const _ of store.openBlob(digest)) void _;
    })().catch((e: unknown) => e);
    expect(streamErr).toBeInstanceOf(BlobNotFoundError);
  });

  it('round-trips JSON documents over exactly JSON.stringify bytes', async () => {
    const store = await freshStore();
    const doc = { schemaVersion: 2, layers: [{ size: 1 }], name: 'ü' };
    const info = await store.writeJson(doc);
    expect(info.bytes.toString()).toBe(JSON.stringify(doc));
    expect(info.digest).toBe(sha256(JSON.stringify(doc)));
    expect(info.size).toBe(info.bytes.length);
    expect(await store.readJson(info.digest)).toEqual(doc);
    const raw = await store.writeBlob(Buffer.from('not json'));
    await expect(store.readJson(raw.digest)).rejects.toThrow(`blob ${raw.digest} in the Kiln store at ${store.root} is not JSON`);
    await expect(store.writeJson(undefined)).rejects.toThrow(KilnError);
  });
});

describe('corruption', () => {
  async function corrupted(): Promise<{ store: Store; digest: string }> {
    const store = await freshStore();
    const { digest } = await store.writeBlob(randomBytes(300_000));
    const path = store.blobPath(digest);
    const bytes = await readFile(path);
    bytes[12345] = (bytes[12345] as number) ^ 0xff;
    await writeFile(path, bytes);
    return { store, digest };
  }

  it('readBlob refuses a flipped byte and moves the blob aside', async () => {
    const { store, digest } = await corrupted();
    const err = await store.readBlob(digest).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreCorruptionError);
    expect((err as Error).message).toContain(`blob ${digest} in the Kiln store at ${store.root} is corrupt`);
    expect((err as Error).message).toContain(join(store.root, 'corrupt'));
    expect(await store.hasBlob(digest)).toBe(false);
    const aside = await readdir(join(store.root, 'corrupt'));
    expect(aside).toHaveLength(1);
    expect(aside[0]).toMatch(new RegExp(`^${digest.slice(7)}\\.`));
    await expect(store.readBlob(digest)).rejects.toBeInstanceOf(BlobNotFoundError);
  });

  it('openBlob errors at the end of a corrupt stream', async () => {
    const { store, digest } = await corrupted();
    let received = 0;
    const err = await (async () => {
      for await (const c of store.openBlob(digest)) received += (c as Buffer).length;
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreCorruptionError);
    expect(received).toBe(300_000);
    expect(await store.hasBlob(digest)).toBe(false);
  });

  it('verify re-hashes every blob and reports the corrupt ones', async () => {
    const { store, digest } = await corrupted();
    for (let i = 0; i < 9; i++) await store.writeBlob(randomBytes(1000 + i));
    expect(await store.verify()).toEqual({ checked: 10, corrupt: [digest] });
    expect(await store.hasBlob(digest)).toBe(false);
    expect(await store.verify()).toEqual({ checked: 9, corrupt: [] });
  });
});

describe('digests from outside', () => {
  const forged = [
    'sha256:../../x',
    'sha256:../../../etc/passwd',
    `sha256:${'A'.repeat(64)}`,
    `sha256:${'a'.repeat(63)}`,
    `sha256:${'a'.repeat(64)}/`,
    `sha512:${'a'.repeat(128)}`,
    'a'.repeat(64),
    '',
  ];

  it.each(forged)('refuses %j everywhere', async (digest) => {
    const store = await freshStore();
    expect(() => store.blobPath(digest)).toThrow(InvalidDigestError);
    expect(() => store.openBlob(digest)).toThrow(InvalidDigestError);
    await expect(store.hasBlob(digest)).rejects.toBeInstanceOf(InvalidDigestError);
    await expect(store.blobSize(digest)).rejects.toBeInstanceOf(InvalidDigestError);
    await expect(store.readBlob(digest)).rejects.toBeInstanceOf(InvalidDigestError);
    await expect(store.writeBlob(Buffer.from('x'), digest)).rejects.toBeInstanceOf(InvalidDigestError);
    await expect(store.setRef('app:latest', digest)).rejects.toBeInstanceOf(InvalidDigestError);
    const w = await store.createBlobWriter();
    await expect(w.commit(digest)).rejects.toBeInstanceOf(InvalidDigestError);
    expect(await tmpEntries(store)).toEqual([]);
    expect(await blobEntries(store)).toEqual([]);
  });
});

describe('refs', () => {
  const d1 = sha256('one');
  const d2 = sha256('two');

  it('sets, gets, overwrites, lists (sorted) and deletes', async () => {
    const store = await freshStore();
    expect(await store.getRef('docker.io/library/app:latest')).toBeUndefined();
    await store.setRef('docker.io/library/app:latest', d1);
    await store.setRef('docker.io/library/app:1.0', d2);
    await store.setRef('ghcr.io/org/Tool:V2', d2);
    expect(await store.getRef('docker.io/library/app:latest')).toBe(d1);
    await store.setRef('docker.io/library/app:latest', d2);
    expect(await store.getRef('docker.io/library/app:latest')).toBe(d2);
    const list = await store.listRefs();
    expect(list.map((r) => r.ref)).toEqual([
      'docker.io/library/app:1.0',
      'docker.io/library/app:latest',
      'ghcr.io/org/Tool:V2',
    ]);
    expect(list.every((r) => r.digest === d2 && typeof r.updated === 'number')).toBe(true);
    expect(await store.deleteRef('docker.io/library/app:1.0')).toBe(true);
    expect(await store.deleteRef('docker.io/library/app:1.0')).toBe(false);
    expect(await store.getRef('docker.io/library/app:1.0')).toBeUndefined();
    expect((await store.listRefs()).map((r) => r.ref)).toEqual(['docker.io/library/app:latest', 'ghcr.io/org/Tool:V2']);
    expect(await tmpEntries(store)).toEqual([]);
  });

  it('keeps every ref, however odd, in one file inside refs/', async () => {
    const store = await freshStore();
    const odd = ['..', '.', '../../escape', '/abs', 'a\\b', 'A:a', 'a:a', `long/${'x'.repeat(400)}:t`, 'ü:☃', 'con'];
    for (const ref of odd) await store.setRef(ref, d1);
    for (const ref of odd) expect(await store.getRef(ref)).toBe(d1);
    const files = await readdir(join(store.root, 'refs'));
    expect(files).toHaveLength(odd.length);
    expect(files.every((f) => f.endsWith('.json') && !f.startsWith('.') && f.length < 200)).toBe(true);
    expect(new Set(files.map((f) => f.toLowerCase())).size).toBe(odd.length); // no case-folding collisions
    expect((await store.listRefs()).map((r) => r.ref)).toEqual([...odd].sort());
    expect(existsSync(join(store.root, 'escape'))).toBe(false);
    await expect(store.setRef('', d1)).rejects.toThrow(KilnError);
  });

  it('encodes names readably', () => {
    expect(safeFileName('docker.io/library/app:latest')).toBe('docker.io%2Flibrary%2Fapp%3Alatest');
    expect(safeFileName('..')).toBe('%2E.');
    expect(safeFileName('Ab')).toBe('%41b');
    expect(safeFileName('x'.repeat(500))).toMatch(/^~[0-9a-f]{64}$/);
    expect(safeFileName('')).toMatch(/^~[0-9a-f]{64}$/);
  });

  it('survives many concurrent taggers', async () => {
    const store = await freshStore();
    await Promise.all(Array.from({ length: 50 }, (_, i) => store.setRef(`app:${i % 5}`, i % 2 ? d1 : d2)));
    expect((await store.listRefs()).map((r) => r.ref)).toEqual(['app:0', 'app:1', 'app:2', 'app:3', 'app:4']);
    expect(await tmpEntries(store)).toEqual([]);
  });

  it('names a damaged ref file', async () => {
    const store = await freshStore();
    await store.setRef('app:1', d1);
    const file = join(store.root, 'refs', `${safeFileName('app:1')}.json`);
    await writeFile(file, '{"ref":');
    await expect(store.getRef('app:1')).rejects.toThrow(`${file} is not a valid Kiln ref record`);
  });
});

describe('build cache and meta files', () => {
  it('round-trips cache records under any key', async () => {
    const store = await freshStore();
    const layer = { digest: sha256('gz'), diffId: sha256('tar'), size: 2, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' };
    const key = 'RUN apt-get install -y curl\n../../../etc ☃ '.repeat(100);
    expect(await store.getCache(key)).toBeUndefined();
    await store.putCache(key, { layer, created: 1 });
    await store.putCache('empty-step', { layer: null, created: 2 });
    expect(await store.getCache(key)).toEqual({ layer, created: 1 });
    expect(await store.getCache('empty-step')).toEqual({ layer: null, created: 2 });
    expect(await readdir(join(store.root, 'cache'))).toEqual(
      [`${sha256(key).slice(7)}.json`, `${sha256('empty-step').slice(7)}.json`].sort(),
    );
    // a damaged cache file is a miss, not an error
    await writeFile(join(store.root, 'cache', `${sha256(key).slice(7)}.json`), 'garbage');
    expect(await store.getCache(key)).toBeUndefined();
  });

  it('round-trips meta files by kind and id, inside meta/<kind>', async () => {
    const store = await freshStore();
    expect(await store.readMeta('context-digests', '/work/app')).toBeUndefined();
    await store.writeMeta('context-digests', '/work/app', { version: 1, files: { a: 1 } });
    await store.writeMeta('context-digests', '../../../escape', [1]);
    expect(await store.readMeta('context-digests', '/work/app')).toEqual({ version: 1, files: { a: 1 } });
    expect(await store.readMeta('context-digests', '../../../escape')).toEqual([1]);
    expect((await readdir(join(store.root, 'meta', 'context-digests'))).sort()).toEqual(
      ['%2E.%2F..%2F..%2Fescape.json', '%2Fwork%2Fapp.json'].sort(),
    );
    for (const kind of ['../x', 'Upper', '', 'a/b', 'a.b']) {
      await expect(store.writeMeta(kind, 'id', 1)).rejects.toThrow(/invalid store meta kind/);
      await expect(store.readMeta(kind, 'id')).rejects.toThrow(/invalid store meta kind/);
    }
  });
});

describe('scratch space', () => {
  it('makes temp dirs under tmp/, and removes only stale entries of dead or unknown writers on open', async () => {
    const store = await freshStore();
    const mine = await store.makeTempDir('rootfs-');
    expect(mine.startsWith(join(store.root, 'tmp') + '/')).toBe(true);
    await writeFile(join(mine, 'f'), 'x');
    const odd = await store.makeTempDir('../../up');
    expect(odd.startsWith(join(store.root, 'tmp') + '/')).toBe(true);

    const tmp = join(store.root, 'tmp');
    const old = new Date(Date.now() - 2 * 3600_000);
    await writeFile(join(tmp, 'old-junk'), 'x');
    await utimes(join(tmp, 'old-junk'), old, old);
    await mkdir(join(tmp, 'old-dir/locked'), { recursive: true });
    await writeFile(join(tmp, 'old-dir/locked/f'), 'x');
    await chmod(join(tmp, 'old-dir/locked'), 0o500);
    await utimes(join(tmp, 'old-dir'), old, old);
    const deadName = `k-${deadPid()}-00000000-x`;
    await writeFile(join(tmp, deadName), 'x');
    await utimes(join(tmp, deadName), old, old);
    await writeFile(join(tmp, 'young-junk'), 'x');
    await utimes(mine, old, old); // old, but this (live) process owns it

    await openStore(store.root);
    const left = await readdir(tmp);
    expect(left.sort()).toEqual([mine.slice(tmp.length + 1), odd.slice(tmp.length + 1), 'young-junk'].sort());
    expect(await readFile(join(mine, 'f'), 'utf8')).toBe('x');
  });
});

describe('locks', () => {
  it('serializes holders within one process, across Store instances, and is re-entrant', async () => {
    const store = await freshStore();
    const other = await openStore(store.root);
    const events: string[] = [];
    const holder = (s: Store, id: number) =>
      s.withLock('gc', async () => {
        events.push(`start ${id}`);
        await sleep(5);
        events.push(`end ${id}`);
        return id;
      });
    const results = await Promise.all([0, 1, 2, 3, 4, 5].map((id) => holder(id % 2 ? other : store, id)));
    expect(results).toEqual([0, 1, 2, 3, 4, 5]);
    for (let i = 0; i < events.length; i += 2) {
      expect(events[i]?.replace('start', 'end')).toBe(events[i + 1]);
    }
    expect(await store.withLock('a', () => store.withLock('a', async () => 'nested'))).toBe('nested');
    expect(await readdir(join(store.root, 'locks'))).toEqual([]);
  });

  it('is released when fn throws', async () => {
    const store = await freshStore();
    await expect(store.withLock('x', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await readdir(join(store.root, 'locks'))).toEqual([]);
    expect(await store.withLock('x', async () => 1)).toBe(1);
  });

  it('gives mutual exclusion across real processes', async () => {
    checkDist();
    const store = await freshStore();
    const log = join(work, `lock-${n}.log`);
    await writeFile(log, '');
    const iterations = 15;
    const results = await Promise.all(
      [0, 1, 2, 3].map((id) => child(['lock', store.root, log, String(id), String(iterations)])),
    );
    expect(results).toEqual([{ ok: true }, { ok: true }, { ok: true }, { ok: true }]);
    const lines = (await readFile(log, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(4 * iterations * 2);
    for (let i = 0; i < lines.length; i += 2) {
      const [id, what, k] = (lines[i] as string).split(' ');
      expect(what).toBe('start');
      expect(lines[i + 1]).toBe(`${id} end ${k}`);
    }
    expect(await readdir(join(store.root, 'locks'))).toEqual([]);
  });

  it('steals a lock left by a dead process on this host', async () => {
    const store = await freshStore();
    const file = join(store.root, 'locks', 'gc.lock');
    await writeFile(file, JSON.stringify({ pid: deadPid(), host: hostname(), created: Date.now() }));
    const started = Date.now();
    expect(await store.withLock('gc', async () => 'mine', { timeoutMs: 5000 })).toBe('mine');
    expect(Date.now() - started).toBeLessThan(2000);
    expect(existsSync(file)).toBe(false);
  });

  it("steals this process's own pid when the lock is not one it holds (pid reused after a crash)", async () => {
    const store = await freshStore();
    const file = join(store.root, 'locks', 'gc.lock');
    await writeFile(file, JSON.stringify({ pid: process.pid, host: hostname(), created: 1, token: 'old' }));
    expect(await store.withLock('gc', async () => 'mine', { timeoutMs: 5000 })).toBe('mine');
  });

  it('steals an unreadable lock file only once it is old', async () => {
    const store = await freshStore();
    const file = join(store.root, 'locks', 'gc.lock');
    await writeFile(file, '');
    await expect(store.withLock('gc', async () => 'x', { timeoutMs: 100 })).rejects.toBeInstanceOf(LockTimeoutError);
    const old = new Date(Date.now() - 60_000);
    await utimes(file, old, old);
    expect(await store.withLock('gc', async () => 'mine', { timeoutMs: 5000 })).toBe('mine');
  });

  it('waits for a live holder (timing out with a message naming it), then takes over when it dies', async () => {
    const store = await freshStore();
    const file = join(store.root, 'locks', 'gc.lock');
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      await writeFile(file, JSON.stringify({ pid: holder.pid, host: hostname(), created: Date.now() }));
      const err = await store.withLock('gc', async () => 'x', { timeoutMs: 300 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LockTimeoutError);
      expect((err as Error).message).toContain(`held by pid ${holder.pid} on ${hostname()}`);
      expect((err as Error).message).toContain(file);

      const waiting = store.withLock('gc', async () => 'mine');
      await sleep(100);
      holder.kill('SIGKILL');
      expect(await waiting).toBe('mine');
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('never steals a lock held on another host', async () => {
    const store = await freshStore();
    const file = join(store.root, 'locks', 'gc.lock');
    await writeFile(file, JSON.stringify({ pid: deadPid(), host: 'elsewhere.example', created: 0 }));
    await expect(store.withLock('gc', async () => 'x', { timeoutMs: 200 })).rejects.toThrow(
      /held by pid \d+ on elsewhere\.example/,
    );
    expect(existsSync(file)).toBe(true);
  });

  it('honours an abort signal while waiting', async () => {
    const store = await freshStore();
    const ac = new AbortController();
    let release!: () => void;
    let started!: () => void;
    const holding = new Promise<void>((r) => (started = r));
    const first = store.withLock('q', () => {
      started();
      return new Promise<void>((r) => (release = r));
    });
    await holding;
    const second = store.withLock('q', async () => 'never', { signal: ac.signal });
    ac.abort(new Error('cancelled'));
    await expect(second).rejects.toThrow('cancelled');
    release();
    await first;
    expect(await store.withLock('q', async () => 'next')).toBe('next');
  });
});

describe('concurrent processes', () => {
  it('four processes writing the same blob all succeed', async () => {
    checkDist();
    const store = await freshStore();
    const size = 3 * 1024 * 1024 + 17;
    // the same deterministic bytes the children make
    const data = Buffer.alloc(size);
    let block = Buffer.from('seed');
    for (let off = 0; off < size; off += 32) {
      block = createHash('sha256').update(block).digest();
      block.copy(data, off);
    }
    const digest = sha256(data);
    const results = await Promise.all([0, 1, 2, 3].map(() => child(['same-blob', store.root, String(size), digest])));
    for (const r of results) {
      expect(r.ok).toBe(true);
      expect(r.results).toEqual(Array.from({ length: 6 }, () => ({ digest, size })));
    }
    expect(await blobEntries(store)).toEqual([digest.slice(7)]);
    expect(await tmpEntries(store)).toEqual([]);
    expect(await store.verify()).toEqual({ checked: 1, corrupt: [] });
  });
});

describe('filesystem errors', () => {
  it('maps ENOSPC, EACCES, EROFS and EDQUOT to errors naming the path and what to do', () => {
    const fsErr = (code: string) => Object.assign(new Error(code), { code });
    const root = '/var/kiln';
    const e = storeFsError(fsErr('ENOSPC'), 'writing to', '/var/kiln/tmp/x', root) as StoreAccessError;
    expect(e).toBeInstanceOf(StoreAccessError);
    expect(e.message).toBe(
      'no space left on device while writing to /var/kiln/tmp/x (Kiln store at /var/kiln): free some space ' +
        '(with no kiln running, deleting /var/kiln/tmp is safe; deleting /var/kiln itself drops every image and build-cache ' +
        'entry Kiln keeps there) or point KILN_STORE (or --store) at another directory',
    );
    expect(e.code).toBe('ENOSPC');
    expect(storeFsError(fsErr('EACCES'), 'creating', root, root)).toHaveProperty(
      'message',
      'permission denied while creating the Kiln store at /var/kiln: give the current user access to it or point KILN_STORE (or --store) at another directory',
    );
    expect((storeFsError(fsErr('EROFS'), 'writing to', root, root) as Error).message).toMatch(/^read-only file system/);
    expect((storeFsError(fsErr('EDQUOT'), 'writing to', root, root) as Error).message).toMatch(/^disk quota exceeded/);
    const other = fsErr('EIO');
    expect(storeFsError(other, 'writing to', root, root)).toBe(other);
  });

  it('reports a store the user may not write to (EACCES)', async () => {
    checkDist();
    const store = await freshStore();
    await store.writeBlob(Buffer.from('readable'));
    const dirs = ['', 'tmp', 'blobs/sha256', 'refs', 'cache', 'meta', 'locks'].map((d) => join(store.root, d));
    for (const d of dirs) await chmod(d, 0o555);
    try {
      let result: ChildResult;
      if (process.getuid?.() === 0) {
        // root ignores directory permissions: run the writer as `nobody` instead
        console.warn('store EACCES test: running as root, so the writing process runs as uid 65534 (nobody)');
        let spawnError = '';
        result = await child(['write', store.root, '100'], { uid: 65534, gid: 65534 }).catch((err: unknown) => {
          spawnError = (err as Error).message;
          return { ok: false, code: 'SKIPPED' };
        });
        const asNobody = capability('run-as-nobody', 'running a process as nobody', () => spawnError || undefined, 'run the tests as root');
        if (result.code === 'SKIPPED' && !haveNow([asNobody], 'the EACCES assertion')) return;
      } else {
        result = await child(['write', store.root, '100']);
      }
      expect(result.ok).toBe(false);
      expect(result.name).toBe('StoreAccessError');
      expect(result.message).toContain('permission denied while writing to');
      expect(result.message).toContain(`(Kiln store at ${store.root})`);
      expect(result.message).toContain('KILN_STORE');

      // and a store that cannot even be created
      const inner = join(store.root, 'sub');
      const create =
        process.getuid?.() === 0
          ? await child(['write', inner, '1'], { uid: 65534, gid: 65534 })
          : await child(['write', inner, '1']);
      expect(create.name).toBe('StoreAccessError');
      expect(create.message).toBe(
        `permission denied while creating the Kiln store at ${inner}: give the current user access to it ` +
          'or point KILN_STORE (or --store) at another directory',
      );
    } finally {
      for (const d of dirs) await chmod(d, 0o755);
    }
    expect(await store.readBlob(sha256('readable'))).toEqual(Buffer.from('readable'));
  });

  // A full disk and a read-only filesystem, made for real in a private mount namespace (needs
  // unshare and mount rights, as root in most containers); otherwise they fail, or are skipped and
  // listed with KILN_SKIP_MISSING_TOOLS=1 (helpers/requirements.ts).
  const mountNamespace = capability(
    'mount-namespace',
    'a private mount namespace with mount rights',
    () => {
      if (process.platform !== 'linux') return `platform is ${process.platform}`;
      const r = spawnSync('unshare', ['-m', 'sh', '-c', `mount -t tmpfs -o size=64k tmpfs "${tmpdir()}"`], { encoding: 'utf8' });
      return r.status === 0 ? undefined : `unshare -m + mount failed: ${(r.stderr || String(r.error)).trim()}`;
    },
    'run the tests as root, with mount rights (CAP_SYS_ADMIN)',
  );
  const mountIt = (name: string, fn: () => Promise<void>, timeout?: number): void => itNeeding([mountNamespace], name, fn, timeout);

  /** Runs `script` (sh; $1 = dir, $2 = node, $3 = child script) in a private mount namespace. */
  async function inNamespace(script: string, dir: string): Promise<string> {
    const { stdout } = await run('unshare', ['-m', 'sh', '-c', script, 'sh', dir, process.execPath, childScript], {
      env: { ...process.env, STORE_MODULE: pathToFileURL(distStore).href },
    });
    return stdout;
  }

  mountIt('reports a full disk (ENOSPC) and leaves no temp file behind', async () => {
    checkDist();
    for (const mode of ['write', 'stream']) {
      const dir = await freshDir();
      await mkdir(dir);
      const stdout = await inNamespace(
        `mount -t tmpfs -o size=512k tmpfs "$1" && "$2" "$3" ${mode} "$1" ${2 << 20} && echo && ls -A "$1/tmp" "$1/blobs/sha256" | wc -w`,
        dir,
      );
      const [json, count] = stdout.split('\n');
      const result = JSON.parse(json as string) as ChildResult;
      expect(result).toMatchObject({ ok: false, name: 'StoreAccessError', code: 'ENOSPC' });
      expect(result.message).toMatch(
        new RegExp(`^no space left on device while writing to ${dir}/\\S+ \\(Kiln store at ${dir}\\): free some space`),
      );
      expect(result.message).toContain('point KILN_STORE (or --store) at another directory');
      expect(count?.trim()).toBe('2'); // just the two "dir:" headers of ls: both directories empty
    }
  });

  mountIt('reports a read-only filesystem (EROFS)', async () => {
    checkDist();
    const dir = await freshDir();
    await mkdir(dir);
    const stdout = await inNamespace(
      'mount -t tmpfs tmpfs "$1" && "$2" "$3" ref "$1" >/dev/null && mount -o remount,ro "$1" && "$2" "$3" write "$1" 10',
      dir,
    );
    const result = JSON.parse(stdout) as ChildResult;
    expect(result).toMatchObject({ ok: false, name: 'StoreAccessError', code: 'EROFS' });
    expect(result.message).toMatch(new RegExp(`^read-only file system while writing to ${dir}/\\S+ \\(Kiln store at ${dir}\\)`));
    expect(result.message).toContain('point KILN_STORE (or --store) at a writable directory');
  });
});
