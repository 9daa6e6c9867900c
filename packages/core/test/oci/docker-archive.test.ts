import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { OCI_SCHEMAS, validateOciDocument } from '../helpers/oci-schema.js';
import { haveNow } from '../helpers/requirements.js';
import { readDockerArchive, writeDockerArchive } from '../../src/oci/docker-archive.js';
import type { DockerArchiveManifestItem } from '../../src/oci/docker-archive.js';
import { OciError } from '../../src/oci/image.js';
import { readOciLayout } from '../../src/oci/layout.js';
import { MediaTypes } from '../../src/oci/media-types.js';
import { STORE_KINDS, openWriters } from './stores.js';
import type { OciStore } from './stores.js';
import { buildTestImage, buildTestIndex, gnuTar, sha256 } from './fixtures.js';
import type { TestImage } from './fixtures.js';

describe.each(STORE_KINDS)('%s', (_kind, makeStore) => {
  let work: string;
  let store: OciStore;
  let fresh: OciStore;
  let image: TestImage;

  beforeEach(async () => {
    work = await mkdtemp(join(tmpdir(), 'kiln-oci-archive-'));
    store = await makeStore(join(work, 'store'));
    fresh = await makeStore(join(work, 'fresh'));
    image = await buildTestImage(store, [
      { files: { 'etc/hello.txt': 'hello\n' } },
      { files: { 'app/data.txt': 'data\n' }, uncompressed: true },
    ]);
  });

  afterEach(async () => {
    expect(openWriters(store)).toBe(0);
    expect(openWriters(fresh)).toBe(0);
    await rm(work, { recursive: true, force: true });
  });

  /** `tar -tv` of a file, as [mode owner size date name] lines from GNU tar. */
  function listTar(file: string): string[] {
    return execFileSync('tar', ['--numeric-owner', '--full-time', '-tvf', file], { encoding: 'utf8' }).trim().split('\n');
  }

  function tarNames(file: string): string[] {
    return execFileSync('tar', ['-tf', file], { encoding: 'utf8' }).trim().split('\n');
  }

  function extract(file: string, member: string): Buffer {
    return execFileSync('tar', ['-xOf', file, member]);
  }

  /** Makes a tar of a prepared directory with GNU tar, entries in the order given. */
  function tarDir(dir: string, out: string, members: string[], extra: string[] = []): void {
    execFileSync('tar', ['--owner=0', '--group=0', '--numeric-owner', '-cf', out, ...extra, '-C', dir, ...members]);
  }

  describe('writeDockerArchive', () => {
    it("writes Docker 25's shape, sorted, with fixed times and owners", async () => {
      const file = join(work, 'out', 'image.tar');
      const res = await writeDockerArchive(file, store, image.manifestDigest, ['app:1.0', 'registry.example.com/team/app:latest']);
      expect(res.manifestDigest).toBe(image.manifestDigest);
      const blobs = [image.manifestDigest, image.configDigest, ...image.layers.map((l) => l.digest)]
        .map((d) => `blobs/sha256/${d.slice(7)}`)
        .sort();
      expect(tarNames(file)).toEqual(['blobs/', 'blobs/sha256/', ...blobs, 'index.json', 'manifest.json', 'oci-layout', 'repositories']);
      for (const line of listTar(file)) expect(line).toMatch(/^(-rw-r--r--|drwxr-xr-x) 0\/0 +\d+ 1970-01-01 00:00:00 /);

      const manifest = JSON.parse(extract(file, 'manifest.json').toString()) as DockerArchiveManifestItem[];
      expect(manifest).toEqual([
        {
          Config: `blobs/sha256/${image.configDigest.slice(7)}`,
          RepoTags: ['app:1.0', 'registry.example.com/team/app:latest'],
          Layers: image.layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`),
        },
      ]);
      expect(JSON.parse(extract(file, 'repositories').toString())).toEqual({
        app: { '1.0': image.layers[1]!.digest.slice(7) },
        'registry.example.com/team/app': { latest: image.layers[1]!.digest.slice(7) },
      });
      const index = JSON.parse(extract(file, 'index.json').toString()) as { manifests: { annotations: Record<string, string> }[] };
      expect(index.manifests.map((m) => m.annotations)).toEqual([
        { 'io.containerd.image.name': 'docker.io/library/app:1.0', 'org.opencontainers.image.ref.name': '1.0' },
        { 'io.containerd.image.name': 'registry.example.com/team/app:latest', 'org.opencontainers.image.ref.name': 'latest' },
      ]);
      // layers are stored as they are in the store
      for (const l of image.layers) expect(sha256(extract(file, `blobs/sha256/${l.digest.slice(7)}`))).toBe(l.digest);
      if (haveNow([OCI_SCHEMAS], 'validating the archive against the OCI schemas')) {
        expect(validateOciDocument(MediaTypes.ociIndex, extract(file, 'index.json')).errors).toEqual([]);
        expect(validateOciDocument(MediaTypes.ociLayoutHeader, extract(file, 'oci-layout')).errors).toEqual([]);
      }
    });

    it('is deterministic', async () => {
      await writeDockerArchive(join(work, 'a.tar'), store, image.manifestDigest, ['app:1']);
      await writeDockerArchive(join(work, 'b.tar'), store, image.manifestDigest, ['app:1']);
      expect(await readFile(join(work, 'a.tar'))).toEqual(await readFile(join(work, 'b.tar')));
    });

    it('is also an OCI image layout', async () => {
      const file = join(work, 'image.tar');
      await writeDockerArchive(file, store, image.manifestDigest, ['app:1']);
      const dir = join(work, 'x');
      await mkdir(dir);
      execFileSync('tar', ['-xf', file, '-C', dir]);
      const got = await readOciLayout(dir, fresh, '1');
      expect(got.manifestDigest).toBe(image.manifestDigest);
    });

    it('saves one platform of an index, and refuses digests as tags', async () => {
      const idx = await buildTestIndex(store, [{ image, platform: { architecture: 'amd64', os: 'linux' } }]);
      const file = join(work, 'image.tar');
      const res = await writeDockerArchive(file, store, idx.digest, [], { platform: 'linux/amd64' });
      expect(res.manifestDigest).toBe(image.manifestDigest);
      expect(tarNames(file)).not.toContain('repositories');
      await expect(writeDockerArchive(file, store, image.manifestDigest, [`app@${image.manifestDigest}`])).rejects.toThrow(
        /only name images by tag/,
      );
    });

    it('leaves nothing behind when a blob is missing', async () => {
      await rm(store.blobPath(image.layers[0]!.digest));
      const file = join(work, 'out', 'image.tar');
      await expect(writeDockerArchive(file, store, image.manifestDigest, ['a:b'])).rejects.toThrow(/is not in the store/);
      await expect(readFile(file)).rejects.toThrow(/ENOENT/);
    });
  });

  describe('readDockerArchive', () => {
    it('round-trips what writeDockerArchive wrote, keeping the manifest digest', async () => {
      const file = join(work, 'image.tar');
      await writeDockerArchive(file, store, image.manifestDigest, ['app:1.0']);
      const got = await readDockerArchive(file, fresh);
      expect(got.manifestDigest).toBe(image.manifestDigest);
      expect(got.configDigest).toBe(image.configDigest);
      expect(got.repoTags).toEqual(['app:1.0']);
      expect(got.config.rootfs.diff_ids).toEqual(image.layers.map((l) => l.diffId));
      expect(got.manifest.layers.map((l) => [l.mediaType, l.digest])).toEqual(image.layers.map((l) => [l.mediaType, l.digest]));
      for (const l of image.layers) expect(await fresh.readBlob(l.digest)).toEqual(await store.readBlob(l.digest));
    });

    it('reads a gzipped archive', async () => {
      const file = join(work, 'image.tar');
      await writeDockerArchive(file, store, image.manifestDigest, ['app:1.0']);
      await writeFile(`${file}.gz`, gzipSync(await readFile(file)));
      expect((await readDockerArchive(`${file}.gz`, fresh)).manifestDigest).toBe(image.manifestDigest);
    });

    /** A legacy (Docker < 25) archive: <id>/layer.tar, <id>/json, <id>/VERSION, <config>.json; the second layer a symlink to the first. */
    async function legacyArchive(options: { badDiffId?: boolean; twoImages?: boolean } = {}): Promise<{
      file: string;
      layerTar: Buffer;
      configDigest: string;
    }> {
      const dir = join(work, 'legacy');
      const layerTar = await gnuTar({ 'hello.txt': 'legacy\n' });
      const diffId = sha256(layerTar);
      const config = {
        architecture: 'amd64',
        os: 'linux',
        config: { Cmd: ['/hello'] },
        rootfs: { type: 'layers', diff_ids: [options.badDiffId ? sha256('other') : diffId, diffId] },
      };
      const configBytes = Buffer.from(JSON.stringify(config));
      const configHex = sha256(configBytes).slice(7);
      const id1 = 'a'.repeat(64);
      const id2 = 'b'.repeat(64);
      await mkdir(join(dir, id1), { recursive: true });
      await mkdir(join(dir, id2), { recursive: true });
      await writeFile(join(dir, id1, 'layer.tar'), layerTar);
      await symlink(`../${id1}/layer.tar`, join(dir, id2, 'layer.tar'));
      for (const id of [id1, id2]) {
        await writeFile(join(dir, id, 'VERSION'), '1.0');
        await writeFile(join(dir, id, 'json'), JSON.stringify({ id }));
      }
      await writeFile(join(dir, `${configHex}.json`), configBytes);
      const items: DockerArchiveManifestItem[] = [
        { Config: `${configHex}.json`, RepoTags: ['legacy:latest'], Layers: [`${id1}/layer.tar`, `${id2}/layer.tar`] },
      ];
      if (options.twoImages) {
        items.push({ Config: `${configHex}.json`, RepoTags: ['other:2', 'other:3'], Layers: [`${id1}/layer.tar`, `${id2}/layer.tar`] });
      }
      await writeFile(join(dir, 'manifest.json'), JSON.stringify(items));
      await writeFile(join(dir, 'repositories'), JSON.stringify({ legacy: { latest: id2 } }));
      const file = join(work, 'legacy.tar');
      tarDir(dir, file, [id1, id2, `${configHex}.json`, 'manifest.json', 'repositories']);
      return { file, layerTar, configDigest: `sha256:${configHex}` };
    }

    it('reads the legacy layout, following layer symlinks, keeping plain tars uncompressed', async () => {
      const { file, layerTar, configDigest } = await legacyArchive();
      const got = await readDockerArchive(file, fresh);
      expect(got.repoTags).toEqual(['legacy:latest']);
      expect(got.configDigest).toBe(configDigest);
      expect(got.manifest.config).toEqual({ mediaType: MediaTypes.ociConfig, digest: configDigest, size: expect.any(Number) });
      expect(got.manifest.layers).toEqual([
        { mediaType: MediaTypes.ociLayer, digest: sha256(layerTar), size: layerTar.length },
        { mediaType: MediaTypes.ociLayer, digest: sha256(layerTar), size: layerTar.length },
      ]);
      expect(await fresh.readBlob(got.manifestDigest)).toEqual(Buffer.from(JSON.stringify(got.manifest)));
      expect(await fresh.readBlob(sha256(layerTar))).toEqual(layerTar);
      if (haveNow([OCI_SCHEMAS], 'validating the converted manifest against the OCI schemas')) {
        expect(validateOciDocument(MediaTypes.ociManifest, got.manifest).errors).toEqual([]);
      }
    });

    it('chooses among several images by tag, and lists them otherwise', async () => {
      const { file } = await legacyArchive({ twoImages: true });
      await expect(readDockerArchive(file, fresh)).rejects.toThrow(
        /holds 2 images \("legacy:latest", "other:2", "other:3"\); name the one to use/,
      );
      expect((await readDockerArchive(file, fresh, 'other:3')).repoTags).toEqual(['other:2', 'other:3']);
      expect((await readDockerArchive(file, fresh, 'docker.io/library/legacy')).repoTags).toEqual(['legacy:latest']);
      expect((await readDockerArchive(file, fresh, '2')).repoTags).toEqual(['other:2', 'other:3']);
      await expect(readDockerArchive(file, fresh, 'nope:1')).rejects.toThrow(/has no image tagged "nope:1"; it has "legacy:latest"/);
    });

    it('checks diffIDs against the config', async () => {
      const { file } = await legacyArchive({ badDiffId: true });
      await expect(readDockerArchive(file, fresh)).rejects.toThrow(
        /layer 1 \(a{64}\/layer.tar\) has diffID sha256:[a-f0-9]{64} but the image config expects sha256:[a-f0-9]{64}; the archive is corrupt/,
      );
    });

    it('streams large layers into the store and drops the ones of images not chosen', async () => {
      const big = randomBytes(3 * 1024 * 1024); // incompressible: > 1 MiB also gzipped
      const a = await buildTestImage(store, [{ files: { 'big.bin': big } }, { files: { 'small.txt': 'small' } }]);
      const b = await buildTestImage(store, [{ files: { 'other.bin': randomBytes(2 * 1024 * 1024) } }]);
      const fa = join(work, 'a.tar');
      const fb = join(work, 'b.tar');
      await writeDockerArchive(fa, store, a.manifestDigest, ['a:1']);
      await writeDockerArchive(fb, store, b.manifestDigest, ['b:1']);
      // merge: one tar with both images (as `docker save a b` would write)
      const dir = join(work, 'merged');
      await mkdir(dir);
      execFileSync('tar', ['-xf', fa, '-C', dir]);
      execFileSync('tar', ['-xf', fb, '-C', dir]);
      const items = [
        ...(JSON.parse(extract(fa, 'manifest.json').toString()) as DockerArchiveManifestItem[]),
        ...(JSON.parse(extract(fb, 'manifest.json').toString()) as DockerArchiveManifestItem[]),
      ];
      await writeFile(join(dir, 'manifest.json'), JSON.stringify(items));
      await rm(join(dir, 'index.json'));
      const merged = join(work, 'merged.tar');
      tarDir(dir, merged, ['blobs', 'manifest.json']);

      const got = await readDockerArchive(merged, fresh, 'a:1');
      expect(got.manifestDigest).toBe(a.manifestDigest); // the manifest blob in blobs/ is reused
      expect(await fresh.hasBlob(a.layers[0]!.digest)).toBe(true);
      expect(await fresh.hasBlob(b.layers[0]!.digest)).toBe(false);
      expect(openWriters(fresh)).toBe(0);
    });

    it('reads a tar that is only an OCI layout', async () => {
      const file = join(work, 'image.tar');
      await writeDockerArchive(file, store, image.manifestDigest, ['app:2']);
      const dir = join(work, 'oci');
      await mkdir(dir);
      execFileSync('tar', ['-xf', file, '-C', dir]);
      const ociTar = join(work, 'oci.tar');
      tarDir(dir, ociTar, ['blobs', 'index.json', 'oci-layout']);
      const got = await readDockerArchive(ociTar, fresh, 'app:2');
      expect(got.manifestDigest).toBe(image.manifestDigest);
      expect(got.repoTags).toEqual(['app:2']);
    });

    it('explains broken inputs', async () => {
      const missing = join(work, 'missing.tar');
      await expect(readDockerArchive(missing, fresh)).rejects.toThrow(/no such file/);
      const notTar = join(work, 'not.tar');
      await writeFile(notTar, 'this is not a tar archive at all'.repeat(40));
      await expect(readDockerArchive(notTar, fresh)).rejects.toThrow(OciError);
      const empty = join(work, 'empty');
      await mkdir(empty);
      await writeFile(join(empty, 'hello.txt'), 'x');
      const noManifest = join(work, 'nomanifest.tar');
      tarDir(empty, noManifest, ['hello.txt']);
      await expect(readDockerArchive(noManifest, fresh)).rejects.toThrow(/neither manifest.json nor index.json/);
      await writeFile(join(empty, 'manifest.json'), JSON.stringify([{ Config: 'c.json', RepoTags: null, Layers: ['l.tar'] }]));
      tarDir(empty, noManifest, ['manifest.json']);
      await expect(readDockerArchive(noManifest, fresh)).rejects.toThrow(/has no file "c.json"/);
    });
  });
});
