// The end-to-end path a user takes: Kiln builds an image FROM a base it got from docker, pushes it
// to a real CNCF registry (docker-registry 2.8, no auth, on 127.0.0.1), and a real Docker daemon
// pulls it from there (docker treats 127.0.0.0/8 registries as insecure, i.e. plain HTTP is
// allowed) and runs it.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { formatReference, parseReference } from '../../src/reference/index.js';
import { openStore } from '../../src/store/store.js';
import { kiln, writeTree } from '../engine/kiln-helpers.js';
import { makeBaseImages } from '../helpers/base-images.js';
import { describeWithDocker, useDockerd } from '../helpers/dockerd.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { tools } from '../helpers/requirements.js';

const MESSAGE = 'hello from kiln via a registry';

describeWithDocker('docker pulls and runs what kiln pushed to a registry', () => {
  // the run's shared dockerd (its image names carry this registry's port, so they are its own)
  const env = useDockerd();
  let reg: TestRegistry;
  let tmp: string;

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'kiln-docker-pull-'));
    reg = await startRegistry();
  }, 60_000);

  afterAll(async () => {
    await reg?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('kiln build --push, then docker pull + docker run --network=none prints the CMD message', async () => {
    const d = env.dockerd;
    const base = await makeBaseImages(d, join(tmp, 'base'));
    const store = join(tmp, 'store');
    const loaded = await kiln(['load', '--store', store, '-q', '-i', base.busyboxArchive]);
    expect(loaded.stderr).toBe('');
    expect(loaded.code).toBe(0);

    const image = `${reg.host}/demo:1`;
    const ctx = writeTree(join(tmp, 'ctx'), {
      Dockerfile: `FROM ${base.busybox}\nCMD ["echo", "${MESSAGE}"]\n`,
    });
    const meta = join(tmp, 'meta.json');
    const built = await kiln(['build', '--store', store, '-q', '-t', image, '--push', '--metadata-file', meta, ctx]);
    expect(built.stderr).toBe('');
    expect(built.code).toBe(0);
    // What the registry has: the build's image with its layers gzipped at push.
    const digest = (JSON.parse(readFileSync(meta, 'utf8')) as Record<string, string>)['containerimage.digest']!;
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(digest).not.toBe(await (await openStore(store)).getRef(formatReference(parseReference(image))));
    const pushedManifest = (await (await fetch(`${reg.url}/v2/demo/manifests/1`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).json()) as {
      layers: { mediaType: string }[];
    };
    expect(pushedManifest.layers.length).toBeGreaterThan(0);
    expect(pushedManifest.layers.every((l) => l.mediaType.endsWith('+gzip') || l.mediaType.endsWith('.tar.gzip'))).toBe(true);

    // The image is not in the daemon yet: docker must fetch it from the registry.
    expect((await d.docker(['image', 'inspect', image])).code).not.toBe(0);
    const manifestGets = reg.requests('GET', /^\/v2\/demo\/manifests\//);
    const pulled = await d.docker(['pull', image], { timeoutMs: 120_000 });
    expect(pulled.stderr).toBe('');
    expect(pulled.code).toBe(0);
    expect(pulled.stdout).toContain(`Digest: ${digest}`);
    expect(reg.requests('GET', /^\/v2\/demo\/manifests\//)).toBeGreaterThan(manifestGets);
    const repoDigests = JSON.parse(await d.dockerOk(['image', 'inspect', '--format', '{{json .RepoDigests}}', image])) as string[];
    expect(repoDigests).toContain(`${reg.host}/demo@${digest}`);

    const ran = await d.docker(['run', '--rm', '--network=none', image]);
    expect(ran.stderr).toBe('');
    expect(ran.code).toBe(0);
    expect(ran.stdout).toBe(`${MESSAGE}\n`);
  }, 300_000);
}, tools('docker-registry'));
