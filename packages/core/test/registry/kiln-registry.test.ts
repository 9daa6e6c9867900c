// kiln build --push, kiln push, kiln pull and FROM of a registry image, against the real CNCF
// registry (docker-registry, started on 127.0.0.1 by the test), with and without htpasswd auth.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256, startRegistry, skopeoInspect, type TestRegistry } from '../helpers/registry.js';
import { MediaTypes } from '../../src/oci/media-types.js';
import type { ImageConfig, ImageManifest } from '../../src/oci/types.js';
import { describeNeeding, tools } from '../helpers/requirements.js';
import { kiln, kilnBin, writeTree } from '../engine/kiln-helpers.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { openStore } from '../../src/store/store.js';

const work = mkdtempSync(join(tmpdir(), 'kiln-reg-'));
const ctx = writeTree(join(work, 'ctx'), {
  Dockerfile: 'FROM scratch\nCOPY app.txt /app.txt\nCOPY big.bin /big.bin\nCMD ["/app"]\n',
  'app.txt': 'version 1\n',
  'big.bin': 'x'.repeat(3 << 20),
});

describeNeeding(tools('docker-registry', 'skopeo'), 'kiln and a real registry (no auth)', () => {
  let registry: TestRegistry;
  beforeAll(async () => {
    registry = await startRegistry();
  }, 60_000);
  afterAll(() => registry?.stop());

  it('build --push publishes every tag; skopeo reads it; pushing again sends no blob', async () => {
    const store = join(work, 'store-a');
    const image = `${registry.host}/team/app`;
    const meta = join(work, 'push-meta.json');
    const built = await kiln(['build', '--store', store, '-q', '-t', `${image}:1`, '-t', `${image}:latest`, '--push', '--metadata-file', meta, ctx]);
    expect(built.stderr).toBe('');
    expect(built.code).toBe(0);
    const inspect = (await skopeoInspect(`${image}:1`)) as { Layers: string[]; Digest: string };
    expect(inspect.Layers).toHaveLength(2);
    const latest = (await skopeoInspect(`${image}:latest`)) as { Digest: string };
    expect(latest.Digest).toBe(inspect.Digest);
    const before = registry.requests('PUT', /\/blobs\/uploads\//);
    const again = await kiln(['push', '--store', store, `${image}:1`]);
    expect(again.stdout).toMatch(/digest: sha256:[0-9a-f]{64} \(0 blobs uploaded, 0 mounted, 3 already there\)/);
    expect(registry.requests('PUT', /\/blobs\/uploads\//)).toBe(before);
  });

  it('a push sends gzip layers whose contents are the diff_ids, compressing each layer once; --compression none sends plain tar', async () => {
    const store = join(work, 'store-gz');
    const image = `${registry.host}/team/gz`;
    const built = await kiln(['build', '--store', store, '-q', '-t', `${image}:1`, ctx]);
    expect(built.code).toBe(0);
    const local = await openStore(store);
    const localManifest = await local.readJson<ImageManifest>((await local.getRef(`${image}:1`))!);
    expect(localManifest.layers.map((l) => l.mediaType)).toEqual([MediaTypes.ociLayer, MediaTypes.ociLayer]);

    const pushed = await kiln(['push', '--store', store, `${image}:1`]);
    expect(pushed.code).toBe(0);
    const manifest = (await skopeoInspect(`${image}:1`, { raw: true })) as ImageManifest;
    const config = (await skopeoInspect(`${image}:1`, { config: true })) as ImageConfig;
    expect(manifest.layers.map((l) => l.mediaType)).toEqual([MediaTypes.ociLayerGzip, MediaTypes.ociLayerGzip]);
    // Each blob the registry holds is gzip of exactly the plain layer its diff_id names; the
    // config (so the image ID) is the one the build made.
    expect(manifest.config.digest).toBe(localManifest.config.digest);
    for (const [i, layer] of manifest.layers.entries()) {
      const blob = Buffer.from(await (await fetch(`${registry.url}/v2/team/gz/blobs/${layer.digest}`)).arrayBuffer());
      expect(blob.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
      expect(blob.length).toBe(layer.size);
      expect(sha256(gunzipSync(blob))).toBe(config.rootfs.diff_ids[i]);
    }
    expect(pushed.stdout).toContain(`digest: ${sha256(JSON.stringify(manifest))}`);
    // kiln images --digests shows where the registry has it: the pushed (gzip) manifest.
    const digests = await kiln(['images', '--store', store, '--digests', '--format', '{{.Digest}}', `${image}:1`]);
    expect(digests.stdout.trim()).toBe(sha256(JSON.stringify(manifest)));

    // Another repository (a new process, so nothing in memory): the remembered gzip blobs are
    // sent, none is compressed again, and the pushed digest is the same.
    const blobsBefore = readdirSync(join(store, 'blobs', 'sha256')).sort();
    await kiln(['tag', '--store', store, `${image}:1`, `${registry.host}/team/gz-copy:1`]);
    const copy = await kiln(['push', '--store', store, '-q', `${registry.host}/team/gz-copy:1`]);
    expect(copy.stdout.trim()).toBe(sha256(JSON.stringify(manifest)));
    expect(readdirSync(join(store, 'blobs', 'sha256')).sort()).toEqual(blobsBefore);

    const plain = await kiln(['push', '--store', store, '--compression', 'none', `${image}:1`]);
    expect(plain.code).toBe(0);
    const plainManifest = (await skopeoInspect(`${image}:1`, { raw: true })) as ImageManifest;
    expect(plainManifest.layers.map((l) => l.digest)).toEqual(localManifest.layers.map((l) => l.digest));
    expect((await kiln(['push', '--store', store, '--compression', 'zstd', `${image}:1`])).stderr).toMatch(/--compression must be gzip, gzip:LEVEL with LEVEL 0-9, or none, not "zstd"/);
  });

  it('a one-file change uploads exactly one layer', async () => {
    const store = join(work, 'store-a');
    const image = `${registry.host}/team/app`;
    writeFileSync(join(ctx, 'app.txt'), 'version 2\n');
    const before = registry.requests('PUT', /\/blobs\/uploads\//);
    const built = await kiln(['build', '--store', store, '--progress', 'plain', '-t', `${image}:2`, '--push', ctx]);
    expect(built.code).toBe(0);
    // the changed layer and the new config; the unchanged 3 MB layer is not sent again
    expect(registry.requests('PUT', /\/blobs\/uploads\//) - before).toBe(2);
    expect(built.stderr).toMatch(/pushed .*: 2 blobs uploaded \(\d+ bytes\), 0 mounted, 1 already there/);
    writeFileSync(join(ctx, 'app.txt'), 'version 1\n');
  });

  it('a second store builds FROM the pushed image by pulling it, and kiln pull fetches it too', async () => {
    const image = `${registry.host}/team/app:1`;
    const child = writeTree(join(work, 'child'), { Dockerfile: `FROM ${image}\nLABEL child=yes\n` });
    const store = join(work, 'store-b');
    const built = await kiln(['build', '--store', store, '-q', '-t', 'child:1', child]);
    expect(built.stderr).toBe('');
    const s = await openStore(store);
    expect(await s.getRef(`${image}`)).toMatch(/^sha256:/);
    const pulled = await kiln(['pull', '--store', join(work, 'store-c'), image]);
    expect(pulled.stdout).toMatch(/^Digest: sha256:[0-9a-f]{64}\nStatus: Downloaded /);
  });

  it("a later kiln push mounts the pulled base's layers from the base's repository instead of uploading them", async () => {
    const base = `${registry.host}/team/app:1`;
    const child = writeTree(join(work, 'mount-child'), { Dockerfile: `FROM ${base}\nCOPY extra.txt /extra.txt\n`, 'extra.txt': 'extra\n' });
    const store = join(work, 'store-mount');
    const app = `${registry.host}/other/app:1`;
    expect((await kiln(['build', '--store', store, '-q', '-t', app, child])).code).toBe(0);
    const uploadsBefore = registry.requests('PUT', /\/blobs\/uploads\//);
    const pushed = await kiln(['push', '--store', store, app]);
    expect(pushed.code).toBe(0);
    // The base's two layers are mounted; the new layer and the config are uploaded.
    expect(pushed.stdout).toMatch(/\(2 blobs uploaded, 2 mounted, 0 already there\)/);
    expect(registry.requests('PUT', /\/blobs\/uploads\//) - uploadsBefore).toBe(2);
    expect(((await skopeoInspect(app)) as { Layers: string[] }).Layers).toHaveLength(3);
  });

  it('a COPY --link build FROM a registry image downloads none of its layers; push mounts them, save fetches them', async () => {
    const base = `${registry.host}/team/app:1`;
    const baseLayers = ((await skopeoInspect(base, { raw: true })) as ImageManifest).layers.map((l) => l.digest);
    const layerGets = () => baseLayers.reduce((n, d) => n + registry.requests('GET', new RegExp(`/blobs/${d}$`)), 0);
    const child = writeTree(join(work, 'lazy-child'), {
      Dockerfile: `FROM ${base}\nCOPY --link extra.txt /srv/extra.txt\nENV MODE=lazy\nCMD ["/app"]\n`,
      'extra.txt': 'extra\n',
    });
    const store = join(work, 'store-lazy');
    const app = `${registry.host}/lazy/app:1`;
    const before = layerGets();
    const built = await kiln(['build', '--store', store, '-q', '-t', app, child]);
    expect(built.stderr).toBe('');
    expect(built.code).toBe(0);
    expect(layerGets()).toBe(before); // manifest and config only
    const local = await openStore(store);
    for (const d of baseLayers) expect(await local.hasBlob(d)).toBe(false);

    // The push mounts the base's layers from its repository: still no download, and the
    // registry has the whole image.
    const pushed = await kiln(['push', '--store', store, app]);
    expect(pushed.stdout).toMatch(/\(2 blobs uploaded, 2 mounted, 0 already there\)/);
    expect(layerGets()).toBe(before);
    const pulled = await kiln(['pull', '--store', join(work, 'store-lazy-check'), app]);
    expect(pulled.code).toBe(0);

    // An archive holds every layer: kiln save fetches them, once.
    const beforeSave = layerGets();
    const saved = await kiln(['save', '--store', store, '-o', join(work, 'lazy.tar'), app]);
    expect(saved.stderr).toBe('');
    expect(layerGets() - beforeSave).toBe(baseLayers.length);
    for (const d of baseLayers) expect(await local.hasBlob(d)).toBe(true);

    // Without --link, where the file lands depends on the base's files: they are read.
    const plain = writeTree(join(work, 'plain-child'), { Dockerfile: `FROM ${base}\nCOPY extra.txt /srv/extra.txt\n`, 'extra.txt': 'extra\n' });
    const beforePlain = layerGets();
    expect((await kiln(['build', '--store', join(work, 'store-plain'), '-q', plain])).code).toBe(0);
    expect(layerGets() - beforePlain).toBe(baseLayers.length);
  });

  it('a push to another registry fetches the base layers it cannot mount, however many (no transfer slot is held while they download)', async () => {
    // Six base layers: more than the client's four transfer slots.
    const files: Record<string, string> = { Dockerfile: `FROM scratch\n${[1, 2, 3, 4, 5, 6].map((i) => `COPY f${i} /f${i}\n`).join('')}` };
    for (let i = 1; i <= 6; i++) files[`f${i}`] = `file ${i}\n`.repeat(i * 1000);
    const base = `${registry.host}/team/six:1`;
    expect((await kiln(['build', '--store', join(work, 'store-six'), '-q', '-t', base, '--push', writeTree(join(work, 'six'), files)])).code).toBe(0);
    const child = writeTree(join(work, 'six-child'), { Dockerfile: `FROM ${base}\nCOPY --link extra.txt /extra.txt\n`, 'extra.txt': 'extra\n' });
    const store = join(work, 'store-six-child');
    const other = await startRegistry();
    try {
      const app = `${other.host}/team/app:1`;
      expect((await kiln(['build', '--store', store, '-q', '-t', app, child])).code).toBe(0);
      const pushed = await kiln(['push', '--store', store, app]);
      expect(pushed.stderr).toBe('');
      expect(pushed.stdout).toMatch(/\(8 blobs uploaded, 0 mounted, 0 already there\)/);
      expect(((await skopeoInspect(app)) as { Layers: string[] }).Layers).toHaveLength(7);
    } finally {
      await other.stop();
    }
  });

  it('Ctrl-C ends a build at once while its RUN waits for base layers that are still downloading', async () => {
    // Every layer download hangs: the RUN waits for its base's layers until the interrupt.
    const proxy = await startFaultProxy(registry.url);
    try {
      const base = `${registry.host}/team/stalled-base:1`;
      expect((await kiln(['build', '--store', join(work, 'store-stalled-base'), '-q', '-t', base, '--push', ctx])).code).toBe(0);
      const layers = ((await skopeoInspect(base, { raw: true })) as ImageManifest).layers.map((l) => l.digest);
      proxy.addFault({ method: 'GET', path: new RegExp(`/blobs/(${layers.join('|')})$`), nth: 'every', action: { kind: 'stall' } });
      const child = writeTree(join(work, 'interrupted'), { Dockerfile: `FROM ${proxy.host}/team/stalled-base:1\nRUN /app\n` });
      const build = spawn(process.execPath, [kilnBin, 'build', '--store', join(work, 'store-interrupted'), '--progress', 'plain', child], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      build.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const exited = new Promise<number | null>((resolve) => build.on('exit', (code) => resolve(code)));
      for (const deadline = Date.now() + 20_000; proxy.requests('GET', new RegExp(`/blobs/${layers[0]}$`)) === 0; ) {
        if (Date.now() > deadline) throw new Error(`the build never asked for its base layer:\n${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const interrupted = Date.now();
      build.kill('SIGINT');
      const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 15_000))]);
      if (code === 'hung') build.kill('SIGKILL');
      if (code !== 130) console.log(stderr);
      expect(code).toBe(130);
      expect(Date.now() - interrupted).toBeLessThan(15_000);
    } finally {
      await proxy.stop();
    }
  }, 60_000);

  it('an image that is in neither the store nor the registry is a clear error', async () => {
    const missing = writeTree(join(work, 'missing'), { Dockerfile: `FROM ${registry.host}/nope/nothing:1\n` });
    const r = await kiln(['build', '--store', join(work, 'store-d'), '-q', missing]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: Dockerfile:1: .*not found/);
  });
});

describeNeeding(tools('docker-registry', 'htpasswd'), 'kiln login and a registry with htpasswd auth', () => {
  let registry: TestRegistry;
  const dockerConfig = join(work, 'docker-config');
  beforeAll(async () => {
    registry = await startRegistry({ auth: 'htpasswd' });
    process.env.DOCKER_CONFIG = dockerConfig;
  }, 60_000);
  afterAll(async () => {
    delete process.env.DOCKER_CONFIG;
    await registry?.stop();
  });

  it('push without credentials says to log in; after kiln login it works', async () => {
    const image = `${registry.host}/secure/app:1`;
    const store = join(work, 'store-auth');
    const denied = await kiln(['build', '--store', store, '-q', '-t', image, '--push', ctx]);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/kiln login/);
    const password = registry.users['kiln']!;
    const login = await kiln(['login', '-u', 'kiln', '-p', password, registry.host]);
    expect(login.stdout).toMatch(/Login Succeeded/);
    const pushed = await kiln(['push', '--store', store, image]);
    expect(pushed.code).toBe(0);
    expect(pushed.stdout + pushed.stderr).not.toContain(password);
    expect(denied.stderr).not.toContain(password);
  });
});
