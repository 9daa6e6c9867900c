// An app on a base image that lives in a registry: the image target's folder (what an Nx cache
// entry holds) carries the layers the build made and only references the base's, and
// image-push, after the store and the base are gone from this machine, still publishes a
// complete image that docker pulls and runs.

import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import imagePushExecutor from '../src/executors/image-push/executor.js';
import imageExecutor from '../src/executors/image/executor.js';
import { kiln, writeTree } from '../../core/test/engine/kiln-helpers.js';
import { describeWithDocker, useDockerd } from '../../core/test/helpers/dockerd.js';
import { skopeoInspect, startRegistry, type TestRegistry } from '../../core/test/helpers/registry.js';
import { repoRoot, tools } from '../../core/test/helpers/requirements.js';
import { captureLog, executorContext, tempWorkspace } from './helpers.js';

const hello = join(repoRoot, 'examples/hello/hello'); // a static x86-64 program
const describeHere = process.arch === 'x64' ? describeWithDocker : describe.skip;

describeHere(
  'an Nx image on a registry base',
  () => {
    const env = useDockerd();
    let reg: TestRegistry;
    let ws: ReturnType<typeof tempWorkspace>;
    const baseLayers: string[] = [];

    beforeAll(async () => {
      reg = await startRegistry();
      ws = tempWorkspace({ 'apps/app/Dockerfile': '', 'apps/app/note.txt': 'app layer\n' });
      // The base: the example's program, about 40 KB of padding to tell it apart, pushed by another machine.
      const base = writeTree(join(ws.root, 'base'), {
        Dockerfile: 'FROM scratch\nCOPY hello /bin/hello\nCOPY pad.bin /pad.bin\nENTRYPOINT ["/bin/hello"]\n',
        'pad.bin': 'p'.repeat(40_000),
      });
      copyFileSync(hello, join(base, 'hello'));
      const pushed = await kiln(['build', '--store', join(ws.root, 'base-store'), '-q', '-t', `${reg.host}/base/hello:1`, '--push', base]);
      expect(pushed.stderr).toBe('');
      const manifest = (await skopeoInspect(`${reg.host}/base/hello:1`, { raw: true })) as { layers: { digest: string }[] };
      baseLayers.push(...manifest.layers.map((l) => l.digest));
      writeTree(join(ws.root, 'apps/app'), { Dockerfile: `FROM ${reg.host}/base/hello:1\nCOPY note.txt /note.txt\n` });
    }, 120_000);

    afterAll(async () => {
      await reg?.stop();
      ws?.remove();
    });

    it('the image folder holds no base layer; image-push from an empty store pushes the whole image, docker runs it', async () => {
      const options = { store: 'nx-store', tags: [`${reg.host}/team/app:1`], insecureRegistries: [reg.host] };
      const built = await captureLog(() => imageExecutor(options, executorContext(ws.root)));
      expect(built.result.success).toBe(true);
      const folder = join(ws.root, 'dist/images/app');
      const blobs = readdirSync(join(folder, 'blobs/sha256'));
      for (const d of baseLayers) expect(blobs).not.toContain(d.slice('sha256:'.length));
      const size = blobs.reduce((n, b) => n + statSync(join(folder, 'blobs/sha256', b)).size, 0);
      expect(size).toBeLessThan(20_000); // the app's layer, config and manifest: not the 40 KB base

      // As after an Nx cache restore on another machine: only the folder is left.
      rmSync(join(ws.root, 'nx-store'), { recursive: true, force: true });
      const pushed = await captureLog(() => imagePushExecutor({ store: 'push-store' }, executorContext(ws.root)));
      expect(pushed.log).not.toMatch(/Kiln: /);
      expect(pushed.result.success).toBe(true);
      expect(pushed.log).toMatch(/2 mounted/); // the base's layers, from the base's repository
      expect(existsSync(join(ws.root, 'push-store'))).toBe(true);

      const pulled = await env.dockerd.docker(['pull', `${reg.host}/team/app:1`], { timeoutMs: 120_000 });
      expect(pulled.code).toBe(0);
      const ran = await env.dockerd.docker(['run', '--rm', '--network=none', `${reg.host}/team/app:1`]);
      expect(ran.stdout).toBe('hello from kiln\n');
    });

    it('a build FROM the image folder (oci-layout://) fetches the layers it references when it needs their bytes', async () => {
      const folder = join(ws.root, 'dist/images/app');
      const ctx = writeTree(join(ws.root, 'derived'), { Dockerfile: `FROM oci-layout://${folder}\nCOPY extra.txt /extra.txt\n`, 'extra.txt': 'derived\n' });
      const tar = join(ws.root, 'derived.tar');
      const built = await kiln(['build', '--store', join(ws.root, 'derived-store'), '-q', '-t', 'derived:1', '-o', `type=docker,dest=${tar}`, ctx]);
      expect(built.stderr).toBe('');
      expect(built.code).toBe(0);
      expect((await env.dockerd.docker(['load', '-i', tar])).code).toBe(0);
      const ran = await env.dockerd.docker(['run', '--rm', '--network=none', 'derived:1']);
      expect(ran.stdout).toBe('hello from kiln\n');
    });

    it('to another registry, image-push fetches the referenced layers from the base registry', async () => {
      const other = await startRegistry();
      try {
        const pushed = await captureLog(() => imagePushExecutor({ store: 'push-store-2', tags: [`${other.host}/team/app:1`] }, executorContext(ws.root)));
        expect(pushed.log).not.toMatch(/Kiln: /);
        expect(pushed.result.success).toBe(true);
        const layers = ((await skopeoInspect(`${other.host}/team/app:1`, { raw: true })) as { layers: { digest: string }[] }).layers.map((l) => l.digest);
        for (const d of baseLayers) expect(layers).toContain(d);
        mkdirSync(join(ws.root, 'check'), { recursive: true });
        expect((await kiln(['pull', '--store', join(ws.root, 'check'), `${other.host}/team/app:1`])).code).toBe(0);
      } finally {
        await other.stop();
      }
    });
  },
  tools('docker-registry', 'skopeo'),
);
