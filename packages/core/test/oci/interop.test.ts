// What Kiln writes, read by real tools (skopeo, umoci), and what skopeo writes, read by Kiln.
// A missing tool fails these tests, or skips them with KILN_SKIP_MISSING_TOOLS=1 (helpers/requirements.ts).

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readDockerArchive, writeDockerArchive } from '../../src/oci/docker-archive.js';
import { readOciLayout, writeOciLayout } from '../../src/oci/layout.js';
import { MediaTypes } from '../../src/oci/media-types.js';
import { openStore } from '../../src/store/store.js';
import { describeNeeding, tools } from '../helpers/requirements.js';
import { buildTestImage } from './fixtures.js';
import type { TestImage } from './fixtures.js';
import type { OciStore } from './stores.js';

const run = promisify(execFile);

const skopeo = async (...args: string[]): Promise<string> =>
  (await run('skopeo', ['--insecure-policy', ...args], { maxBuffer: 64 * 1024 * 1024 })).stdout;

interface SkopeoInspect {
  Digest: string;
  Architecture: string;
  Os: string;
  Layers: string[];
  Env?: string[];
}

let work: string;
let store: OciStore;
let image: TestImage;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'kiln-oci-interop-'));
  store = await openStore(join(work, 'store'));
  image = await buildTestImage(
    store,
    [
      { files: { 'etc/hello.txt': 'hello from kiln\n', 'usr/bin/tool': '#!/bin/sh\necho tool\n' } },
      { files: { 'app/data.txt': 'data\n' } },
    ],
    { env: ['PATH=/usr/bin:/bin', 'GREETING=hi'] },
  );
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describeNeeding(tools('skopeo'), 'skopeo', () => {
  it('inspects the OCI layout Kiln writes', async () => {
    const dir = join(work, 'layout-skopeo');
    await writeOciLayout(dir, store, [{ manifestDigest: image.manifestDigest, refName: 'v1' }]);
    const info = JSON.parse(await skopeo('inspect', `oci:${dir}:v1`)) as SkopeoInspect;
    expect(info.Digest).toBe(image.manifestDigest);
    expect(info.Architecture).toBe('amd64');
    expect(info.Os).toBe('linux');
    expect(info.Layers).toEqual(image.layers.map((l) => l.digest));
    expect(info.Env).toContain('GREETING=hi');
    const raw = await skopeo('inspect', '--raw', `oci:${dir}:v1`);
    expect(raw).toBe((await store.readBlob(image.manifestDigest)).toString());
  });

  it("imports skopeo's docker-archive of a Kiln layout with the same diffIDs", async () => {
    const dir = join(work, 'layout-copy');
    await writeOciLayout(dir, store, [{ manifestDigest: image.manifestDigest, refName: 'v1' }]);
    const archive = join(work, 'from-skopeo.tar');
    await skopeo('copy', '-q', `oci:${dir}:v1`, `docker-archive:${archive}:example.com/kiln/test:1.0`);
    const fresh = await openStore(join(work, 'fresh-skopeo'));
    const got = await readDockerArchive(archive, fresh);
    expect(got.repoTags).toEqual(['example.com/kiln/test:1.0']);
    expect(got.config.rootfs.diff_ids).toEqual(image.layers.map((l) => l.diffId));
    // skopeo writes the layers uncompressed: each blob is its own diffID
    expect(got.manifest.layers.map((l) => l.digest)).toEqual(image.layers.map((l) => l.diffId));
    expect(got.manifest.layers.every((l) => l.mediaType === MediaTypes.ociLayer)).toBe(true);
  });

  it('inspects the docker archive Kiln writes, and copies it to an OCI layout Kiln reads back', async () => {
    const archive = join(work, 'kiln.tar');
    await writeDockerArchive(archive, store, image.manifestDigest, ['kiln/test:2.0']);
    const info = JSON.parse(await skopeo('inspect', `docker-archive:${archive}`)) as SkopeoInspect;
    expect(info.Architecture).toBe('amd64');
    expect(info.Env).toContain('GREETING=hi');
    expect(info.Layers).toHaveLength(2);
    // skopeo's docker-archive source names layers by their uncompressed digests
    expect(info.Layers).toEqual(image.layers.map((l) => l.diffId));

    const dir = join(work, 'from-kiln-archive');
    await skopeo('copy', '-q', `docker-archive:${archive}`, `oci:${dir}:copied`);
    const fresh = await openStore(join(work, 'fresh-archive'));
    const got = await readOciLayout(dir, fresh, 'copied');
    expect(got.config.rootfs.diff_ids).toEqual(image.layers.map((l) => l.diffId));
    expect(got.configDigest).toBe(image.configDigest);
  });

  it('reads an OCI layout that skopeo wrote into a layout Kiln wrote (shared blobs, two refs)', async () => {
    const dir = join(work, 'shared');
    await writeOciLayout(dir, store, [{ manifestDigest: image.manifestDigest, refName: 'kiln' }]);
    await skopeo('copy', '-q', `oci:${dir}:kiln`, `oci:${dir}:skopeo`);
    const fresh = await openStore(join(work, 'fresh-shared'));
    expect((await readOciLayout(dir, fresh, 'skopeo')).manifestDigest).toBe(image.manifestDigest);
    // and Kiln updating that layout keeps skopeo's entry
    const other = await buildTestImage(store, [{ files: { 'x.txt': 'x' } }]);
    await writeOciLayout(dir, store, [{ manifestDigest: other.manifestDigest, refName: 'kiln' }]);
    const info = JSON.parse(await skopeo('inspect', `oci:${dir}:skopeo`)) as SkopeoInspect;
    expect(info.Digest).toBe(image.manifestDigest);
    expect((JSON.parse(await skopeo('inspect', `oci:${dir}:kiln`)) as SkopeoInspect).Digest).toBe(other.manifestDigest);
  });
});

describeNeeding(tools('umoci'), 'umoci', () => {
  it('unpacks the OCI layout Kiln writes', async () => {
    const dir = join(work, 'layout-umoci');
    await writeOciLayout(dir, store, [{ manifestDigest: image.manifestDigest, refName: 'v1' }]);
    const bundle = join(work, 'bundle');
    const rootless = typeof process.getuid === 'function' && process.getuid() !== 0 ? ['--rootless'] : [];
    await run('umoci', ['unpack', ...rootless, '--image', `${dir}:v1`, bundle]);
    expect(await readFile(join(bundle, 'rootfs', 'etc', 'hello.txt'), 'utf8')).toBe('hello from kiln\n');
    expect(await readFile(join(bundle, 'rootfs', 'app', 'data.txt'), 'utf8')).toBe('data\n');
    const runtime = JSON.parse(await readFile(join(bundle, 'config.json'), 'utf8')) as { process: { env: string[]; args: string[] } };
    expect(runtime.process.env).toContain('GREETING=hi');
    expect(runtime.process.args).toEqual(['/bin/sh']);
  });
});
