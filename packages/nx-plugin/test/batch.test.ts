// The image executor's batch implementation: one process builds every image task of a run, in
// dependency order, each task's output apart; a task whose dependency failed is skipped.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import type { ExecutorContext, TaskGraph } from '@nx/devkit';
import imageBatchExecutor from '../src/executors/image/batch.js';
import { tempWorkspace } from './helpers.js';

const ws = tempWorkspace({
  'apps/a/Dockerfile': 'FROM scratch\nCOPY a.txt /a.txt\n',
  'apps/a/a.txt': 'a\n',
  'apps/b/Dockerfile': 'FROM scratch\nCOPY missing.txt /\n',
  'apps/c/Dockerfile': 'FROM scratch\nCOPY c.txt /c.txt\n',
  'apps/c/c.txt': 'c\n',
});
afterAll(() => ws.remove());

const task = (project: string) => ({ id: `${project}:image`, target: { project, target: 'image' }, projectRoot: `apps/${project}`, overrides: {}, outputs: [], cache: true, parallelism: true, continuous: false });

describe('image batch executor', () => {
  it('builds each task, keeps their output apart, skips what depends on a failure', async () => {
    const taskGraph = {
      roots: ['a:image', 'b:image'],
      tasks: { 'a:image': task('a'), 'b:image': task('b'), 'c:image': task('c') },
      // c depends on b's image (dependsOn: ["^image"]); Nx 24 lists edges
      dependencies: { 'a:image': [], 'b:image': [], 'c:image': [{ id: 'b:image' }] },
      continuousDependencies: { 'a:image': [], 'b:image': [], 'c:image': [] },
    } as unknown as TaskGraph;
    const context = {
      root: ws.root,
      cwd: ws.root,
      isVerbose: false,
      projectsConfigurations: { version: 2, projects: { a: { root: 'apps/a' }, b: { root: 'apps/b' }, c: { root: 'apps/c' } } },
      nxJsonConfiguration: {},
      projectGraph: { nodes: {}, dependencies: {} },
    } as unknown as ExecutorContext;
    const options = { 'a:image': { store: 'store' }, 'b:image': { store: 'store' }, 'c:image': { store: 'store' } };
    const results: Record<string, { success: boolean; status?: string; terminalOutput: string }> = {};
    for await (const { task: id, result } of imageBatchExecutor(taskGraph, options, {}, context)) results[id] = result;

    expect(results['a:image']).toMatchObject({ success: true, status: 'success' });
    expect(results['a:image']!.terminalOutput).toContain('COPY a.txt /a.txt');
    expect(results['a:image']!.terminalOutput).not.toContain('missing.txt');
    expect(existsSync(join(ws.root, 'dist/images/a/metadata.json'))).toBe(true);
    expect(results['b:image']).toMatchObject({ success: false, status: 'failure' });
    expect(results['b:image']!.terminalOutput).toMatch(/Dockerfile:2.*missing\.txt/);
    expect(results['c:image']).toMatchObject({ success: false, status: 'skipped' });
    expect(results['c:image']!.terminalOutput).toContain('b:image failed');
    expect(existsSync(join(ws.root, 'dist/images/c'))).toBe(false);
  });
});
