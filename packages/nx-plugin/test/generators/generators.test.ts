import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readJson, readNxJson, updateNxJson, writeJson, type Tree } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import { initGenerator } from '../../src/generators/init/init.js';
import { configurationGenerator } from '../../src/generators/configuration/configuration.js';

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const prodInputs = [
  'production',
  '{projectRoot}/Dockerfile',
  '{projectRoot}/.dockerignore',
  '{projectRoot}/Dockerfile.dockerignore',
  '^production',
];

describe('init generator', () => {
  let tree: Tree;
  beforeEach(() => {
    tree = createTreeWithEmptyWorkspace();
  });

  test('adds the plugin entry to nx.json once', async () => {
    await initGenerator(tree, { skipFormat: true });
    await initGenerator(tree, { skipFormat: true });
    const plugins = readNxJson(tree)!.plugins!;
    expect(plugins.filter((p) => typeof p === 'object' && p.plugin === '@kiln/nx-plugin')).toEqual([
      { plugin: '@kiln/nx-plugin', options: {} },
    ]);
  });

  test('keeps other plugins and an existing string entry', async () => {
    const nx = readNxJson(tree)!;
    updateNxJson(tree, { ...nx, plugins: ['@nx/js/typescript', '@kiln/nx-plugin'] });
    await initGenerator(tree, { skipFormat: true });
    expect(readNxJson(tree)!.plugins).toEqual(['@nx/js/typescript', '@kiln/nx-plugin']);
  });

  test('writes renamed targets into the plugin options', async () => {
    await initGenerator(tree, { imageTargetName: 'container', pushTargetName: 'image-push', skipFormat: true });
    expect(readNxJson(tree)!.plugins).toContainEqual({ plugin: '@kiln/nx-plugin', options: { imageTargetName: 'container' } });
  });

  test('formats without failing when skipFormat is off', async () => {
    // formatFiles warns when no formatter (prettier/oxfmt) is installed; that is not a failure
    const warn = console.warn;
    const warnings: unknown[] = [];
    console.warn = (...args: unknown[]) => void warnings.push(args);
    try {
      await expect(initGenerator(tree, {})).resolves.toEqual(expect.any(Function));
    } finally {
      console.warn = warn;
    }
    expect(readNxJson(tree)!.plugins).toHaveLength(1);
  });
});

describe('configuration generator', () => {
  let tree: Tree;
  beforeEach(() => {
    tree = createTreeWithEmptyWorkspace();
    const nx = readNxJson(tree)!;
    updateNxJson(tree, { ...nx, namedInputs: { default: ['{projectRoot}/**/*'], production: ['default'] } });
    writeJson(tree, 'apps/api/project.json', {
      name: 'api',
      root: 'apps/api',
      targets: { build: { executor: 'nx:run-commands', options: { command: 'tsc' } } },
    });
    writeJson(tree, 'apps/api/package.json', { name: 'api', main: 'dist/server.js', dependencies: {} });
    writeJson(tree, 'apps/web/project.json', { name: 'web', root: 'apps/web' });
  });

  test('writes explicit image and image-push targets and a starter node Dockerfile', async () => {
    await configurationGenerator(tree, { project: 'api', skipFormat: true });
    const pj = readJson(tree, 'apps/api/project.json');
    expect(pj.targets.build).toEqual({ executor: 'nx:run-commands', options: { command: 'tsc' } });
    expect(pj.targets.image).toEqual({
      executor: '@kiln/nx-plugin:image',
      cache: true,
      inputs: prodInputs,
      outputs: ['{workspaceRoot}/dist/images/{projectName}'],
      dependsOn: ['build'],
      options: {},
    });
    expect(pj.targets['image-push']).toEqual({
      executor: '@kiln/nx-plugin:image-push',
      cache: false,
      dependsOn: ['image'],
      options: {},
    });
    const dockerfile = tree.read('apps/api/Dockerfile', 'utf-8')!;
    expect(dockerfile).toContain('FROM node:20-alpine');
    expect(dockerfile).toContain('COPY package.json ./');
    expect(dockerfile).toContain('CMD ["node", "dist/server.js"]');
    expect(dockerfile).toContain('nx run api:image');
    expect(tree.read('apps/api/.dockerignore', 'utf-8')).toContain('node_modules');
  });

  test('static template, no build target, custom names; an existing Dockerfile is kept', async () => {
    tree.write('apps/web/Dockerfile', 'FROM scratch\n');
    await configurationGenerator(tree, {
      project: 'web',
      template: 'static',
      imageTargetName: 'container',
      pushTargetName: 'publish',
      skipFormat: true,
    });
    const pj = readJson(tree, 'apps/web/project.json');
    expect(Object.keys(pj.targets)).toEqual(['container', 'publish']);
    expect(pj.targets.container.dependsOn).toBeUndefined();
    expect(pj.targets.publish.dependsOn).toEqual(['container']);
    expect(tree.read('apps/web/Dockerfile', 'utf-8')).toBe('FROM scratch\n');
    expect(tree.exists('apps/web/.dockerignore')).toBe(false);
  });

  test('static template Dockerfile when none exists', async () => {
    await configurationGenerator(tree, { project: 'web', template: 'static', skipFormat: true });
    const dockerfile = tree.read('apps/web/Dockerfile', 'utf-8')!;
    expect(dockerfile).toContain('FROM nginx:alpine');
    expect(dockerfile).toContain('COPY dist/ /usr/share/nginx/html/');
  });

  test('target names default to the nx.json plugin options', async () => {
    await initGenerator(tree, { imageTargetName: 'container', pushTargetName: 'publish', skipFormat: true });
    await configurationGenerator(tree, { project: 'api', skipFormat: true });
    const pj = readJson(tree, 'apps/api/project.json');
    expect(Object.keys(pj.targets)).toEqual(['build', 'container', 'publish']);
    expect(pj.targets.publish.dependsOn).toEqual(['container']);
  });

  test('a package.json-only project gets the targets in its nx field', async () => {
    writeJson(tree, 'package.json', { ...readJson(tree, 'package.json'), workspaces: ['libs/*'] });
    writeJson(tree, 'libs/svc/package.json', { name: 'svc', scripts: { build: 'tsc' } });
    await configurationGenerator(tree, { project: 'svc', skipFormat: true });
    const pkg = readJson(tree, 'libs/svc/package.json');
    expect(pkg.scripts).toEqual({ build: 'tsc' });
    expect(pkg.nx.targets.image.dependsOn).toEqual(['build']);
    expect(pkg.nx.targets['image-push'].executor).toBe('@kiln/nx-plugin:image-push');
    expect(tree.read('libs/svc/Dockerfile', 'utf-8')).toContain('CMD ["node", "dist/main.js"]');
  });

  test('refuses to overwrite an existing image target; rejects unknown templates', async () => {
    await configurationGenerator(tree, { project: 'api', skipFormat: true });
    await expect(configurationGenerator(tree, { project: 'api', skipFormat: true })).rejects.toThrow(/already has a 'image' target/);
    await expect(
      configurationGenerator(tree, { project: 'web', template: 'java' as never, skipFormat: true }),
    ).rejects.toThrow(/Unknown Dockerfile template/);
  });
});

describe('generators.json', () => {
  test('declares init and configuration with schemas that exist and have descriptions', () => {
    const manifest = JSON.parse(readFileSync(join(pkgDir, 'generators.json'), 'utf8'));
    const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
    expect(pkg.generators).toBe('./generators.json');
    expect(Object.keys(manifest.generators).sort()).toEqual(['configuration', 'init']);
    for (const [name, entry] of Object.entries<{ factory: string; schema: string; description: string }>(manifest.generators)) {
      expect(entry.description).toBeTruthy();
      const [modulePath, exportName] = entry.factory.split('#');
      expect(modulePath).toBe(`./dist/generators/${name}/${name}.js`);
      expect(exportName).toBe(`${name}Generator`);
      const schema = JSON.parse(readFileSync(join(pkgDir, entry.schema), 'utf8'));
      expect(schema.description).toBeTruthy();
      for (const [prop, def] of Object.entries<{ description?: string }>(schema.properties)) {
        expect([prop, def.description]).toEqual([prop, expect.any(String)]);
      }
    }
  });
});
