// --cache-to / --cache-from: a build cache exported from one store makes a build in an empty
// store hit every step (type=local and type=registry), and an export holds only what the build
// used, so the cache does not grow run over run.
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kiln, tempDir, writeTree } from './kiln-helpers.js';
import { skopeoInspect, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { describeNeeding, tools } from '../helpers/requirements.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { CACHE_CONFIG_MEDIA_TYPE, FS_INDEX_MEDIA_TYPE, parseCacheSpec } from '../../src/engine/cache-transfer.js';

const work = tempDir('cache-transfer');

const DOCKERFILE = [
  'FROM scratch AS build',
  'COPY src/ /src/',
  'ENV A=1',
  'FROM scratch',
  'COPY --from=build /src/a.txt /a.txt',
  'COPY b.txt /b.txt',
  'WORKDIR /app',
  'LABEL x=y',
  '',
].join('\n');

function makeContext(name: string, b = 'bee\n'): string {
  return writeTree(join(work, name), { Dockerfile: DOCKERFILE, 'src/a.txt': 'aaa\n', 'src/c.txt': 'ccc\n', 'b.txt': b });
}

interface Built {
  code: number;
  stderr: string;
  digest: string;
  steps: { instruction: string; cached: boolean; layer?: string }[];
}

async function buildIn(store: string, ctx: string, extra: string[]): Promise<Built> {
  const meta = join(work, `${Math.random().toString(36).slice(2)}.json`);
  const r = await kiln(['build', '--store', store, '--progress', 'plain', '--metadata-file', meta, ...extra, ctx]);
  if (r.code !== 0) return { code: r.code, stderr: r.stderr, digest: '', steps: [] };
  const m = JSON.parse(readFileSync(meta, 'utf8'));
  return { code: 0, stderr: r.stderr, digest: m['containerimage.digest'], steps: m['kiln.steps'] };
}

function blobs(dir: string): { names: string[]; bytes: number } {
  const b = join(dir, 'blobs', 'sha256');
  const names = readdirSync(b).sort();
  return { names, bytes: names.reduce((n, f) => n + statSync(join(b, f)).size, 0) };
}

function cacheConfig(dir: string): { version: number; records: Record<string, { layer: { digest: string } | null }> } {
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
  expect(index.manifests).toHaveLength(1);
  expect(index.manifests[0].annotations['org.opencontainers.image.ref.name']).toBe('cache');
  const manifest = JSON.parse(readFileSync(join(dir, 'blobs', 'sha256', index.manifests[0].digest.slice(7)), 'utf8'));
  expect(manifest.config.mediaType).toBe(CACHE_CONFIG_MEDIA_TYPE);
  return JSON.parse(readFileSync(join(dir, 'blobs', 'sha256', manifest.config.digest.slice(7)), 'utf8'));
}

describe('cache spec parsing', () => {
  test('buildx forms', () => {
    expect(parseCacheSpec('--cache-to', 'type=local,dest=x')).toMatchObject({ type: 'local' });
    expect(parseCacheSpec('--cache-from', 'type=local,src=/x')).toEqual({ type: 'local', path: '/x' });
    expect(parseCacheSpec('--cache-to', 'type=registry,ref=127.0.0.1:5000/c/app:buildcache,mode=max')).toEqual({
      type: 'registry', ref: '127.0.0.1:5000/c/app:buildcache', mode: 'max',
    });
    expect(parseCacheSpec('--cache-from', '127.0.0.1:5000/c/app:buildcache')).toEqual({ type: 'registry', ref: '127.0.0.1:5000/c/app:buildcache' });
    expect(() => parseCacheSpec('--cache-to', 'type=local,src=x')).toThrow(/type=local needs dest=DIR/);
    expect(() => parseCacheSpec('--cache-to', 'type=gha')).toThrow(/type=gha is not supported/);
    expect(() => parseCacheSpec('--cache-to', 'type=registry,ref=r/x:t,mode=all')).toThrow(/mode must be min or max/);
    expect(() => parseCacheSpec('--cache-from', 'type=local,src=x,bogus=1')).toThrow(/unknown option "bogus"/);
  });

  test('a bad spec is a usage error (exit 2) before any work', async () => {
    const r = await kiln(['build', '--store', join(work, 'unused-store'), '--cache-to', 'type=local', makeContext('ctx-usage')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--cache-to "type=local": type=local needs dest=DIR/);
  });
});

describe('type=local', () => {
  const cache = join(work, 'local-cache');

  test('an empty store reuses every step from the exported cache; re-exports do not grow', async () => {
    const ctx = makeContext('ctx-local');
    // First run: the cache dir does not exist yet; importing it is no error.
    const a = await buildIn(join(work, 'store-a'), ctx, ['--cache-from', `type=local,src=${cache}`, '--cache-to', `type=local,dest=${cache}`]);
    expect(a.code).toBe(0);
    expect(a.stderr).toMatch(/exported build cache to .*local-cache \(\d+ records, 4 layers\)/);
    expect(existsSync(join(cache, 'oci-layout'))).toBe(true);
    const first = cacheConfig(cache);
    expect(first.version).toBe(1);
    const firstBlobs = blobs(cache);
    expect(firstBlobs.names).toHaveLength(4 + 2); // 4 layers + config + manifest

    const b = await buildIn(join(work, 'store-b'), ctx, ['--cache-from', `type=local,src=${cache}`]);
    expect(b.code).toBe(0);
    expect(b.stderr).toMatch(/imported build cache from/);
    expect(b.steps.length).toBeGreaterThan(4);
    expect(b.steps.filter((s) => !s.cached)).toEqual([]);
    expect(b.digest).toBe(a.digest);

    // One file changed: its step (and those after) rebuild; the export replaces the old cache.
    writeFileSync(join(ctx, 'b.txt'), 'bee, changed\n');
    const oldB = a.steps.find((s) => s.instruction.startsWith('COPY b.txt'))!.layer!;
    const c = await buildIn(join(work, 'store-b'), ctx, ['--cache-to', `type=local,dest=${cache}`]);
    expect(c.code).toBe(0);
    const newB = c.steps.find((s) => s.instruction.startsWith('COPY b.txt'))!;
    expect(newB.cached).toBe(false);
    const after = blobs(cache);
    const config = cacheConfig(cache);
    const used = new Set(Object.values(config.records).flatMap((r) => (r.layer ? [r.layer.digest] : [])));
    expect(used.has(newB.layer!)).toBe(true);
    expect(used.has(oldB)).toBe(false);
    expect(after.names).not.toContain(oldB.slice(7));
    expect(after.names).toHaveLength(used.size + 2);
    expect(Object.keys(config.records)).toHaveLength(Object.keys(first.records).length);
    expect(after.names.length).toBeLessThanOrEqual(firstBlobs.names.length);
    expect(after.bytes).toBeLessThanOrEqual(firstBlobs.bytes + 64); // only b.txt's content grew a few bytes
    // No temp or old directories left beside the cache.
    expect(readdirSync(work).filter((n) => n.startsWith('local-cache.'))).toEqual([]);
  });

  test('a corrupt cache is a clear error naming the directory', async () => {
    const bad = join(work, 'bad-cache');
    mkdirSync(bad, { recursive: true });
    writeFileSync(join(bad, 'index.json'), '{not json');
    const r = await kiln(['build', '--store', join(work, 'store-c'), '--cache-from', `type=local,src=${bad}`, makeContext('ctx-bad')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`build cache ${bad} is corrupt`);

    // A layer blob whose bytes do not match its digest.
    const good = join(work, 'good-cache');
    expect((await buildIn(join(work, 'store-d'), makeContext('ctx-good'), ['--cache-to', `type=local,dest=${good}`])).code).toBe(0);
    const config = cacheConfig(good);
    const layer = Object.values(config.records).find((r) => r.layer)!.layer!;
    writeFileSync(join(good, 'blobs', 'sha256', layer.digest.slice(7)), 'tampered');
    const r2 = await kiln(['build', '--store', join(work, 'store-e'), '--cache-from', `type=local,src=${good}`, makeContext('ctx-good')]);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain(`build cache ${good} is corrupt`);
  });
});

describeNeeding(tools('docker-registry', 'skopeo'), 'type=registry', () => {
  let registry: TestRegistry;
  beforeAll(async () => {
    registry = await startRegistry();
  });
  afterAll(async () => {
    await registry?.stop();
  });

  test('a cache pushed from one store serves a build in another empty store', async () => {
    const ref = `${registry.host}/cache/app:buildcache`;
    const ctx = makeContext('ctx-registry');
    // No such tag yet: a warning, not an error.
    const a = await buildIn(join(work, 'store-r1'), ctx, ['--cache-from', `type=registry,ref=${ref}`, '--cache-to', `type=registry,ref=${ref},mode=max`]);
    expect(a.code).toBe(0);
    expect(a.stderr).toMatch(/WARNING: no build cache at .*buildcache/);
    expect(a.stderr).toMatch(/exported build cache to .*buildcache \(\d+ records, 4 layers\)/);

    const raw = (await skopeoInspect(ref, { raw: true })) as { mediaType: string; config: { mediaType: string }; layers: unknown[] };
    expect(raw.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(raw.config.mediaType).toBe(CACHE_CONFIG_MEDIA_TYPE);
    expect(raw.layers).toHaveLength(4);

    const before = registry.requests('GET', /\/v2\/cache\/app\/blobs\//);
    const b = await buildIn(join(work, 'store-r2'), ctx, ['--cache-from', `type=registry,ref=${ref}`]);
    expect(b.code).toBe(0);
    expect(b.stderr).toMatch(/imported build cache from/);
    expect(b.steps.filter((s) => !s.cached)).toEqual([]);
    expect(b.digest).toBe(a.digest);
    // Every step hit: no layer was downloaded (the records came with the cache config alone).
    expect(registry.requests('GET', /\/v2\/cache\/app\/blobs\//) - before).toBe(1);

    // Pushing that image mounts its layers from the cache's repository (same registry), and
    // what the registry then has pulls whole; a local export fetches them.
    const app = `${registry.host}/cache/built:1`;
    expect((await kiln(['tag', '--store', join(work, 'store-r2'), b.digest, app])).code).toBe(0);
    const pushed = await kiln(['push', '--store', join(work, 'store-r2'), '--compression', 'none', app]);
    expect(pushed.stderr).toBe('');
    expect(pushed.stdout).toMatch(/\(1 blobs uploaded, 3 mounted, 0 already there\)/); // the config; the image's 3 layers
    expect((await kiln(['pull', '--store', join(work, 'store-r3'), app])).code).toBe(0);
    const exported = await buildIn(join(work, 'store-r2'), ctx, ['--cache-to', `type=local,dest=${join(work, 'cache-from-registry')}`]);
    expect(exported.code).toBe(0);
    expect(blobs(join(work, 'cache-from-registry')).names.length).toBeGreaterThanOrEqual(4);
  });

  test('a cached layer gone from the cache registry when a build needs its bytes is a clear error naming the cache', async () => {
    const ref = `${registry.host}/cache/gone:buildcache`;
    const ctx = makeContext('ctx-gone', 'gone\n');
    expect((await buildIn(join(work, 'store-gone-1'), ctx, ['--cache-to', `type=registry,ref=${ref}`])).code).toBe(0);
    const manifest = (await skopeoInspect(ref, { raw: true })) as { layers: { digest: string }[] };
    // Through a proxy whose registry answers 404 for the layers, as after a cleanup of the cache repository.
    const proxy = await startFaultProxy(registry.url);
    try {
      proxy.addFault({ method: '*', path: new RegExp(`/blobs/(${manifest.layers.map((l) => l.digest).join('|')})$`), nth: 'every', action: { kind: 'status', status: 404 } });
      const built = await buildIn(join(work, 'store-gone-2'), ctx, ['--cache-from', `type=registry,ref=${proxy.host}/cache/gone:buildcache`, '-o', `type=oci,dest=${join(work, 'gone-out')}`]);
      expect(built.code).not.toBe(0);
      expect(built.stderr).toMatch(new RegExp(`of the build cache imported from ${proxy.host}/cache/gone is no longer there \\(HTTP 404\\): build again without that --cache-from, or with --no-cache`));
    } finally {
      await proxy.stop();
    }
  });

  test("a COPY that misses in an empty store learns the registry base's directories from the cache: no base layer is downloaded", async () => {
    // A base in the registry whose /usr/local has its own mode and owner: the COPY's layer repeats them.
    const baseCtx = writeTree(join(work, 'os-base'), { Dockerfile: 'FROM scratch\nCOPY rootfs/ /\n', 'rootfs/usr/local/share/readme': 'base\n', 'rootfs/etc/os': 'os\n' });
    chmodSync(join(baseCtx, 'rootfs/usr/local'), 0o2775);
    const base = `${registry.host}/base/os:1`;
    expect((await kiln(['build', '--store', join(work, 'store-os'), '-q', '-t', base, '--push', baseCtx])).code).toBe(0);
    const baseLayers = ((await skopeoInspect(base, { raw: true })) as { layers: { digest: string }[] }).layers.map((l) => l.digest);
    const baseGets = () => baseLayers.reduce((n, d) => n + registry.requests('GET', new RegExp(`/blobs/${d}$`)), 0);

    const ref = `${registry.host}/cache/os-app:buildcache`;
    const ctx = writeTree(join(work, 'os-app'), { Dockerfile: `FROM ${base}\nCOPY app/ /usr/local/app/\nENV APP=1\n`, 'app/main.txt': 'v1\n' });
    const first = await buildIn(join(work, 'store-os-1'), ctx, ['--cache-to', `type=registry,ref=${ref}`]);
    expect(first.code).toBe(0);
    expect(first.stderr).toMatch(/exported build cache to .*\(\d+ records, 1 layers\)/);
    const raw = (await skopeoInspect(ref, { raw: true })) as { layers: { mediaType: string; annotations?: Record<string, string> }[] };
    expect(raw.layers.filter((l) => l.mediaType === FS_INDEX_MEDIA_TYPE)).toHaveLength(1);

    // The next CI run: one file changed, an empty store, the cache from the registry.
    writeFileSync(join(ctx, 'app/main.txt'), 'v2\n');
    const before = baseGets();
    const next = await buildIn(join(work, 'store-os-2'), ctx, ['--cache-from', `type=registry,ref=${ref}`, '-t', `${registry.host}/team/os-app:2`]);
    expect(next.code).toBe(0);
    expect(next.steps.find((s) => s.instruction.startsWith('COPY'))?.cached).toBe(false);
    expect(baseGets() - before).toBe(0);
    // The same image as a store that read the base's layers builds.
    const reference = await buildIn(join(work, 'store-os-1'), ctx, []);
    expect(next.digest).toBe(reference.digest);
    // Its push mounts the base's layer from the base's repository.
    const pushed = await kiln(['push', '--store', join(work, 'store-os-2'), `${registry.host}/team/os-app:2`]);
    expect(pushed.stdout).toMatch(/1 mounted/);
    expect(baseGets() - before).toBe(0);
  });
});
