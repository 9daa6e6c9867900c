// The `image-push` executor against a real local registry (docker-registry 2.8): it pushes the
// image folder `image` left behind with an EMPTY Kiln store (as after an Nx cache hit on another
// machine), to the built tags or to a `tags` override, and skopeo reads what it pushed.

import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import imagePushExecutor from '../src/executors/image-push/executor.js';
import imageExecutor from '../src/executors/image/executor.js';
import { skopeoInspect, startRegistry, type TestRegistry } from '../../core/test/helpers/registry.js';
import { describeNeeding, tools } from '../../core/test/helpers/requirements.js';
import { captureLog, executorContext, tempWorkspace } from './helpers.js';

let reg: TestRegistry;
let ws: ReturnType<typeof tempWorkspace>;
let digest: string;
/** What the first push put in the registry (the build's image, gzipped). */
let pushedDigest: string;

beforeAll(async () => {
  reg = await startRegistry();
  ws = tempWorkspace({
    'apps/app/Dockerfile': 'FROM scratch\nCOPY hello.txt /hello.txt\nCOPY data/ /data/\n',
    'apps/app/hello.txt': 'hello from app\n',
    'apps/app/data/a.txt': 'a\n',
    'apps/app/package.json': JSON.stringify({ name: 'app', version: '2.0.0' }),
  });
  const built = await captureLog(() =>
    imageExecutor({ store: 'build-store', tags: [`${reg.host}/team/{projectName}:{version}`] }, executorContext(ws.root)),
  );
  expect(built.result.success).toBe(true);
  digest = built.result.digest!;
  // Only the image folder survives, as after a cache restore on a fresh machine.
  rmSync(join(ws.root, 'build-store'), { recursive: true, force: true });
});

afterAll(async () => {
  await reg?.stop();
  ws?.remove();
});

describeNeeding(tools('docker-registry', 'skopeo'), 'image-push executor', () => {
  it('pushes the image folder to its tags with an empty Kiln store', async () => {
    const { result, log } = await captureLog(() =>
      imagePushExecutor({ store: 'empty-store', insecureRegistries: [reg.host] }, executorContext(ws.root)),
    );
    expect(log).not.toMatch(/Kiln: /);
    expect(result.success).toBe(true);
    expect(existsSync(join(ws.root, 'empty-store'))).toBe(true);
    const inspected = (await skopeoInspect(`${reg.host}/team/app:2.0.0`)) as { Digest: string; Layers: string[] };
    expect(result.digest).toBe(inspected.Digest);
    expect(inspected.Layers).toHaveLength(2);
    // The image the build made (same config), its layers gzipped for the registry.
    const raw = (await skopeoInspect(`${reg.host}/team/app:2.0.0`, { raw: true })) as { config: { digest: string }; layers: { mediaType: string }[] };
    const built = JSON.parse(readFileSync(join(ws.root, 'dist/images/app/metadata.json'), 'utf8')) as { digest: string; configDigest: string };
    expect(built.digest).toBe(digest);
    expect(raw.config.digest).toBe(built.configDigest);
    expect(raw.layers.map((l) => l.mediaType)).toEqual(['application/vnd.oci.image.layer.v1.tar+gzip', 'application/vnd.oci.image.layer.v1.tar+gzip']);
    pushedDigest = inspected.Digest;
    expect(log).toContain(`pushed ${reg.host}/team/app:2.0.0`);
  });

  it('pushes to the tags option instead, with templates', async () => {
    process.env['KILN_TEST_CHANNEL'] = 'stable';
    try {
      const { result } = await captureLog(() =>
        imagePushExecutor(
          { store: 'empty-store-2', tags: [`${reg.host}/other/{projectName}:{env.KILN_TEST_CHANNEL}`] },
          executorContext(ws.root),
        ),
      );
      expect(result.success).toBe(true);
    } finally {
      delete process.env['KILN_TEST_CHANNEL'];
    }
    // gzip at push is deterministic: another store pushes the same digest.
    const inspected = (await skopeoInspect(`${reg.host}/other/app:stable`)) as { Digest: string };
    expect(inspected.Digest).toBe(pushedDigest);
  });

  it("renders the image target's tags at push time, {hash} from the build and a registry prefix", async () => {
    process.env['NX_TASK_HASH'] = '1234abcd';
    const image = { store: 'build-store-2', outputPath: 'dist/hashed', registry: `${reg.host}/team`, tags: ['{projectName}:{env.KILN_TEST_CHANNEL}-{hash}'] };
    process.env['KILN_TEST_CHANNEL'] = 'beta';
    const ctx = executorContext(ws.root, 'app', 'apps/app', { image: { options: image } });
    try {
      const built = await captureLog(() => imageExecutor(image, ctx));
      expect(built.result.success).toBe(true);
      // A later push (another task, another hash) after the environment changed, as after a cache hit.
      process.env['NX_TASK_HASH'] = 'ffff0000';
      process.env['KILN_TEST_CHANNEL'] = 'stable';
      const { result, log } = await captureLog(() => imagePushExecutor({ insecureRegistries: [reg.host] }, ctx));
      expect(log).not.toMatch(/Kiln: /);
      expect(result.success).toBe(true);
      expect(log).toContain(`pushed ${reg.host}/team/app:stable-1234abcd`);
    } finally {
      delete process.env['NX_TASK_HASH'];
      delete process.env['KILN_TEST_CHANNEL'];
    }
    const inspected = (await skopeoInspect(`${reg.host}/team/app:stable-1234abcd`)) as { Digest: string };
    expect(inspected.Digest).toBe(pushedDigest);
  });

  it('builds several platforms into one index and pushes it from an empty store', async () => {
    const options = { store: 'multi-store', outputPath: 'dist/images/multi', platform: 'linux/amd64,linux/arm64', tags: [`${reg.host}/team/multi:1`] };
    const built = await captureLog(() => imageExecutor(options, executorContext(ws.root)));
    expect(built.log).not.toMatch(/error/i);
    expect(built.result.success).toBe(true);
    expect(built.log).toMatch(/writing image index sha256:[0-9a-f]{64} done \(2 platforms\)/);
    rmSync(join(ws.root, 'multi-store'), { recursive: true, force: true });
    const pushed = await captureLog(() => imagePushExecutor({ ...options, store: 'multi-push-store' }, executorContext(ws.root)));
    expect(pushed.result.success).toBe(true);
    expect(pushed.result.digest).toBe(((await skopeoInspect(`${reg.host}/team/multi:1`)) as { Digest: string }).Digest);
    const raw = (await skopeoInspect(`${reg.host}/team/multi:1`, { raw: true })) as { manifests: { platform: { architecture: string } }[] };
    expect(raw.manifests.map((m) => m.platform.architecture)).toEqual(['amd64', 'arm64']);
  });

  it('fails with a clear message when there is no image folder', async () => {
    const { result, log } = await captureLog(() =>
      imagePushExecutor({ store: 'empty-store', outputPath: 'dist/images/nothing' }, executorContext(ws.root)),
    );
    expect(result.success).toBe(false);
    expect(log).toMatch(/no image to push for app: cannot read .*dist\/images\/nothing\/metadata\.json.*run the image target first/);
  });
});
