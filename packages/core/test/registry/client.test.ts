// The registry client against a real CNCF registry (docker-registry 2.8) without auth: push,
// pull, skopeo reading what was pushed, no re-upload, cross-repository mounts, chunked uploads,
// indexes and platforms, Docker v2s2 documents, and corrupt blobs served by the registry.

import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { MediaTypes } from '../../src/oci/media-types.js';
import type { ImageReference } from '../../src/reference/reference.js';
import { parseReference } from '../../src/reference/reference.js';
import {
  BlobVerificationError,
  ManifestNotFoundError,
  RegistryClient,
  RegistryError,
} from '../../src/registry/index.js';
import type { RegistryEvent } from '../../src/registry/index.js';
import { sha256, skopeoInspect, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { describeNeeding, tools } from '../helpers/requirements.js';
import { buildImage, buildIndex, randomFile, tempStore } from './images.js';

let reg: TestRegistry;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  reg = await startRegistry();
});

afterAll(async () => {
  for (const c of cleanups) await c();
  await reg?.stop();
});

async function store(): Promise<Awaited<ReturnType<typeof tempStore>>['store']> {
  const s = await tempStore();
  cleanups.push(s.cleanup);
  return s.store;
}

function ref(path: string, tag = 'latest'): ImageReference {
  return parseReference(`${reg.host}/${path}:${tag}`);
}

function client(events?: RegistryEvent[], extra: ConstructorParameters<typeof RegistryClient>[0] = {}): RegistryClient {
  return new RegistryClient({ retryBaseDelayMs: 20, ...(events ? { onEvent: (e) => events.push(e) } : {}), ...extra });
}

describeNeeding(tools('docker-registry', 'skopeo'), 'push and pull against docker-registry', () => {
  it('pushes an image, skopeo reads it, and a pull into an empty store gives the same digests', async () => {
    const src = await store();
    const img = await buildImage(src, [{ 'app/hello.txt': 'hello\n' }, { 'app/data.bin': randomFile(200_000) }]);
    const events: RegistryEvent[] = [];
    const c = client(events);
    const pushed = await c.push(src, img.manifestDigest, [ref('kiln/app', 'v1'), ref('kiln/app', 'latest')]);
    expect(pushed).toEqual({
      digest: img.manifestDigest,
      uploadedBlobs: 3,
      uploadedBytes: img.layers[0]!.size + img.layers[1]!.size + (await src.blobSize(img.configDigest))!,
      mountedBlobs: 0,
      existingBlobs: 0,
    });
    const uploads = events.filter((e) => e.type === 'blob-upload');
    expect(uploads.length).toBeGreaterThanOrEqual(6);
    for (const d of img.blobs) {
      const last = uploads.filter((e) => e.type === 'blob-upload' && e.digest === d).pop();
      expect(last).toMatchObject({ bytes: (await src.blobSize(d))!, total: (await src.blobSize(d))! });
    }

    // skopeo reads what was pushed, under both tags.
    const inspected = (await skopeoInspect(`${reg.host}/kiln/app:v1`)) as { Digest: string; Layers: string[]; Labels: Record<string, string> };
    expect(inspected.Digest).toBe(img.manifestDigest);
    expect(inspected.Layers).toEqual(img.layers.map((l) => l.digest));
    expect(inspected.Labels).toEqual({ 'kiln.test': 'yes' });
    const raw = await skopeoInspect(`${reg.host}/kiln/app:latest`, { raw: true });
    expect(raw).toEqual(JSON.parse(img.manifestBytes.toString('utf8')));

    const dst = await store();
    const pulled = await client().pull(ref('kiln/app', 'v1'), dst);
    expect(pulled.manifestDigest).toBe(img.manifestDigest);
    expect(pulled.indexDigest).toBeUndefined();
    expect(pulled.config).toEqual(img.config);
    for (const d of [img.manifestDigest, ...img.blobs]) {
      expect((await dst.readBlob(d)).equals(await src.readBlob(d))).toBe(true);
    }
    expect(await c.resolveDigest(ref('kiln/app', 'latest'))).toBe(img.manifestDigest);
  });

  it('pushing the same image again sends no blob', async () => {
    const src = await store();
    const img = await buildImage(src, [{ 'a.txt': 'again\n' }]);
    await client().push(src, img.manifestDigest, [ref('kiln/again')]);
    const postsBefore = reg.requests('POST');
    const patchesBefore = reg.requests('PATCH');
    const events: RegistryEvent[] = [];
    const second = await client(events).push(src, img.manifestDigest, [ref('kiln/again')]);
    expect(second).toEqual({ digest: img.manifestDigest, uploadedBlobs: 0, uploadedBytes: 0, mountedBlobs: 0, existingBlobs: 2 });
    expect(reg.requests('POST')).toBe(postsBefore);
    expect(reg.requests('PATCH')).toBe(patchesBefore);
    expect(events.filter((e) => e.type === 'blob-exists').map((e) => (e as { digest: string }).digest).sort()).toEqual([...img.blobs].sort());
  });

  it('mounts blobs from another repository of the same registry instead of uploading them', async () => {
    const src = await store();
    const img = await buildImage(src, [{ 'base.txt': 'base layer\n' }, { 'app.txt': 'app layer\n' }]);
    await client().push(src, img.manifestDigest, [ref('kiln/base')]);
    const events: RegistryEvent[] = [];
    const res = await client(events).push(src, img.manifestDigest, [ref('team/app')], { mountFrom: ['kiln/base'] });
    expect(res).toMatchObject({ uploadedBlobs: 0, mountedBlobs: 3, existingBlobs: 0 });
    expect(events.filter((e) => e.type === 'blob-mounted')).toHaveLength(3);
    expect(((await skopeoInspect(`${reg.host}/team/app:latest`)) as { Digest: string }).Digest).toBe(img.manifestDigest);

    // One push to two repositories: the second mounts what the first received.
    const img2 = await buildImage(src, [{ 'two.txt': 'two repos\n' }]);
    const both = await client().push(src, img2.manifestDigest, [ref('multi/one', 'x'), ref('multi/two', 'y')]);
    expect(both).toMatchObject({ uploadedBlobs: 2, mountedBlobs: 2 });

    // A mount source that does not have the blob: the registry starts an upload instead.
    const img3 = await buildImage(src, [{ 'fresh.txt': `fresh ${Date.now()}\n` }]);
    const r3 = await client().push(src, img3.manifestDigest, [ref('kiln/fresh')], { mountFrom: ['kiln/base'] });
    expect(r3).toMatchObject({ uploadedBlobs: 2, mountedBlobs: 0 });
    expect(((await skopeoInspect(`${reg.host}/kiln/fresh:latest`)) as { Digest: string }).Digest).toBe(img3.manifestDigest);
  });

  it('sends a 30 MB layer in PATCH chunks and pulls it back intact', async () => {
    const src = await store();
    const big = randomFile(30 * 1024 * 1024);
    const img = await buildImage(src, [{ 'big.bin': big }], { compression: 'none' });
    const patches = reg.requests('PATCH');
    const t0 = Date.now();
    const res = await client().push(src, img.manifestDigest, [ref('kiln/big')]);
    const pushMs = Date.now() - t0;
    expect(res.uploadedBlobs).toBe(2);
    expect(res.uploadedBytes).toBeGreaterThan(30 * 1024 * 1024);
    // 16 MiB chunks: two PATCH requests for the layer.
    expect(reg.requests('PATCH') - patches).toBe(2);

    const dst = await store();
    const t1 = Date.now();
    const pulled = await client().pull(ref('kiln/big'), dst);
    const pullMs = Date.now() - t1;
    expect(pulled.manifestDigest).toBe(img.manifestDigest);
    expect(await dst.hasBlob(img.layers[0]!.digest)).toBe(true);
    expect(pushMs).toBeLessThan(30_000);
    expect(pullMs).toBeLessThan(30_000);
  });

  it('chunk size is an option', async () => {
    const src = await store();
    const img = await buildImage(src, [{ 'mid.bin': randomFile(1024 * 1024) }], { compression: 'none' });
    const patches = reg.requests('PATCH', /\/kiln\/chunks\//);
    await client(undefined, { chunkSize: 256 * 1024 }).push(src, img.manifestDigest, [ref('kiln/chunks')]);
    expect(reg.requests('PATCH', /\/kiln\/chunks\//) - patches).toBe(5); // 1 MiB + tar headers: 5 chunks
    const dst = await store();
    expect((await client().pull(ref('kiln/chunks'), dst)).manifestDigest).toBe(img.manifestDigest);
  });

  it('pushes an index and pulls the manifest of the asked-for platform', async () => {
    const src = await store();
    const { indexDigest, images } = await buildIndex(src, [
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64', variant: 'v8' },
    ]);
    const res = await client().push(src, indexDigest, [ref('kiln/multi', '1.0')]);
    expect(res.digest).toBe(indexDigest);
    const raw = (await skopeoInspect(`${reg.host}/kiln/multi:1.0`, { raw: true })) as { mediaType: string; manifests: unknown[] };
    expect(raw.mediaType).toBe(MediaTypes.ociIndex);
    expect(raw.manifests).toHaveLength(2);

    const dst = await store();
    const pulled = await client().pull(ref('kiln/multi', '1.0'), dst, { platform: { os: 'linux', architecture: 'arm64' } });
    const arm = images[1]!;
    expect(pulled).toMatchObject({ manifestDigest: arm.manifestDigest, indexDigest });
    expect(pulled.config.architecture).toBe('arm64');
    expect(await dst.hasBlob(indexDigest)).toBe(true);
    expect(await dst.hasBlob(arm.layers[0]!.digest)).toBe(true);
    expect(await dst.hasBlob(images[0]!.layers[0]!.digest)).toBe(false);

    await expect(client().pull(ref('kiln/multi', '1.0'), await store(), { platform: { os: 'linux', architecture: 's390x' } })).rejects.toThrow(
      /no image for platform linux\/s390x.*linux\/amd64, linux\/arm64\/v8/,
    );
    // A single-platform image and another platform: refused before any layer is fetched.
    const single = await buildImage(src, [{ 'only.txt': 'amd64 only\n' }]);
    await client().push(src, single.manifestDigest, [ref('kiln/single')]);
    const other = await store();
    await expect(client().pull(ref('kiln/single'), other, { platform: { os: 'linux', architecture: 'arm64' } })).rejects.toThrow(
      /the image is for linux\/amd64, not linux\/arm64/,
    );
    expect(await other.hasBlob(single.layers[0]!.digest)).toBe(false);

    // By digest, from the index.
    const byDigest = parseReference(`${reg.host}/kiln/multi@${indexDigest}`);
    expect(await client().resolveDigest(byDigest)).toBe(indexDigest);
    expect((await client().pull(byDigest, await store(), { platform: { os: 'linux', architecture: 'amd64' } })).manifestDigest).toBe(
      images[0]!.manifestDigest,
    );
  });

  it('pulls Docker v2 schema 2 manifests', async () => {
    const src = await store();
    const layerTar = gzipSync(Buffer.from('not really a tar, but a blob'));
    const layer = await src.writeBlob(layerTar);
    const cfg = await src.writeJson({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256('x')] } });
    const manifest = {
      schemaVersion: 2,
      mediaType: MediaTypes.dockerManifest,
      config: { mediaType: MediaTypes.dockerConfig, size: cfg.size, digest: cfg.digest },
      layers: [{ mediaType: MediaTypes.dockerLayerGzip, size: layer.size, digest: layer.digest }],
    };
    const bytes = Buffer.from(JSON.stringify(manifest, null, 3));
    const c = client();
    const r = ref('kiln/docker', 'v2');
    expect(await c.uploadBlob(r, src, layer.digest)).toBe('uploaded');
    expect(await c.uploadBlob(r, src, cfg.digest)).toBe('uploaded');
    expect(await c.uploadBlob(r, src, cfg.digest)).toBe('exists');
    const empty = await src.writeBlob(Buffer.alloc(0));
    expect(await c.uploadBlob(r, src, empty.digest)).toBe('uploaded');
    expect(await c.hasBlob(r, empty.digest)).toBe(true);
    const digest = await c.putManifest(r, 'v2', bytes, MediaTypes.dockerManifest);
    expect(digest).toBe(sha256(bytes));
    const got = await c.getManifest(r, 'v2');
    expect(got).toEqual({ digest, mediaType: MediaTypes.dockerManifest, bytes });

    const dst = await store();
    const pulled = await c.pull(r, dst);
    expect(pulled.manifestDigest).toBe(digest);
    expect((await dst.readBlob(digest)).equals(bytes)).toBe(true);
    expect(await dst.hasBlob(layer.digest)).toBe(true);
  });

  it('does not download blobs the store already has', async () => {
    const src = await store();
    const img = await buildImage(src, [{ 'x.txt': 'cached\n' }]);
    await client().push(src, img.manifestDigest, [ref('kiln/cached')]);
    const gets = reg.requests('GET', /\/blobs\//);
    const events: RegistryEvent[] = [];
    // The source store has every blob: nothing is fetched but the manifest.
    await client(events).pull(ref('kiln/cached'), src);
    expect(reg.requests('GET', /\/blobs\//)).toBe(gets);
    expect(events.filter((e) => e.type === 'blob-exists')).toHaveLength(2);
    expect(events.filter((e) => e.type === 'blob-download')).toHaveLength(0);

    const c = client();
    const dst = await store();
    await c.fetchBlobToStore(ref('kiln/cached'), img.layers[0]!.digest, dst, img.layers[0]!.size);
    await c.fetchBlobToStore(ref('kiln/cached'), img.layers[0]!.digest, dst, img.layers[0]!.size);
    expect(reg.requests('GET', /\/blobs\//)).toBe(gets + 1);
    expect(await c.hasBlob(ref('kiln/cached'), img.layers[0]!.digest)).toBe(true);
    expect(await c.hasBlob(ref('kiln/cached'), sha256('nope'))).toBe(false);
  });

  it('rejects a blob the registry serves corrupted, stores nothing, and names blob and registry', async () => {
    const src = await store();
    const img = await buildImage(src, [{ 'victim.txt': 'x'.repeat(5000) }]);
    await client().push(src, img.manifestDigest, [ref('kiln/corrupt')]);
    // Flip bytes in the registry's own copy of the layer (same length): it serves it as it is.
    const hex = img.layers[0]!.digest.slice('sha256:'.length);
    const file = join(reg.root, 'data/docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
    const good = await src.readBlob(img.layers[0]!.digest);
    const bad = Buffer.from(good);
    bad[bad.length - 10] = bad[bad.length - 10]! ^ 0xff;
    writeFileSync(file, bad);

    const dst = await store();
    const events: RegistryEvent[] = [];
    const err = await client(events, { retries: 2 })
      .pull(ref('kiln/corrupt'), dst)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BlobVerificationError);
    const msg = (err as Error).message;
    expect(msg).toContain(img.layers[0]!.digest);
    expect(msg).toContain(`${reg.host}/kiln/corrupt`);
    expect(msg).toMatch(/3 attempt\(s\); nothing was stored/);
    expect(events.filter((e) => e.type === 'retry')).toHaveLength(2);
    expect(await dst.hasBlob(img.layers[0]!.digest)).toBe(false);
    // No temp file left behind either.
    expect(readdirSync(join(dst.root, 'tmp')).filter((n) => !n.startsWith('.'))).toEqual([]);
    writeFileSync(file, good);
  });

  it('reports a missing image, a missing blob and an unreachable registry clearly', async () => {
    const c = client(undefined, { retries: 1 });
    const err = await c.pull(ref('kiln/nothing-here', 'v9'), await store()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ManifestNotFoundError);
    expect((err as Error).message).toMatch(
      new RegExp(`pulling manifest "v9" of ${reg.host.replace(/\./g, '\\.')}/kiln/nothing-here failed: image not found: .*(NAME_UNKNOWN|MANIFEST_UNKNOWN)`),
    );
    await expect(c.resolveDigest(ref('kiln/nothing-here', 'v9'))).rejects.toThrow(/image not found/);

    const missing = sha256('missing blob');
    await expect(c.fetchBlobToStore(ref('kiln/again'), missing, await store())).rejects.toThrow(
      new RegExp(`downloading blob ${missing} from ${reg.host.replace(/\./g, '\\.')}/kiln/again failed: the registry has no such blob`),
    );

    // A port where nothing listens (this registry's port + a closed socket): refused, retried, clear.
    const closed = parseReference(`127.0.0.1:9/kiln/x:1`);
    const t0 = Date.now();
    const e2 = await c.resolveDigest(closed).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(RegistryError);
    expect((e2 as Error).message).toMatch(/contacting registry 127\.0\.0\.1:9 failed: cannot reach 127\.0\.0\.1:9: ECONNREFUSED .*check that the registry is running/);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
});
