// End to end in a real Nx workspace: nx from the npm registry, @kiln/core and @kiln/nx-plugin
// installed from `npm pack` tarballs of this checkout, three apps with Dockerfiles (app1 and app2
// use the library libs/greet), a real docker-registry on 127.0.0.1 and skopeo reading the results.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { openStore } from '@kiln/core';
import { commitAll, createNxWorkspace, git, nx, packKiln, type NxRun } from '../bench/nx-workspace.js';
import { skopeoInspect, startRegistry, type TestRegistry } from '../packages/core/test/helpers/registry.js';
import { ROOT, describeNeeding, tools } from '../packages/core/test/helpers/requirements.js';
import { DEBIAN_ROOTFS, writeDebianArchive } from '../packages/core/test/helpers/base-images.js';
import { NODE_AND_NPM, NODE_BASE, SEED_DEP, nodeAppFiles, startSeedRegistry, writeNodeBaseContext, type SeedRegistry } from '../packages/core/test/helpers/node-seed.js';
import { kiln, writeTree } from '../packages/core/test/engine/kiln-helpers.js';

let reg: TestRegistry;
let work: string;
let ws: string;
let env: Record<string, string>;

const appFiles = (app: string): Record<string, string> => ({
  [`apps/${app}/package.json`]: JSON.stringify({ name: app, version: '1.2.3', dependencies: { '@e2e/greet': '*' } }),
  [`apps/${app}/main.js`]: `console.log(require('@e2e/greet')('${app}'));\n`,
  // The context is the workspace root so the image can take the library too.
  [`apps/${app}/project.json`]: JSON.stringify({ targets: { image: { options: { context: '.' } } } }),
  [`apps/${app}/Dockerfile`]: `FROM scratch\nCOPY libs/greet /app/node_modules/@e2e/greet\nCOPY apps/${app}/main.js /app/main.js\nCMD ["node", "/app/main.js"]\n`,
});

beforeAll(async () => {
  reg = await startRegistry();
  work = mkdtempSync(join(tmpdir(), 'kiln-e2e-nx-'));
  ws = join(work, 'ws');
  createNxWorkspace(ws, {
    tarballs: packKiln(join(work, 'tarballs')),
    nxJson: {
      cacheDirectory: '.nx/cache',
      defaultBase: 'main',
      namedInputs: { default: ['{projectRoot}/**/*'], production: ['default'] },
      plugins: [
        {
          plugin: '@kiln/nx-plugin',
          options: {
            defaults: {
              store: '.kiln-store',
              registry: '{env.E2E_REGISTRY}/e2e',
              tags: ['{projectName}:{version}', '{projectName}:sha-{shortSha}', '{projectName}:{branch}'],
            },
          },
        },
      ],
    },
    files: {
      '.dockerignore': 'node_modules\ndist\n.nx\n.kiln-store\n.git\n',
      'libs/greet/package.json': JSON.stringify({ name: '@e2e/greet', version: '1.0.0', main: 'index.js' }),
      'libs/greet/index.js': 'module.exports = (who) => `hello from ${who}`;\n',
      ...appFiles('app1'),
      ...appFiles('app2'),
      'apps/app3/package.json': JSON.stringify({ name: 'app3', version: '0.1.0' }),
      'apps/app3/hello.txt': 'hi\n',
      'apps/app3/Dockerfile': 'FROM scratch\nCOPY hello.txt /hello.txt\n',
    },
  });
  env = { E2E_REGISTRY: reg.host };
}, 300_000);

afterAll(async () => {
  await reg?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

function run(args: string[]): NxRun {
  const r = nx(ws, args, env);
  if (r.status !== 0) throw new Error(`nx ${args.join(' ')} failed (exit ${r.status}):\n${r.output}`);
  return r;
}

/** The projects whose `image` task this nx run executed or restored. */
function imageTasks(r: NxRun): string[] {
  return [...r.output.matchAll(/> nx run ([\w@/.-]+):image\b/g)].map((m) => m[1]!).sort();
}

const cacheHit = /\[local cache\]|\[existing outputs match the cache, left as is\]/;
const layout = (app: string) => join(ws, 'dist/images', app);
const metadata = (app: string) =>
  JSON.parse(readFileSync(join(layout(app), 'metadata.json'), 'utf8')) as { digest: string; configDigest: string; tags: string[]; hash?: string };
const shortSha = () => git(ws, 'rev-parse', '--short=7', 'HEAD').trim();

describeNeeding(tools('docker-registry', 'skopeo', 'git'), 'Kiln in a real Nx workspace', () => {
  it('infers image and image-push targets with their inputs and outputs; nx graph is clean', () => {
    const app1 = JSON.parse(run(['show', 'project', 'app1', '--json']).stdout) as {
      targets: Record<string, { executor: string; cache: boolean; inputs?: unknown[]; outputs?: string[]; dependsOn?: string[]; options: Record<string, unknown> }>;
    };
    expect(app1.targets['image']).toMatchObject({
      executor: '@kiln/nx-plugin:image',
      cache: true,
      outputs: ['{workspaceRoot}/dist/images/{projectName}'],
      options: { context: '.', store: '.kiln-store' },
    });
    expect(app1.targets['image']!.inputs).toEqual(
      expect.arrayContaining(['production', '^production', '{projectRoot}/Dockerfile', '{projectRoot}/.dockerignore', { env: 'E2E_REGISTRY' }]),
    );
    expect(app1.targets['image-push']).toMatchObject({ executor: '@kiln/nx-plugin:image-push', cache: false, dependsOn: ['image'] });
    const projects = run(['show', 'projects', '--json']).stdout;
    expect(JSON.parse(projects)).toEqual(expect.arrayContaining(['app1', 'app2', 'app3', '@e2e/greet']));
    const lib = JSON.parse(run(['show', 'project', '@e2e/greet', '--json']).stdout) as { targets: Record<string, unknown> };
    expect(lib.targets['image']).toBeUndefined();

    const graph = run(['graph', `--file=${join(work, 'graph.json')}`]);
    expect(graph.output).not.toMatch(/error/i);
    const deps = (JSON.parse(readFileSync(join(work, 'graph.json'), 'utf8')) as { graph: { dependencies: Record<string, { target: string }[]> } }).graph
      .dependencies;
    expect(deps['app1']!.map((d) => d.target)).toContain('@e2e/greet');
    expect(deps['app3']!.map((d) => d.target)).not.toContain('@e2e/greet');
  });

  it('nx run app1:image builds an OCI layout whose tags render from templates', async () => {
    const r = run(['run', 'app1:image']);
    expect(r.output).toMatch(/COPY apps\/app1\/main\.js \/app\/main\.js/); // progress in Nx's output
    expect(r.output).not.toMatch(cacheHit);
    const meta = metadata('app1');
    expect(meta.tags).toEqual([`${reg.host}/e2e/app1:1.2.3`, `${reg.host}/e2e/app1:sha-${shortSha()}`, `${reg.host}/e2e/app1:main`]);
    const inspected = JSON.parse(execFileSync('skopeo', ['inspect', `oci:${layout('app1')}`], { encoding: 'utf8' })) as { Digest: string };
    expect(inspected.Digest).toBe(meta.digest);
  });

  it('with --batch=false the task runs alone and {hash} is the Nx task hash', () => {
    const r = run(['run', 'app1:image', '--batch=false', '--skip-nx-cache']);
    expect(metadata('app1').hash).toMatch(/^\d+$/);
  });

  it('a second run is an Nx cache hit and the layout is there', () => {
    const before = metadata('app1').digest;
    const r = run(['run', 'app1:image']);
    expect(r.output).toMatch(cacheHit);
    expect(metadata('app1').digest).toBe(before);
    expect(existsSync(join(layout('app1'), 'index.json'))).toBe(true);
  });

  it('with the Kiln store and dist deleted, Nx restores the image and image-push pushes it', async () => {
    const digest = metadata('app1').digest;
    rmSync(join(ws, '.kiln-store'), { recursive: true, force: true });
    rmSync(join(ws, 'dist'), { recursive: true, force: true });
    const restored = run(['run', 'app1:image']);
    expect(restored.output).toMatch(/\[local cache\]/);
    expect(metadata('app1').digest).toBe(digest);
    expect(existsSync(join(ws, '.kiln-store'))).toBe(false); // nothing was built

    const pushed = run(['run', 'app1:image-push']);
    expect(pushed.output).toContain(`pushed ${reg.host}/e2e/app1:1.2.3`);
    // The registry has the image the build made (its config, so its image ID) with the layers
    // gzipped at push: one manifest under every tag.
    const configDigest = metadata('app1').configDigest;
    const pushedDigests = new Set<string>();
    for (const tag of ['1.2.3', `sha-${shortSha()}`, 'main']) {
      const inspected = (await skopeoInspect(`${reg.host}/e2e/app1:${tag}`)) as { Digest: string };
      pushedDigests.add(inspected.Digest);
      const raw = (await skopeoInspect(`${reg.host}/e2e/app1:${tag}`, { raw: true })) as { config: { digest: string }; layers: { mediaType: string }[] };
      expect(raw.config.digest).toBe(configDigest);
      expect(raw.layers.every((l) => l.mediaType === 'application/vnd.oci.image.layer.v1.tar+gzip')).toBe(true);
    }
    expect(pushedDigests.size).toBe(1);
  });

  it('after a change to the library, nx affected rebuilds exactly the two apps that use it', () => {
    writeFileSync(join(ws, 'libs/greet/index.js'), 'module.exports = (who) => `hi there, ${who}`;\n');
    commitAll(ws, 'change the library');
    expect(run(['show', 'projects', '--affected', '--base=HEAD~1', '--head=HEAD']).stdout.split('\n').filter(Boolean).sort()).toEqual([
      '@e2e/greet',
      'app1',
      'app2',
    ]);
    const r = run(['affected', '-t', 'image', '--base=HEAD~1', '--head=HEAD', '--output-style=static']);
    expect(imageTasks(r)).toEqual(['app1', 'app2']);
    expect(r.output).not.toMatch(cacheHit); // both really rebuilt
  });

  it('nx run-many -t image --parallel=3 builds every app into one shared store', async () => {
    rmSync(join(ws, '.kiln-store'), { recursive: true, force: true });
    const r = run(['run-many', '-t', 'image', '--parallel=3', '--skip-nx-cache', '--output-style=static']);
    expect(r.output).toContain('Running 3 tasks with @kiln/nx-plugin:image'); // one batch process (preferBatch)
    expect(imageTasks(r)).toEqual(['app1', 'app2', 'app3']);
    for (const app of ['app1', 'app2', 'app3']) {
      const inspected = JSON.parse(execFileSync('skopeo', ['inspect', `oci:${layout(app)}`], { encoding: 'utf8' })) as { Digest: string };
      expect(inspected.Digest).toBe(metadata(app).digest);
    }
    // The shared store holds every app's tags and no torn blob.
    const store = await openStore(join(ws, '.kiln-store'));
    const refs = (await store.listRefs()).map((r) => r.ref);
    for (const app of ['app1', 'app2', 'app3']) expect(refs.some((ref) => ref.includes(`/e2e/${app}:`))).toBe(true);
    expect((await store.verify()).corrupt).toEqual([]);
  });

  it('a failing build fails the target and names the Dockerfile line', () => {
    const dockerfile = join(ws, 'apps/app3/Dockerfile');
    const good = readFileSync(dockerfile, 'utf8');
    writeFileSync(dockerfile, 'FROM scratch\nCOPY missing.txt /missing.txt\n');
    try {
      const r = nx(ws, ['run', 'app3:image'], env);
      expect(r.status).not.toBe(0);
      expect(r.output).toMatch(/Dockerfile:2\b.*missing\.txt/);
    } finally {
      writeFileSync(dockerfile, good);
    }
  });
});

describeNeeding([ROOT, DEBIAN_ROOTFS, NODE_AND_NPM, ...tools('runc', 'umoci', 'git')], 'an Nx app whose Dockerfile runs npm ci', () => {
  let seed: SeedRegistry;

  beforeAll(async () => {
    seed = await startSeedRegistry(work);
    // The Node base in the workspace's store: the Debian test image plus this machine's node and npm.
    const store = join(ws, '.kiln-store');
    const debian = await writeDebianArchive(join(work, 'base'));
    expect((await kiln(['load', '--store', store, '-q', '-i', debian.archive])).code).toBe(0);
    const base = await kiln(['build', '--store', store, '-q', '-t', NODE_BASE, writeNodeBaseContext(join(work, 'node-base'), seed.url)]);
    expect(base.stderr).toBe('');
    // Outside apps/ (the npm workspaces), as a service with its own lock file.
    writeTree(join(ws, 'services/app4'), { ...nodeAppFiles(seed, 'RUN npm ci', 'app4'), 'project.json': JSON.stringify({ name: 'app4' }) });
    commitAll(ws, 'add app4');
  }, 300_000);

  afterAll(async () => {
    await seed?.close();
  });

  it('nx run app4:image runs npm ci in the image; a second run is an Nx cache hit with the image there', () => {
    const r = run(['run', 'app4:image']);
    expect(r.output).toMatch(/RUN npm ci/);
    expect(r.output).toMatch(/added 1 package/);
    const bundle = join(work, 'app4-bundle');
    const tag = metadata('app4').tags[0]!.split(':').pop()!;
    execFileSync('umoci', ['unpack', '--image', `${layout('app4')}:${tag}`, bundle]);
    expect(readFileSync(join(bundle, 'rootfs/app/node_modules', SEED_DEP, 'index.js'), 'utf8')).toContain('module.exports');

    const again = run(['run', 'app4:image']);
    expect(again.output).toMatch(cacheHit);
    expect(existsSync(join(layout('app4'), 'index.json'))).toBe(true);
  });
});
