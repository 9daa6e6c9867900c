import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { CreateNodesContext, NxJsonConfiguration } from '@nx/devkit';
import { createNodes, createNodesV2, type KilnPluginOptions } from '../../src/plugin/create-nodes.js';
import * as pluginIndex from '../../src/index.js';

let root: string;

function write(rel: string, content: string | object): void {
  const path = join(root, rel);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
}

const nxJson: NxJsonConfiguration = {
  namedInputs: {
    default: ['{projectRoot}/**/*'],
    production: ['default', '!{projectRoot}/**/*.spec.ts'],
  },
};

function context(nx: NxJsonConfiguration = nxJson): CreateNodesContext {
  return { nxJsonConfiguration: nx, workspaceRoot: root };
}

async function run(files: string[], options?: KilnPluginOptions, nx?: NxJsonConfiguration) {
  const [, fn] = createNodes;
  return fn(files, options, context(nx));
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'kiln-nx-nodes-'));
  write('nx.json', nxJson);
  write('package.json', { name: 'workspace', private: true });
  write('Dockerfile', 'FROM scratch\n'); // the workspace root is never a project for this plugin
  // app1: package.json with a build script
  write('apps/app1/package.json', { name: 'app1', version: '1.0.0', scripts: { build: 'tsc', test: 'jest' } });
  write('apps/app1/Dockerfile', 'FROM node:20-alpine\n');
  // app2: project.json without a build target, package.json name differs (project.json wins)
  write('apps/app2/project.json', { name: 'app2', targets: { lint: { command: 'eslint .' } } });
  write('apps/app2/package.json', { name: '@acme/app2-pkg' });
  write('apps/app2/Dockerfile', 'FROM nginx:alpine\n');
  // app3: project.json with a build target, no name -> targets only, merged by root
  write('apps/app3/project.json', { targets: { build: { executor: 'nx:run-commands', options: { command: 'echo' } } } });
  write('apps/app3/Dockerfile', 'FROM scratch\n');
  // lib1: a project without a Dockerfile (not matched by the glob, so never passed in)
  write('libs/lib1/package.json', { name: 'lib1' });
  // orphan: a Dockerfile with no project next to it
  write('tools/docker/Dockerfile', 'FROM scratch\n');
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

const dockerfiles = ['Dockerfile', 'apps/app1/Dockerfile', 'apps/app2/Dockerfile', 'apps/app3/Dockerfile', 'tools/docker/Dockerfile'];

const prodInputs = [
  'production',
  '{projectRoot}/Dockerfile',
  '{projectRoot}/.dockerignore',
  '{projectRoot}/Dockerfile.dockerignore',
  '^production',
];

describe('createNodes', () => {
  test('exports the v2-signature tuple as createNodes and createNodesV2, from the package index too', () => {
    expect(createNodes[0]).toBe('**/Dockerfile');
    expect(typeof createNodes[1]).toBe('function');
    expect(createNodesV2).toBe(createNodes);
    expect(pluginIndex.createNodes).toBe(createNodes);
    expect(pluginIndex.createNodesV2).toBe(createNodes);
  });

  test('infers image and image-push for projects with a Dockerfile, skipping the root and orphan Dockerfiles', async () => {
    const results = await run(dockerfiles, undefined);
    const byFile = Object.fromEntries(results);
    expect(Object.keys(byFile).sort()).toEqual(dockerfiles.slice().sort());
    expect(byFile['Dockerfile']).toEqual({});
    expect(byFile['tools/docker/Dockerfile']).toEqual({});
    expect(Object.keys(byFile['apps/app1/Dockerfile']!.projects!)).toEqual(['apps/app1']);

    const app1 = byFile['apps/app1/Dockerfile']!.projects!['apps/app1']!;
    expect(app1.root).toBe('apps/app1');
    expect(app1.name).toBe('app1');
    expect(Object.keys(app1.targets!)).toEqual(['image', 'image-push']);
    expect(app1.targets!['image']).toEqual({
      executor: '@kiln/nx-plugin:image',
      cache: true,
      inputs: prodInputs,
      outputs: ['{workspaceRoot}/dist/images/{projectName}'],
      dependsOn: ['build'],
      options: {},
      metadata: expect.objectContaining({ technologies: ['docker'], description: expect.any(String) }),
    });
    expect(app1.targets!['image-push']).toEqual({
      executor: '@kiln/nx-plugin:image-push',
      cache: false,
      dependsOn: ['image'],
      options: {},
      metadata: expect.objectContaining({ technologies: ['docker'] }),
    });
  });

  test('no build target -> no dependsOn; project.json name wins over package.json name', async () => {
    const results = Object.fromEntries(await run(['apps/app2/Dockerfile'], {}));
    const app2 = results['apps/app2/Dockerfile']!.projects!['apps/app2']!;
    expect(app2.name).toBe('app2');
    expect(app2.targets!['image']!.dependsOn).toBeUndefined();
    expect(app2.targets!['image']!.inputs).toEqual(prodInputs);
    expect(app2.targets!['image-push']!.dependsOn).toEqual(['image']);
  });

  test('a project.json without a name gets targets only (no invented project name); build target detected', async () => {
    const results = Object.fromEntries(await run(['apps/app3/Dockerfile'], {}));
    const app3 = results['apps/app3/Dockerfile']!.projects!['apps/app3']!;
    expect(app3).not.toHaveProperty('name');
    expect(app3.root).toBe('apps/app3');
    expect(app3.targets!['image']!.dependsOn).toEqual(['build']);
  });

  test('without a production named input, inputs use default and ^default', async () => {
    const results = Object.fromEntries(await run(['apps/app1/Dockerfile'], {}, { namedInputs: { default: ['{projectRoot}/**/*'] } }));
    expect(results['apps/app1/Dockerfile']!.projects!['apps/app1']!.targets!['image']!.inputs).toEqual([
      'default',
      '{projectRoot}/Dockerfile',
      '{projectRoot}/.dockerignore',
      '{projectRoot}/Dockerfile.dockerignore',
      '^default',
    ]);
    // a production input declared by the project itself counts too
    write('apps/app2/project.json', { name: 'app2', namedInputs: { production: ['default'] } });
    const r2 = Object.fromEntries(await run(['apps/app2/Dockerfile'], {}, {}));
    expect(r2['apps/app2/Dockerfile']!.projects!['apps/app2']!.targets!['image']!.inputs).toEqual(prodInputs);
  });

  test('build target in package.json nx.targets is detected; nx.name is used', async () => {
    write('apps/app4/package.json', { name: 'pkg4', nx: { name: 'app4', targets: { build: { command: 'echo' } } } });
    write('apps/app4/Dockerfile', 'FROM scratch\n');
    const r = Object.fromEntries(await run(['apps/app4/Dockerfile'], {}));
    const app4 = r['apps/app4/Dockerfile']!.projects!['apps/app4']!;
    expect(app4.name).toBe('app4');
    expect(app4.targets!['image']!.dependsOn).toEqual(['build']);
  });

  test('plugin options rename targets, pick the build target and set executor defaults', async () => {
    const options: KilnPluginOptions = {
      imageTargetName: 'container',
      pushTargetName: 'container-push',
      buildTargetName: 'test',
      defaults: { tags: ['registry.local/{projectName}:{version}'], platform: 'linux/arm64', outputPath: 'out/img/{projectName}', store: '.kiln' },
      pushDefaults: { tags: ['registry.local/{projectName}:latest'] },
    };
    const r = Object.fromEntries(await run(['apps/app1/Dockerfile', 'apps/app2/Dockerfile'], options));
    const t = r['apps/app1/Dockerfile']!.projects!['apps/app1']!.targets!;
    expect(Object.keys(t)).toEqual(['container', 'container-push']);
    expect(t['container']).toMatchObject({
      executor: '@kiln/nx-plugin:image',
      cache: true,
      dependsOn: ['test'],
      outputs: ['{workspaceRoot}/out/img/{projectName}'],
      options: options.defaults,
    });
    expect(t['container-push']).toMatchObject({
      executor: '@kiln/nx-plugin:image-push',
      cache: false,
      dependsOn: ['container'],
      // image-push reads outputPath and store from the renamed image target itself
      options: { imageTarget: 'container', tags: ['registry.local/{projectName}:latest'] },
    });
    expect(t['container-push']!.options).not.toHaveProperty('outputPath');
    // app2 has no `test` target
    expect(r['apps/app2/Dockerfile']!.projects!['apps/app2']!.targets!['container']!.dependsOn).toBeUndefined();
  });

  test('environment variables the image defaults use become inputs of the image target', async () => {
    const options: KilnPluginOptions = {
      defaults: { tags: ['{env.REGISTRY}/{projectName}:{version}'], buildArgs: { CHANNEL: '{env.CHANNEL}', BASE: '{env.REGISTRY}/base' } },
    };
    const r = Object.fromEntries(await run(['apps/app1/Dockerfile'], options));
    const inputs = r['apps/app1/Dockerfile']!.projects!['apps/app1']!.targets!['image']!.inputs;
    expect(inputs).toEqual([...prodInputs, { env: 'CHANNEL' }, { env: 'REGISTRY' }]);
  });

  test('invalid project JSON is reported against the Dockerfile', async () => {
    write('apps/bad/package.json', '{ nope');
    write('apps/bad/Dockerfile', 'FROM scratch\n');
    // createNodesFromFiles aggregates per-file errors (Nx prints each with its file)
    const err = (await run(['apps/bad/Dockerfile'], {}).catch((e: unknown) => e)) as { errors?: [string, Error][] };
    expect(err.errors).toHaveLength(1);
    expect(err.errors![0]![0]).toBe('apps/bad/Dockerfile');
    expect(err.errors![0]![1].message).toMatch(/apps\/bad\/package\.json: invalid JSON/);
  });
});
