// Kiln against a real CNCF registry (docker-registry 2.8) behind a fault-injecting proxy
// (helpers/fault-proxy.ts): pushes and pulls survive 5xx, 429 + Retry-After and connections cut
// mid-body; corrupt downloads are never stored; a push whose manifest cannot be written tags
// nothing; and a one-file change uploads only that layer's bytes plus the config.
// The CLI (in process, default backoff) covers single faults and the user-facing errors; the
// retry-heavy and chunked cases use the RegistryClient with a 10 ms backoff.

import { createHash, randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from '@jest/globals';
import { formatReference, parseReference } from '../../src/reference/index.js';
import { BlobVerificationError, RegistryClient, RegistryError } from '../../src/registry/index.js';
import { openStore } from '../../src/store/store.js';
import { kiln, writeTree } from '../engine/kiln-helpers.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { skopeoInspect, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { describeNeeding, tools } from '../helpers/requirements.js';
import { buildImage, tempStore } from './images.js';

interface Manifest {
  config: { digest: string; size: number };
  layers: { digest: string; size: number }[];
}

// Every describe here uses the registry the top-level hooks start.
const needs = tools('docker-registry', 'skopeo');
const UPLOADS = /\/blobs\/uploads\//;
const MANIFESTS = /\/manifests\//;

let reg: TestRegistry;
let proxy: FaultProxy;
let work: string;
let ctx: string;
/** A store holding the context's image, tagged for pushes. */
let buildStore: string;
let seq = 0;

beforeAll(async () => {
  reg = await startRegistry();
  proxy = await startFaultProxy(reg.url);
  work = mkdtempSync(join(tmpdir(), 'kiln-faults-'));
  ctx = writeTree(join(work, 'ctx'), {
    Dockerfile: 'FROM scratch\nCOPY app.txt /app.txt\nCOPY data.bin /data.bin\nCMD ["/app"]\n',
    'app.txt': 'version 1\n',
  });
  // Random, so the layer stays ~1.5 MB gzipped: big enough to cut in the middle.
  writeFileSync(join(ctx, 'data.bin'), randomBytes(1536 * 1024));
  buildStore = join(work, 'store-build');
  const built = await kiln(['build', '--store', pristineStore(), '-q', '-t', 'faults/src:1', ctx]);
  if (built.code !== 0) throw new Error(`build failed: ${built.stderr}`);
}, 60_000);

/** The store as the build left it: each push starts from a copy, which knows of no earlier push to mount from. */
const pristineStore = (): string => join(work, 'store-pristine');

afterAll(async () => {
  await proxy?.stop();
  await reg?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

afterEach(() => proxy.clearFaults());

const norm = (ref: string): string => formatReference(parseReference(ref));

/** Tags the built image as `name` in a fresh copy of the build store; returns its manifest digest. */
async function tagBuilt(name: string): Promise<string> {
  rmSync(buildStore, { recursive: true, force: true });
  cpSync(pristineStore(), buildStore, { recursive: true });
  const s = await openStore(buildStore);
  const digest = (await s.getRef(norm('faults/src:1')))!;
  await s.setRef(norm(name), digest);
  return digest;
}

async function manifestOf(storeDir: string, digest: string): Promise<Manifest> {
  return JSON.parse((await (await openStore(storeDir)).readBlob(digest)).toString('utf8')) as Manifest;
}

/** Every blob file of a store, each checked to hash to its name. */
function storeBlobs(storeDir: string): string[] {
  const dir = join(storeDir, 'blobs', 'sha256');
  const names = readdirSync(dir).filter((n) => /^[0-9a-f]{64}$/.test(n));
  for (const n of names) {
    expect(createHash('sha256').update(readFileSync(join(dir, n))).digest('hex')).toBe(n);
  }
  return names.map((n) => `sha256:${n}`).sort();
}

/** The registry (not the proxy) has the image under the tag: skopeo reads it, and a verified pull gets every blob. */
async function expectIntact(repoTag: string, digest: string, m: Manifest): Promise<void> {
  const inspected = (await skopeoInspect(`${reg.host}/${repoTag}`)) as { Digest: string; Layers: string[] };
  expect(inspected.Digest).toBe(digest);
  expect(inspected.Layers).toEqual(m.layers.map((l) => l.digest));
  const store = join(work, `verify-${++seq}`);
  const pulled = await kiln(['pull', '--store', store, '-q', `${reg.host}/${repoTag}`]);
  expect(pulled.stderr).toBe('');
  expect(pulled.code).toBe(0);
  expect(storeBlobs(store)).toEqual(expect.arrayContaining([digest, m.config.digest, ...m.layers.map((l) => l.digest)]));
}

function registryStatus(path: string, method = 'GET'): Promise<number> {
  return fetch(`${reg.url}${path}`, {
    method,
    headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' },
  }).then(async (r) => {
    await r.arrayBuffer();
    return r.status;
  });
}

describeNeeding(needs, 'push through faults (kiln push)', () => {
  const cases: [string, () => void, (before: { posts: number; puts: number; manifestPuts: number }) => void][] = [
    [
      '500 on the first blob upload PUT',
      () => void proxy.addFault({ method: 'PUT', path: UPLOADS, nth: 1, action: { kind: 'status', status: 500 } }),
      (b) => expect(proxy.requests('PUT', UPLOADS) - b.puts).toBe(4), // 3 blobs + the retried one
    ],
    [
      '503 on the manifest PUT',
      () => void proxy.addFault({ method: 'PUT', path: MANIFESTS, nth: 1, action: { kind: 'status', status: 503 } }),
      (b) => expect(proxy.requests('PUT', MANIFESTS) - b.manifestPuts).toBe(2),
    ],
    [
      '429 with Retry-After: 1 on a blob HEAD',
      () => void proxy.addFault({ method: 'HEAD', path: /\/blobs\/sha256:/, nth: 1, action: { kind: 'status', status: 429, retryAfter: 1 } }),
      () => undefined,
    ],
    [
      'a connection cut in the middle of a blob upload body',
      () =>
        void proxy.addFault({
          method: 'PUT',
          path: UPLOADS,
          minBodyBytes: 512 * 1024,
          nth: 1,
          action: { kind: 'drop-request', afterBytes: 200 * 1024 },
        }),
      // The cut upload starts over with a new session (a second POST for that blob).
      (b) => expect(proxy.requests('POST', UPLOADS) - b.posts).toBe(4),
    ],
  ];

  it.each(cases)('survives %s; the registry holds the whole image', async (_name, inject, check) => {
    const repo = `faults/push-${++seq}`;
    const digest = await tagBuilt(`${proxy.host}/${repo}:1`);
    const m = await manifestOf(buildStore, digest);
    const before = { posts: proxy.requests('POST', UPLOADS), puts: proxy.requests('PUT', UPLOADS), manifestPuts: proxy.requests('PUT', MANIFESTS) };
    const logFrom = proxy.log.length;
    inject();
    const started = Date.now();
    const r = await kiln(['push', '--compression', 'none', '--store', buildStore, `${proxy.host}/${repo}:1`]);
    const took = Date.now() - started;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`digest: ${digest} (3 blobs uploaded, 0 mounted, 0 already there)`);
    const faulted = proxy.log.slice(logFrom).filter((x) => x.fault !== undefined);
    expect(faulted).toHaveLength(1);
    if (_name.includes('Retry-After')) expect(took).toBeGreaterThanOrEqual(950); // waited as told, not the 125-250 ms backoff
    check(before);
    await expectIntact(`${repo}:1`, digest, m);
  });

  it('survives all four faults in one push', async () => {
    const repo = `faults/push-all-${++seq}`;
    const digest = await tagBuilt(`${proxy.host}/${repo}:1`);
    const m = await manifestOf(buildStore, digest);
    const faults = [
      proxy.addFault({ method: 'PUT', path: UPLOADS, minBodyBytes: 512 * 1024, nth: 1, action: { kind: 'drop-request', afterBytes: 100 * 1024 } }),
      proxy.addFault({ method: 'PUT', path: UPLOADS, nth: 1, action: { kind: 'status', status: 500 } }),
      proxy.addFault({ method: 'PUT', path: MANIFESTS, nth: 1, action: { kind: 'status', status: 503 } }),
      proxy.addFault({ method: 'HEAD', path: /\/blobs\/sha256:/, nth: 2, action: { kind: 'status', status: 429, retryAfter: 1 } }),
    ];
    const r = await kiln(['push', '--compression', 'none', '--store', buildStore, `${proxy.host}/${repo}:1`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // The drop rule claims the big upload's first PUT; the 500 rule then gets a PUT of its own.
    expect(faults.map((f) => f.applied)).toEqual([1, 1, 1, 1]);
    await expectIntact(`${repo}:1`, digest, m);
  });
});

describeNeeding(needs, 'pull through faults (kiln pull)', () => {
  let repoTag: string;
  let digest: string;
  let m: Manifest;
  let big: string;

  beforeAll(async () => {
    repoTag = 'faults/pull:1';
    digest = await tagBuilt(`${reg.host}/${repoTag}`);
    const pushed = await kiln(['push', '--compression', 'none', '--store', buildStore, '-q', `${reg.host}/${repoTag}`]);
    if (pushed.code !== 0) throw new Error(pushed.stderr);
    m = await manifestOf(buildStore, digest);
    big = [...m.layers].sort((a, b) => b.size - a.size)[0]!.digest;
  });

  const bigPath = (): RegExp => new RegExp(`/blobs/${big}$`);

  async function pull(): Promise<{ code: number; stdout: string; stderr: string; store: string }> {
    const store = join(work, `pull-${++seq}`);
    const r = await kiln(['pull', '--store', store, `${proxy.host}/${repoTag}`]);
    return { ...r, store };
  }

  function expectComplete(store: string): void {
    expect(storeBlobs(store)).toEqual([digest, m.config.digest, ...m.layers.map((l) => l.digest)].sort());
  }

  it('survives a connection dropped in the middle of a blob', async () => {
    const f = proxy.addFault({ method: 'GET', path: bigPath(), nth: 1, action: { kind: 'drop-response', afterBytes: 300 * 1024 } });
    const before = proxy.requests('GET', bigPath());
    const r = await pull();
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Digest: ${digest}`);
    expect(f.applied).toBe(1);
    expect(proxy.requests('GET', bigPath()) - before).toBe(2);
    expectComplete(r.store);
  });

  it('survives a 500 on a blob GET', async () => {
    const f = proxy.addFault({ method: 'GET', path: /\/blobs\/sha256:/, nth: 1, action: { kind: 'status', status: 500 } });
    const r = await pull();
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(f.applied).toBe(1);
    expectComplete(r.store);
  });

  it('a blob corrupted on the first attempt only is fetched again; nothing wrong is stored', async () => {
    const f = proxy.addFault({ method: 'GET', path: bigPath(), nth: 1, action: { kind: 'corrupt' } });
    const before = proxy.requests('GET', bigPath());
    const r = await pull();
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(f.applied).toBe(1);
    expect(proxy.requests('GET', bigPath()) - before).toBe(2);
    expectComplete(r.store);
  });

  it('a blob corrupted on every attempt fails the pull with an error naming it; it is never stored', async () => {
    const f = proxy.addFault({ method: 'GET', path: bigPath(), nth: 'every', action: { kind: 'corrupt', offset: 4096 } });
    const r = await pull();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`downloading blob ${big} from ${proxy.host}/faults/pull failed`);
    expect(r.stderr).toMatch(/hash to sha256:[0-9a-f]{64}, not to the blob's digest, in 5 attempt\(s\); nothing was stored/);
    expect(f.applied).toBe(5);
    const blobs = storeBlobs(r.store); // every stored blob hashes to its name
    expect(blobs).not.toContain(big);
    expect(await (await openStore(r.store)).getRef(norm(`${proxy.host}/${repoTag}`))).toBeUndefined();
  });

  it('RegistryClient: corruption on every attempt is a BlobVerificationError and stores nothing', async () => {
    proxy.addFault({ method: 'GET', path: bigPath(), nth: 'every', action: { kind: 'corrupt', offset: 0 } });
    const { store, dir, cleanup } = await tempStore();
    const c = new RegistryClient({ retryBaseDelayMs: 10, loopbackOnly: true });
    try {
      const err = await c.pull(parseReference(`${proxy.host}/${repoTag}`), store).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BlobVerificationError);
      expect((err as Error).message).toContain(big);
      expect(await store.hasBlob(big)).toBe(false);
      expect((await store.verify()).corrupt).toEqual([]);
      storeBlobs(join(dir, 'store'));
    } finally {
      c.close();
      await cleanup();
    }
  });
});

describeNeeding(needs, 'a push whose manifest cannot be written tags nothing', () => {
  it('kiln push: manifest PUT failing every time is a clear error, and the tag does not exist', async () => {
    const repo = `faults/nomanifest-${++seq}`;
    const digest = await tagBuilt(`${proxy.host}/${repo}:1`);
    const m = await manifestOf(buildStore, digest);
    const f = proxy.addFault({ method: 'PUT', path: MANIFESTS, nth: 'every', action: { kind: 'status', status: 500 } });
    const r = await kiln(['push', '--compression', 'none', '--store', buildStore, `${proxy.host}/${repo}:1`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`pushing manifest "1" to ${proxy.host}/${repo} failed: the registry answered HTTP 500`);
    expect(r.stderr).toContain('(5 attempts)');
    expect(f.applied).toBe(5);
    // Straight at the registry: the blobs arrived, the tag and the manifest did not.
    expect(await registryStatus(`/v2/${repo}/manifests/1`)).toBe(404);
    expect(await registryStatus(`/v2/${repo}/manifests/${digest}`)).toBe(404);
    for (const l of m.layers) expect(await registryStatus(`/v2/${repo}/blobs/${l.digest}`, 'HEAD')).toBe(200);
  });

  it('RegistryClient: a manifest body cut every time fails the push; the tag does not exist', async () => {
    const repo = `faults/cutmanifest-${++seq}`;
    const digest = await tagBuilt(`${proxy.host}/${repo}:1`);
    const f = proxy.addFault({ method: 'PUT', path: MANIFESTS, nth: 'every', action: { kind: 'drop-request', afterBytes: 100 } });
    const c = new RegistryClient({ retryBaseDelayMs: 10, loopbackOnly: true });
    try {
      const err = await c.push(await openStore(buildStore), digest, [parseReference(`${proxy.host}/${repo}:1`)]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RegistryError);
      expect((err as Error).message).toMatch(/pushing manifest "1" .* failed: cannot reach .*\(5 attempts\)/);
      expect(f.applied).toBe(5);
    } finally {
      c.close();
    }
    expect(await registryStatus(`/v2/${repo}/manifests/1`)).toBe(404);
    expect(await registryStatus(`/v2/${repo}/manifests/${digest}`)).toBe(404);
  });
});

describeNeeding(needs, 'chunked uploads through faults (RegistryClient)', () => {
  it('a PATCH cut mid-body starts the upload over; the registry gets the exact blob', async () => {
    const { store, cleanup } = await tempStore();
    const c = new RegistryClient({ retryBaseDelayMs: 10, loopbackOnly: true, chunkSize: 64 * 1024 });
    try {
      const img = await buildImage(store, [{ 'data.bin': randomBytes(300 * 1024) }], { compression: 'none' });
      const layer = img.layers[0]!;
      const f = proxy.addFault({ method: 'PATCH', path: UPLOADS, nth: 2, action: { kind: 'drop-request', afterBytes: 10_000 } });
      const retries: string[] = [];
      const pc = new RegistryClient({
        retryBaseDelayMs: 10,
        loopbackOnly: true,
        chunkSize: 64 * 1024,
        onEvent: (e) => void (e.type === 'retry' && retries.push(e.reason)),
      });
      const posts = proxy.requests('POST', UPLOADS);
      const repo = `faults/chunked-${++seq}`;
      try {
        const res = await pc.push(store, img.manifestDigest, [parseReference(`${proxy.host}/${repo}:1`)]);
        expect(res.uploadedBlobs).toBe(2);
      } finally {
        pc.close();
      }
      expect(f.applied).toBe(1);
      expect(retries).toHaveLength(1);
      expect(proxy.requests('POST', UPLOADS) - posts).toBe(3); // config, layer, layer again
      // Straight from the registry, verified: the exact bytes.
      const { store: back, cleanup: cleanBack } = await tempStore();
      try {
        await c.pull(parseReference(`${reg.host}/${repo}:1`), back);
        expect(await back.hasBlob(layer.digest)).toBe(true);
        expect((await back.verify()).corrupt).toEqual([]);
      } finally {
        await cleanBack();
      }
    } finally {
      c.close();
      await cleanup();
    }
  });
});

describeNeeding(needs, 'bytes on the wire (kiln build --push)', () => {
  it('after a one-file change, only the changed layer and the config are uploaded', async () => {
    const store = join(work, 'store-bytes');
    const image = `${proxy.host}/faults/bytes`;
    // What was pushed (layers gzipped at push): its manifest is in the store too.
    const pushedDigest = (n: number) => (JSON.parse(readFileSync(join(work, `bytes-${n}.json`), 'utf8')) as Record<string, string>)['containerimage.digest']!;
    const first = await kiln(['build', '--store', store, '--progress', 'plain', '-t', `${image}:1`, '--push', '--metadata-file', join(work, 'bytes-1.json'), ctx]);
    expect(first.code).toBe(0);
    const m1 = await manifestOf(store, pushedDigest(1));
    const all1 = m1.config.size + m1.layers.reduce((n, l) => n + l.size, 0);
    expect(first.stderr).toContain(`pushed ${image}:1: 3 blobs uploaded (${all1} bytes), 0 mounted, 0 already there`);

    writeFileSync(join(ctx, 'app.txt'), 'version 2\n');
    try {
      const inBefore = proxy.bytesIn('PUT', UPLOADS) + proxy.bytesIn('PATCH', UPLOADS);
      const putsBefore = proxy.requests('PUT', UPLOADS);
      const second = await kiln(['build', '--store', store, '--progress', 'plain', '-t', `${image}:2`, '--push', '--metadata-file', join(work, 'bytes-2.json'), ctx]);
      expect(second.code).toBe(0);
      const d2 = pushedDigest(2);
      const m2 = await manifestOf(store, d2);
      const changed = m2.layers.filter((l) => !m1.layers.some((o) => o.digest === l.digest));
      expect(changed).toHaveLength(1);
      expect(changed[0]!.size).toBeLessThan(100_000); // the small app.txt layer, not the 1.5 MB one
      const expected = changed[0]!.size + m2.config.size;
      expect(proxy.bytesIn('PUT', UPLOADS) + proxy.bytesIn('PATCH', UPLOADS) - inBefore).toBe(expected);
      expect(proxy.requests('PUT', UPLOADS) - putsBefore).toBe(2);
      expect(second.stderr).toContain(`pushed ${image}:2: 2 blobs uploaded (${expected} bytes), 0 mounted, 1 already there`);
      await expectIntact('faults/bytes:2', d2, m2);
    } finally {
      writeFileSync(join(ctx, 'app.txt'), 'version 1\n');
    }
  });
});
