import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OCI_SCHEMAS, validateOciDocument } from '../helpers/oci-schema.js';
import { capability, haveNow, itNeeding } from '../helpers/requirements.js';
import { OciError } from '../../src/oci/image.js';
import type { OciIndex } from '../../src/oci/image.js';
import { layoutBlobPath, readOciLayout, writeOciLayout } from '../../src/oci/layout.js';
import { MediaTypes } from '../../src/oci/media-types.js';
import { STORE_KINDS, openWriters } from './stores.js';
import type { OciStore } from './stores.js';
import { buildTestImage, buildTestIndex, sha256 } from './fixtures.js';
import type { TestImage } from './fixtures.js';

describe.each(STORE_KINDS)('%s', (_kind, makeStore) => {
  let work: string;
  let store: OciStore;
  let image: TestImage;

  beforeEach(async () => {
    work = await mkdtemp(join(tmpdir(), 'kiln-oci-layout-'));
    store = await makeStore(join(work, 'store'));
    image = await buildTestImage(store, [
      { files: { 'etc/hello.txt': 'hello\n', 'bin/tool': '#!/bin/sh\necho tool\n' } },
      { files: { 'app/data.txt': 'data\n' }, uncompressed: true },
    ]);
  });

  afterEach(async () => {
    expect(openWriters(store)).toBe(0);
    await rm(work, { recursive: true, force: true });
  });

  async function readIndex(dir: string): Promise<OciIndex> {
    return JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as OciIndex;
  }

  describe('writeOciLayout', () => {
    it('writes oci-layout, index.json and every blob, hardlinked from the store', async () => {
      const dir = join(work, 'out', 'layout');
      const res = await writeOciLayout(dir, store, [{ manifestDigest: image.manifestDigest, refName: 'v1' }]);
      expect(res.blobsWritten).toBe(4);
      expect(JSON.parse(await readFile(join(dir, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
      const index = await readIndex(dir);
      expect(index).toEqual(res.index);
      expect(index).toEqual({
        schemaVersion: 2,
        mediaType: MediaTypes.ociIndex,
        manifests: [
          {
            mediaType: MediaTypes.ociManifest,
            digest: image.manifestDigest,
            size: image.manifestSize,
            annotations: { 'org.opencontainers.image.ref.name': 'v1' },
            platform: { architecture: 'amd64', os: 'linux' },
          },
        ],
      });
      const blobs = (await readdir(join(dir, 'blobs', 'sha256'))).sort();
      const expected = [image.manifestDigest, image.configDigest, ...image.layers.map((l) => l.digest)].map((d) => d.slice(7));
      expect(blobs).toEqual(expected.sort());
      for (const hex of blobs) {
        const data = await readFile(join(dir, 'blobs', 'sha256', hex));
        expect(sha256(data)).toBe(`sha256:${hex}`);
        const [a, b] = await Promise.all([stat(join(dir, 'blobs', 'sha256', hex)), stat(store.blobPath(`sha256:${hex}`))]);
        expect(a.ino).toBe(b.ino);
      }
      // nothing left behind beside the layout
      expect(await readdir(join(work, 'out'))).toEqual(['layout']);
    });

    itNeeding([OCI_SCHEMAS], 'writes documents that validate against the OCI schemas', async () => {
      const dir = join(work, 'layout');
      await writeOciLayout(dir, store, [{ manifestDigest: image.manifestDigest, refName: 'latest' }]);
      expect(validateOciDocument(MediaTypes.ociLayoutHeader, await readFile(join(dir, 'oci-layout'))).errors).toEqual([]);
      expect(validateOciDocument(MediaTypes.ociIndex, await readFile(join(dir, 'index.json'))).errors).toEqual([]);
      const manifest = await readFile(layoutBlobPath(dir, image.manifestDigest));
      expect(validateOciDocument(MediaTypes.ociManifest, manifest).errors).toEqual([]);
      expect(validateOciDocument(MediaTypes.ociConfig, await readFile(layoutBlobPath(dir, image.configDigest))).errors).toEqual([]);
    });

    it('copies when hardlinks are impossible (another filesystem)', async () => {
      let shm = '';
      let why = '';
      try {
        shm = await mkdtemp('/dev/shm/kiln-oci-');
      } catch (err) {
        why = (err as Error).message;
      }
      const devShm = capability('dev-shm', 'a writable /dev/shm (another filesystem)', () => why || undefined, 'mount a tmpfs on /dev/shm');
      if (!shm && !haveNow([devShm], 'copying when hardlinks are impossible')) return;
      try {
        const dir = join(shm, 'layout');
        await writeOciLayout(dir, store, [{ manifestDigest: image.manifestDigest }]);
        const layer = image.layers[0]!;
        const data = await readFile(layoutBlobPath(dir, layer.digest));
        expect(sha256(data)).toBe(layer.digest);
      } finally {
        await rm(shm, { recursive: true, force: true });
      }
    });

    it('updates an existing layout: new blobs, index.json replaced atomically, same ref name replaced', async () => {
      const dir = join(work, 'layout');
      const other = await buildTestImage(store, [{ files: { 'x.txt': 'x' } }]);
      const third = await buildTestImage(store, [{ files: { 'y.txt': 'y' } }]);
      await writeOciLayout(dir, store, [
        { manifestDigest: image.manifestDigest, refName: 'a' },
        { manifestDigest: other.manifestDigest, refName: 'b' },
      ]);
      const res = await writeOciLayout(dir, store, [
        { manifestDigest: third.manifestDigest, refName: 'a' },
        { manifestDigest: other.manifestDigest, refName: 'c' },
        { manifestDigest: image.manifestDigest },
      ]);
      expect(res.blobsWritten).toBe(3); // third's manifest, config and layer
      const index = await readIndex(dir);
      expect(index.manifests.map((m) => [m.annotations?.['org.opencontainers.image.ref.name'], m.digest])).toEqual([
        ['a', third.manifestDigest],
        ['b', other.manifestDigest],
        ['c', other.manifestDigest],
        [undefined, image.manifestDigest],
      ]);
      // no temp files left in the layout
      expect((await readdir(dir)).sort()).toEqual(['blobs', 'index.json', 'oci-layout']);
      expect((await readdir(join(dir, 'blobs', 'sha256'))).some((n) => n.includes('tmp'))).toBe(false);
      // an unnamed entry is not added twice
      await writeOciLayout(dir, store, [{ manifestDigest: image.manifestDigest }]);
      expect((await readIndex(dir)).manifests).toHaveLength(4);
    });

    it('writes into an empty existing directory', async () => {
      const dir = join(work, 'empty');
      await mkdir(dir);
      await writeOciLayout(dir, store, [{ manifestDigest: image.manifestDigest }]);
      expect((await readdir(dir)).sort()).toEqual(['blobs', 'index.json', 'oci-layout']);
    });

    it('refuses a non-empty directory that is not a layout, and missing blobs, before writing', async () => {
      const dir = join(work, 'busy');
      await mkdir(dir);
      await writeFile(join(dir, 'file.txt'), 'x');
      await expect(writeOciLayout(dir, store, [{ manifestDigest: image.manifestDigest }])).rejects.toThrow(
        /is not empty and is not an OCI image layout/,
      );
      await rm(store.blobPath(image.layers[1]!.digest));
      const dir2 = join(work, 'missing');
      await expect(writeOciLayout(dir2, store, [{ manifestDigest: image.manifestDigest }])).rejects.toThrow(
        new RegExp(`layer ${image.layers[1]!.digest} of image .* is not in the store`),
      );
      await expect(stat(dir2)).rejects.toThrow(/ENOENT/);
      await expect(writeOciLayout(dir2, store, [{ manifestDigest: sha256('nope') }])).rejects.toThrow(/not in the store/);
    });

    it('writes every blob an index reaches', async () => {
      const arm = await buildTestImage(store, [{ files: { 'arm.txt': 'arm' } }], {
        platform: { architecture: 'arm64', os: 'linux', variant: 'v8' },
      });
      const idx = await buildTestIndex(store, [
        { image, platform: { architecture: 'amd64', os: 'linux' } },
        { image: arm, platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } },
      ]);
      const dir = join(work, 'multi');
      await writeOciLayout(dir, store, [{ manifestDigest: idx.digest, refName: 'multi' }]);
      const index = await readIndex(dir);
      expect(index.manifests).toEqual([
        {
          mediaType: MediaTypes.ociIndex,
          digest: idx.digest,
          size: idx.size,
          annotations: { 'org.opencontainers.image.ref.name': 'multi' },
        },
      ]);
      expect((await readdir(join(dir, 'blobs', 'sha256'))).length).toBe(1 + 4 + 3);

      // reading it back picks the platform asked for
      const fresh = await makeStore(join(work, 'store2'));
      const got = await readOciLayout(dir, fresh, 'multi', { platform: 'linux/arm64' });
      expect(got.manifestDigest).toBe(arm.manifestDigest);
      expect(got.indexDigest).toBe(idx.digest);
      expect(await fresh.hasBlob(idx.digest)).toBe(true);
      expect(await fresh.hasBlob(arm.layers[0]!.digest)).toBe(true);
      expect(await fresh.hasBlob(image.layers[0]!.digest)).toBe(false);
      const amd = await readOciLayout(dir, fresh, undefined, { platform: { os: 'linux', architecture: 'amd64' } });
      expect(amd.manifestDigest).toBe(image.manifestDigest);
    });
  });

  describe('readOciLayout', () => {
    let dir: string;
    let fresh: OciStore;
    beforeEach(async () => {
      dir = join(work, 'layout');
      fresh = await makeStore(join(work, 'fresh'));
    });
    afterEach(() => expect(openWriters(fresh)).toBe(0));

    it('imports every blob, verified, and returns manifest and config', async () => {
      await writeOciLayout(dir, store, [{ manifestDigest: image.manifestDigest, refName: 'v1' }]);
      const got = await readOciLayout(dir, fresh, 'v1');
      expect(got.manifestDigest).toBe(image.manifestDigest);
      expect(got.configDigest).toBe(image.configDigest);
      expect(got.refName).toBe('v1');
      expect(got.config).toEqual(image.config);
      expect(got.manifest.layers.map((l) => [l.mediaType, l.digest])).toEqual(
        image.layers.map((l) => [l.mediaType, l.digest]),
      );
      for (const d of [image.manifestDigest, image.configDigest, ...image.layers.map((l) => l.digest)]) {
        expect(await fresh.readBlob(d)).toEqual(await store.readBlob(d));
      }
      // the only image is taken without a name
      expect((await readOciLayout(dir, fresh)).manifestDigest).toBe(image.manifestDigest);
    });

    it('names the choices when the name is missing or ambiguous', async () => {
      const other = await buildTestImage(store, [{ files: { 'x.txt': 'x' } }]);
      await writeOciLayout(dir, store, [
        { manifestDigest: image.manifestDigest, refName: 'one' },
        { manifestDigest: other.manifestDigest, refName: 'two' },
      ]);
      await expect(readOciLayout(dir, fresh)).rejects.toThrow(/has 2 images \("one", "two"\); name the one to use/);
      await expect(readOciLayout(dir, fresh, 'three')).rejects.toThrow(/has no image named "three"; it has "one", "two"/);
      expect((await readOciLayout(dir, fresh, 'two')).manifestDigest).toBe(other.manifestDigest);
    });

    it('matches io.containerd.image.name too', async () => {
      await writeOciLayout(dir, store, [
        { manifestDigest: image.manifestDigest, refName: '1.0', annotations: { 'io.containerd.image.name': 'docker.io/library/app:1.0' } },
      ]);
      expect((await readOciLayout(dir, fresh, 'docker.io/library/app:1.0')).manifestDigest).toBe(image.manifestDigest);
    });

    it('rejects a corrupt blob and stores nothing for it', async () => {
      await writeOciLayout(dir, store, [{ manifestDigest: image.manifestDigest }]);
      const layer = image.layers[0]!;
      const path = layoutBlobPath(dir, layer.digest);
      const data = await readFile(path);
      await rm(path); // it is a hardlink into the store: replace, do not modify in place
      data[data.length - 1] = (data[data.length - 1] ?? 0) ^ 0xff;
      await writeFile(path, data);
      await expect(readOciLayout(dir, fresh)).rejects.toThrow(/digest mismatch|could not be imported/);
      expect(await fresh.hasBlob(layer.digest)).toBe(false);
    });

    it('rejects a size that differs from the descriptor', async () => {
      await writeOciLayout(dir, store, [{ manifestDigest: image.manifestDigest }]);
      const index = await readIndex(dir);
      index.manifests[0]!.size += 1;
      await writeFile(join(dir, 'index.json'), JSON.stringify(index));
      await expect(readOciLayout(dir, fresh)).rejects.toThrow(/has \d+ bytes but its descriptor says/);
    });

    it.each([
      ['sha256:../../../../etc/passwd', /invalid .*digest/],
      [`sha256:${'A'.repeat(64)}`, /invalid .*digest/],
      [`sha512:${'a'.repeat(128)}`, /unsupported digest algorithm/],
    ])('never follows digest %s out of the layout', async (digest, message) => {
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
      await writeFile(
        join(dir, 'index.json'),
        JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: MediaTypes.ociManifest, digest, size: 10 }] }),
      );
      await expect(readOciLayout(dir, fresh)).rejects.toThrow(message);
      await expect(readOciLayout(dir, fresh)).rejects.toThrow(OciError);
    });

    it('explains what is wrong with a directory that is not a layout', async () => {
      await expect(readOciLayout(join(work, 'nope'), fresh)).rejects.toThrow(/is not an OCI image layout: it has no oci-layout file/);
      await mkdir(dir);
      await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"2.0.0"}');
      await expect(readOciLayout(dir, fresh)).rejects.toThrow(/unsupported imageLayoutVersion "2.0.0"/);
      await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
      await expect(readOciLayout(dir, fresh)).rejects.toThrow(/it has no index.json/);
      await writeFile(join(dir, 'index.json'), '{"schemaVersion":2,"manifests":[]}');
      await expect(readOciLayout(dir, fresh)).rejects.toThrow(/has no images/);
    });
  });
});
