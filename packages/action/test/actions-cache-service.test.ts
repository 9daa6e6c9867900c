// The unmodified @actions/cache 6 (saveCache / restoreCache, in process) against the local Actions
// cache service in helpers/actions-cache-service.ts, with the environment a GitHub-hosted runner
// sets. Covers: round trips (Put Blob, and Put Block + Put Block List over 128 MiB), key and
// restore-key matching, versions, immutable keys, tokens and access, what the library logs for each
// failure (core.info / ::warning:: / ::error:: lines on stdout, captured), and the blob protocol the
// library's Azure SDK download path needs, driven through its internal downloadUtils.
// Retry backoffs (Twirp ~30 s, Azure SDK 16 s) run on jest's fake setTimeout, fast-forwarded.

import { execFile, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  createReadStream,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import * as cache from '@actions/cache';
import {
  ALREADY_EXISTS_MESSAGE,
  CACHE_SERVICE,
  READ_DENIED_MESSAGE,
  WRITE_DENIED_MESSAGE,
  startActionsCacheService,
  type ActionsCacheService,
} from './helpers/actions-cache-service.js';

const MiB = 1024 * 1024;

// @actions/cache hashes the caller's paths + the compression method (zstd when `zstd --version`
// runs, else gzip) + a salt into the entry's version (lib/internal/cacheUtils.js getCacheVersion).
const COMPRESSION = spawnSync('zstd', ['--quiet', '--version']).status === 0 ? 'zstd-without-long' : 'gzip';
function cacheVersion(paths: string[]): string {
  return createHash('sha256').update([...paths, COMPRESSION, '1.0'].join('|')).digest('hex');
}

// Everything that changes what the library does; cleared for the tests so an outer CI job on
// GitHub Actions (its own cache service, GHES, debug mode) or a proxy cannot leak in.
const LIBRARY_ENV = [
  'ACTIONS_CACHE_SERVICE_V2', 'ACTIONS_RESULTS_URL', 'ACTIONS_CACHE_URL', 'ACTIONS_RUNTIME_TOKEN', 'ACTIONS_CACHE_MODE',
  'GITHUB_SERVER_URL', 'GITHUB_WORKSPACE', 'RUNNER_TEMP', 'RUNNER_DEBUG', 'ACTIONS_STEP_DEBUG',
  'CACHE_UPLOAD_CONCURRENCY', 'CACHE_UPLOAD_CHUNK_SIZE', 'SEGMENT_DOWNLOAD_TIMEOUT_MINS',
  'HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'all_proxy', 'no_proxy',
];
const savedEnv = { ...process.env };

/** Points the library at `server`, with its temp dir and workspace under `work`; returns the workspace. */
function useService(server: ActionsCacheService, work: string): string {
  for (const name of LIBRARY_ENV) delete process.env[name];
  const workspace = join(work, 'workspace');
  mkdirSync(workspace, { recursive: true });
  Object.assign(process.env, server.env(), { RUNNER_TEMP: join(work, 'runner-temp'), GITHUB_WORKSPACE: workspace });
  return workspace;
}

afterAll(() => {
  for (const name of Object.keys(process.env)) if (!(name in savedEnv)) delete process.env[name];
  Object.assign(process.env, savedEnv);
});

interface Output {
  /** Plain lines (core.info). */
  infos: string[];
  warnings: string[];
  errors: string[];
  debugs: string[];
}

/** Runs `fn` with stdout captured, and sorts what @actions/core wrote into its kinds of lines. */
async function captured<T>(fn: () => Promise<T>): Promise<{ result: T; out: Output }> {
  let text = '';
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation(((chunk: string | Uint8Array) => {
    text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return true;
  }) as typeof process.stdout.write);
  let result: T;
  try {
    result = await fn();
  } finally {
    spy.mockRestore();
  }
  const out: Output = { infos: [], warnings: [], errors: [], debugs: [] };
  // Workflow commands escape %, CR and LF in their data.
  const unescape = (s: string): string => s.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%');
  for (const line of text.split('\n')) {
    const command = /^::(warning|error|debug|add-mask)::(.*)$/.exec(line);
    if (!command) {
      if (line) out.infos.push(line);
    } else if (command[1] === 'warning') out.warnings.push(unescape(command[2] ?? ''));
    else if (command[1] === 'error') out.errors.push(unescape(command[2] ?? ''));
    else if (command[1] === 'debug') out.debugs.push(unescape(command[2] ?? ''));
  }
  return { result, out };
}

/**
 * Runs `fn` on jest's fake setTimeout, advanced 1 s per 10 ms of real time: the library's retry
 * sleeps (Twirp client, Azure SDK, http-client) take well under a second while sockets, child
 * processes and disk I/O run for real.
 */
async function fastForward<T>(fn: () => Promise<T>): Promise<T> {
  jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask', 'Date', 'hrtime', 'performance'] });
  try {
    let settled: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
    const done = fn().then(
      (value) => (settled = { ok: true, value }),
      (error: unknown) => (settled = { ok: false, error }),
    );
    while (!settled) {
      jest.advanceTimersByTime(1000);
      await sleep(10);
    }
    await done;
    if (!settled.ok) throw settled.error;
    return settled.value;
  } finally {
    jest.useRealTimers();
  }
}

function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')))
      .on('error', reject);
  });
}

/** path → type, mode and content hash (or link target) of every entry under `root`. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const rel = relative(root, path);
      const st = lstatSync(path);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) out[rel] = `link -> ${readlinkSync(path)}`;
      else if (st.isDirectory()) {
        out[rel] = `dir ${mode}`;
        walk(path);
      } else out[rel] = `file ${mode} ${createHash('sha256').update(readFileSync(path)).digest('hex')}`;
    }
  };
  walk(root);
  return out;
}

/** A small layer-cache-like tree: nested dirs, random bytes, an executable, a symlink, an empty dir. */
function writeFixture(dir: string, seed: string): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  mkdirSync(join(dir, 'empty'));
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ seed }));
  writeFileSync(join(dir, 'blobs', 'sha256', 'layer'), randomBytes(256 * 1024));
  writeFileSync(join(dir, 'run.sh'), '#!/bin/sh\necho hello\n');
  chmodSync(join(dir, 'run.sh'), 0o755);
  symlinkSync('index.json', join(dir, 'latest'));
}

const seedOf = (dir: string): string => (JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { seed: string }).seed;

/** Calls a Twirp method directly, as the library's client does. */
async function twirp(
  server: ActionsCacheService,
  method: string,
  body: unknown,
  token = server.token,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${server.url}/twirp/${CACHE_SERVICE}/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** A module of the installed @actions/cache that its package exports do not expose. */
async function importCacheInternal<T>(file: string): Promise<T> {
  const require = createRequire(import.meta.url);
  for (const base of require.resolve.paths('@actions/cache') ?? []) {
    const path = join(base, '@actions', 'cache', 'lib', file);
    if (existsSync(path)) return (await import(path)) as T;
  }
  throw new Error(`@actions/cache/lib/${file} not found`);
}

interface DownloadUtils {
  downloadCacheStorageSDK(url: string, archivePath: string, options: object): Promise<void>;
  downloadCacheHttpClientConcurrent(url: string, archivePath: string, options: object): Promise<void>;
}
interface CacheOptions {
  getDownloadOptions(copy?: object): object;
}

describe('@actions/cache 6 against the local Actions cache service', () => {
  let server: ActionsCacheService;
  let work: string;
  let ws: string;
  let dir: string;

  beforeEach(async () => {
    server = await startActionsCacheService();
    work = mkdtempSync(join(tmpdir(), 'kiln-actions-cache-test-'));
    ws = useService(server, work);
    dir = join(ws, 'kiln-cache');
  });

  afterEach(async () => {
    jest.useRealTimers();
    await server.close();
    rmSync(work, { recursive: true, force: true });
  });

  const save = (key: string, paths = [dir]): Promise<{ result: number; out: Output }> => captured(() => cache.saveCache(paths, key));
  const restore = (key: string, restoreKeys: string[] = [], paths = [dir]): Promise<{ result: string | undefined; out: Output }> =>
    captured(() => cache.restoreCache(paths, key, restoreKeys));

  it('selects cache service v2 from the runner environment', () => {
    expect(cache.isFeatureAvailable()).toBe(true);
    expect(server.env()).toMatchObject({ ACTIONS_CACHE_SERVICE_V2: 'True', ACTIONS_RESULTS_URL: `${server.url}/` });
  });

  it('serves a child process whose environment is only PATH, env(), RUNNER_TEMP and GITHUB_WORKSPACE', async () => {
    writeFixture(dir, 'child');
    const before = snapshot(dir);
    const script = [
      "import * as cache from '@actions/cache';",
      "import { rmSync } from 'node:fs';",
      'const dir = process.argv[1];',
      "const id = await cache.saveCache([dir], 'child-key');",
      'rmSync(dir, { recursive: true });',
      "const hit = await cache.restoreCache([dir], 'child-key');",
      'console.log(JSON.stringify({ id, hit }));',
    ].join('\n');
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script, dir], {
      // packages/action, where `@actions/cache` resolves as it will for dist/main.js.
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      env: { PATH: process.env.PATH ?? '', ...server.env(), RUNNER_TEMP: join(work, 'runner-temp'), GITHUB_WORKSPACE: ws },
    });
    const lines = stdout.trim().split('\n');
    expect(JSON.parse(lines[lines.length - 1]!)).toEqual({ id: 1, hit: 'child-key' });
    expect(lines.filter((l) => /^::(warning|error)::/.test(l))).toEqual([]);
    expect(snapshot(dir)).toEqual(before);
    expect(server.stats()).toMatchObject({ uploads: 1, downloads: 1, unhandled: 0 });
  });

  it('saves a directory and restores it identical', async () => {
    writeFixture(dir, 'one');
    const before = snapshot(dir);

    const saved = await save('kiln-layers-1');
    expect(saved.out.warnings).toEqual([]);
    expect(saved.out.errors).toEqual([]);
    const entries = server.entries();
    expect(entries).toHaveLength(1);
    const entry = entries[0]!;
    expect(entry).toMatchObject({ id: saved.result, key: 'kiln-layers-1', version: cacheVersion([dir]), finalized: true });
    expect(entry.sizeBytes).toBeGreaterThan(0);
    let stats = server.stats();
    expect(stats.twirp).toEqual({ CreateCacheEntry: 1, FinalizeCacheEntryUpload: 1, GetCacheEntryDownloadURL: 0 });
    expect(stats.blob).toMatchObject({ PutBlob: 1, PutBlock: 0, PutBlockList: 0 });
    expect(stats).toMatchObject({ uploads: 1, bytesUploaded: entry.sizeBytes, faults: 0, unhandled: 0 });

    rmSync(dir, { recursive: true });
    const restored = await restore('kiln-layers-1');
    expect(restored.result).toBe('kiln-layers-1');
    expect(restored.out.infos).toContain('Cache hit for: kiln-layers-1');
    expect(restored.out.warnings).toEqual([]);
    expect(snapshot(dir)).toEqual(before);
    stats = server.stats();
    // From 127.0.0.1 the library downloads with one plain GET (no HEAD, no ranges).
    expect(stats.blob).toMatchObject({ GetBlob: 1, GetBlobProperties: 0 });
    expect(stats).toMatchObject({ downloads: 1, bytesDownloaded: entry.sizeBytes, unhandled: 0 });
  });

  it('matches the exact key first, then the key and each restore key as a prefix, newest entry winning', async () => {
    for (const [key, seed] of [['deps-linux-1', 'A'], ['deps-linux-2', 'B'], ['deps-macos-1', 'C']] as const) {
      writeFixture(dir, seed);
      expect((await save(key)).result).toBeGreaterThan(0);
    }
    const restoreSeed = async (key: string, restoreKeys: string[]): Promise<{ key?: string; seed?: string; out: Output }> => {
      rmSync(dir, { recursive: true, force: true });
      const { result, out } = await restore(key, restoreKeys);
      return { key: result, seed: result ? seedOf(dir) : undefined, out };
    };

    // An exact hit beats newer entries that match a restore key.
    expect(await restoreSeed('deps-linux-1', ['deps-'])).toMatchObject({ key: 'deps-linux-1', seed: 'A' });
    // No exact hit: the first restore key with matches wins, and its newest entry.
    const partial = await restoreSeed('deps-linux-3', ['deps-linux-', 'deps-']);
    expect(partial).toMatchObject({ key: 'deps-linux-2', seed: 'B' });
    expect(partial.out.infos).toContain('Cache hit for restore-key: deps-linux-2');
    // A restore key without matches is skipped.
    expect(await restoreSeed('deps-windows-1', ['deps-windows-', 'deps-'])).toMatchObject({ key: 'deps-macos-1', seed: 'C' });
    // The key itself is also tried as a prefix (GitHub's documented order).
    expect(await restoreSeed('deps-linux', [])).toMatchObject({ key: 'deps-linux-2', seed: 'B' });
  });

  it('reports a miss as undefined, without a warning', async () => {
    writeFixture(dir, 'x');
    await save('present');
    rmSync(dir, { recursive: true });
    const { result, out } = await restore('absent', ['also-absent-']);
    expect(result).toBeUndefined();
    expect(out.warnings).toEqual([]);
    expect(out.errors).toEqual([]);
    expect(out.debugs).toContain(`Cache not found for version ${cacheVersion([dir])} of keys: absent, also-absent-`);
    expect(existsSync(dir)).toBe(false);
    expect(server.stats()).toMatchObject({ downloads: 0, twirp: { GetCacheEntryDownloadURL: 1 } });
  });

  it('keeps keys immutable: saving an existing key logs an info line (409 from the service) and returns -1', async () => {
    writeFixture(dir, 'first');
    const first = await save('kiln-layers');
    expect(first.result).toBe(1);
    writeFixture(dir, 'second');
    const second = await save('kiln-layers');
    expect(second.result).toBe(-1);
    // @actions/cache 6 turns the 409 into a ReserveCacheError and logs it with core.info (no annotation).
    expect(second.out.warnings).toEqual([]);
    expect(second.out.errors).toEqual([]);
    expect(second.out.infos).toContain('Failed to save: Unable to reserve cache with key kiln-layers, another job may be creating this cache.');
    expect(second.out.debugs.join('\n')).toContain(
      `Failed to reserve cache: Error: Failed to CreateCacheEntry: Received non-retryable error: Failed request: (409) Conflict: ${ALREADY_EXISTS_MESSAGE}`,
    );
    expect(server.entries()).toHaveLength(1);
    expect(server.stats()).toMatchObject({ uploads: 1, twirp: { CreateCacheEntry: 2, FinalizeCacheEntryUpload: 1 } });

    rmSync(dir, { recursive: true });
    expect((await restore('kiln-layers')).result).toBe('kiln-layers');
    expect(seedOf(dir)).toBe('first');
  });

  it('restores only entries whose version (paths + compression) matches', async () => {
    const a = join(ws, 'a');
    const b = join(ws, 'b');
    writeFixture(a, 'A');
    expect((await save('shared-key', [a])).result).toBeGreaterThan(0);

    const miss = await restore('shared-key', [], [b]);
    expect(miss.result).toBeUndefined();
    expect(miss.out.warnings).toEqual([]);
    expect(existsSync(b)).toBe(false);

    // Same key, other version: a separate entry.
    writeFixture(b, 'B');
    expect((await save('shared-key', [b])).result).toBeGreaterThan(0);
    expect(server.entries().map((e) => [e.key, e.version])).toEqual([
      ['shared-key', cacheVersion([a])],
      ['shared-key', cacheVersion([b])],
    ]);
    rmSync(a, { recursive: true });
    rmSync(b, { recursive: true });
    expect((await restore('shared-key', [], [a])).result).toBe('shared-key');
    expect(seedOf(a)).toBe('A');
    expect(existsSync(b)).toBe(false);
  });

  it('rejects a wrong runtime token: restore warns and misses, save logs an info line and returns -1', async () => {
    writeFixture(dir, 'x');
    await save('kiln-layers');
    process.env.ACTIONS_RUNTIME_TOKEN = 'not-the-token';
    rmSync(dir, { recursive: true });

    const restored = await restore('kiln-layers');
    expect(restored.result).toBeUndefined();
    expect(restored.out.warnings).toEqual([
      'Failed to restore: Failed to GetCacheEntryDownloadURL: Received non-retryable error: Failed request: (401) Unauthorized: invalid or missing bearer token',
    ]);
    expect(existsSync(dir)).toBe(false);

    writeFixture(dir, 'y');
    const saved = await save('other-key');
    expect(saved.result).toBe(-1);
    expect(saved.out.warnings).toEqual([]);
    expect(saved.out.infos).toContain('Failed to save: Unable to reserve cache with key other-key, another job may be creating this cache.');
    expect(server.entries().map((e) => e.key)).toEqual(['kiln-layers']);
    // 401 is not retried.
    expect(server.stats().twirp).toEqual({ CreateCacheEntry: 2, FinalizeCacheEntryUpload: 1, GetCacheEntryDownloadURL: 1 });
  });

  it('makes an entry restorable only once it is finalized; the reservation still holds the key', async () => {
    writeFixture(dir, 'x');
    server.addFault({ target: 'FinalizeCacheEntryUpload', action: { kind: 'reset' } });
    const saved = await save('kiln-layers');
    expect(saved.result).toBe(-1);
    expect(saved.out.warnings).toHaveLength(1);
    expect(saved.out.warnings[0]).toMatch(/^Failed to save: Failed to FinalizeCacheEntryUpload: Unable to make request: ECONNRESET\n/);
    const [entry] = server.entries();
    expect(entry).toMatchObject({ key: 'kiln-layers', finalized: false });
    expect(entry!.sizeBytes).toBeGreaterThan(0);

    rmSync(dir, { recursive: true });
    const restored = await restore('kiln-layers');
    expect(restored.result).toBeUndefined();
    expect(restored.out.warnings).toEqual([]);

    writeFixture(dir, 'x');
    const again = await save('kiln-layers');
    expect(again.result).toBe(-1);
    expect(again.out.infos).toContain('Failed to save: Unable to reserve cache with key kiln-layers, another job may be creating this cache.');
  });

  it('reports a read-only token as a write denial and a token without scopes as a read denial', async () => {
    writeFixture(dir, 'x');
    await save('kiln-layers');

    server.setAccess('read-only');
    const denied = await save('new-key');
    expect(denied.result).toBe(-1);
    expect(denied.out.warnings).toEqual([`Failed to save: Unable to reserve cache with key new-key. More details: ${WRITE_DENIED_MESSAGE}`]);
    rmSync(dir, { recursive: true });
    expect((await restore('kiln-layers')).result).toBe('kiln-layers');

    server.setAccess('none');
    rmSync(dir, { recursive: true });
    const unreadable = await restore('kiln-layers');
    expect(unreadable.result).toBeUndefined();
    expect(unreadable.out.warnings).toEqual([
      `Failed to restore: Failed to GetCacheEntryDownloadURL: Received non-retryable error: Failed request: (403) Forbidden: ${READ_DENIED_MESSAGE}`,
    ]);
  });

  it('falls back to the v1 API (not served: 404, counted as unhandled) when ACTIONS_CACHE_SERVICE_V2 is missing', async () => {
    delete process.env.ACTIONS_CACHE_SERVICE_V2;
    const { result, out } = await restore('kiln-layers');
    expect(result).toBeUndefined();
    expect(out.warnings).toEqual(['Failed to restore: Cache service responded with 404']);
    expect(server.stats().unhandled).toBe(1);
    expect(server.log[0]).toMatchObject({ method: 'GET', path: '/_apis/artifactcache/cache', status: 404 });
  });

  describe('injected faults behave as on GitHub', () => {
    it('one 500 from the Twirp service is retried after 3 s and the restore succeeds', async () => {
      writeFixture(dir, 'x');
      await save('kiln-layers');
      rmSync(dir, { recursive: true });
      const fault = server.addFault({ target: 'GetCacheEntryDownloadURL', times: 1, action: { kind: 'status', status: 500 } });
      const { result, out } = await restore('kiln-layers');
      expect(result).toBe('kiln-layers');
      expect(fault.applied).toBe(1);
      expect(out.infos).toContain(
        'Attempt 1 of 5 failed with error: Failed request: (500) Internal Server Error: injected fault (HTTP 500). Retrying request in 3000 ms...',
      );
      expect(out.warnings).toEqual([]);
      expect(server.stats().twirp.GetCacheEntryDownloadURL).toBe(2);
    });

    it('a Twirp outage (500 on every call) is a warning on restore and an info line on save; neither throws', async () => {
      writeFixture(dir, 'x');
      server.addFault({ target: 'twirp', times: 'always', action: { kind: 'status', status: 500 } });

      const restored = await fastForward(() => restore('kiln-layers'));
      expect(restored.result).toBeUndefined();
      expect(restored.out.warnings).toEqual([
        'Failed to restore: Failed to GetCacheEntryDownloadURL: Failed to make request after 5 attempts: Failed request: (500) Internal Server Error: injected fault (HTTP 500)',
      ]);
      expect(restored.out.errors).toEqual([]);

      const saved = await fastForward(() => save('kiln-layers'));
      expect(saved.result).toBe(-1);
      expect(saved.out.warnings).toEqual([]);
      expect(saved.out.infos).toContain('Failed to save: Unable to reserve cache with key kiln-layers, another job may be creating this cache.');
      expect(server.stats().twirp).toEqual({ CreateCacheEntry: 5, FinalizeCacheEntryUpload: 0, GetCacheEntryDownloadURL: 5 });
      expect(server.entries()).toEqual([]);
    });

    it('a connection reset from the Twirp service fails at once, without retries', async () => {
      server.addFault({ target: 'twirp', times: 'always', action: { kind: 'reset' } });
      const { result, out } = await restore('kiln-layers');
      expect(result).toBeUndefined();
      expect(out.warnings).toHaveLength(1);
      expect(out.warnings[0]).toMatch(/^Failed to restore: Failed to GetCacheEntryDownloadURL: Unable to make request: ECONNRESET\n/);
      expect(server.stats().twirp.GetCacheEntryDownloadURL).toBe(1);
    });

    it('a failed or cut blob download is a warning and a miss; nothing is extracted', async () => {
      writeFixture(dir, 'x');
      await save('kiln-layers');
      rmSync(dir, { recursive: true });

      server.addFault({ target: 'GetBlob', action: { kind: 'status', status: 500 } });
      const failed = await restore('kiln-layers');
      expect(failed.result).toBeUndefined();
      expect(failed.out.warnings).toEqual(['Failed to restore: downloadCache failed: Cache service responded with 500']);

      server.addFault({ target: 'GetBlob', action: { kind: 'truncate', afterBytes: 1000 } });
      const cut = await restore('kiln-layers');
      expect(cut.result).toBeUndefined();
      // The body ends before Content-Length: the stream error is not retried.
      expect(cut.out.warnings).toEqual(['Failed to restore: aborted']);
      expect(existsSync(dir)).toBe(false);
      expect(server.stats()).toMatchObject({ downloads: 0, faults: 2 });

      expect((await restore('kiln-layers')).result).toBe('kiln-layers');
    });

    it('one 500 on the blob upload is retried by the Azure SDK; a persistent one is a warning and leaves the entry unfinalized', async () => {
      writeFixture(dir, 'x');
      server.addFault({ target: 'PutBlob', action: { kind: 'status', status: 500 } });
      const retried = await save('once');
      expect(retried.result).toBeGreaterThan(0);
      expect(retried.out.warnings).toEqual([]);
      expect(server.stats().blob.PutBlob).toBe(2);

      server.addFault({ target: 'upload', times: 'always', action: { kind: 'status', status: 503 } });
      const failed = await fastForward(() => save('always'));
      expect(failed.result).toBe(-1);
      expect(failed.out.warnings).toHaveLength(2);
      expect(failed.out.warnings[0]).toMatch(/^uploadCacheArchiveSDK: internal error uploading cache archive: /);
      expect(failed.out.warnings[1]).toMatch(/^Failed to save: /);
      // The SDK tries 4 times.
      expect(server.stats().blob.PutBlob).toBe(2 + 4);
      expect(server.entries().map((e) => [e.key, e.finalized])).toEqual([
        ['once', true],
        ['always', false],
      ]);
    });
  });

  it('speaks the Twirp JSON and Azure Blob protocols the way the clients expect', async () => {
    const version = 'a'.repeat(64);
    expect(await twirp(server, 'GetCacheEntryDownloadURL', { key: 'k', version }, 'wrong')).toEqual({
      status: 401,
      json: { code: 'unauthenticated', msg: 'invalid or missing bearer token' },
    });
    expect(await twirp(server, 'DeleteCacheEntry', { key: 'k' })).toMatchObject({ status: 404, json: { code: 'bad_route' } });
    expect(await twirp(server, 'CreateCacheEntry', { key: 'k' })).toMatchObject({ status: 400, json: { code: 'invalid_argument' } });
    expect(await twirp(server, 'GetCacheEntryDownloadURL', { key: 'k', version })).toEqual({
      status: 200,
      json: { ok: false, signed_download_url: '', matched_key: '' },
    });

    const created = await twirp(server, 'CreateCacheEntry', { key: 'k', version });
    expect(created).toMatchObject({ status: 200, json: { ok: true } });
    const uploadUrl = String(created.json.signed_upload_url);
    expect(uploadUrl).toMatch(new RegExp(`^${server.url}/devstoreaccount1/actions-cache/[^?]+\\?.*sp=cw.*&sig=`));
    expect(await twirp(server, 'CreateCacheEntry', { key: 'k', version })).toEqual({
      status: 409,
      json: { code: 'already_exists', msg: ALREADY_EXISTS_MESSAGE },
    });
    expect(await twirp(server, 'FinalizeCacheEntryUpload', { key: 'k', version, size_bytes: '10' })).toMatchObject({
      status: 412,
      json: { code: 'failed_precondition' },
    });

    // Put Blob needs x-ms-blob-type and a valid signature.
    const body = Buffer.from('0123456789');
    expect((await fetch(uploadUrl, { method: 'PUT', body })).status).toBe(400);
    const forged = uploadUrl.replace(/sig=[^&]+/, 'sig=AAAA');
    const forgedPut = await fetch(forged, { method: 'PUT', body, headers: { 'x-ms-blob-type': 'BlockBlob' } });
    expect(forgedPut.status).toBe(403);
    expect(forgedPut.headers.get('x-ms-error-code')).toBe('AuthenticationFailed');
    expect(await forgedPut.text()).toMatch(/^<\?xml version="1.0" encoding="utf-8"\?><Error><Code>AuthenticationFailed<\/Code><Message>/);
    const put = await fetch(uploadUrl, { method: 'PUT', body, headers: { 'x-ms-blob-type': 'BlockBlob', 'x-ms-version': '2026-02-06' } });
    expect(put.status).toBe(201);
    expect(put.headers.get('etag')).toMatch(/^"0x[0-9A-F]+"$/);
    expect(put.headers.get('x-ms-request-id')).toBeTruthy();
    expect(put.headers.get('x-ms-version')).toBe('2026-02-06');
    expect(put.headers.get('content-md5')).toBe(createHash('md5').update(body).digest('base64'));
    // The upload URL cannot read.
    expect((await fetch(uploadUrl)).headers.get('x-ms-error-code')).toBe('AuthorizationPermissionMismatch');

    // Not restorable before it is finalized.
    expect((await twirp(server, 'GetCacheEntryDownloadURL', { key: 'k', version })).json.ok).toBe(false);
    expect(await twirp(server, 'FinalizeCacheEntryUpload', { key: 'k', version, size_bytes: '11' })).toMatchObject({ status: 412 });
    expect(await twirp(server, 'FinalizeCacheEntryUpload', { key: 'k', version, size_bytes: '10' })).toEqual({
      status: 200,
      json: { ok: true, entry_id: '1', message: '' },
    });
    expect((await fetch(uploadUrl, { method: 'PUT', body, headers: { 'x-ms-blob-type': 'BlockBlob' } })).status).toBe(409);

    const found = await twirp(server, 'GetCacheEntryDownloadURL', { key: 'other', restore_keys: ['k'], version });
    expect(found).toMatchObject({ status: 200, json: { ok: true, matched_key: 'k' } });
    const downloadUrl = String(found.json.signed_download_url);
    expect(downloadUrl).toMatch(/sp=r&/);

    const head = await fetch(downloadUrl, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('10');
    expect(head.headers.get('x-ms-blob-type')).toBe('BlockBlob');
    const etag = head.headers.get('etag')!;
    const full = await fetch(downloadUrl);
    expect(full.status).toBe(200);
    expect(await full.text()).toBe('0123456789');
    const ranged = await fetch(downloadUrl, { headers: { 'x-ms-range': 'bytes=2-5', 'if-match': etag } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe('bytes 2-5/10');
    expect(await ranged.text()).toBe('2345');
    const tail = await fetch(downloadUrl, { headers: { range: 'bytes=7-' } });
    expect([tail.status, await tail.text()]).toEqual([206, '789']);
    const beyond = await fetch(downloadUrl, { headers: { range: 'bytes=10-' } });
    expect([beyond.status, beyond.headers.get('x-ms-error-code')]).toEqual([416, 'InvalidRange']);
    const stale = await fetch(downloadUrl, { headers: { 'if-match': '"0x1"' } });
    expect([stale.status, stale.headers.get('x-ms-error-code')]).toEqual([412, 'ConditionNotMet']);
    // The download URL cannot write.
    expect((await fetch(downloadUrl, { method: 'PUT', body, headers: { 'x-ms-blob-type': 'BlockBlob' } })).status).toBe(403);

    // Put Block + Put Block List, out of order in the request stream, committed in list order.
    const created2 = await twirp(server, 'CreateCacheEntry', { key: 'blocks', version });
    const blocksUrl = String(created2.json.signed_upload_url);
    const id = (n: number): string => Buffer.from(`block-${n}`).toString('base64');
    for (const [n, data] of [[1, 'world'], [0, 'hello ']] as const) {
      const res = await fetch(`${blocksUrl}&comp=block&blockid=${encodeURIComponent(id(n))}`, { method: 'PUT', body: data });
      expect(res.status).toBe(201);
    }
    const badList = await fetch(`${blocksUrl}&comp=blocklist`, { method: 'PUT', body: `<BlockList><Latest>${id(9)}</Latest></BlockList>` });
    expect([badList.status, badList.headers.get('x-ms-error-code')]).toEqual([400, 'InvalidBlockList']);
    const list = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><BlockList><Latest>${id(0)}</Latest><Latest>${id(1)}</Latest></BlockList>`;
    expect((await fetch(`${blocksUrl}&comp=blocklist`, { method: 'PUT', body: list })).status).toBe(201);
    expect(server.entries()[1]).toMatchObject({ key: 'blocks', sizeBytes: 11, finalized: false });
    expect(readFileSync(server.entries()[1]!.file!, 'utf8')).toBe('hello world');

    expect(server.stats().unhandled).toBe(1); // DeleteCacheEntry
  });
});

describe('a cache archive over the 128 MiB single-shot upload limit', () => {
  let server: ActionsCacheService;
  let work: string;
  let dir: string;
  let before: Record<string, string>;
  let saved: { result: number; out: Output };

  beforeAll(async () => {
    server = await startActionsCacheService();
    work = mkdtempSync(join(tmpdir(), 'kiln-actions-cache-test-'));
    dir = join(useService(server, work), 'big');
    // Random bytes do not compress, so the archive stays over 128 MiB.
    mkdirSync(join(dir, 'layers'), { recursive: true });
    for (let i = 0; i < 34; i++) writeFileSync(join(dir, 'layers', `layer-${i}`), randomBytes(4 * MiB));
    writeFixture(join(dir, 'meta'), 'big');
    before = snapshot(dir);
    saved = await captured(() => cache.saveCache([dir], 'big-cache'));
  }, 120_000);

  afterAll(async () => {
    await server.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('is uploaded as 64 MiB blocks and one Put Block List', () => {
    expect(saved.out.warnings).toEqual([]);
    expect(saved.result).toBe(1);
    const [entry] = server.entries();
    expect(entry).toMatchObject({ key: 'big-cache', finalized: true });
    expect(entry!.sizeBytes).toBeGreaterThan(128 * MiB);
    const stats = server.stats();
    expect(stats.blob).toMatchObject({ PutBlob: 0, PutBlock: Math.ceil(entry!.sizeBytes / (64 * MiB)), PutBlockList: 1 });
    expect(stats).toMatchObject({ uploads: 1, bytesUploaded: entry!.sizeBytes });
  });

  it('restores identical', async () => {
    rmSync(dir, { recursive: true });
    const { result, out } = await captured(() => cache.restoreCache([dir], 'big-cache'));
    expect(out.warnings).toEqual([]);
    expect(result).toBe('big-cache');
    expect(snapshot(dir)).toEqual(before);
  }, 120_000);

  it('serves the download paths the library uses for Azure hosts (SDK: HEAD + x-ms-range; concurrent http-client: HEAD + Range)', async () => {
    const { downloadCacheStorageSDK, downloadCacheHttpClientConcurrent } = await importCacheInternal<DownloadUtils>('internal/downloadUtils.js');
    const { getDownloadOptions } = await importCacheInternal<CacheOptions>('options.js');
    const [entry] = server.entries();
    const expected = await sha256File(entry!.file!);
    const found = await twirp(server, 'GetCacheEntryDownloadURL', { key: 'big-cache', version: cacheVersion([dir]) });
    const url = String(found.json.signed_download_url);

    const viaSdk = join(work, 'sdk.tzst');
    let from = server.log.length;
    await captured(() => downloadCacheStorageSDK(url, viaSdk, getDownloadOptions({ useAzureSdk: true })));
    expect(await sha256File(viaSdk)).toBe(expected);
    let requests = server.log.slice(from);
    expect(requests.filter((r) => r.operation === 'GetBlobProperties').length).toBeGreaterThanOrEqual(1);
    let gets = requests.filter((r) => r.operation === 'GetBlob');
    // 4 MiB pieces within 128 MiB segments.
    const firstSegment = 128 * MiB;
    expect(gets.length).toBe(firstSegment / (4 * MiB) + Math.ceil((entry!.sizeBytes - firstSegment) / (4 * MiB)));
    expect(gets.every((r) => r.status === 206 && r.complete && /^bytes=\d+-\d+$/.test(r.range ?? ''))).toBe(true);

    const viaHttp = join(work, 'http.tzst');
    from = server.log.length;
    await captured(async () => {
      await downloadCacheHttpClientConcurrent(url, viaHttp, getDownloadOptions());
      // It never stops its progress timer, which prints one last line within a second: absorb it.
      await sleep(1100);
    });
    expect(await sha256File(viaHttp)).toBe(expected);
    requests = server.log.slice(from);
    expect(requests.filter((r) => r.operation === 'GetBlobProperties')).toHaveLength(1);
    gets = requests.filter((r) => r.operation === 'GetBlob');
    expect(gets.length).toBe(Math.ceil(entry!.sizeBytes / (4 * MiB)));
    expect(gets.every((r) => r.status === 206 && r.complete)).toBe(true);
  }, 120_000);
});
