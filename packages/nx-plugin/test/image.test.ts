// The `image` executor, called as Nx calls it, on a temp workspace: an OCI layout plus
// metadata.json at outputPath, tags from templates, paths from the workspace root, failures
// that return success:false with the Dockerfile line in Nx's log.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import imageExecutor from '../src/executors/image/executor.js';
import { captureLog, executorContext, tempWorkspace } from './helpers.js';

let ws: ReturnType<typeof tempWorkspace>;

beforeAll(() => {
  ws = tempWorkspace({
    'apps/app/Dockerfile': 'FROM scratch\nCOPY hello.txt /hello.txt\nCMD ["/hello"]\n',
    'apps/app/hello.txt': 'hello from app\n',
    'apps/app/package.json': JSON.stringify({ name: '@acme/app', version: '1.2.3' }),
    'apps/bad/Dockerfile': 'FROM scratch\nCOPY hello.txt /hello.txt\nCOPY does-not-exist.txt /x\n',
    'apps/bad/hello.txt': 'hi\n',
    'apps/typo/Dockerfile': 'FROM scratch\n\nRUNN echo hi\n',
  });
});
afterAll(() => ws.remove());

const saved = { ...process.env };
afterEach(() => {
  for (const key of ['NX_TASK_HASH', 'KILN_TEST_SUFFIX']) {
    if (saved[key] === undefined) delete process.env[key];
    else process.env[key] = saved[key];
  }
});

interface Index { manifests: { digest: string; annotations?: Record<string, string> }[] }

function blob(layout: string, digest: string): Buffer {
  return readFileSync(join(layout, 'blobs', ...digest.split(':')));
}

describe('image executor', () => {
  it('builds an OCI layout and metadata.json at the default outputPath, with default OCI labels', async () => {
    const { result, log } = await captureLog(() =>
      imageExecutor({ store: 'tmp/kiln-store' }, executorContext(ws.root)),
    );
    expect(log).not.toMatch(/Kiln: /);
    expect(result.success).toBe(true);
    const out = join(ws.root, 'dist/images/app');
    expect(result.outputPath).toBe(out);
    // Relative paths are the workspace root's, not the cwd's.
    expect(existsSync(join(ws.root, 'tmp/kiln-store'))).toBe(true);
    expect(existsSync(join(process.cwd(), 'dist/images/app'))).toBe(false);

    expect(JSON.parse(readFileSync(join(out, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
    const meta = JSON.parse(readFileSync(join(out, 'metadata.json'), 'utf8'));
    expect(meta).toMatchObject({ project: 'app', tags: ['app:latest'], digest: result.digest });
    expect(meta.configDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(meta.imageId).toBe(meta.configDigest);
    expect(meta.steps.map((s: { instruction: string }) => s.instruction)).toEqual(
      expect.arrayContaining([expect.stringContaining('COPY hello.txt /hello.txt')]),
    );

    const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')) as Index;
    expect(index.manifests).toHaveLength(1);
    expect(index.manifests[0]!.digest).toBe(meta.digest);
    const manifest = JSON.parse(blob(out, meta.digest).toString('utf8'));
    expect(manifest.config.digest).toBe(meta.configDigest);
    for (const layer of manifest.layers) expect(existsSync(join(out, 'blobs', ...layer.digest.split(':')))).toBe(true);
    const config = JSON.parse(blob(out, meta.configDigest).toString('utf8'));
    expect(config.config.Labels).toMatchObject({
      'org.opencontainers.image.title': 'app',
      'org.opencontainers.image.version': '1.2.3',
    });
    // Progress appears like the CLI's, step by step.
    expect(log).toMatch(/#\d+ \[stage-0 2\/2\] COPY hello.txt \/hello.txt|#\d+ \[.*\] COPY hello.txt/);
    expect(log).toContain(`writing image ${meta.imageId}`);
  });

  it('renders tags, build args and labels from templates', async () => {
    process.env['NX_TASK_HASH'] = '1234567890abcdef';
    process.env['KILN_TEST_SUFFIX'] = 'rc1';
    const { result, log } = await captureLog(() =>
      imageExecutor(
        {
          store: 'tmp/kiln-store',
          tags: ['registry.example.test/team/{projectName}:{version}-{env.KILN_TEST_SUFFIX}', 'registry.example.test/team/{projectName}:{hash}'],
          buildArgs: { SUFFIX: '{env.KILN_TEST_SUFFIX}' },
          labels: { 'com.example.where': '{projectRoot}', 'org.opencontainers.image.title': 'custom' },
          outputPath: 'out/{projectName}-image',
        },
        executorContext(ws.root),
      ),
    );
    expect(log).not.toMatch(/Kiln: /);
    expect(result.success).toBe(true);
    const out = join(ws.root, 'out/app-image');
    const meta = JSON.parse(readFileSync(join(out, 'metadata.json'), 'utf8'));
    expect(meta.tags).toEqual(['registry.example.test/team/app:1.2.3-rc1', 'registry.example.test/team/app:1234567890abcdef']);
    expect(meta.hash).toBe('1234567890abcdef');
    const config = JSON.parse(blob(out, meta.configDigest).toString('utf8'));
    expect(config.config.Labels).toMatchObject({ 'com.example.where': 'apps/app', 'org.opencontainers.image.title': 'custom' });
    expect(log).toContain('naming to registry.example.test/team/app:1.2.3-rc1');
  });

  it('takes secrets from files (from the workspace root) or variables, and says which one cannot be read', async () => {
    const ok = await captureLog(() =>
      imageExecutor({ store: 'tmp/kiln-store', secrets: ['id=hello,src=apps/app/hello.txt', { id: 'home', env: 'HOME' }], ssh: [] }, executorContext(ws.root)),
    );
    expect(ok.log).not.toMatch(/Kiln: /);
    expect(ok.result.success).toBe(true);
    const missing = await captureLog(() => imageExecutor({ store: 'tmp/kiln-store', secrets: ['id=npmrc,src=apps/app/.npmrc'] }, executorContext(ws.root)));
    expect(missing.result.success).toBe(false);
    expect(missing.log).toContain(`secrets id=npmrc: cannot read ${join(ws.root, 'apps/app/.npmrc')}: no such file`);
  });

  it('fails without building when a template cannot be filled', async () => {
    delete process.env['NX_TASK_HASH'];
    const { result, log } = await captureLog(() =>
      imageExecutor({ store: 'tmp/kiln-store', tags: ['app:{hash}'] }, executorContext(ws.root)),
    );
    expect(result.success).toBe(false);
    expect(log).toMatch(/cannot fill \{hash\}: the Nx task hash is not known.*--batch=false/);
    const bad = await captureLog(() => imageExecutor({ store: 'tmp/kiln-store', tags: ['app:{nope}'] }, executorContext(ws.root)));
    expect(bad.result.success).toBe(false);
    expect(bad.log).toMatch(/unknown placeholder \{nope\}/);
  });

  it('returns success:false and logs the Dockerfile line when a step fails', async () => {
    const { result, log } = await captureLog(() =>
      imageExecutor({ store: 'tmp/kiln-store' }, executorContext(ws.root, 'bad', 'apps/bad')),
    );
    expect(result.success).toBe(false);
    expect(log).toMatch(/Dockerfile:3/);
    expect(log).toContain('does-not-exist.txt');
    expect(existsSync(join(ws.root, 'dist/images/bad/metadata.json'))).toBe(false);
  });

  it('returns success:false and logs the Dockerfile line for a parse error', async () => {
    const { result, log } = await captureLog(() =>
      imageExecutor({ store: 'tmp/kiln-store' }, executorContext(ws.root, 'typo', 'apps/typo')),
    );
    expect(result.success).toBe(false);
    expect(log).toMatch(/Dockerfile:3/);
  });
});
